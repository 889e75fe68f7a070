"""Box overlap and the one-box-per-query accuracies (REC Acc@0.5, localisation accuracy).

Boxes are absolute pixel ``(x1, y1, x2, y2)`` (the sequence contract, docs/architecture.md), continuous coordinates:
the area of a box is ``(x2 - x1) * (y2 - y1)`` (no ``+1`` as in old VOC code). A box with
``x2 < x1`` or ``y2 < y1`` is an error; a zero-area box is allowed and overlaps nothing.
"""

from __future__ import annotations

from numbers import Real
from typing import Hashable, Mapping, Optional, Sequence, Union

import numpy as np

from ..codec.coords import Box
from ._validate import check_ids

#: One predicted box, or a ranked list of boxes of which only the first is scored, or nothing.
BoxPrediction = Union[Box, Sequence[Box], None]

IOU_THRESHOLD = 0.5


def as_boxes(boxes: Union[Box, Sequence[Box], np.ndarray], what: str = "boxes") -> np.ndarray:
    """``boxes`` as a float64 ``(N, 4)`` xyxy array; raises on a wrong shape or an inverted box.

    A single box ``(x1, y1, x2, y2)`` becomes shape ``(1, 4)``; an empty sequence ``(0, 4)``.
    ``what`` names the input in the error message.
    """
    arr = np.asarray(boxes, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{what}: expected xyxy boxes of shape (N, 4), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{what}: box coordinates must be finite, got {arr.tolist()}")
    bad = (arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1])
    if bad.any():
        raise ValueError(f"{what}: box {arr[bad][0].tolist()} has x2 < x1 or y2 < y1 (need xyxy)")
    return arr


def box_area(boxes: Union[Sequence[Box], np.ndarray]) -> np.ndarray:
    """Areas ``(N,)`` of xyxy boxes ``(N, 4)``."""
    b = as_boxes(boxes)
    return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])


def box_iou(a: Union[Sequence[Box], np.ndarray], b: Union[Sequence[Box], np.ndarray]) -> np.ndarray:
    """Pairwise IoU ``(N, M)`` of xyxy boxes ``a`` ``(N, 4)`` and ``b`` ``(M, 4)``, vectorised.

    A pair whose union is empty (two zero-area boxes) has IoU 0.
    """
    a = as_boxes(a, "box_iou(a)")
    b = as_boxes(b, "box_iou(b)")
    lt = np.maximum(a[:, None, :2], b[None, :, :2])  # (N, M, 2)
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0.0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return iou


def box_hit(box: Optional[Box], gt: Union[Box, Sequence[Box]], iou_threshold: float = IOU_THRESHOLD) -> bool:
    """Whether ``box`` (None: no box, a miss) has IoU >= ``iou_threshold`` with the GT box, or with
    any of a list of GT boxes."""
    return box is not None and float(box_iou([box], as_boxes(gt, "box_hit")).max()) >= iou_threshold


def enclosing_box(boxes: Union[Sequence[Box], np.ndarray]) -> Box:
    """The smallest xyxy box that contains every box of ``boxes`` (at least one box)."""
    b = as_boxes(boxes, "enclosing_box")
    if len(b) == 0:
        raise ValueError("enclosing_box: needs at least one box")
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))


def _is_box(x: object) -> bool:
    return (
        isinstance(x, (tuple, list, np.ndarray))
        and len(x) == 4
        and all(isinstance(v, (Real, np.number)) and not isinstance(v, bool) for v in x)
    )


def top_box(pred: BoxPrediction, what: str = "prediction") -> Optional[Box]:
    """The scored box of a prediction: the box itself, the first of a ranked list, or None."""
    if pred is None:
        return None
    if _is_box(pred):
        return tuple(float(v) for v in pred)  # type: ignore[return-value]
    if isinstance(pred, np.ndarray) and pred.ndim == 2:
        pred = pred.tolist()
    if isinstance(pred, (list, tuple)):
        if len(pred) == 0:
            return None
        if _is_box(pred[0]):
            return tuple(float(v) for v in pred[0])  # type: ignore[return-value]
    raise ValueError(f"{what}: expected a box (x1, y1, x2, y2), a list of boxes or None, got {pred!r}")


def box_accuracy(
    predictions: Mapping[Hashable, BoxPrediction],
    references: Mapping[Hashable, Union[Box, Sequence[Box]]],
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, float]:
    """Share of queries whose predicted box has IoU >= ``iou_threshold`` with any GT box.

    Args:
        predictions: query id -> one box, a ranked list of boxes (only the first is scored, as
            in the REC protocol where the model gives one answer), or None / ``[]`` for no box.
        references: query id -> the GT box, or the list of GT boxes of the referent (a hit on
            any of them counts).
        iou_threshold: inclusive IoU threshold (0.5 in the standard protocols).

    A query missing from ``predictions`` or with an empty prediction is a miss; a prediction
    id absent from ``references`` is an error. Returns ``{"accuracy", "hits", "total",
    "mean_iou"}``; ``mean_iou`` (the best IoU with a GT box, 0 for a miss, averaged) moves with
    every pixel of progress, where the thresholded accuracy is flat until boxes come close.
    """
    check_ids(list(predictions), list(references), "box_accuracy", allow_missing=True)
    if not references:
        raise ValueError("box_accuracy: no references to score")
    hits, iou_sum = 0, 0.0
    for qid, gt in references.items():
        gt_boxes = as_boxes(gt, f"references[{qid!r}]")
        if len(gt_boxes) == 0:
            raise ValueError(f"box_accuracy: references[{qid!r}] has no GT box")
        box = top_box(predictions.get(qid), f"predictions[{qid!r}]")
        if box is None:
            continue
        iou = float(box_iou([box], gt_boxes).max())
        iou_sum += iou
        hits += iou >= iou_threshold
    total = len(references)
    return {"accuracy": hits / total, "hits": float(hits), "total": float(total), "mean_iou": iou_sum / total}


def rec_accuracy(
    predictions: Mapping[Hashable, BoxPrediction],
    references: Mapping[Hashable, Union[Box, Sequence[Box]]],
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, float]:
    """Referring-expression comprehension Acc@0.5: see :func:`box_accuracy`."""
    return box_accuracy(predictions, references, iou_threshold)


def localization_accuracy(
    predictions: Mapping[Hashable, BoxPrediction],
    references: Mapping[Hashable, Union[Box, Sequence[Box]]],
    iou_threshold: float = IOU_THRESHOLD,
) -> dict[str, float]:
    """Class-name localisation accuracy at IoU 0.5 (query = a class name, GT = every box of
    that class in the image): the same rule as :func:`box_accuracy`."""
    return box_accuracy(predictions, references, iou_threshold)
