"""Keypoint accuracy: PCK (percentage of correct keypoints) relative to the object's box size.

A predicted keypoint is correct when it lies within ``alpha * max(box width, box height)`` pixels
(Euclidean, inclusive) of the GT keypoint of the same name, the box being the GT object's
(PCK as in the pose-estimation literature, with the box as the reference length; ``alpha = 0.1``
by default). Every GT keypoint counts: one the prediction does not give is wrong; a predicted
name the GT lacks is ignored (as COCO ignores unlabelled keypoints).

For outputs that list objects, :func:`match_objects` pairs predicted with GT objects first
(greedy by box IoU, same label); the keypoints of an unmatched GT object are all wrong.
"""

from __future__ import annotations

import math
from typing import Hashable, Mapping, Optional, Sequence

import numpy as np

from ..codec.coords import Box, Point
from ._validate import check_ids
from .boxes import as_boxes, box_iou

#: A GT object for PCK: its box and its keypoints by name.
KeypointGT = tuple[Box, Mapping[str, Point]]


def _point(p: object, what: str) -> tuple[float, float]:
    try:
        x, y = (float(v) for v in p)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{what}: expected an (x, y) point, got {p!r:.60}") from None
    if not (math.isfinite(x) and math.isfinite(y)):
        raise ValueError(f"{what}: point {p!r} is not finite")
    return x, y


def pck(
    predictions: Mapping[Hashable, Optional[Mapping[str, Point]]],
    references: Mapping[Hashable, KeypointGT],
    alpha: float = 0.1,
) -> dict[str, object]:
    """PCK@``alpha`` over every GT keypoint of every object.

    Args:
        predictions: object id -> ``{name: (x, y)}`` predicted for that GT object, or None when
            the object got no prediction (all its keypoints wrong). A missing id is the same as None.
        references: object id -> ``(box, {name: (x, y)})``: the GT box (xyxy, the reference length
            is its longer side) and the GT keypoints.
        alpha: threshold as a fraction of the box's longer side (> 0).

    Returns ``{"pck", "correct", "total", "per_name": {name: PCK}}``; ``pck`` is NaN when the
    references hold no keypoint at all.
    """
    if not alpha > 0:
        raise ValueError(f"pck: alpha must be > 0, got {alpha}")
    check_ids(list(predictions), list(references), "pck", allow_missing=True)
    hits: dict[str, int] = {}
    counts: dict[str, int] = {}
    for oid, ref in references.items():
        if not (isinstance(ref, (tuple, list)) and len(ref) == 2 and isinstance(ref[1], Mapping)):
            raise ValueError(f"pck: references[{oid!r}]: expected (box, {{name: (x, y)}}), got {ref!r:.80}")
        (x1, y1, x2, y2), = as_boxes(ref[0], f"pck: references[{oid!r}] box").tolist()
        thr = alpha * max(x2 - x1, y2 - y1)
        pred = predictions.get(oid) or {}
        for name, gt_pt in ref[1].items():
            gx, gy = _point(gt_pt, f"pck: references[{oid!r}][{name!r}]")
            counts[name] = counts.get(name, 0) + 1
            if name in pred:
                px, py = _point(pred[name], f"pck: predictions[{oid!r}][{name!r}]")
                if math.hypot(px - gx, py - gy) <= thr:
                    hits[name] = hits.get(name, 0) + 1
    total = sum(counts.values())
    correct = sum(hits.values())
    return {"pck": correct / total if total else float("nan"), "correct": float(correct), "total": float(total),
            "per_name": {n: hits.get(n, 0) / c for n, c in counts.items()}}


def match_objects(
    predicted: Sequence[tuple[str, Box]],
    ground_truth: Sequence[tuple[str, Box]],
    iou_threshold: float = 0.5,
) -> dict[int, int]:
    """Greedy one-to-one matching ``{gt index: predicted index}`` of one image's objects.

    Pairs with the same label and box IoU >= ``iou_threshold`` are taken highest IoU first (ties:
    the earlier GT, then the earlier prediction), each object at most once.
    """
    if not predicted or not ground_truth:
        return {}
    iou = box_iou(np.asarray([b for _, b in predicted], dtype=float).reshape(-1, 4),
                  np.asarray([b for _, b in ground_truth], dtype=float).reshape(-1, 4))  # (P, G)
    same = np.asarray([[pl == gl for gl, _ in ground_truth] for pl, _ in predicted])
    cand = [(-iou[p, g], g, p) for p in range(len(predicted)) for g in range(len(ground_truth))
            if same[p, g] and iou[p, g] >= iou_threshold]
    out: dict[int, int] = {}
    used: set[int] = set()
    for _, g, p in sorted(cand):
        if g not in out and p not in used:
            out[g] = p
            used.add(p)
    return out
