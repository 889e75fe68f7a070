"""Mask metrics (pycocotools rasterisation) and PCK, on tiny hand-computed cases.

Axis-aligned squares with integer corners rasterise to exactly the pixels they cover, so every
area and IoU below is plain arithmetic.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlseq.metrics import coco_mask_map, mask_iou, match_objects, pck, polygon_mask, segmentation_iou


def sq(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def test_polygon_mask_covers_exactly_the_square() -> None:
    m = polygon_mask([sq(2, 3, 7, 9)], 20, 20)
    assert m.shape == (20, 20) and m.dtype == bool and m.sum() == 30
    rows, cols = np.nonzero(m)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 8, 2, 6)
    assert polygon_mask([], 5, 4).shape == (4, 5) and not polygon_mask([], 5, 4).any()
    # two parts are one mask (their union)
    assert polygon_mask([sq(0, 0, 2, 2), sq(1, 1, 3, 3)], 10, 10).sum() == 4 + 4 - 1


def test_mask_iou_hand_cases() -> None:
    a = [sq(10, 10, 20, 20)]
    assert mask_iou(a, a, 100, 100) == 1.0
    assert mask_iou([sq(15, 10, 25, 20)], a, 100, 100) == pytest.approx(50 / 150)
    assert mask_iou([sq(30, 30, 40, 40)], a, 100, 100) == 0.0
    assert mask_iou([], a, 100, 100) == 0.0
    with pytest.raises(ValueError, match=">= 3"):
        mask_iou([[(0, 0), (1, 1)]], a, 100, 100)


def test_segmentation_iou_miou_ciou_precision() -> None:
    gt = {"a": [sq(0, 0, 10, 10)], "b": [sq(10, 10, 20, 20)], "c": [sq(0, 0, 10, 10)]}
    pred = {"a": [sq(0, 0, 10, 10)], "b": [sq(15, 10, 25, 20)], "c": None}  # IoU 1, 1/3, 0
    sizes = {k: (100, 100) for k in gt}
    r = segmentation_iou(pred, gt, sizes)
    assert r["miou"] == pytest.approx((1 + 1 / 3 + 0) / 3)
    assert r["ciou"] == pytest.approx((100 + 50 + 0) / (100 + 150 + 100))
    assert r["prec@0.5"] == pytest.approx(1 / 3) and r["total"] == 3
    assert segmentation_iou({}, gt, sizes)["miou"] == 0.0  # no prediction at all
    with pytest.raises(ValueError, match="not in the references"):
        segmentation_iou({"z": []}, gt, sizes)
    with pytest.raises(ValueError, match="empty GT mask"):
        segmentation_iou({}, {"a": []}, sizes)
    with pytest.raises(ValueError, match="no image size"):
        segmentation_iou({}, gt, {"a": (100, 100)})


def test_coco_mask_map_hand_computed() -> None:
    """Two GT masks; one prediction exact, the other IoU 0.68: matched at IoU 0.50-0.65 only.

    At the 4 thresholds <= 0.65 both match (AP 1); at the other 6 only the first does (recall 0.5
    at precision 1, then a false positive): AP = 51/101 on COCO's 101 recall points.
    """
    gt = [(0, "cat", [sq(0, 0, 10, 25)]), (0, "cat", [sq(40, 40, 50, 50)])]
    preds = [(0, "cat", [sq(40, 40, 50, 50)], 0.9), (0, "cat", [sq(0, 0, 10, 17)], 0.8)]
    r = coco_mask_map(gt, preds, {0: (64, 64)})
    half = 51 / 101
    assert r["map_50"] == pytest.approx(1.0) and r["map_75"] == pytest.approx(half)
    assert r["map"] == pytest.approx((4 * 1.0 + 6 * half) / 10)
    assert r["per_category"]["cat"] == pytest.approx(r["map"])
    # without scores, the emitted order ranks: the same result
    assert coco_mask_map(gt, [p[:3] for p in preds], {0: (64, 64)})["map"] == pytest.approx(r["map"])
    perfect = coco_mask_map(gt, [(0, "cat", g[2]) for g in gt], {0: (64, 64), 1: (32, 32)})
    assert perfect["map"] == pytest.approx(1.0)
    nothing = coco_mask_map(gt, [(0, "cat", [])], {0: (64, 64)})  # a box without a polygon: an empty mask
    assert nothing["map"] == 0.0
    assert math.isnan(coco_mask_map([], [], {0: (8, 8)})["map"])
    with pytest.raises(ValueError, match="not in image_sizes"):
        coco_mask_map(gt, [(7, "cat", gt[0][2])], {0: (64, 64)})
    with pytest.raises(ValueError, match="some predictions have a score"):
        coco_mask_map(gt, [preds[0], preds[1][:3]], {0: (64, 64)})


def test_pck_hand_computed() -> None:
    refs = {
        "o1": ((0, 0, 100, 50), {"top": (50, 0), "left": (0, 25), "right": (100, 25)}),  # threshold 10 px
        "o2": ((0, 0, 10, 10), {"top": (5, 0), "bottom": (5, 10)}),
    }
    preds = {"o1": {"top": (56, 8), "left": (0, 36), "nose": (1, 1)}, "o2": None}
    r = pck(preds, refs)
    # o1: top at distance exactly 10 (inclusive) right, left 11 px off, right missing; o2: no prediction
    assert r["pck"] == pytest.approx(1 / 5) and (r["correct"], r["total"]) == (1, 5)
    assert r["per_name"] == {"top": 0.5, "left": 0.0, "right": 0.0, "bottom": 0.0}
    assert pck(preds, refs, alpha=0.12)["pck"] == pytest.approx(2 / 5)
    assert math.isnan(pck({}, {"o": ((0, 0, 1, 1), {})})["pck"])
    with pytest.raises(ValueError, match="alpha"):
        pck(preds, refs, alpha=0)
    with pytest.raises(ValueError, match=r"references\['o'\]"):
        pck({}, {"o": ((0, 0, 1, 1),)})


def test_match_objects_greedy_by_iou_and_label() -> None:
    gts = [("cat", (0, 0, 10, 10)), ("cat", (20, 0, 30, 10)), ("dog", (0, 20, 10, 30))]
    preds = [("cat", (21, 0, 31, 10)), ("cat", (0, 0, 10, 9)), ("cat", (0, 20, 10, 30)), ("cat", (0, 0, 10, 10))]
    # GT 0: exact pred 3 beats pred 1 (IoU 0.9); GT 2 is a dog (pred 2 has the wrong label)
    assert match_objects(preds, gts) == {0: 3, 1: 0}
    assert match_objects(preds, gts, iou_threshold=0.95) == {0: 3}
    assert match_objects([], gts) == {}
