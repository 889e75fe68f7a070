"""The processor: Example + Task -> tensors for the model, and generated ids -> sequence strings.

This is the one place where images become pixels and strings become ids (the HF
processor/model split): tasks stay pure, the model never sees strings.
"""

from __future__ import annotations

import dataclasses
import random
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image

from .codec.pixels import normalize_pixels
from .data.augment import check_swap_where, maybe_swap_colours
from .data.example import Example, ImageRef
from .data.images import load_image
from .data.readers.validate import DataError
from .tasks.base import GrammarSpec, Task
from .tasks.detection import DEFAULT_OBJECT_ORDER, OBJECT_ORDERS
from .tokenizer import VLTokenizer

#: the one image loader (:func:`vlseq.data.images.load_image`), under its old name here
to_pil = load_image

#: the default memory of a Processor's image cache, in bytes (the training config's
#: ``data.image_cache_mb``): at 384 px an image is 442 KB, so about 4,800 of them; at 64 px, 170,000
DEFAULT_IMAGE_CACHE_BYTES = 2 * 1024**3


def image_cache_bytes(mb: Any, key: str = "data.image_cache_mb") -> int:
    """The bytes of an image cache given in MiB by config ``key``; a ValueError naming it otherwise."""
    if isinstance(mb, bool) or not isinstance(mb, (int, float)) or not 0 <= mb < float("inf"):
        raise ValueError(f"training config key {key!r} must be a number of MiB >= 0 (0: no image cache), got {mb!r}")
    return int(mb * 2**20)


class ByteLRU:
    """A least-recently-used cache bounded by the bytes its values hold, not by their count.

    A count bound suited no image size: 50,000 images are 600 MB at 64 px but 22 GB at 384 px.
    ``put`` drops the oldest entries until the total fits ``max_bytes``; a value larger than the
    whole budget is not kept (it would evict everything and then itself). ``max_bytes=0``: off.
    """

    def __init__(self, max_bytes: int) -> None:
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, float)) or not 0 <= max_bytes < float("inf"):
            raise ValueError(f"an image cache size must be a number of bytes >= 0, got {max_bytes!r}")
        self.max_bytes = int(max_bytes)
        self.nbytes = 0
        self._items: OrderedDict[str, tuple[Any, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def get(self, key: str) -> Any | None:
        """The value of ``key`` (now the most recently used), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def put(self, key: str, value: Any, nbytes: int) -> None:
        """Keep ``value`` (``nbytes`` in memory) under ``key``, evicting the least recently used."""
        if key in self._items:
            self.nbytes -= self._items.pop(key)[1]
        if nbytes > self.max_bytes:
            return
        self._items[key] = (value, nbytes)
        self.nbytes += nbytes
        while self.nbytes > self.max_bytes:
            self.nbytes -= self._items.popitem(last=False)[1][1]


def split_list(value: str | Sequence[str] | None) -> list[str]:
    """``"red circle, blue square"`` or ``["red circle", ...]`` -> a clean list (whitespace normalised)."""
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [" ".join(str(v).split()) for v in items if str(v).strip()]


@dataclass(frozen=True)
class CheckpointSettings:
    """What a checkpoint needs besides its weights and tokenizer (``vlseq.json``), with its defaults
    in this one place: the coordinate bins, the image side, the tasks it was trained on, the
    detection categories in the order its training prompts listed them, the sequence limits, the
    image tokenizer's config (models that write images) and the training config it came from.

    ``coordinate_frame``: where its polygons and keypoints are written, ``"box"`` (the frame of the
    object's box, :func:`vlseq.codec.coords.box_frame`) since that contract; a checkpoint written
    before it has no such key and wrote them in the image's frame (``"image"``): its box and text
    tasks run as before, and its polygon and keypoint tasks are refused (:meth:`Processor.bind`)
    rather than read wrongly."""

    num_bins: int
    image_size: int
    tasks: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    max_prompt_tokens: int = 64
    max_target_tokens: int = 128
    image_tokenizer_config: dict[str, Any] | None = None
    train_config: dict[str, Any] | None = None
    coordinate_frame: str = "box"

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "vlseq.json") -> "CheckpointSettings":
        """Read the JSON dict; a missing ``num_bins``/``image_size`` is a ``ValueError`` naming ``where``."""
        if isinstance(d, CheckpointSettings):
            return d
        for key in ("image_size", "num_bins"):
            if key not in d:
                raise ValueError(f"checkpoint settings lack {key!r} ({where})")
        return cls(num_bins=int(d["num_bins"]), image_size=int(d["image_size"]), tasks=tuple(d.get("tasks") or ()),
                   categories=tuple(split_list(d.get("categories"))),
                   max_prompt_tokens=int(d.get("max_prompt_tokens", 64)),
                   max_target_tokens=int(d.get("max_target_tokens", 128)),
                   image_tokenizer_config=d.get("image_tokenizer_config"), train_config=d.get("train_config"),
                   coordinate_frame=str(d.get("coordinate_frame", "image")))

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (``vlseq.json``); keys without a value are left out."""
        out: dict[str, Any] = {"num_bins": self.num_bins, "image_size": self.image_size, "tasks": list(self.tasks),
                               "categories": list(self.categories), "max_prompt_tokens": self.max_prompt_tokens,
                               "max_target_tokens": self.max_target_tokens, "coordinate_frame": self.coordinate_frame}
        if self.image_tokenizer_config is not None:
            out["image_tokenizer_config"] = self.image_tokenizer_config
        if self.train_config is not None:
            out["train_config"] = self.train_config
        return out


@dataclass
class Encoded:
    """One example as arrays: images (I, S, S, 3) uint8, prompt ids, target ids (with <s> ... </s>)."""

    images: np.ndarray
    prompt: list[int]
    target: list[int]
    weight: float = 1.0
    #: ``(x, y, token ids, weight)`` per described object of the first image: its box centre as a
    #: fraction of the image side, the tokens that name it and their weight in the cell identity
    #: loss (``Processor.cell_labels``)
    cells: list[tuple[float, float, tuple[int, ...], float]] = field(default_factory=list)
    #: ``(x, y)``: the centre of the one box a text output is about (:meth:`Task.referent`), as a
    #: fraction of the first image's side, for the referent loss (``Processor.referents``); or None
    referent: tuple[float, float] | None = None


def _centre(box: Any, ex: Example) -> tuple[float, float]:
    """The centre of ``box`` (x1, y1, x2, y2 in pixels) as fractions of ``ex``'s image sides."""
    x1, y1, x2, y2 = box
    return (x1 + x2) / 2 / ex.width, (y1 + y2) / 2 / ex.height


class Processor:
    """Turns (task, example) into model inputs; caches decoded, resized images (LRU, bounded in bytes).

    Args:
        tokenizer: the unified tokenizer.
        image_size: the model's square input side S (images are resized; boxes are not touched,
            since coordinates are quantised relative to the original width and height).
        bins: number of coordinate bins.
        max_prompt_tokens / max_target_tokens: longer sequences are truncated with a warning.
        cache_bytes: memory for decoded, resized images of paths (and an image task's target
            codes), least recently used dropped first; 0 turns the cache off. Each process (and each
            data-loader worker) holds its own. Default :data:`DEFAULT_IMAGE_CACHE_BYTES`.
        cache_images: deprecated: the old bound as a count of images, read as that many images of
            ``image_size`` (a ``DeprecationWarning``); give ``cache_bytes`` instead.
        image_tokenizer: a :class:`~vlseq.models.image_tokenizer.ImageTokenizer`, needed by tasks whose
            output is an image: it turns ``ex.target_image`` into the codes the task's target spells
            (passed as ``ex.meta["target_codes"]`` on a copy of the example; tasks stay torch-free),
            and :meth:`bind` gives such a task its grid size and decoder.
        object_order: the order of a training target's object list: ``random`` (a new order each
            time, Pix2Seq), ``position`` (top to bottom, left to right: the order evaluation uses) or
            ``class`` (by the prompt's category list, then position); see
            :func:`vlseq.tasks.detection.order_objects`. Default: the training config's
            (:data:`~vlseq.tasks.detection.DEFAULT_OBJECT_ORDER`).
        box_first: write each object of a task that allows it (:attr:`~vlseq.tasks.Task.box_first_ok`:
            detection) box first, ``<obj> box LABEL </obj>``: its targets and its decoding grammar
            (:meth:`grammar_spec`) both follow.
        cell_labels: with targets, also give each labelled object of a box or object-list task
            (its class name: detection, localisation, referring expressions) as ``Encoded.cells``,
            its box centre and its label's first token, for the model's cell identity loss
            (``model.cell_loss``, :meth:`vlseq.models.vlseq_model.VLSeqModel.cell_identity_loss`).
        cell_words: what names an object for ``cell_labels``: ``label`` (the first token of a box or
            object-list task's class name, as above) or ``all`` (every content word of every
            described box of any task, :meth:`vlseq.tasks.Task.regions`: class names, grounded
            phrases such as "a large red circle", region captions), so the cell is taught its
            colour and size beside its class.
        cell_words_weight: with ``cell_words="all"``, the weight of the words of boxes that tasks
            whose output is not a box or an object list describe (grounded phrases, region
            captions), against 1 for the class names of box and object-list tasks.
        point_answers: write the answer of a task that allows it (:attr:`~vlseq.tasks.Task.points_answers`:
            VQA) about one object after that object's box, ``<obj> box answer </obj>``: its targets
            and its decoding grammar (:meth:`grammar_spec`, a
            :class:`~vlseq.codec.grammar.PointedAnswerGrammar`) both follow.
        point_evidence: with ``point_answers``, also write a count or yes/no answer that carries the
            objects it rests on (:meth:`vlseq.tasks.text.VQA.evidence`) after each of them with its
            label, ``<obj> box label </obj> ... answer``: the model points at what it counts or
            compares before it answers.
        colour_swap: with targets and a random generator (training), the probability of swapping
            the RGB channels of an example whose prompt and target name no colour and whose target
            is not an image (:func:`vlseq.data.augment.maybe_swap_colours`): shape is then learned
            apart from colour.
        colour_swap_where: which of those examples a swap may touch: ``uncoloured`` (all of them)
            or ``located`` (only those whose target places something;
            :data:`vlseq.data.augment.SWAP_WHERE`).
        referents: with targets, also give the centre of the one box a text output is about
            (:meth:`vlseq.tasks.Task.referent`: the object a VQA question asks of, the region a
            region caption describes) as ``Encoded.referent``, and the batch's ``referent_xy``
            (B, 2), -1 where there is none, for the model's referent loss (``model.referent_loss``).
    """

    @classmethod
    def from_settings(cls, tokenizer: VLTokenizer, settings: CheckpointSettings | dict[str, Any], **kw: Any) -> "Processor":
        """The Processor a checkpoint was trained with (its ``vlseq.json``); ``kw`` as for the constructor.

        Its object order and label position are the training run's (teacher-forced diagnostics then
        score the sequences the model learned, and decoding writes them), unless ``kw`` names them."""
        s = CheckpointSettings.from_dict(settings)
        order = (s.train_config or {}).get("object_order")
        if order in OBJECT_ORDERS and "object_order" not in kw:
            kw["object_order"] = order
        tc = s.train_config or {}
        kw.setdefault("box_first", bool(tc.get("box_first", tc.get("label_last", False))))  # label_last: before 0.2
        kw.setdefault("point_answers", bool(tc.get("point_answers", False)))
        kw.setdefault("point_evidence", bool(tc.get("point_evidence", False)))
        kw.setdefault("coordinate_frame", s.coordinate_frame)
        return cls(tokenizer, s.image_size, s.num_bins, s.max_prompt_tokens, s.max_target_tokens, **kw)

    def __init__(self, tokenizer: VLTokenizer, image_size: int, bins: int, max_prompt_tokens: int = 64,
                 max_target_tokens: int = 128, cache_images: int | None = None, image_tokenizer: Any | None = None,
                 object_order: str = DEFAULT_OBJECT_ORDER, box_first: bool = False, cell_labels: bool = False,
                 cell_words: str = "label", cache_bytes: int = DEFAULT_IMAGE_CACHE_BYTES,
                 cell_words_weight: float = 1.0, referents: bool = False, coordinate_frame: str = "box",
                 point_answers: bool = False, point_evidence: bool = False, colour_swap: float = 0.0,
                 colour_swap_where: str = "uncoloured") -> None:
        if coordinate_frame not in ("box", "image"):
            raise ValueError(f"coordinate_frame must be 'box' or 'image', got {coordinate_frame!r}")
        #: where the checkpoint's polygons and keypoints are written (:class:`CheckpointSettings`)
        self.coordinate_frame = coordinate_frame
        if object_order not in OBJECT_ORDERS:
            raise ValueError(f"object_order must be one of {', '.join(OBJECT_ORDERS)}, got {object_order!r}")
        self.object_order = object_order
        self.box_first = box_first
        self.point_answers = point_answers
        self.point_evidence = point_evidence
        if not 0.0 <= colour_swap <= 1.0:
            raise ValueError(f"colour_swap must be a probability in [0, 1], got {colour_swap}")
        self.colour_swap = float(colour_swap)
        self.colour_swap_where = check_swap_where(colour_swap_where, "colour_swap_where")
        self.cell_labels = cell_labels
        self.cell_words_weight = float(cell_words_weight)
        if cell_words not in ("label", "all"):
            raise ValueError(f"cell_words must be 'label' or 'all', not {cell_words!r}")
        self.cell_words = cell_words
        self.referents = referents
        self.tokenizer = tokenizer
        self.image_size = image_size
        self.bins = bins
        self.max_prompt_tokens = max_prompt_tokens
        self.max_target_tokens = max_target_tokens
        if cache_images is not None:
            # Kept positional-compatible (it is the 6th parameter); a count means nothing across image sizes.
            warnings.warn("Processor(cache_images=N) is deprecated: the image cache is bounded in bytes now; "
                          "pass cache_bytes (N images are read as N * image_size**2 * 3 bytes)",
                          DeprecationWarning, stacklevel=2)
            cache_bytes = int(cache_images) * image_size * image_size * 3
        self._cache = ByteLRU(cache_bytes)  # image path -> (S, S, 3) uint8
        self.image_tokenizer = image_tokenizer
        self._codes = ByteLRU(cache_bytes)  # target image path -> its codes (a list of ints)

    # ------------------------------------------------------------------ images

    def image_array(self, ref: ImageRef) -> np.ndarray:
        """(S, S, 3) uint8 of an image, resized with bilinear filtering; cached for paths."""
        key = str(ref) if isinstance(ref, (str, Path)) else None
        if key is not None:
            cached = self._cache.get(key)
            if cached is not None:
                return cached
        img = to_pil(ref)
        if img.size != (self.image_size, self.image_size):
            img = img.resize((self.image_size, self.image_size), Image.BILINEAR)
        arr = np.asarray(img, dtype=np.uint8)
        if key is not None:
            self._cache.put(key, arr, arr.nbytes)
        return arr

    # ------------------------------------------------------------------ sequences

    def _ids(self, text: str, limit: int, what: str, ex: Example) -> list[int]:
        ids = self.tokenizer.encode(text)
        if len(ids) > limit:
            warnings.warn(f"{ex.source or ex.image_id}: {what} has {len(ids)} tokens; truncated to {limit}", stacklevel=3)
            ids = ids[:limit]
        return ids

    def _box_first(self, task: Task) -> bool:
        return self.box_first and task.box_first_ok

    def _points(self, task: Task) -> bool:
        return self.point_answers and task.points_answers

    def grammar_spec(self, task: Task, ex: Example) -> GrammarSpec:
        """The decoding grammar of ``task``'s output for ``ex``, in the form this processor's targets
        take (box first where :attr:`box_first` applies, a pointed answer where :attr:`point_answers` does)."""
        spec = task.grammar(ex)
        return dataclasses.replace(spec, box_first=True) if self._box_first(task) or self._points(task) else spec

    def bind(self, task: Task) -> Task:
        """``task`` with this processor's image tokenizer bound when its output is an image (see
        :func:`vlseq.tasks.image.bind_image_tokenizer`); returned unchanged otherwise.

        A task that writes polygons or keypoints is refused with a ``ValueError`` for a checkpoint
        that wrote them in the image's frame (see :class:`CheckpointSettings`)."""
        if task.frame_coordinates and self.coordinate_frame != "box":
            raise ValueError(f"task {task.name!r}: this checkpoint writes polygons and keypoints in the image's frame "
                             "(it was trained before they moved to the frame of their object's box); this version "
                             "would misread them. Retrain it, or run its other tasks")
        if task.output == "image" and self.image_tokenizer is not None:
            from .tasks.image import bind_image_tokenizer

            bind_image_tokenizer(task, self.image_tokenizer)
        return task

    def encode(self, task: Task, ex: Example, rng: random.Random | None = None, with_target: bool = True) -> Encoded:
        """Images, prompt ids and (``with_target``) ``<s> target </s>`` ids of one example.

        An image task is bound to the image tokenizer first (:meth:`bind`), so its target and
        grammar have the tokenizer's grid size.
        """
        self.bind(task)
        try:
            images = np.stack([self.image_array(r) for r in ex.images])
        except DataError as e:
            # A truncated file passes the readers' header check and fails only here: name the record too.
            raise DataError(e.file, ex.source or ex.image_id or None, e.problem, e.detail) from None
        prompt_text = task.prompt(ex, self.bins)
        prompt = self._ids(prompt_text, self.max_prompt_tokens, "prompt", ex)
        target: list[int] = []
        if with_target:
            if task.output == "image":
                ex = self._with_target_codes(task, ex)
            # An object list's order is the only random choice of its target (tasks.detection.order_objects).
            if task.output == "objects":
                kw = {"box_first": True} if self._box_first(task) else {}
                text = task.target(ex, self.bins, rng, order=self.object_order, **kw)  # type: ignore[call-arg]
            elif self._points(task):
                text = task.target(ex, self.bins, rng, point=True, evidence=self.point_evidence)  # type: ignore[call-arg]
            else:
                text = task.target(ex, self.bins, rng)
            body = self._ids(text, self.max_target_tokens - 2, "target", ex)
            target = [self.tokenizer.bos_id] + body + [self.tokenizer.eos_id]
            if task.output != "image":  # an image target is the true image's codes: its colours must stay
                images = maybe_swap_colours(images, (prompt_text, text), self.colour_swap, rng, self.colour_swap_where)
        cells = self._cells(task, ex) if with_target and self.cell_labels else []
        referent = self._referent(task, ex) if with_target and self.referents else None
        return Encoded(images, prompt, target, cells=cells, referent=referent)

    @staticmethod
    def _referent(task: Task, ex: Example) -> tuple[float, float] | None:
        """The centre of ``task.referent(ex)`` as fractions of a one-image example's sides, or None."""
        box = task.referent(ex)
        if box is None or len(ex.images) != 1 or not ex.width or not ex.height:
            return None
        return _centre(box, ex)

    def _cells(self, task: Task, ex: Example) -> list[tuple[float, float, tuple[int, ...], float]]:
        """``(x, y, tokens, weight)`` of each described object of a one-image example.

        ``cell_words="label"``: box and object-list tasks only, whose objects' labels are class
        names, and the label's first token (a grounded phrase's first word says little of what the
        object is). ``"all"``: every box the task describes (:meth:`Task.regions`), and the first
        token of each content word of its description."""
        if len(ex.images) != 1 or not ex.width or not ex.height:
            return []
        if self.cell_words == "label" and task.output not in ("objects", "box"):
            return []
        out = []
        weight = 1.0 if task.output in ("objects", "box") else self.cell_words_weight
        for box, text in task.regions(ex):
            ids = self._content_tokens(text) if self.cell_words == "all" else self.tokenizer.encode(text)[:1]
            if ids:
                out.append((*_centre(box, ex), tuple(ids), weight))
        return out

    #: words that say nothing of what an object is, left out of ``cell_words="all"``
    _FUNCTION_WORDS = frozenset({"a", "an", "the", "and", "of", "with", "to", "in", "on", "at", "is", "are"})

    def _content_tokens(self, text: str) -> list[int]:
        """The first token of each content word of ``text``, once each, in order."""
        out: list[int] = []
        for w in text.lower().split():
            w = w.strip(".,;:!?\"'()")
            if w and w not in self._FUNCTION_WORDS:
                ids = self.tokenizer.encode(w)
                if ids and ids[0] not in out:
                    out.append(ids[0])
        return out

    def _with_target_codes(self, task: Task, ex: Example) -> Example:
        """A copy of ``ex`` with ``meta["target_codes"]``: the image tokenizer's codes of ``ex.target_image``."""
        from .tasks.image import with_target_codes

        if self.image_tokenizer is None:
            raise ValueError(f"{ex.source or ex.image_id}: task {task.name!r} outputs an image; "
                             "give the Processor an image_tokenizer")
        if ex.target_image is None:
            raise ValueError(f"{ex.source or ex.image_id}: task {task.name!r} needs a target_image")
        key = str(ex.target_image) if isinstance(ex.target_image, (str, Path)) else None
        codes = self._codes.get(key) if key is not None else None
        if codes is None:
            s = self.image_tokenizer.config.image_size
            img = to_pil(ex.target_image)
            if img.size != (s, s):
                img = img.resize((s, s), Image.BILINEAR)
            codes = self.image_tokenizer.encode_arrays(np.asarray(img, dtype=np.uint8)[None])[0].tolist()
            if key is not None:
                # A list of small ints: an 8-byte pointer per code (the int objects are shared).
                self._codes.put(key, codes, 8 * len(codes) + 56)
        return with_target_codes(ex, codes)

    def collate(self, items: Sequence[Encoded]) -> dict[str, torch.Tensor]:
        """Pad a list of encoded examples into a batch.

        Returns pixel_values (B, I, 3, S, S) float, image_mask (B, I) bool, input_ids and
        attention_mask (B, L), and when targets exist decoder_input_ids / labels (B, T-1)
        (labels are -100 on padding) and sample_weight (B,).
        """
        pad = self.tokenizer.pad_id
        b = len(items)
        n_img = max(it.images.shape[0] for it in items)
        s = self.image_size
        pix = np.zeros((b, n_img, s, s, 3), dtype=np.uint8)
        img_mask = np.zeros((b, n_img), dtype=bool)
        for i, it in enumerate(items):
            pix[i, : it.images.shape[0]] = it.images
            img_mask[i, : it.images.shape[0]] = True
        pixel_values = normalize_pixels(torch.from_numpy(pix).permute(0, 1, 4, 2, 3).float().div_(255.0), inplace=True)
        lp = max(1, max(len(it.prompt) for it in items))
        input_ids = torch.full((b, lp), pad, dtype=torch.long)
        attn = torch.zeros((b, lp), dtype=torch.long)
        for i, it in enumerate(items):
            input_ids[i, : len(it.prompt)] = torch.tensor(it.prompt, dtype=torch.long)
            attn[i, : len(it.prompt)] = 1
        batch: dict[str, Any] = {"pixel_values": pixel_values, "image_mask": torch.from_numpy(img_mask),
                                 "input_ids": input_ids, "attention_mask": attn}
        if all(it.target for it in items):
            lt = max(len(it.target) for it in items)
            dec = torch.full((b, lt - 1), pad, dtype=torch.long)
            labels = torch.full((b, lt - 1), -100, dtype=torch.long)
            for i, it in enumerate(items):
                t = torch.tensor(it.target, dtype=torch.long)
                dec[i, : len(t) - 1] = t[:-1]
                labels[i, : len(t) - 1] = t[1:]
            batch.update(decoder_input_ids=dec, labels=labels,
                         sample_weight=torch.tensor([it.weight for it in items], dtype=torch.float32))
        if self.cell_labels and "labels" in batch:
            k = max(1, max(len(it.cells) for it in items))
            n = max([1] + [len(c[2]) for it in items for c in it.cells])
            xy = torch.zeros((b, k, 2), dtype=torch.float32)
            tok = torch.full((b, k, n), -100, dtype=torch.long)
            wt = torch.zeros((b, k), dtype=torch.float32)
            for i, it in enumerate(items):
                for j, (x, y, ts, w) in enumerate(it.cells):
                    xy[i, j, 0], xy[i, j, 1] = x, y
                    tok[i, j, : len(ts)] = torch.tensor(ts, dtype=torch.long)
                    wt[i, j] = w
            batch.update(cell_xy=xy, cell_token=tok, cell_weight=wt)
        if self.referents and "labels" in batch:
            ref = torch.full((b, 2), -1.0)  # -1: the example has no referent
            for i, it in enumerate(items):
                if it.referent is not None:
                    ref[i, 0], ref[i, 1] = it.referent
            batch["referent_xy"] = ref
        return batch

    def decode(self, ids: Sequence[int]) -> str:
        """The markup string of generated ids (leading ``<s>`` dropped, stops at ``</s>``)."""
        return self.tokenizer.decode_markup(ids)
