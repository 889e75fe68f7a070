"""Identity: scoring WHAT an object is apart from WHERE it is, split by object size.

A detector whose boxes land but whose labels are wrong, a localiser that finds big objects of a class but
not small ones, a VQA model that names the colour but not the shape: the headline metrics mix these.
These functions score the identity part on its own, per object-size bucket and per class:

* :func:`detection_identity`: the label of a prediction that hits an object (IoU >= 0.5, class-agnostic
  greedy match: :func:`~vlseq.metrics.detection.box_hits`, the match of
  :func:`~vlseq.metrics.detection.label_errors`), overall, per size bucket of the hit object and per
  class of the hit object;
* :func:`localization_identity`: Acc@0.5 (:func:`~vlseq.metrics.boxes.box_accuracy`) per asked class
  and per size bucket;
* :func:`vqa_identity`: VQA accuracy (:func:`~vlseq.metrics.vqa.vqa_accuracy`) per question type and,
  for the questions whose object box is given, per question type and size bucket of that object.

Size is measured in cells of the model's feature grid, the unit the model sees an image in: with an
``H x W`` image stretched to the model's square input and a ``rows x cols`` feature grid, a cell is
``(W / cols) x (H / rows)`` pixels of the image (8 x 8 px for a 64 px image and an 8 x 8 grid), and an
object covers ``(box_w / cell_w) * (box_h / cell_h)`` cells. Buckets (:data:`SIZE_BUCKETS`) are
half-open: ``<1`` (under one cell), ``1-4``, ``4-16`` and ``>16`` (16 cells or more).

Every function returns a flat dict whose keys a caller prefixes (``detect/identity/...``): ``@<bucket>``
for a size bucket, ``@<question type>`` for a VQA question type, ``per_class/<label>`` for a class; a
count (``hits@<b>``, ``n@<b>``, ``n@<type>``) beside each split score says how much it rests on. A split
with nothing in it scores NaN (its count is 0). Pure Python and numpy, no torch.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Hashable, Iterable, Mapping, Optional, Sequence, Union

from ..codec.coords import Box
from .boxes import BoxPrediction, as_boxes, box_accuracy, box_hit
from .detection import GTRecord, PredRecord, box_hits
from .keypoints import match_objects
from .vqa import vqa_accuracy

#: Size buckets in grid cells covered, smallest first: ``(key, lower bound, display name)``; a bucket
#: runs from its bound (inclusive) to the next one's (exclusive).
SIZE_BUCKETS: tuple[tuple[str, float, str], ...] = (
    ("<1", 0.0, "<1 cell"), ("1-4", 1.0, "1-4 cells"), ("4-16", 4.0, "4-16 cells"), (">16", 16.0, ">16 cells"),
)
#: The bucket keys in order: ``<1``, ``1-4``, ``4-16``, ``>16``.
BUCKETS: tuple[str, ...] = tuple(b[0] for b in SIZE_BUCKETS)

#: The size of one grid cell in image pixels: one number (square cells) or ``(width, height)``.
Cell = Union[float, tuple[float, float]]
#: One cell size for every image, or one per image / query id.
Cells = Union[Cell, Mapping[Hashable, Cell]]


def _cell_wh(cell: Cell, what: str) -> tuple[float, float]:
    if isinstance(cell, Real) and not isinstance(cell, bool):
        w = h = float(cell)
    elif isinstance(cell, (tuple, list)) and len(cell) == 2:
        w, h = float(cell[0]), float(cell[1])
    else:
        raise ValueError(f"{what}: a cell size is a number of pixels or (width, height), got {cell!r}")
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise ValueError(f"{what}: cell size must be positive and finite, got {cell!r}")
    return w, h


def cells_covered(box: Box, cell: Cell) -> float:
    """The grid cells an xyxy pixel box covers: ``(box_w / cell_w) * (box_h / cell_h)``."""
    b = as_boxes(box, "cells_covered")
    if len(b) != 1:
        raise ValueError(f"cells_covered: expected one xyxy box, got {box!r}")
    cw, ch = _cell_wh(cell, "cells_covered")
    x1, y1, x2, y2 = b[0].tolist()
    return (x2 - x1) / cw * (y2 - y1) / ch


def size_bucket(box: Box, cell: Cell) -> str:
    """The :data:`BUCKETS` key of a box: ``"<1"``, ``"1-4"``, ``"4-16"`` or ``">16"`` (16 cells or more)."""
    n = cells_covered(box, cell)
    return next(key for key, lo, _ in reversed(SIZE_BUCKETS) if n >= lo)


def grid_cell(width: float, height: float, grid: tuple[int, int]) -> tuple[float, float]:
    """The ``(width, height)`` in pixels of one cell of a ``(rows, cols)`` feature grid over a
    ``width x height`` image (the image is stretched to the model's square input)."""
    rows, cols = grid
    if rows <= 0 or cols <= 0:
        raise ValueError(f"grid_cell: grid must be positive (rows, cols), got {grid!r}")
    return width / cols, height / rows


def _cell_of(cells: Cells, key: Hashable, what: str) -> Cell:
    if isinstance(cells, Mapping):
        if key not in cells:
            raise ValueError(f"{what}: no cell size for {key!r}")
        return cells[key]
    return cells


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else float("nan")


def detection_identity(ground_truth: Iterable[GTRecord], predictions: Iterable[PredRecord],
                       cells: Optional[Cells] = None, iou: float = 0.5) -> dict[str, float]:
    """Is a detection that lands on an object labelled as that object?

    Args:
        ground_truth: ``(image_id, label, xyxy box)`` records, as for :func:`~vlseq.metrics.detection.coco_map`.
        predictions: ``(image_id, label, box[, score])``; matched to objects whatever their labels by
            :func:`~vlseq.metrics.detection.box_hits` (greedy, highest score first, at ``iou``).
        cells: the grid cell size (:data:`Cell`), one for all images or a mapping image id -> cell
            size; None: no size split.
        iou: the hit threshold (inclusive).

    Returns ``label_given_hit`` (of the hits, the fraction labelled as the hit object; the value of
    :func:`~vlseq.metrics.detection.label_errors`) and ``hits``; with ``cells``, ``label_given_hit@<b>``
    and ``hits@<b>`` for each bucket ``b`` of :data:`BUCKETS` (the hit object's size); and
    ``per_class/<label>`` for each label of the ground truth (of the hits on objects of that class, the
    fraction labelled as it; NaN where none of its objects was hit).
    """
    gt = list(ground_truth)
    _, hits = box_hits(gt, predictions, iou)
    right = [(j, label == gt[j][1]) for j, label in hits]
    out: dict[str, float] = {"label_given_hit": _mean([float(r) for _, r in right]), "hits": float(len(right))}
    if cells is not None:
        by_size: dict[str, list[float]] = {b: [] for b in BUCKETS}
        for j, r in right:
            image_id, _, box = gt[j]
            by_size[size_bucket(box, _cell_of(cells, image_id, "detection_identity"))].append(float(r))
        for b, rs in by_size.items():
            out[f"label_given_hit@{b}"] = _mean(rs)
            out[f"hits@{b}"] = float(len(rs))
    by_class: dict[str, list[float]] = {label: [] for label in sorted({str(g[1]) for g in gt})}
    for j, r in right:
        by_class[str(gt[j][1])].append(float(r))
    out.update({f"per_class/{c}": _mean(rs) for c, rs in by_class.items()})
    return out


def localization_identity(predictions: Mapping[Hashable, BoxPrediction],
                          references: Mapping[Hashable, Union[Box, Sequence[Box]]],
                          labels: Mapping[Hashable, str], cells: Optional[Cells] = None,
                          iou: float = 0.5) -> dict[str, float]:
    """Acc@0.5 of class-name localisation per asked class and per object size.

    Args:
        predictions, references: as for :func:`~vlseq.metrics.boxes.localization_accuracy` (query id ->
            predicted box or None; query id -> every GT box of the asked class: a hit on any counts).
        labels: query id -> the class name the query asks for (every reference id needs one).
        cells: the grid cell size (:data:`Cell`), one for all queries or a mapping query id -> cell
            size; None: no size split.
        iou: the hit threshold (inclusive).

    A query's size bucket is that of its *largest* GT box: any instance counts, so the largest is the
    easiest one to hit, and the bucket does not depend on the prediction. Returns ``per_class/<label>``
    (Acc@0.5 of the queries asking for it) and, with ``cells``, ``acc@<b>`` and ``n@<b>`` for each bucket
    ``b`` of :data:`BUCKETS`.
    """
    missing = [q for q in references if q not in labels]
    if missing:
        raise ValueError(f"localization_identity: {len(missing)} reference id(s) have no label, e.g. {missing[:5]!r}")
    groups: dict[str, dict[Hashable, Union[Box, Sequence[Box]]]] = {}
    for q, gt in references.items():
        groups.setdefault(f"per_class/{labels[q]}", {})[q] = gt
    sizes: dict[str, dict[Hashable, Union[Box, Sequence[Box]]]] = {}
    if cells is not None:
        sizes = {b: {} for b in BUCKETS}
        for q, gt in references.items():
            boxes = as_boxes(gt, f"localization_identity: references[{q!r}]")
            if len(boxes) == 0:
                raise ValueError(f"localization_identity: references[{q!r}] has no GT box")
            cell = _cell_of(cells, q, "localization_identity")
            big = max(boxes.tolist(), key=lambda b: cells_covered(b, cell))
            sizes[size_bucket(big, cell)][q] = gt

    def acc(refs: Mapping[Hashable, Union[Box, Sequence[Box]]]) -> float:
        if not refs:
            return float("nan")
        return box_accuracy({q: predictions[q] for q in refs if q in predictions}, refs, iou)["accuracy"]

    out = {key: acc(refs) for key, refs in sorted(groups.items())}
    for b, refs in sizes.items():
        out[f"acc@{b}"] = acc(refs)
        out[f"n@{b}"] = float(len(refs))
    return out


def vqa_identity(predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]],
                 question_types: Mapping[Hashable, str], object_boxes: Optional[Mapping[Hashable, Box]] = None,
                 cells: Optional[Cells] = None,
                 answer_boxes: Optional[Mapping[Hashable, Optional[Box]]] = None) -> dict[str, float]:
    """VQA accuracy per question type, and per question type and size of the object asked about.

    Args:
        predictions, references: as for :func:`~vlseq.metrics.vqa.vqa_accuracy` (question id -> answer;
            question id -> the GT answers).
        question_types: question id -> its type (the synthetic world's ``colour``, ``shape``, ``count``,
            ...; VQAv2's ``question_type``, else its ``answer_type``); a question without one is
            ``unknown``.
        object_boxes: question id -> the xyxy box of the one object the question is about, for the
            questions where it is known (others are left out of the size split).
        cells: the grid cell size (:data:`Cell`), one for all questions or a mapping question id -> cell
            size; the size split needs it and ``object_boxes``.
        answer_boxes: question id -> the box an answer was written at (a pointed answer,
            ``<obj> box answer </obj>``), None where it has none. With ``object_boxes``, it splits a
            miss into WHICH (the answer points at another object) and WHAT (it points at the asked
            object and names it wrongly).

    Returns ``acc@<type>`` and ``n@<type>`` per question type and, for the types with object boxes,
    ``acc@<type>@<b>`` and ``n@<type>@<b>`` for each bucket ``b`` of :data:`BUCKETS`. With
    ``answer_boxes`` holding a box for some question about a known object, also per such type
    ``point_hit@<type>`` (the share of its questions whose answer's box has IoU >= 0.5 with the
    object's: the model found the object asked about), ``acc_given_point@<type>`` (accuracy over
    those hits: it found the object and said what it is) and ``hits@<type>`` (their count); with
    ``cells``, the same three per size bucket of the object, ``point_hit@<type>@<b>`` and so on (at
    the world's smallest objects a miss can be either: the two need their own levers).
    """
    types = _types(question_types, references)
    r = vqa_accuracy(predictions, references)
    per_q: Mapping[Hashable, float] = r["per_question"]  # type: ignore[assignment]
    groups: dict[str, list[float]] = {}
    for q, t in types.items():
        groups.setdefault(t, []).append(per_q[q])
    out: dict[str, float] = {}
    for t, accs in sorted(groups.items()):
        out[f"acc@{t}"] = _mean(accs)
        out[f"n@{t}"] = float(len(accs))
    for q in (object_boxes or {}) if cells is not None or answer_boxes else ():
        if q not in references:
            raise ValueError(f"vqa_identity: object_boxes names question {q!r}, which is not in the references")
    # the size bucket of each question's object, for the size split and the pointed split by size
    bucket = ({q: size_bucket(box, _cell_of(cells, q, "vqa_identity")) for q, box in object_boxes.items()}
              if object_boxes and cells is not None else {})
    if bucket:
        sized: dict[str, dict[str, list[float]]] = {}
        for q, b in bucket.items():
            sized.setdefault(types[q], {k: [] for k in BUCKETS})[b].append(per_q[q])
        for t, by_size in sorted(sized.items()):
            for b, accs in by_size.items():
                out[f"acc@{t}@{b}"] = _mean(accs)
                out[f"n@{t}@{b}"] = float(len(accs))
    if object_boxes and answer_boxes and any(answer_boxes.get(q) is not None for q in object_boxes):
        pointed: dict[str, list[tuple[bool, float]]] = {}
        for q, box in object_boxes.items():
            hit = box_hit(answer_boxes.get(q), box)
            pointed.setdefault(types[q], []).append((hit, per_q[q]))
            if q in bucket:
                pointed.setdefault(f"{types[q]}@{bucket[q]}", []).append((hit, per_q[q]))
        out.update(_found_then_right(pointed, "point_hit", "acc_given_point", "hits", count_found=True))
    return out


def _found_then_right(groups: Mapping[str, Sequence[tuple[bool, float]]], found_key: str, acc_key: str,
                      n_key: str, count_found: bool) -> dict[str, float]:
    """Per group of ``(found, accuracy)`` rows: the share found, the accuracy over those found, and
    the count of the found rows (``count_found``) or of all rows."""
    out: dict[str, float] = {}
    for t, rows in sorted(groups.items()):
        right = [acc for found, acc in rows if found]
        out[f"{found_key}@{t}"] = len(right) / len(rows)
        out[f"{acc_key}@{t}"] = _mean(right)
        out[f"{n_key}@{t}"] = float(len(right) if count_found else len(rows))
    return out


def _types(question_types: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]]) -> dict[Hashable, str]:
    return {q: str(question_types.get(q) or "unknown") for q in references}


def evidence_identity(predictions: Mapping[Hashable, str], references: Mapping[Hashable, Sequence[str]],
                      question_types: Mapping[Hashable, str],
                      evidence: Mapping[Hashable, Sequence[tuple[str, Box]]],
                      pointed: Mapping[Hashable, Sequence[tuple[str, Box]]]) -> dict[str, float]:
    """Whether a count or yes/no answer written after its evidence found that evidence, per question type.

    Args:
        predictions, references, question_types: as for :func:`vqa_identity`.
        evidence: question id -> ``(label, box)`` of each object its answer rests on, for the
            questions that carry some (the others are left out).
        pointed: question id -> ``(label, box)`` of each object the answer pointed at first.

    Returns per type with evidence ``evidence_found@<type>`` (the share of its questions whose
    pointed objects are the evidence, no more and no fewer: one-to-one, same label, IoU >= 0.5, in
    any order), ``acc_given_evidence@<type>`` (accuracy over those: it found what to count or
    compare and answered right) and ``evidence_n@<type>`` (its questions with evidence). A miss with
    the evidence found is one of reasoning (counting, comparing); one without, of finding.
    """
    types = _types(question_types, references)
    per_q: Mapping[Hashable, float] = vqa_accuracy(predictions, references)["per_question"]  # type: ignore[assignment]
    rows: dict[str, list[tuple[bool, float]]] = {}
    for q, gt in evidence.items():
        if not gt:
            continue
        if q not in references:
            raise ValueError(f"evidence_identity: evidence names question {q!r}, which is not in the references")
        got = list(pointed.get(q) or ())
        found = len(got) == len(gt) and len(match_objects(got, list(gt))) == len(gt)
        rows.setdefault(types[q], []).append((found, per_q[q]))
    return _found_then_right(rows, "evidence_found", "acc_given_evidence", "evidence_n", count_found=False)
