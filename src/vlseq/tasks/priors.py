"""Trivial outputs: what a task writes when its output ignores the image, the floor a model has to beat.

Each task builds its baseline in :meth:`Task.baseline_predictions` from these parts: one fixed output
per example, written as a sequence in the task's own format and read back by the task's own parser
(:func:`read_back`: its boxes are quantised to the model's bins like a model's), then scored by the
task's own :meth:`Task.evaluate`. Its answer, box or caption comes from the *prior* examples (the
training examples when the caller has them).

A box prior is the mean of the prior's boxes in coordinates normalised by each image's size
(:func:`prior_box`), scaled to each evaluated image (:func:`scaled`); the segmentation tasks take
that box as their polygon (:func:`rectangle`).
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from ..codec import GroundedText, Phrase, build, object_list
from ..data.example import Example
from .base import Prediction, Task

#: Normalised box ``(x1, y1, x2, y2)`` with every coordinate in [0, 1] of the image's width/height.
NormBox = tuple[float, float, float, float]


def most_common(values: Sequence[str]) -> str | None:
    """The most frequent value, the first seen winning a tie (so the result never depends on hash order)."""
    if not values:
        return None
    counts = Counter(values)
    best = max(counts.values())
    return next(v for v in values if counts[v] == best)


def norm_text(s: str) -> str:
    """Lower case with runs of spaces collapsed: how answers and captions are counted."""
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


def object_boxes(exs: Sequence[Example]) -> list[tuple[Sequence[float], int, int]]:
    """``(box, width, height)`` of every object of ``exs``."""
    return [(o.box, ex.width, ex.height) for ex in exs for o in ex.objects]


def phrase_boxes(exs: Sequence[Example]) -> list[tuple[Sequence[float], int, int]]:
    """``(box, width, height)`` of every box of every phrase of ``exs``."""
    return [(b, ex.width, ex.height) for ex in exs for ph in ex.phrases for b in ph.boxes]


def need_bins(task: Task, bins: int | None) -> int:
    """``bins``, or a ``ValueError`` for a baseline whose boxes must be quantised like the model's."""
    if bins is None:
        raise ValueError(f"task {task.name!r}: a baseline with boxes needs the model's bins")
    return bins


def read_back(task: Task, ex: Example, g: GroundedText, bins: int) -> Prediction:
    """``g`` written as a sequence and parsed back by the task: quantised exactly like a model output."""
    return task.parse(build(g, ex.width, ex.height, bins), ex, bins)


def constant_text(task: Task, exs: Sequence[Example], text: str | None, bins: int | None) -> list[Prediction] | None:
    """``text`` as every example's output (None without a text). Text has no coordinates: without the
    model's ``bins`` any grid reads it back the same."""
    if text is None:
        return None
    grid = bins if bins is not None else 2
    return [read_back(task, ex, GroundedText(text), grid) for ex in exs]


def one_box(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int | None,
            polygon: bool = False) -> list[Prediction] | None:
    """The prior box of the prior's objects as each example's one box (its polygon the box itself when
    ``polygon``), under the phrase the box grammar forces (``task.label``); None without prior boxes."""
    box = prior_box(object_boxes(prior))
    if box is None:
        return None
    grid = need_bins(task, bins)
    out = []
    for ex in exs:
        label = task.label(ex)  # type: ignore[attr-defined]  # the phrase the box grammar forces
        b = scaled(box, ex)
        out.append(read_back(task, ex, GroundedText(label, [Phrase(0, len(label), (b,), (rectangle(b),) if polygon else ())]),
                             grid))
    return out


def box_per_category(task: Task, exs: Sequence[Example], prior: Sequence[Example], bins: int | None,
                     polygon: bool = False) -> list[Prediction] | None:
    """The prior box once per category each example's prompt lists (with the box as polygon when
    ``polygon``); None without prior boxes."""
    box = prior_box(object_boxes(prior))
    if box is None:
        return None
    grid = need_bins(task, bins)
    out = []
    for ex in exs:
        b = scaled(box, ex)
        items = [(c, b, rectangle(b)) if polygon else (c, b) for c in ex.options]
        out.append(read_back(task, ex, object_list(items), grid))
    return out


__all__ = ["NormBox", "box_per_category", "constant_text", "most_common", "need_bins", "norm_text", "object_boxes",
           "one_box", "phrase_boxes", "prior_box", "read_back", "rectangle", "scaled"]
