"""Mask metrics of polygon outputs: referring-segmentation IoU and COCO mask AP (pycocotools).

Polygons are rasterised by pycocotools (``frPyObjects`` + ``merge``) into run-length encoded masks,
so predictions and ground truth go through one rasteriser, the one COCO's own evaluation uses.
An object's mask is the union of its polygon parts; a part is a sequence of ``(x, y)`` pixel
points (at least 3). An object with no polygon has an empty mask: a prediction that gives a box
but no polygon scores IoU 0 (it is never replaced by its box).

* :func:`segmentation_iou` -- referring segmentation (RefCOCO protocol): mean IoU over
  expressions (mIoU), cumulative IoU (cIoU = total intersection / total union) and
  precision at IoU 0.5.
* :func:`coco_mask_map` -- instance segmentation: COCOeval with ``iouType="segm"``.
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np
import pycocotools.mask as mask_utils

from ..codec.coords import Point
from ._validate import check_ids
from .detection import _coco, coco_eval

#: One object's polygon parts: ``[[(x, y), ...], ...]``; an empty list is an empty mask.
Polygons = Sequence[Sequence[Point]]
#: One GT instance: ``(image_id, label, polygons)``.
MaskGT = tuple[Hashable, str, Polygons]
#: One predicted instance: ``(image_id, label, polygons)`` or ``(image_id, label, polygons, score)``.
MaskPred = Union[tuple[Hashable, str, Polygons], tuple[Hashable, str, Polygons, Optional[float]]]


def _flat(polygons: Polygons, what: str) -> list[list[float]]:
    """COCO's flat ``[x1, y1, x2, y2, ...]`` per part; raises on a part of < 3 points or bad numbers."""
    if isinstance(polygons, np.ndarray):
        polygons = polygons.tolist()
    if not isinstance(polygons, (list, tuple)):
        raise ValueError(f"{what}: expected a list of polygons (lists of (x, y) points), got {polygons!r:.80}")
    out = []
    for k, part in enumerate(polygons):
        try:
            arr = np.asarray(part, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{what}: polygon {k} is not a list of (x, y) points: {part!r:.80}") from None
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] < 3:
            raise ValueError(f"{what}: polygon {k} needs >= 3 (x, y) points, got shape {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"{what}: polygon {k} has a non-finite coordinate")
        out.append(arr.reshape(-1).tolist())
    return out


def _size(width: float, height: float, what: str) -> tuple[int, int]:
    if not (width >= 1 and height >= 1 and math.isfinite(width) and math.isfinite(height)):
        raise ValueError(f"{what}: image size must be >= 1 pixel, got {width} x {height}")
    return int(round(width)), int(round(height))


def polygons_to_rle(polygons: Polygons, width: float, height: float, what: str = "polygons") -> dict:
    """The run-length encoded mask (pycocotools) of the union of ``polygons`` in a ``width x height`` image."""
    w, h = _size(width, height, what)
    flat = _flat(polygons, what)
    if not flat:
        return mask_utils.encode(np.zeros((h, w), dtype=np.uint8, order="F"))
    return mask_utils.merge(mask_utils.frPyObjects(flat, h, w))


def polygon_mask(polygons: Polygons, width: float, height: float) -> np.ndarray:
    """``(height, width)`` bool mask of the union of ``polygons`` (pycocotools' rasteriser)."""
    return mask_utils.decode(polygons_to_rle(polygons, width, height)).astype(bool)


def _inter_union(a: dict, b: dict) -> tuple[float, float]:
    inter = float(mask_utils.area(mask_utils.merge([a, b], intersect=True)))
    return inter, float(mask_utils.area(a)) + float(mask_utils.area(b)) - inter


def mask_iou(pred: Polygons, gt: Polygons, width: float, height: float) -> float:
    """IoU of two objects' masks (0 when both are empty)."""
    inter, union = _inter_union(polygons_to_rle(pred, width, height, "mask_iou(pred)"),
                                polygons_to_rle(gt, width, height, "mask_iou(gt)"))
    return inter / union if union > 0 else 0.0


def segmentation_iou(
    predictions: Mapping[Hashable, Optional[Polygons]],
    references: Mapping[Hashable, Polygons],
    sizes: Mapping[Hashable, tuple[float, float]],
    iou_threshold: float = 0.5,
) -> dict[str, float]:
    """Referring segmentation: per expression, IoU of the predicted and GT masks.

    Args:
        predictions: expression id -> the predicted polygons (parts of one mask), or None / ``[]``
            when the model gave no polygon (IoU 0). A missing id counts as no polygon.
        references: expression id -> the GT polygons (the union of the referred objects' parts);
            a GT mask must not be empty.
        sizes: expression id -> ``(width, height)`` of its image.
        iou_threshold: for ``prec@{iou_threshold}``, the share of expressions with IoU >= it.

    Returns ``{"miou", "ciou", "prec@0.5", "total"}``: mIoU is the mean of the per-expression IoUs;
    cIoU is the total intersection over the total union (large objects weigh more).
    """
    check_ids(list(predictions), list(references), "segmentation_iou", allow_missing=True)
    if not references:
        raise ValueError("segmentation_iou: no references to score")
    ious, inter_sum, union_sum = [], 0.0, 0.0
    for qid, gt in references.items():
        if qid not in sizes:
            raise ValueError(f"segmentation_iou: no image size for reference {qid!r}")
        w, h = sizes[qid]
        g = polygons_to_rle(gt, w, h, f"references[{qid!r}]")
        if mask_utils.area(g) == 0:
            raise ValueError(f"segmentation_iou: references[{qid!r}] has an empty GT mask")
        pred = predictions.get(qid) or []
        inter, union = _inter_union(polygons_to_rle(pred, w, h, f"predictions[{qid!r}]"), g)
        ious.append(inter / union)
        inter_sum += inter
        union_sum += union
    arr = np.asarray(ious)
    return {"miou": float(arr.mean()), "ciou": inter_sum / union_sum,
            f"prec@{iou_threshold:g}": float((arr >= iou_threshold).mean()), "total": float(len(arr))}


# --------------------------------------------------------------------------- COCO mask AP


def _split_pred(rec: Any, i: int) -> tuple[Hashable, str, Polygons, Optional[float]]:
    if not isinstance(rec, (tuple, list)) or len(rec) not in (3, 4):
        raise ValueError(
            f"coco_mask_map: predictions[{i}]: expected (image_id, label, polygons[, score]), got {rec!r:.80}")
    score = rec[3] if len(rec) == 4 else None
    return rec[0], rec[1], rec[2], None if score is None else float(score)


def coco_mask_map(
    ground_truth: Iterable[MaskGT],
    predictions: Iterable[MaskPred],
    image_sizes: Mapping[Hashable, tuple[float, float]],
    categories: Optional[Sequence[str]] = None,
    max_dets: int = 100,
) -> dict[str, object]:
    """COCO mask AP (IoU .50:.05:.95), AP@0.5, AP@0.75, AR@``max_dets`` and per-category AP.

    The protocol of :func:`vlseq.metrics.coco_map` with masks instead of boxes: pycocotools'
    COCOeval with ``iouType="segm"`` on masks rasterised from the polygons.

    Args:
        ground_truth: ``(image_id, label, polygons)`` per GT instance (non-empty polygons).
        predictions: ``(image_id, label, polygons)`` or ``(image_id, label, polygons, score)``;
            without scores every detection gets 1.0 and COCOeval's stable sort keeps the emitted
            order (give scores for all or none). Empty polygons make an empty mask (a miss).
        image_sizes: image id -> ``(width, height)``, for every evaluated image (defines the image set).
        categories: the category names (default: the labels that occur).
        max_dets: detections kept per image, highest scores first.

    Returns ``{"map", "map_50", "map_75", "mar_{max_dets}", "per_category"}``; NaN where nothing can be
    averaged (no GT instance at all, or a category without GT).
    """
    gt = list(ground_truth)
    preds = [_split_pred(r, i) for i, r in enumerate(predictions)]
    scored = [p[3] is not None for p in preds]
    if any(scored) and not all(scored):
        raise ValueError("coco_mask_map: some predictions have a score and some do not; give all or none")
    images = {iid: k + 1 for k, iid in enumerate(image_sizes)}  # COCO ids start at 1 (0 means unmatched)
    names = list(categories) if categories is not None else sorted({str(r[1]) for r in gt} | {str(p[1]) for p in preds})
    cat_ids = {n: k + 1 for k, n in enumerate(dict.fromkeys(names))}

    def ann(what: str, i: int, iid: Hashable, label: Any, polys: Polygons) -> dict:
        if iid not in images:
            raise ValueError(f"coco_mask_map: {what}[{i}]: image id {iid!r} not in image_sizes")
        if str(label) not in cat_ids:
            raise ValueError(f"coco_mask_map: {what}[{i}]: label {label!r} not in categories")
        w, h = image_sizes[iid]
        rle = polygons_to_rle(polys, w, h, f"coco_mask_map: {what}[{i}]")
        return {"id": i + 1, "image_id": images[iid], "category_id": cat_ids[str(label)], "segmentation": rle,
                "area": float(mask_utils.area(rle)), "bbox": mask_utils.toBbox(rle).tolist(), "iscrowd": 0}

    gt_anns = []
    for i, rec in enumerate(gt):
        if not isinstance(rec, (tuple, list)) or len(rec) != 3:
            raise ValueError(f"coco_mask_map: ground_truth[{i}]: expected (image_id, label, polygons), got {rec!r:.80}")
        a = ann("ground_truth", i, *rec)
        if a["area"] == 0:
            raise ValueError(f"coco_mask_map: ground_truth[{i}] has an empty mask")
        gt_anns.append(a)
    dt_anns = [dict(ann("predictions", i, iid, label, polys), score=1.0 if s is None else s)
               for i, (iid, label, polys, s) in enumerate(preds)]

    nan = float("nan")
    out: dict[str, object] = {"map": nan, "map_50": nan, "map_75": nan, f"mar_{max_dets}": nan,
                              "per_category": {n: nan for n in cat_ids}}
    if not gt_anns:
        return out

    sized = {iid: (k, *_size(*image_sizes[iid], "image")) for iid, k in images.items()}
    return coco_eval(_coco(sized, cat_ids, gt_anns), _coco(sized, cat_ids, dt_anns), "segm", cat_ids, max_dets)
