"""COCO box mAP through pycocotools' COCOeval, built in memory from plain lists.

Ground truth and predictions are lists of records; both COCO objects are made in memory (no
files) and pycocotools' printing is silenced. Boxes are pixel xyxy and converted to COCO's
xywh here.
"""

from __future__ import annotations

import contextlib
import io
from typing import Hashable, Iterable, Optional, Sequence, Union

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from ..codec.coords import Box
from .boxes import as_boxes, box_iou

#: One GT object: ``(image_id, label, xyxy box)``.
GTRecord = tuple[Hashable, str, Box]
#: One detection: ``(image_id, label, xyxy box, score or None)``; a 3-tuple means no score.
PredRecord = Union[tuple[Hashable, str, Box], tuple[Hashable, str, Box, Optional[float]]]


def _xywh(box: Box, what: str) -> list[float]:
    b = as_boxes(box, what)
    if len(b) != 1:
        raise ValueError(f"{what}: expected one xyxy box, got {box!r}")
    x1, y1, x2, y2 = b[0].tolist()
    return [x1, y1, x2 - x1, y2 - y1]


def _coco(images: dict[Hashable, int], cats: dict[str, int], anns: list[dict]) -> COCO:
    """A COCO object from in-memory records, without pycocotools' "creating index" prints.

    ``images`` maps caller ids to COCO ids, or to ``(COCO id, width, height)`` where sizes are
    needed (segmentation).
    """
    coco = COCO()
    coco.dataset = {
        "images": [{"id": v[0], "width": v[1], "height": v[2]} if isinstance(v, tuple) else {"id": v}
                   for v in images.values()],
        "categories": [{"id": c, "name": n} for n, c in cats.items()],
        "annotations": anns,
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def _split_pred(rec: Sequence, i: int) -> tuple[Hashable, str, Box, Optional[float]]:
    if not isinstance(rec, (tuple, list)) or len(rec) not in (3, 4):
        raise ValueError(
            f"predictions[{i}]: expected (image_id, label, box) or (image_id, label, box, score), got {rec!r}"
        )
    score = rec[3] if len(rec) == 4 else None
    return rec[0], rec[1], rec[2], None if score is None else float(score)


def coco_map(
    ground_truth: Iterable[GTRecord],
    predictions: Iterable[PredRecord],
    image_ids: Optional[Iterable[Hashable]] = None,
    categories: Optional[Sequence[str]] = None,
    max_dets: int = 100,
) -> dict[str, object]:
    """COCO bbox mAP (IoU .50:.05:.95), mAP@0.5, mAP@0.75 and per-category AP.

    Args:
        ground_truth: ``(image_id, label, (x1, y1, x2, y2))`` records; image ids are any
            hashable values, labels are category names.
        predictions: ``(image_id, label, box)`` or ``(image_id, label, box, score)``. When the
            model gives no score (None or a 3-tuple), every detection gets score 1.0 and the
            ranking falls back to sequence order: pycocotools sorts with a stable sort, so
            within an image the detections keep the order they are listed in (the order the
            model emitted them), and across images ties keep image order. Mixing scored and
            unscored detections is an error, since 1.0 would outrank real scores.
        image_ids: every evaluated image, including those with neither GT nor predictions
            (they change nothing for AP, but are accepted); default: the images named by
            either list. A prediction on an image outside ``image_ids`` is an error.
        categories: the category names; default: the labels of GT and predictions. A label
            outside the given list is an error. A category without GT objects has no AP
            (COCO's rule) and is left out of the mean.
        max_dets: detections kept per image (COCO's 100), highest scores first.

    Returns ``{"map", "map_50", "map_75", "mar_{max_dets}", "per_category": {name: AP}}``;
    a value with nothing to average (no GT object at all, or a category without GT) is NaN.
    """
    gt = list(ground_truth)
    preds = [_split_pred(r, i) for i, r in enumerate(predictions)]
    scored = [p[3] is not None for p in preds]
    if any(scored) and not all(scored):
        raise ValueError("coco_map: some predictions have a score and some do not; give all or none")

    images: dict[Hashable, int] = {}
    if image_ids is not None:
        for iid in image_ids:
            images.setdefault(iid, len(images) + 1)
    else:
        for rec in list(gt) + [p[:3] for p in preds]:
            images.setdefault(rec[0], len(images) + 1)
    cat_ids: dict[str, int] = {}
    if categories is not None:
        for name in categories:
            cat_ids.setdefault(name, len(cat_ids) + 1)
    else:
        for rec in sorted({str(r[1]) for r in gt} | {str(p[1]) for p in preds}):
            cat_ids[rec] = len(cat_ids) + 1

    def ids(what: str, i: int, iid: Hashable, label: str) -> tuple[int, int]:
        if iid not in images:
            raise ValueError(f"coco_map: {what}[{i}]: image id {iid!r} not in image_ids")
        if str(label) not in cat_ids:
            raise ValueError(f"coco_map: {what}[{i}]: label {label!r} not in categories")
        return images[iid], cat_ids[str(label)]

    # COCO ids start at 1: COCOeval uses 0 to mean "unmatched"
    gt_anns = []
    for i, rec in enumerate(gt):
        if not isinstance(rec, (tuple, list)) or len(rec) != 3:
            raise ValueError(f"coco_map: ground_truth[{i}]: expected (image_id, label, box), got {rec!r}")
        img, cat = ids("ground_truth", i, rec[0], rec[1])
        bbox = _xywh(rec[2], f"coco_map: ground_truth[{i}]")
        gt_anns.append({"id": i + 1, "image_id": img, "category_id": cat, "bbox": bbox,
                        "area": bbox[2] * bbox[3], "iscrowd": 0})
    dt_anns = []
    for i, (iid, label, box, score) in enumerate(preds):
        img, cat = ids("predictions", i, iid, label)
        bbox = _xywh(box, f"coco_map: predictions[{i}]")
        dt_anns.append({"id": i + 1, "image_id": img, "category_id": cat, "bbox": bbox,
                        "area": bbox[2] * bbox[3], "iscrowd": 0,
                        "score": 1.0 if score is None else score})

    nan = float("nan")
    out: dict[str, object] = {"map": nan, "map_50": nan, "map_75": nan, f"mar_{max_dets}": nan,
                              "per_category": {n: nan for n in cat_ids}}
    if not gt_anns or not images:
        return out  # nothing to recall: COCO's AP is undefined
    return coco_eval(_coco(images, cat_ids, gt_anns), _coco(images, cat_ids, dt_anns), "bbox", cat_ids, max_dets)


def coco_eval(coco_gt: COCO, coco_dt: COCO, iou_type: str, cat_ids: dict[str, int], max_dets: int) -> dict[str, object]:
    """Run COCOeval quietly; ``{"map", "map_50", "map_75", "mar_{max_dets}", "per_category"}`` (NaN where undefined)."""
    nan = float("nan")
    ev = COCOeval(coco_gt, coco_dt, iouType=iou_type)
    ev.params.maxDets = [1, 10, max_dets]
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
        ev.summarize()

    def val(x: float) -> float:
        return nan if x < 0 else float(x)

    out: dict[str, object] = {"map": val(ev.stats[0]), "map_50": val(ev.stats[1]), "map_75": val(ev.stats[2]),
                              f"mar_{max_dets}": val(ev.stats[8])}
    # precision: (T iou thresholds, R recall points, K categories, A area ranges, M max dets)
    prec = ev.eval["precision"]
    names = {c: n for n, c in cat_ids.items()}
    per_cat = {}
    for k, cid in enumerate(ev.params.catIds):
        p = prec[:, :, k, 0, -1]
        p = p[p > -1]
        per_cat[names[cid]] = float(np.mean(p)) if p.size else nan
    out["per_category"] = per_cat
    return out


def box_hits(ground_truth: Sequence[GTRecord], predictions: Iterable[PredRecord],
             iou: float = 0.5) -> tuple[int, list[tuple[int, str]]]:
    """Match predictions to ground-truth boxes *whatever their labels*: the count behind
    :func:`label_errors` and :func:`vlseq.metrics.identity.detection_identity`.

    Per image, predictions (highest score first; unscored ones in their order) are matched greedily
    at ``iou`` (inclusive), each to the free object it overlaps most, each object once. Returns the
    number of predictions and, per hit, ``(index of the hit object in ground_truth, predicted label)``.
    """
    gts: dict[Hashable, list[tuple[int, Box]]] = {}
    for j, (image_id, _label, box) in enumerate(ground_truth):
        gts.setdefault(image_id, []).append((j, box))
    preds: dict[Hashable, list[tuple[float, int, str, Box]]] = {}
    n_pred = 0
    for i, rec in enumerate(predictions):
        image_id, label, box, score = _split_pred(rec, i)
        preds.setdefault(image_id, []).append((-(score if score is not None else 0.0), i, label, box))
        n_pred += 1
    hits: list[tuple[int, str]] = []
    for image_id, plist in preds.items():
        plist.sort(key=lambda p: (p[0], p[1]))
        objs = gts.get(image_id, [])
        if not objs:
            continue
        ious = box_iou([p[3] for p in plist], [o[1] for o in objs])
        free = np.ones(len(objs), dtype=bool)
        for k, (_, _, label, _) in enumerate(plist):
            cand = np.where(free & (ious[k] >= iou))[0]
            if not len(cand):
                continue
            j = cand[np.argmax(ious[k][cand])]
            free[j] = False
            hits.append((objs[j][0], label))
    return n_pred, hits


def label_errors(ground_truth: Iterable[GTRecord], predictions: Iterable[PredRecord], iou: float = 0.5) -> dict[str, float]:
    """Tell a detector's classification errors from its localisation errors.

    Per image, predictions (highest score first; unscored ones in their order) are matched to
    ground-truth boxes *whatever their labels*, greedily at ``iou`` (each object once; :func:`box_hits`).
    Returns:

    - ``box_hit``: the fraction of predictions that hit an object (class-agnostic precision);
    - ``label_given_hit``: of those, the fraction whose label is the hit object's;
    - ``label_elsewhere``: of the hits with a wrong label, the fraction whose label is another
      object's in the same image (labels written in the wrong place, not wrong shapes).

    NaN where the denominator is empty. Written here rather than through TIDE (``tidecv``), whose
    last release (2020) takes only its own dataset classes; this is the one count needed beside
    the class-agnostic mAP. :mod:`vlseq.metrics.identity` splits ``label_given_hit`` by object size and class.
    """
    nan = float("nan")
    gt = list(ground_truth)
    n_pred, hits = box_hits(gt, predictions, iou)
    labels: dict[Hashable, set[str]] = {}
    for image_id, label, _ in gt:
        labels.setdefault(image_id, set()).add(label)
    wrong = [(j, label) for j, label in hits if label != gt[j][1]]
    n_hit, n_wrong = len(hits), len(wrong)
    n_label = n_hit - n_wrong
    n_elsewhere = sum(label in labels[gt[j][0]] for j, label in wrong)
    return {"box_hit": n_hit / n_pred if n_pred else nan, "label_given_hit": n_label / n_hit if n_hit else nan,
            "label_elsewhere": n_elsewhere / n_wrong if n_wrong else nan}
