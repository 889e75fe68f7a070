"""What a task is: a prompt, a target, a parser, a grammar and a metric -- never a model flag.

A :class:`Task` turns an :class:`~vlseq.data.Example` into a ``(prompt, target)`` pair of strings
in the sequence format, reads a generated sequence back into a :class:`Prediction`, says which
decoding grammar constrains its output (:class:`GrammarSpec`, plain data: the model side maps it
to token ids), and scores predictions with its field's standard metric. Tasks are pure Python:
no torch, testable on literal strings.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal, Sequence

from ..codec import GroundedText, Parsed, box_tokens, build, parse
from ..data.example import Example

OutputKind = Literal["text", "grounded", "objects", "box", "choice", "image"]


@dataclass(frozen=True)
class GrammarSpec:
    """The decoding grammar of one example's output.

    * ``text``: words only. * ``grounded``: text with ``<obj>`` phrases (any boxes per phrase).
    * ``objects``: an object list whose labels are from ``labels``. * ``box``: exactly one
      ``<obj> LABEL box </obj>`` with LABEL from ``labels``. * ``choice``: one of ``labels``.
    * ``image``: exactly ``image_tokens`` image codes ``<img_k>`` (a VQ grid), then ``</s>``.

    ``polygons`` (at most ``max_polygon_points`` points each) and ``keypoints`` (names, in their
    fixed order, each at most once) may follow an object's box (kinds ``objects`` and ``box``);
    ``require_polygon``: every object has one; ``polygon_inside_box``: its points lie in the box.

    ``max_tokens``: for free text, the tokens a complete output may need (``</s>`` included): free
    text has no longest output a grammar could give, so a task whose outputs run long (paragraphs)
    says so here. None: the decoder's default budget.

    ``label_last``: an ``objects`` list in its box-first form, ``<obj> box LABEL </obj>`` (no polygons
    or keypoints); set by the Processor for a task that :attr:`Task.label_last_ok`.
    """

    kind: OutputKind
    labels: tuple[str, ...] = ()
    max_objects: int | None = None
    polygons: bool = False
    max_polygon_points: int = 32
    require_polygon: bool = False
    polygon_inside_box: bool = False
    keypoints: tuple[str, ...] = ()
    image_tokens: int = 0
    max_tokens: int | None = None
    label_last: bool = False


@dataclass
class Prediction:
    """A parsed output: the raw sequence plus what :func:`vlseq.codec.parse` read from it."""

    sequence: str
    parsed: Parsed
    scores: list[float] = field(default_factory=list)  # per-box scores where decoding gives them

    @property
    def text(self) -> str:
        return self.parsed.text

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
            "text": p.text,
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
    #: its object list may be written box first, ``<obj> box LABEL </obj>`` (the ``label_last``
    #: training key): :meth:`target` takes ``label_last``
    label_last_ok: bool = False

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

    def baseline(self, examples: Sequence[Example], prior: Sequence[Example] | None = None) -> dict[str, float]:
        """What a trivial output that ignores the image scores on ``examples``, keyed like :meth:`evaluate`
        (the floor a model has to beat); its answer is taken from ``prior`` (the training examples)
        when given, else from ``examples``. Tasks that define none raise ``NotImplementedError``."""
        raise NotImplementedError(f"task {self.name!r} defines no baseline")

    def regions(self, ex: Example) -> list[tuple[Any, str]]:
        """The boxes ``ex`` describes, each with the words that say what it holds (a class name, a
        grounded phrase, a region's caption): the cell identity loss's teacher
        (``model.cell_words="all"``). By default a box or object-list task's labelled objects."""
        if self.output not in ("objects", "box"):
            return []
        return [(o.box, o.label) for o in ex.objects if o.label and o.box is not None]

    def check(self, ex: Example) -> None:
        """Raise ``ValueError`` naming the record when ``ex`` lacks what this task needs."""
        for f in self.needs:
            if not getattr(ex, f):
                raise ValueError(f"{ex.source or ex.image_id}: task {self.name!r} needs a non-empty {f!r}")


def region_prompt(prefix: str, ex: Example, bins: int) -> str:
    """``prefix`` followed by the example's region as four coordinate tokens."""
    if ex.region is None:
        raise ValueError(f"{ex.source or ex.image_id}: no region for a region prompt")
    return prefix + box_tokens(ex.region, ex.width, ex.height, bins)


def grounded_target(g: GroundedText, ex: Example, bins: int, label_last: bool = False) -> str:
    return build(g, ex.width, ex.height, bins, label_last=label_last)


def pick(items: Sequence[Any], rng: random.Random | None) -> Any:
    return items[0] if rng is None else items[rng.randrange(len(items))]
