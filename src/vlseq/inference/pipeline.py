"""Inference for people: a checkpoint, an image and a task in; a typed result out.

::

    from vlseq import Pipeline

    pipe = Pipeline.from_pretrained("runs/tiny/final")  # device="auto": CUDA when present; dtype="bfloat16" halves memory
    r = pipe("photo.jpg", task="refexp", text="the red circle")
    r.boxes        # [(x1, y1, x2, y2)] in pixels of the photo as a viewer shows it (EXIF applied)
    r.scores       # [0.93]: label probability x mean probability of the box's four coordinate tokens
    r.draw("photo.jpg").save("out.png")

Images may be paths, PIL images or numpy arrays of any mode; a list of images runs batched and
returns a list. ``score_threshold=`` and ``top_k=`` keep an object list's confident boxes
(:func:`keep_objects`). Tasks that write an image (``generate_image``: ``pipe(None, task="generate_image",
text="a red circle.")``; ``edit_image``: an image and an instruction) return it decoded by the
checkpoint's image tokenizer as ``Result.output_image``; ``Result.draw`` shows it. The pipeline builds the task's :class:`~vlseq.data.example.Example` from the
inputs (:meth:`Pipeline.examples`), as the task says what it takes (:attr:`~vlseq.tasks.Task.inputs`,
:attr:`~vlseq.tasks.Task.image_input`, :attr:`~vlseq.tasks.Task.context`), and decodes it with :func:`vlseq.decoding.generate.predict_examples`,
the same code ``vlseq eval`` measures.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
from PIL import Image

from ..codec.coords import Box, Point
from ..data.example import Example, ImageRef
from ..data.images import DEFAULT_MAX_PIXELS, load_image
from ..processing import CheckpointSettings, Processor, split_list
from ..tasks import Prediction, Task, get_task, task_names

#: What to pass to :class:`Pipeline` for each Example field, for error messages.
_ARG_FOR = {"text": "text=", "options": "options= (or choices=)", "region": "region=(x1, y1, x2, y2)"}

Images = Union[ImageRef, Sequence[ImageRef]]


def task_named(name: str) -> Task | None:
    """The registered task called ``name``; None for a name no task has (callers then say so their way)."""
    return get_task(name) if name in task_names() else None


# ------------------------------------------------------------------------------------------ images


# ------------------------------------------------------------------------------------------ results


@dataclass
class GroundedPhrase:
    """A phrase of the result's text (``text == result.text[span[0]:span[1]]``) and its boxes."""

    text: str
    span: tuple[int, int]
    boxes: list[Box]
    polygons: list[list[Point]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # one per box, where decoding gives them
    keypoints: list[tuple[str, Point]] = field(default_factory=list)  # (name, (x, y)) in sequence order


@dataclass
class Result:
    """One image's output. Coordinates are pixels of the original image (``width`` x ``height``,
    after EXIF orientation).

    ``text`` is the plain text (markup removed): the caption / answer / class, or the detected
    labels joined by spaces. ``answer`` is what the task reads as its answer: the text, but for a
    VQA answer written after the objects it rests on, only the words after them. ``sequence`` is the
    raw generated markup. ``errors`` lists fragments the parser dropped (empty under
    grammar-constrained decoding).
    """

    task: str
    prompt: str
    text: str
    phrases: list[GroundedPhrase]
    sequence: str
    width: int
    height: int
    errors: list[str] = field(default_factory=list)
    region: Box | None = None  # the input region (region_caption)
    #: the image a generate_image / edit_image output spells, ``(S, S, 3)`` uint8 (None: other tasks,
    #: or an output that is not a full code grid)
    output_image: np.ndarray | None = field(default=None, repr=False)
    #: the task's answer (None: the whole :attr:`text`)
    answer: str | None = None

    @property
    def boxes(self) -> list[Box]:
        """Every box of every phrase, in sequence order."""
        return [b for p in self.phrases for b in p.boxes]

    @property
    def labels(self) -> list[str]:
        """The phrase text of each box in :attr:`boxes` (the class, for detection)."""
        return [p.text for p in self.phrases for _ in p.boxes]

    @property
    def scores(self) -> list[float]:
        """One score per box in :attr:`boxes`; empty when decoding gave none (beam search)."""
        s = [x for p in self.phrases for x in p.scores]
        return s if len(s) == len(self.boxes) else []

    @property
    def polygons(self) -> list[list[Point]]:
        return [poly for p in self.phrases for poly in p.polygons]

    def to_json(self) -> dict[str, Any]:
        """A JSON-able dict (the ``phrases`` entries are what :func:`vlseq.viz.draw` takes); an output
        image is summarised by its ``[width, height]`` (``vlseq predict`` writes it as a PNG)."""
        d = asdict(self)
        out = d.pop("output_image")
        if out is not None:
            d["output_image_size"] = [int(out.shape[1]), int(out.shape[0])]
        d["phrases"] = [{"text": p.text, "span": list(p.span), "boxes": [list(b) for b in p.boxes],
                         "polygons": [[list(pt) for pt in poly] for poly in p.polygons], "scores": list(p.scores),
                         "keypoints": [[name, list(pt)] for name, pt in p.keypoints]}
                        for p in self.phrases]
        d["region"] = list(self.region) if self.region is not None else None
        return d

    def draw(self, image: ImageRef | None = None, min_side: int = 384) -> Image.Image:
        """The image with boxes, labels (and scores) and translucent polygons; the input region dashed.

        An image task's result draws its output image instead (upscaled to ``min_side``, nearest, so
        the pixels the tokenizer decoded stay visible); ``image`` is not needed for it.
        """
        from ..viz.draw import draw

        task = task_named(self.task)
        if task is not None and task.writes_image:
            if self.output_image is None:
                raise ValueError(f"this {self.task} result has no output image (the output was not a full code grid)")
            out = Image.fromarray(self.output_image)
            scale = max(1, round(min_side / max(out.size)))
            return out.resize((out.width * scale, out.height * scale), Image.NEAREST)
        if image is None:
            raise ValueError("draw needs the image this result is for")
        pic = load_image(image)
        if pic.size != (self.width, self.height):
            raise ValueError(f"image is {pic.width}x{pic.height} but this result is for {self.width}x{self.height}")
        return draw(pic, self.to_json()["phrases"], [self.region] if self.region else [], min_side=min_side)

    def html(self) -> str:
        """The text with each grounded phrase in its box's colour (HTML-escaped)."""
        from ..viz.draw import coloured_text_html

        return coloured_text_html(self.text, self.to_json()["phrases"])


def result_from_prediction(pred: Prediction, ex: Example, prompt: str, output_image: np.ndarray | None = None) -> Result:
    """The typed result of one parsed prediction (per-box scores spread over the phrases)."""
    p = pred.parsed
    n_boxes = sum(len(ph.boxes) for ph in p.phrases)
    scores = list(pred.scores) if len(pred.scores) == n_boxes else []
    phrases, k = [], 0
    for ph in p.phrases:
        n = len(ph.boxes)
        phrases.append(GroundedPhrase(
            text=p.phrase_text(ph), span=(ph.start, ph.end), boxes=[tuple(float(v) for v in b) for b in ph.boxes],
            polygons=[[(float(x), float(y)) for x, y in poly] for poly in ph.polygons],
            scores=[float(s) for s in scores[k : k + n]],
            keypoints=[(str(name), (float(x), float(y))) for name, (x, y) in getattr(ph, "keypoints", ())]))
        k += n
    return Result(task=ex.task, prompt=prompt, text=p.text, phrases=phrases, sequence=pred.sequence, width=ex.width,
                  height=ex.height, errors=list(p.errors), region=tuple(ex.region) if ex.region is not None else None,
                  output_image=output_image, answer=pred.answer)


# ------------------------------------------------------------------------------------------ pipeline


class Pipeline:
    """A loaded checkpoint that runs any of its tasks on images.

    Args:
        model, tokenizer, settings: what :func:`vlseq.models.io.from_pretrained` returns.
        max_pixels: images over this many pixels are refused (before decoding, for files).

    The checkpoint's settings may carry ``"categories"`` (object classes), used when a detect,
    instance_segment or keypoints call names none.
    """

    def __init__(self, model, tokenizer, settings: CheckpointSettings | dict[str, Any],
                 max_pixels: int = DEFAULT_MAX_PIXELS, image_tokenizer: Any | None = None) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.settings = CheckpointSettings.from_dict(settings)
        self.max_pixels = max_pixels
        self.path: Path | None = None  # the checkpoint directory, when loaded from one
        self.processor = Processor.from_settings(tokenizer, self.settings, cache_bytes=0, image_tokenizer=image_tokenizer)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: str = "auto", max_pixels: int = DEFAULT_MAX_PIXELS,
                        dtype: str | None = None) -> "Pipeline":
        """Load a checkpoint directory (``vlseq train``'s ``final/`` or ``best/``).

        ``device``: ``"auto"`` (CUDA when present, else the CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
        or ``"mps"``; ``dtype``: ``"float32"`` (None), ``"bfloat16"`` or ``"float16"`` (GPU only), the
        precision of the model's weights (:mod:`vlseq.inference.device`). The image tokenizer of a
        model that writes images stays in float32: its decoded pixels are compared and saved.
        A ``ValueError`` names a device this machine lacks or a dtype it does not run.
        """
        from ..models.io import from_pretrained, load_image_tokenizer
        from .device import place, resolve_device, resolve_dtype

        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        model, tok, settings = from_pretrained(path, device=str(dev))
        pipe = cls(place(model, dev, dt), tok, settings, max_pixels,
                   load_image_tokenizer(path, tok.num_image_tokens, str(dev)))
        pipe.path = Path(path)
        return pipe

    @property
    def device(self) -> Any:
        """The torch device the model runs on."""
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> Any:
        """The torch dtype of the model's weights."""
        return next(self.model.parameters()).dtype

    @property
    def tasks(self) -> list[str]:
        """The tasks the checkpoint was trained on (empty when its settings do not say)."""
        return list(self.settings.tasks)

    @property
    def categories(self) -> list[str]:
        """The detection classes stored with the checkpoint (``settings.categories``), if any."""
        return list(self.settings.categories)

    @property
    def image_size(self) -> int:
        return self.settings.image_size

    def examples(self, images: Sequence[Image.Image], task: str, text: str | Sequence[str] | None = None,
                 categories: str | Sequence[str] | None = None, options: str | Sequence[str] | None = None,
                 region: Box | None = None, choices: Sequence[str] | None = None,
                 history: Sequence[tuple[str, str]] | None = None, caption: str | None = None) -> list[Example]:
        """The task's examples for loaded RGB images; raises ``ValueError`` for missing or bad inputs.

        ``text`` is one string for every image or one per image. ``categories`` (detect,
        instance_segment, keypoints) default to the checkpoint's; ``options`` are classify's
        closed answer set; ``region`` is a pixel box of the image (region_caption). ``choices``:
        the candidate answers of multiple_choice and dialog, kept whole (an answer may hold a comma);
        ``history``: a dialog's earlier ``(question, answer)`` rounds, oldest first; ``caption``: the
        dialog image's caption (VisDial gives one; the prompt carries it). ``story`` makes one example
        of all the images, in order.
        """
        spec = get_task(task)  # KeyError naming the known tasks
        if choices is not None:
            options = [" ".join(str(c).split()) for c in choices if str(c).strip()]
        if spec.image_input == "sequence":
            if not images:
                raise ValueError(f"{task} needs its images, in order")
            ex = Example(task=task, images=list(images), width=images[0].width, height=images[0].height, image_id="0",
                         source="input story")
            return [ex]
        if spec.writes_image and self.processor.image_tokenizer is None:
            raise ValueError(f"task {task!r} writes an image, but this checkpoint has no image tokenizer "
                             "(train it with image_tokenizer=DIR)")
        texts = [text] * len(images) if text is None or isinstance(text, str) else list(text)
        if len(texts) != len(images):
            raise ValueError(f"got {len(texts)} texts for {len(images)} images")
        if spec.writes_objects:  # its options are object categories: the checkpoint's by default
            opts = split_list(categories) or split_list(options) or self.categories
            if not opts:
                raise ValueError(f"{task} needs categories=[...]: this checkpoint's settings store none")
        elif isinstance(options, (list, tuple)):
            opts = [" ".join(str(o).split()) for o in options if str(o).strip()]
        else:
            opts = split_list(options)
        out = []
        meta: dict[str, Any] = {}
        if history and "history" in spec.context:
            meta["history"] = [tuple(h) for h in history]
        if caption and caption.strip() and "caption" in spec.context:
            meta["caption"] = " ".join(caption.split())
        for i, (img, t) in enumerate(zip(images, texts)):
            t = " ".join((t or "").split())
            if spec.image_input == "canvas":  # the model's input image is a blank canvas (see vlseq.tasks.image)
                from ..data.images import blank_canvas

                img = Image.fromarray(blank_canvas(img.width, img.height))
            ex = Example(task=task, images=[img], width=img.width, height=img.height, image_id=str(i), text=t,
                         options=list(opts), region=check_region(region, img) if region is not None else None,
                         source=f"input {i}", meta=meta)
            for f in spec.inputs:
                if not getattr(ex, f):
                    what = "categories=" if spec.writes_objects and f == "options" else _ARG_FOR.get(f, f"{f}=")
                    raise ValueError(f"task {task!r} needs {what}")
            out.append(ex)
        if self.tasks and task not in self.tasks:
            warnings.warn(f"task {task!r} is not one this checkpoint was trained on ({', '.join(self.tasks)})", stacklevel=3)
        return out

    def __call__(self, images: Images | None, task: str, text: str | Sequence[str] | None = None, *,
                 categories: str | Sequence[str] | None = None, options: str | Sequence[str] | None = None,
                 region: Box | None = None, choices: Sequence[str] | None = None,
                 history: Sequence[tuple[str, str]] | None = None, caption: str | None = None, batch_size: int = 8,
                 constrained: bool = True, num_beams: int = 1, scores: bool = True,
                 score_threshold: float | None = None, top_k: int | None = None) -> Result | list[Result]:
        """Run ``task`` on one image (returns a :class:`Result`) or a list (returns a list, batched).

        ``constrained=False`` decodes without the task's grammar; ``scores`` adds per-box scores
        (greedy decoding only). ``score_threshold`` / ``top_k``: keep only the boxes scored at least
        that / the ``top_k`` best of each result (:func:`keep_objects`; they need the scores).
        """
        if images is None:
            named = task_named(task)
            if named is None or named.image_input != "canvas":
                raise ValueError(f"task {task!r} needs an image")
            images = self.canvases(text)
        single = not isinstance(images, (list, tuple))
        refs = [images] if single else list(images)
        if not refs:
            return []
        loaded = [load_image(r, self.max_pixels) for r in refs]
        results = self.run(loaded, task, text, categories=categories, options=options, region=region, choices=choices,
                           history=history, caption=caption, batch_size=batch_size, constrained=constrained,
                           num_beams=num_beams, scores=scores, score_threshold=score_threshold, top_k=top_k)
        # a sequence task (a story) gives one result for all its images
        return results[0] if single or get_task(task).image_input == "sequence" else results

    def run(self, images: Sequence[Image.Image], task: str, text: str | Sequence[str] | None = None, *,
            categories: str | Sequence[str] | None = None, options: str | Sequence[str] | None = None,
            region: Box | None = None, choices: Sequence[str] | None = None,
            history: Sequence[tuple[str, str]] | None = None, caption: str | None = None, batch_size: int = 8,
            constrained: bool = True, num_beams: int = 1, scores: bool = True,
            score_threshold: float | None = None, top_k: int | None = None) -> list[Result]:
        """Like calling the pipeline, on already loaded RGB images; always returns a list."""
        from ..decoding.generate import predict_examples

        check_selection(score_threshold, top_k, num_beams, scores)  # before any decoding
        exs = self.examples(images, task, text, categories, options, region, choices, history, caption)
        t = self.processor.bind(get_task(task))
        preds = predict_examples(self.model, self.processor, t, exs, batch_size=batch_size, constrained=constrained,
                                 num_beams=num_beams, scores=scores)
        outs = [t.decoded(p) for p in preds] if t.writes_image else [None] * len(preds)  # type: ignore[attr-defined]
        return [keep_objects(result_from_prediction(p, ex, t.prompt(ex, self.processor.bins), out), score_threshold, top_k)
                for p, ex, out in zip(preds, exs, outs)]

    def attention(self, image: Image.Image, result: "Result", task: str, text: str | Sequence[str] | None = None, *,
                  categories: str | Sequence[str] | None = None, options: str | Sequence[str] | None = None,
                  region: Box | None = None) -> Image.Image:
        """A sheet of where the pointer head looked to write each box coordinate of ``result`` (this
        image's output for ``task`` with the same inputs); ``ValueError`` without a pointer head."""
        from ..decoding.pointer_maps import pointer_maps
        from ..viz.draw import attention_sheet

        [ex] = self.examples([image], task, text, categories, options, region)
        t = self.processor.bind(get_task(task))
        return attention_sheet(image, pointer_maps(self.model, self.processor, t, ex, result.sequence))

    def canvases(self, text: str | Sequence[str] | None) -> Image.Image | list[Image.Image]:
        """generate_image's input: one blank canvas (the image tokenizer's size) per text -- a single
        image for one string, a list for a list."""
        from ..data.images import blank_canvas

        it = self.processor.image_tokenizer
        s = it.config.image_size if it is not None else self.image_size
        canvas = Image.fromarray(blank_canvas(s, s))
        return [canvas] * len(text) if isinstance(text, (list, tuple)) else canvas


def check_selection(score_threshold: float | None, top_k: int | None, num_beams: int = 1, scores: bool = True) -> None:
    """``ValueError`` for a threshold outside [0, 1], a ``top_k`` below 1, or either without the
    per-box scores they select by (greedy decoding, ``scores=True``)."""
    if score_threshold is None and top_k is None:
        return
    if score_threshold is not None and not 0.0 <= float(score_threshold) <= 1.0:
        raise ValueError(f"score_threshold must lie in [0, 1] (scores are probabilities), got {score_threshold!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1, got {top_k!r}")
    if num_beams != 1 or not scores:
        raise ValueError("score_threshold and top_k select boxes by their scores, which only greedy decoding gives "
                         "(num_beams=1, scores=True)")


def keep_objects(result: Result, score_threshold: float | None = None, top_k: int | None = None) -> Result:
    """``result`` with only its boxes scored at least ``score_threshold``, then the ``top_k`` best
    (ties: the earlier box); sequence order is kept. A box's polygon goes with it; a phrase left
    without boxes is dropped. ``text`` and ``sequence`` stay what the model wrote.

    A result whose boxes have no scores (beam search) is returned as it is: nothing to rank by.
    """
    if (score_threshold is None and top_k is None) or not result.boxes or not result.scores:
        return result
    scores = result.scores
    keep = [k for k, s in enumerate(scores) if score_threshold is None or s >= score_threshold]
    if top_k is not None:
        keep = sorted(sorted(keep, key=lambda k: -scores[k])[:top_k])
    kept, phrases, k = set(keep), [], 0
    for ph in result.phrases:
        idx = [j for j in range(len(ph.boxes)) if k + j in kept]
        aligned = len(ph.polygons) == len(ph.boxes)
        if idx:
            phrases.append(replace(ph, boxes=[ph.boxes[j] for j in idx], scores=[ph.scores[j] for j in idx],
                                   polygons=[ph.polygons[j] for j in idx] if aligned else list(ph.polygons)))
        k += len(ph.boxes)
    return replace(result, phrases=phrases)


def check_region(region: Sequence[float], img: Image.Image) -> Box:
    """``region`` as a float pixel box inside ``img``; ``ValueError`` saying what is wrong otherwise."""
    try:
        x1, y1, x2, y2 = (float(v) for v in region)
    except (TypeError, ValueError):
        raise ValueError(f"region must be four numbers x1, y1, x2, y2; got {region!r}") from None
    if not (0 <= x1 < x2 <= img.width and 0 <= y1 < y2 <= img.height):
        raise ValueError(f"region {region!r} is not a box inside the {img.width}x{img.height} image "
                         "(need 0 <= x1 < x2 <= width, 0 <= y1 < y2 <= height)")
    return (x1, y1, x2, y2)
