"""What a task is: a prompt, a target, a parser, a grammar and a metric -- never a model flag.

A :class:`Task` turns an :class:`~vlseq.data.Example` into a ``(prompt, target)`` pair of strings
in the sequence format, reads a generated sequence back into a :class:`Prediction`, says which
decoding grammar constrains its output (:class:`GrammarSpec`, plain data: the model side maps it
to token ids), and scores predictions with its field's standard metric. Tasks are pure Python:
no torch, testable on literal strings.

Every other fact about a task is on its class too, so that the layers above ask the task rather
than keep tables by task name: what a caller gives at inference (:attr:`Task.inputs`,
:attr:`Task.image_input`, :attr:`Task.context`), whether it writes objects or an image
(:attr:`Task.writes_objects`, :attr:`Task.writes_image`), which split files feed it
(:attr:`Task.files`), its trivial baseline (:meth:`Task.baseline`) and how one prediction is
judged on an example sheet (:meth:`Task.verdict`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from ..codec import GroundedText, Parsed, box_tokens, build, parse
from ..data.example import Example

OutputKind = Literal["text", "grounded", "objects", "box", "choice", "image"]
#: How the images enter an example at inference (:attr:`Task.image_input`).
ImageInput = Literal["each", "sequence", "canvas"]

#: Example fields that hold the truth an output is scored against: never an input at inference.
TRUTH_FIELDS = ("answers", "objects", "phrases", "target_image")


@dataclass(frozen=True)
class GrammarSpec:
    """The decoding grammar of one example's output.

    * ``text``: words only. * ``grounded``: text with ``<obj>`` phrases (any boxes per phrase).
    * ``objects``: an object list whose labels are from ``labels``. * ``box``: exactly one
      ``<obj> LABEL box </obj>`` with LABEL from ``labels``. * ``choice``: one of ``labels``.
    * ``image``: exactly ``image_tokens`` image codes ``<img_k>`` (a VQ grid), then ``</s>``.

    ``polygons`` (at most ``max_polygon_points`` points each) and ``keypoints`` (names, in their
    fixed order, each at most once) may follow an object's box (kinds ``objects`` and ``box``);
    ``require_polygon``: every object has one.

    ``max_tokens``: for free text, the tokens a complete output may need (``</s>`` included): free
    text has no longest output a grammar could give, so a task whose outputs run long (paragraphs)
    says so here. None: the decoder's default budget.

    ``box_first``: an ``objects`` list in its box-first form, ``<obj> box LABEL </obj>`` (no polygons
    or keypoints); set by the Processor for a task that :attr:`Task.box_first_ok`. For ``text``: a
    pointed answer, ``<obj> box words </obj>`` or plain text; set by the Processor for a task that
    :attr:`Task.points_answers`.
    """

    kind: OutputKind
    labels: tuple[str, ...] = ()
    max_objects: int | None = None
    polygons: bool = False
    max_polygon_points: int = 32
    require_polygon: bool = False
    keypoints: tuple[str, ...] = ()
    image_tokens: int = 0
    max_tokens: int | None = None
    box_first: bool = False


@dataclass
class Prediction:
    """A parsed output: the raw sequence plus what :func:`vlseq.codec.parse` read from it."""

    sequence: str
    parsed: Parsed
    scores: list[float] = field(default_factory=list)  # per-box scores where decoding gives them
    #: the answer, where a task reads it as less than the whole text (a VQA answer written after the
    #: objects it rests on: the words after them); None: the whole text
    answer: str | None = None

    @property
    def text(self) -> str:
        return self.parsed.text if self.answer is None else self.answer

    @property
    def objects(self):
        return self.parsed.objects

    def ranking_scores(self, n: int) -> list[float]:
        """One score per each of the ``n`` parsed objects to rank them by (COCO AP ranks per class):
        the decoder's per-object scores where there is one per object, else sequence order (earlier
        objects rank higher), which is what a model without scores implies."""
        if len(self.scores) == n:
            return list(self.scores)
        return [1.0 - k / max(n, 1) * 1e-3 for k in range(n)]

    def to_json(self) -> dict[str, Any]:
        p = self.parsed
        return {
            "sequence": self.sequence,
            "text": self.text,
            "phrases": [
                {"text": p.phrase_text(ph), "span": [ph.start, ph.end], "boxes": [list(map(float, b)) for b in ph.boxes],
                 "polygons": [[list(map(float, pt)) for pt in poly] for poly in ph.polygons],
                 **({"keypoints": [[name, list(map(float, pt))] for name, pt in ph.keypoints]} if ph.keypoints else {})}
                for ph in p.phrases
            ],
            "errors": list(p.errors),
            **({"scores": self.scores} if self.scores else {}),
        }


class Task:
    """Base class; subclasses set ``name``/``output`` and override what differs."""

    name: str = ""
    #: the metric keys of :meth:`evaluate` a results table shows, the first one the task's primary
    #: metric (quickstart goals, unified-vs-single comparisons)
    headline: tuple[str, ...] = ()
    output: OutputKind = "text"
    #: the example fields this task needs, checked by :meth:`check`
    needs: tuple[str, ...] = ()
    #: evaluation scores every one of an example's ``options`` by its likelihood under the model
    #: (VisDial's generative protocol) into ``Prediction.scores``, beside the generated answer
    ranks_options: bool = False
    #: its object list may be written box first, ``<obj> box LABEL </obj>`` (the ``box_first``
    #: training key): :meth:`target` takes ``box_first``
    box_first_ok: bool = False
    #: its text answer about one object (:meth:`referent`) may be written after that object's box,
    #: ``<obj> box answer </obj>`` (the ``point_answers`` training key): :meth:`target` takes ``point``
    points_answers: bool = False
    #: how a caller's images enter its examples: ``each`` image is one example; the images, in order,
    #: are one ``sequence`` example (a story); or no image is needed and the model reads a blank
    #: ``canvas`` of the output's size (an image drawn from text alone)
    image_input: ImageInput = "each"
    #: ``Example.meta`` keys a caller may give besides :attr:`inputs` (a dialog's history and caption)
    context: tuple[str, ...] = ()
    #: the split files whose reader writes this task's examples (keys of
    #: :data:`vlseq.data.readers.READERS`): what :func:`~vlseq.tasks.file_feeds` hands the split
    #: readers. Empty: its examples come from code (the synthetic world, a script)
    files: tuple[str, ...] = ()
    #: what its trivial baseline (:meth:`baseline`) writes, as a results table names it; None: it has none
    baseline_kind: str | None = None
    #: how its outputs are decoded when one beam is asked for: None is greedy; otherwise the sampling
    #: arguments of ``generate()`` (``do_sample``, ``temperature``, ``top_k``), drawn from a fixed
    #: seed (:func:`vlseq.decoding.generate.generate_predictions`) so that a score is reproducible
    sampling: dict[str, Any] | None = None
    #: it writes polygons or keypoints, whose coordinates are in the frame of their object's box
    #: (docs/architecture.md): a checkpoint that wrote them in the image's frame cannot run it
    frame_coordinates: bool = False

    @property
    def inputs(self) -> tuple[str, ...]:
        """The example fields a caller gives at inference besides the images (``text``, ``options``:
        choices or categories, ``region``): what the task :attr:`needs` less the truth it is scored
        against (:data:`TRUTH_FIELDS`) and the images. A task may set its own."""
        return tuple(f for f in self.needs if f not in TRUTH_FIELDS and f != "images")

    @property
    def writes_objects(self) -> bool:
        """Its output is a list of objects of the categories its prompt lists (its ``options`` are
        object categories: a checkpoint's category list fills them in when a caller names none)."""
        return self.output == "objects"

    @property
    def writes_image(self) -> bool:
        """Its output is an image (VQ codes an image tokenizer decodes)."""
        return self.output == "image"

    def prompt(self, ex: Example, bins: int) -> str:
        raise NotImplementedError

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        """The training target; ``rng`` picks among references / object orders (None: the first / by position)."""
        raise NotImplementedError

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec(self.output)

    def parse(self, sequence: str, ex: Example, bins: int) -> Prediction:
        return Prediction(sequence, parse(sequence, ex.width, ex.height, bins))

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        raise NotImplementedError

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The trivial output for each of ``examples`` (one that ignores the image), its answer, box or
        caption taken from ``prior``; None when ``prior`` holds nothing to build one from. ``bins``:
        the model's coordinate grid, which boxes are quantised to (text outputs do without it).
        Tasks that define no baseline raise ``NotImplementedError``; :mod:`vlseq.tasks.priors` has the parts."""
        raise NotImplementedError(f"task {self.name!r} defines no baseline")

    def baseline(self, examples: Sequence[Example], prior: Sequence[Example] | None = None,
                 bins: int | None = None) -> dict[str, float]:
        """What a trivial output that ignores the image scores on ``examples``, keyed like :meth:`evaluate`
        (the floor a model has to beat); its answer is taken from ``prior`` (the training examples)
        when given, else from ``examples``. Empty when the prior holds nothing to build it from; tasks
        that define none raise ``NotImplementedError``."""
        preds = self.baseline_predictions(examples, examples if prior is None else prior, bins)
        return {} if preds is None else self.evaluate(examples, preds)

    def baseline_answers(self, examples: Sequence[Example]) -> list[str] | None:
        """The answer of each example that a fixed-answer baseline counts (its answer is the most
        common of them: :meth:`baseline_answer`); None when the task's baseline is not one fixed answer."""
        return None

    def baseline_answer(self, prior: Sequence[Example]) -> str | None:
        """The one answer a fixed-answer baseline gives every example: the most common of
        :meth:`baseline_answers` over ``prior`` (the first seen wins a tie); None without one."""
        from .priors import most_common

        return most_common(self.baseline_answers(prior) or [])

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        """Whether ``pred`` is right for ``ex`` as an example sheet marks it (a display rule a person can
        check at a glance, never a metric; :mod:`vlseq.tasks.judge`); None: the task has no such notion."""
        return None

    def truth_text(self, ex: Example) -> str:
        """The truth of ``ex`` as a sheet writes it under a text prediction: up to two references, else the text."""
        return " | ".join(ex.answers[:2]) if ex.answers else ex.text

    def regions(self, ex: Example) -> list[tuple[Any, str]]:
        """The boxes ``ex`` describes, each with the words that say what it holds (a class name, a
        grounded phrase, a region's caption): the cell identity loss's teacher
        (``model.cell_words="all"``). By default a box or object-list task's labelled objects."""
        if self.output not in ("objects", "box"):
            return []
        return [(o.box, o.label) for o in ex.objects if o.label and o.box is not None]

    def referent(self, ex: Example) -> Any | None:
        """The one box a text output is about (the object a question asks of, the region a caption
        describes), or None: the referent loss's teacher (``model.referent_loss``), which asks the
        decoder to point at it before it answers. None by default."""
        return None

    def check(self, ex: Example) -> None:
        """Raise ``ValueError`` naming the record when ``ex`` lacks what this task needs."""
        for f in self.needs:
            if not getattr(ex, f):
                raise ValueError(f"{ex.source or ex.image_id}: task {self.name!r} needs a non-empty {f!r}")


def only_box(ex: Example) -> Any | None:
    """The box of ``ex``'s one object, or None when it has none or several."""
    boxes = [o.box for o in ex.objects if o.box is not None]
    return boxes[0] if len(boxes) == 1 else None


def region_prompt(prefix: str, ex: Example, bins: int) -> str:
    """``prefix`` followed by the example's region as four coordinate tokens."""
    if ex.region is None:
        raise ValueError(f"{ex.source or ex.image_id}: no region for a region prompt")
    return prefix + box_tokens(ex.region, ex.width, ex.height, bins)


def grounded_target(g: GroundedText, ex: Example, bins: int, box_first: bool = False) -> str:
    return build(g, ex.width, ex.height, bins, box_first=box_first)


def pick(items: Sequence[Any], rng: random.Random | None) -> Any:
    return items[0] if rng is None else items[rng.randrange(len(items))]
