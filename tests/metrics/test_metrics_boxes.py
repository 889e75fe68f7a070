"""IoU helpers and the one-box accuracies against hand-computed values."""

import numpy as np
import pytest

from vlseq.metrics import box_iou, enclosing_box, localization_accuracy, rec_accuracy
from vlseq.metrics.boxes import as_boxes, box_hit, top_box


def test_iou_known_boxes():
    a = [(0, 0, 10, 10), (0, 0, 2, 2)]
    b = [(5, 0, 15, 10), (0, 0, 10, 10), (20, 20, 30, 30)]
    iou = box_iou(a, b)
    assert iou.shape == (2, 3)
    # half overlap: inter 50, union 150
    assert iou[0, 0] == pytest.approx(50 / 150)
    assert iou[0, 1] == pytest.approx(1.0)
    assert iou[0, 2] == 0.0
    # nested: 4 / 100
    assert iou[1, 1] == pytest.approx(0.04)


def test_iou_touching_and_degenerate_boxes():
    assert box_iou([(0, 0, 1, 1)], [(1, 0, 2, 1)])[0, 0] == 0.0
    assert box_iou([(3, 3, 3, 3)], [(3, 3, 3, 3)])[0, 0] == 0.0  # zero union, no NaN
    assert box_iou([], [(0, 0, 1, 1)]).shape == (0, 1)


def test_iou_symmetric_and_vectorised_matches_loop():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 50, size=(7, 2))
    a = np.concatenate([xy, xy + rng.uniform(1, 30, size=(7, 2))], axis=1)
    iou = box_iou(a, a)
    np.testing.assert_allclose(iou, iou.T)
    np.testing.assert_allclose(np.diag(iou), 1.0)
    for i in range(7):
        for j in range(7):
            ix = max(0, min(a[i, 2], a[j, 2]) - max(a[i, 0], a[j, 0]))
            iy = max(0, min(a[i, 3], a[j, 3]) - max(a[i, 1], a[j, 1]))
            ar = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
            assert iou[i, j] == pytest.approx(ix * iy / (ar(a[i]) + ar(a[j]) - ix * iy))


def test_bad_boxes_raise():
    with pytest.raises(ValueError, match="x2 < x1"):
        box_iou([(10, 0, 0, 10)], [(0, 0, 1, 1)])
    with pytest.raises(ValueError, match="shape"):
        as_boxes([(0, 0, 1)])


def test_enclosing_box_and_top_box():
    assert enclosing_box([(0, 5, 10, 10), (2, 0, 4, 20)]) == (0, 0, 10, 20)
    assert top_box(None) is None and top_box([]) is None
    assert top_box((1, 2, 3, 4)) == (1, 2, 3, 4)
    assert top_box([(1, 2, 3, 4), (5, 6, 7, 8)]) == (1, 2, 3, 4)
    with pytest.raises(ValueError, match="expected a box"):
        top_box("cat")


def test_rec_accuracy_hand_computed():
    refs = {
        "q1": (0, 0, 10, 10),
        "q2": [(0, 0, 10, 10), (20, 20, 30, 30)],  # referent with two GT boxes
        "q3": (0, 0, 10, 10),
        "q4": (0, 0, 10, 10),
    }
    preds = {
        "q1": (0, 0, 10, 5),  # IoU exactly 0.5: counts (inclusive)
        "q2": (21, 21, 30, 30),  # hits the second GT box (IoU 0.81)
        "q3": None,  # empty prediction: miss
        # q4 missing: miss
    }
    out = rec_accuracy(preds, refs)
    assert out["accuracy"] == pytest.approx(0.5)
    assert out["hits"] == 2 and out["total"] == 4
    assert out["mean_iou"] == pytest.approx((0.5 + 0.81) / 4)  # misses count as IoU 0
    # only the first of a ranked list counts
    assert rec_accuracy({"a": [(50, 50, 60, 60), (0, 0, 10, 10)]}, {"a": (0, 0, 10, 10)})["accuracy"] == 0.0
    assert localization_accuracy({"a": [(0, 0, 10, 10)]}, {"a": [(0, 0, 10, 10)]})["accuracy"] == 1.0


def test_rec_accuracy_errors():
    with pytest.raises(ValueError, match="not in the references"):
        rec_accuracy({"zz": (0, 0, 1, 1)}, {"a": (0, 0, 1, 1)})
    with pytest.raises(ValueError, match="no GT box"):
        rec_accuracy({}, {"a": []})


def test_box_hit_is_iou_at_the_threshold_against_one_or_any_gt_box() -> None:
    gt = (0, 0, 10, 10)
    assert box_hit((0, 0, 10, 5), gt)  # IoU exactly 0.5: inclusive
    assert not box_hit((0, 0, 10, 4.9), gt)
    assert not box_hit(None, gt)  # no box: a miss
    assert box_hit((20, 20, 30, 30), [gt, (20, 20, 30, 31)])  # any GT box counts
    assert not box_hit((0, 0, 10, 5), gt, iou_threshold=0.75)
    with pytest.raises(ValueError, match="box_hit"):
        box_hit((0, 0, 10, 10), [(0, 0, 1)])
