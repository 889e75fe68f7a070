"""Trivial baselines: what each task scores when the output ignores the image.

A metric means little without what chance gives: 0.6 VQA accuracy is strong when the majority
answer scores 0.2 and nothing at all when it scores 0.6. Each baseline here is one fixed output
per example, built as a sequence in the task's own format, read back by the task's own parser
(so its boxes are quantised to the model's bins like a model's) and scored by the task's own
:meth:`~vlseq.tasks.Task.evaluate`; a baseline number is therefore comparable with the model's
by construction.

=====================  =============================================================================
task                   baseline output
=====================  =============================================================================
vqa                    the majority answer of the prior examples
classify               the majority class; also the expected score of a uniform choice among the
                       example's options (``chance_<metric>``), the closed-set chance level
caption,               the most frequent caption of the prior examples' references
region_caption
grounded_caption       the most frequent caption, its phrases grounded at the prior box
refexp, localize,      the prior box (the mean of the prior examples' boxes in coordinates normalised
segment                by the image size, scaled to each image); ``segment`` takes the box as polygon
ground                 the prior box for every phrase of the caption
detect,                the prior box once per category the prompt lists (the box as polygon for
instance_segment       ``instance_segment``)
keypoints, images      none: a constant keypoint layout or image has no single meaningful form
=====================  =============================================================================

The *prior examples* are the training examples of the task when the caller has them, else the
evaluated examples themselves (the baseline then knows the eval answers' distribution, a slightly
optimistic prior, and says so: ``prior_from_eval`` = 1).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Callable, Optional, Sequence

from ..codec import GroundedText, Phrase, build, object_list
from ..data.example import Example
from ..tasks import Prediction, Task

log = logging.getLogger(__name__)

#: Normalised box ``(x1, y1, x2, y2)`` with every coordinate in [0, 1] of the image's width/height.
NormBox = tuple[float, float, float, float]

#: What the baseline of each task is, as the metrics table names it.
KINDS: dict[str, str] = {
    "vqa": "majority answer",
    "classify": "majority class",
    "caption": "most frequent caption",
    "region_caption": "most frequent caption",
    "grounded_caption": "most frequent caption at prior box",
    "refexp": "prior box",
    "localize": "prior box",
    "segment": "prior box",
    "ground": "prior box per phrase",
    "detect": "prior box per category",
    "instance_segment": "prior box per category",
    # the tasks' own baselines (Task.baseline), on the evaluated examples
    "paragraph": "most frequent sentence",
    "story": "most frequent sentence per image",
    "multiple_choice": "random choice (expected)",
    "dialog": "answer-frequency ranking",
}


def most_common(values: Sequence[str]) -> str | None:
    """The most frequent value, the first seen winning a tie (so the result never depends on hash order)."""
    if not values:
        return None
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def _norm_text(s: str) -> str:
    return " ".join(s.lower().split())


def prior_box(boxes: Sequence[tuple[Sequence[float], int, int]]) -> NormBox | None:
    """The mean of ``(box, width, height)`` pixel boxes in normalised coordinates; None without boxes."""
    if not boxes:
        return None
    sums = [0.0, 0.0, 0.0, 0.0]
    for box, w, h in boxes:
        for k, (v, side) in enumerate(zip(box, (w, h, w, h))):
            sums[k] += float(v) / side
    n = len(boxes)
    return (sums[0] / n, sums[1] / n, sums[2] / n, sums[3] / n)


def scaled(box: NormBox, ex: Example) -> tuple[float, float, float, float]:
    """A normalised box in the pixels of ``ex``'s image."""
    return (box[0] * ex.width, box[1] * ex.height, box[2] * ex.width, box[3] * ex.height)


def rectangle(box: Sequence[float]) -> tuple[tuple[float, float], ...]:
    """The box as a 4-point polygon (the segmentation baselines' mask is the prior box itself)."""
    x1, y1, x2, y2 = box
    return ((x1, y1), (x2, y1), (x2, y2), (x1, y2))


def _read(task: Task, ex: Example, g: GroundedText, bins: int) -> Prediction:
    """``g`` written as a sequence and parsed back by the task: quantised exactly like a model output."""
    return task.parse(build(g, ex.width, ex.height, bins), ex, bins)


def _object_boxes(exs: Sequence[Example]) -> list[tuple[Sequence[float], int, int]]:
    return [(o.box, ex.width, ex.height) for ex in exs for o in ex.objects]


def _phrase_boxes(exs: Sequence[Example]) -> list[tuple[Sequence[float], int, int]]:
    return [(b, ex.width, ex.height) for ex in exs for ph in ex.phrases for b in ph.boxes]


# --------------------------------------------------------------------------- one builder per task
# A builder returns the baseline's predictions for ``examples`` given the prior examples, or None
# when the prior holds nothing to build one from (then the table says n/a).

Builder = Callable[[Task, Sequence[Example], Sequence[Example], int], Optional[list[Prediction]]]


def _answer(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    from ..tasks.text import majority_answer

    # The training target of a VQA question is its own majority answer; the baseline is the most
    # common of those targets, as the answer a model that ignores the image would learn.
    answer = most_common([majority_answer(ex.answers) for ex in prior if ex.answers])
    return None if answer is None else [_read(task, ex, GroundedText(answer), bins) for ex in exs]


def _class(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    label = most_common([_norm_text(ex.answers[0]) for ex in prior if ex.answers])
    return None if label is None else [_read(task, ex, GroundedText(label), bins) for ex in exs]


def _caption(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    # Counted case- and space-insensitively, written as first seen.
    refs = [" ".join(a.split()) for ex in prior for a in ex.answers if a.strip()]
    key = most_common([_norm_text(r) for r in refs])
    if key is None:
        return None
    caption = next(r for r in refs if _norm_text(r) == key)
    return [_read(task, ex, GroundedText(caption), bins) for ex in exs]


def _grounded_caption(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    box = prior_box(_phrase_boxes(prior))
    caps = [ex for ex in prior if ex.answers]
    caption = most_common([ex.answers[0] for ex in caps])
    if box is None or caption is None:
        return None
    source = next(ex for ex in caps if ex.answers[0] == caption)  # the phrases of its first occurrence
    out = []
    for ex in exs:
        phrases = [Phrase(ph.start, ph.end, (scaled(box, ex),)) for ph in source.phrases]
        out.append(_read(task, ex, GroundedText(caption, phrases), bins))
    return out


def _one_box(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    box = prior_box(_object_boxes(prior))
    if box is None:
        return None
    polygon = task.name == "segment"  # its grammar asks for a polygon after the box
    out = []
    for ex in exs:
        label = task.label(ex)  # type: ignore[attr-defined]  # the phrase the box grammar forces
        b = scaled(box, ex)
        out.append(_read(task, ex, GroundedText(label, [Phrase(0, len(label), (b,), (rectangle(b),) if polygon else ())]),
                         bins))
    return out


def _per_phrase(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    box = prior_box(_phrase_boxes(prior))
    if box is None:
        return None
    return [_read(task, ex, GroundedText(ex.text, [Phrase(ph.start, ph.end, (scaled(box, ex),)) for ph in ex.phrases]),
                  bins) for ex in exs]


def _per_category(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int) -> list[Prediction] | None:
    box = prior_box(_object_boxes(prior))
    if box is None:
        return None
    polygon = task.name == "instance_segment"
    out = []
    for ex in exs:
        b = scaled(box, ex)
        items = [(c, b, rectangle(b)) if polygon else (c, b) for c in ex.options]
        out.append(_read(task, ex, object_list(items), bins))
    return out


BUILDERS: dict[str, Builder] = {
    "vqa": _answer,
    "classify": _class,
    "caption": _caption,
    "region_caption": _caption,
    "grounded_caption": _grounded_caption,
    "refexp": _one_box,
    "localize": _one_box,
    "segment": _one_box,
    "ground": _per_phrase,
    "detect": _per_category,
    "instance_segment": _per_category,
}


def chance_scores(task: Task, examples: Sequence[Example], bins: int) -> dict[str, float]:
    """The expected metrics of a uniform random choice among each example's closed output set.

    Scored option by option and example by example with the task's own metric, then averaged: the
    exact expectation for a metric that is a mean over examples (accuracy). Empty for a task whose
    output is not a closed set.
    """
    totals: dict[str, float] = {}
    n = 0
    for ex in examples:
        labels = task.grammar(ex).labels
        if task.grammar(ex).kind != "choice" or not labels:
            return {}
        for label in labels:
            for k, v in task.evaluate([ex], [_read(task, ex, GroundedText(label), bins)]).items():
                totals[k] = totals.get(k, 0.0) + v / len(labels)
        n += 1
    return {k: v / n for k, v in totals.items()} if n else {}


def baseline_scores(task: Task, examples: Sequence[Example], prior: Sequence[Example] | None,
                    bins: int) -> dict[str, float]:
    """The baseline metrics of ``task`` on ``examples``, keyed like :meth:`Task.evaluate`'s.

    ``prior``: the examples the baseline's answer or box is taken from (the training split); None
    or empty: ``examples`` themselves, recorded as ``prior_from_eval`` = 1. Adds ``chance_<metric>``
    for a closed-set output and ``prior_n`` (the examples the prior came from). Empty when the task
    has no meaningful baseline or the prior holds nothing to build one from; a metric that cannot
    score the baseline (a ``ValueError``) is logged and leaves it out, never a made-up number.
    """
    if not examples:
        return {}
    from_eval = not prior
    base = list(examples) if from_eval else list(prior)  # type: ignore[arg-type]
    out: dict[str, float] = {}
    try:
        builder = BUILDERS.get(task.name)
        preds = builder(task, examples, base, bins) if builder is not None else None
        if preds is not None:
            out.update(task.evaluate(examples, preds))
            out.update(prior_from_eval=float(from_eval), prior_n=float(len(base)))
        elif builder is None:
            try:  # a task that knows its own trivial baseline, from the training examples when at hand
                out.update(task.baseline(examples, None if from_eval else base))
                out.update(prior_from_eval=float(from_eval), prior_n=float(len(base)))
            except NotImplementedError:
                pass
        out.update({f"chance_{k}": v for k, v in chance_scores(task, examples, bins).items()})
    except ValueError as e:
        log.warning("%s: no baseline (%s)", task.name, e)
        return {}
    return out


__all__ = ["BUILDERS", "KINDS", "NormBox", "baseline_scores", "chance_scores", "most_common", "prior_box", "rectangle",
           "scaled"]
