"""COCO mAP through pycocotools on tiny in-memory cases with hand-computed values."""

import math

import pytest

from vlseq.metrics import coco_map

GT = [("a", "cat", (0, 0, 10, 10)), ("a", "dog", (20, 20, 40, 40)), ("b", "cat", (5, 5, 15, 15))]


def test_perfect_predictions_give_one():
    out = coco_map(GT, [(i, lab, box, 0.9) for i, lab, box in GT], image_ids=["a", "b", "c"])
    assert out["map"] == pytest.approx(1.0)
    assert out["map_50"] == pytest.approx(1.0)
    assert out["map_75"] == pytest.approx(1.0)
    assert out["per_category"] == pytest.approx({"cat": 1.0, "dog": 1.0})


def test_all_wrong_and_no_predictions_give_zero():
    wrong = [("a", "cat", (50, 50, 60, 60), 0.9), ("b", "dog", (5, 5, 15, 15), 0.9)]  # bad box, bad label
    assert coco_map(GT, wrong)["map"] == 0.0
    assert coco_map(GT, [])["map_50"] == 0.0


def test_partial_case_matches_hand_computation():
    # cat: 2 GT; image a's detection is right, image b's wrong; dog: 1 GT, not detected.
    # cat precision is 1 up to recall 0.5 and 0 beyond: COCO's 101-point AP = 51/101.
    preds = [("a", "cat", (0, 0, 10, 10), 0.9), ("b", "cat", (50, 50, 60, 60), 0.8)]
    out = coco_map(GT, preds)
    assert out["per_category"]["cat"] == pytest.approx(51 / 101)
    assert out["per_category"]["dog"] == 0.0
    assert out["map"] == pytest.approx(51 / 202)
    assert out["mar_100"] == pytest.approx(0.25)


def test_iou_thresholds_separate_map_from_map50():
    # IoU 0.62: a hit at thresholds .50, .55, .60 only -> 3 of 10
    out = coco_map([("a", "cat", (0, 0, 10, 10))], [("a", "cat", (0, 0, 10, 6.2), 0.5)])
    assert out["map_50"] == pytest.approx(1.0)
    assert out["map_75"] == 0.0
    assert out["map"] == pytest.approx(0.3)


def test_unscored_predictions_rank_in_sequence_order():
    gt = [("a", "cat", (0, 0, 10, 10))]
    right, wrong = ("a", "cat", (0, 0, 10, 10)), ("a", "cat", (50, 50, 60, 60))
    assert coco_map(gt, [right, wrong])["map"] == pytest.approx(1.0)
    # the wrong box emitted first ranks first: precision 1/2 at recall 1
    assert coco_map(gt, [wrong, right])["map"] == pytest.approx(0.5)
    assert coco_map(gt, [(*wrong, None), (*right, None)])["map"] == pytest.approx(0.5)


def test_no_ground_truth_is_nan_and_category_without_gt_is_left_out():
    assert math.isnan(coco_map([], [("a", "cat", (0, 0, 1, 1), 1.0)])["map"])
    out = coco_map(GT[:1], [("a", "cat", (0, 0, 10, 10), 1.0), ("a", "bird", (0, 0, 5, 5), 1.0)])
    assert math.isnan(out["per_category"]["bird"])
    assert out["map"] == pytest.approx(1.0)


def test_detection_errors():
    with pytest.raises(ValueError, match="some predictions have a score"):
        coco_map(GT, [("a", "cat", (0, 0, 1, 1), 0.5), ("a", "cat", (0, 0, 1, 1))])
    with pytest.raises(ValueError, match="not in categories"):
        coco_map(GT, [("a", "bird", (0, 0, 1, 1), 0.5)], categories=["cat", "dog"])
    with pytest.raises(ValueError, match="not in image_ids"):
        coco_map(GT, [("z", "cat", (0, 0, 1, 1), 0.5)], image_ids=["a", "b"])
    with pytest.raises(ValueError, match=r"predictions\[0\].*x2 < x1"):
        coco_map(GT, [("a", "cat", (10, 0, 1, 1), 0.5)])


def test_label_errors_tell_wrong_labels_from_wrong_boxes() -> None:
    from vlseq.metrics import label_errors

    gts = [(0, "circle", (0, 0, 10, 10)), (0, "square", (20, 20, 30, 30)), (1, "star", (0, 0, 8, 8))]
    preds = [
        (0, "square", (0, 0, 10, 10), 0.9),   # hits the circle, with the square's label: swapped
        (0, "square", (20, 20, 30, 30), 0.8),  # right
        (0, "circle", (1, 1, 10, 10), 0.7),   # the circle again, but it is taken: no hit
        (1, "cross", (0, 0, 8, 8), 0.5),      # a hit with a shape not in the image
        (1, "star", (40, 40, 50, 50), 0.4),   # misses every object
        (2, "star", (0, 0, 5, 5), 0.3),       # an image without objects
    ]
    r = label_errors(gts, preds)
    assert r == {"box_hit": 3 / 6, "label_given_hit": 1 / 3, "label_elsewhere": 1 / 2}
    # The greedy match takes the higher score first: swap the scores and the right label wins the circle.
    r = label_errors(gts[:1], [(0, "square", (0, 0, 10, 10), 0.1), (0, "circle", (0, 0, 10, 10), 0.9)])
    assert r["box_hit"] == 0.5 and r["label_given_hit"] == 1.0
    empty = label_errors(gts, [])
    assert all(v != v for v in empty.values())  # NaN: nothing to count
