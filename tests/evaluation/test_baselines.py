"""Trivial baselines, on hand-built examples whose baseline scores are worked out by hand.

Images are 100 x 100 and the grid has 100 bins, so a coordinate ``k + 0.5`` is a bin centre and a
baseline box survives quantisation exactly: the IoUs below are exact fractions.
"""

from __future__ import annotations

import numpy as np
import pytest

from vlseq.data.example import Example, Object
from vlseq.evaluation.baselines import baseline_scores, most_common, prior_box
from vlseq.evaluation.evaluate import format_metrics
from vlseq.tasks import get_task

BINS = 100
IMG = np.zeros((100, 100, 3), np.uint8)


def _vqa(answers: list[str]) -> Example:
    return Example(task="vqa", images=[IMG], width=100, height=100, text="is it red?", answers=answers)


def _box_ex(task: str, box: tuple[float, float, float, float], size: int = 100) -> Example:
    return Example(task=task, images=[IMG], width=size, height=size, text="circle", objects=[Object("circle", box)])


def test_vqa_majority_answer_by_the_ten_annotator_rule() -> None:
    # Per-question majority answers yes, yes, no: the baseline always says "yes".
    exs = [_vqa(["yes"] * 10), _vqa(["yes"] * 10), _vqa(["no"] * 8 + ["yes"] * 2)]
    s = baseline_scores(get_task("vqa"), exs, None, BINS)
    # Question 3: 2 of 10 annotators said yes -> (2 * 1/3 + 8 * 2/3) / 10 = 0.6.
    assert s["accuracy"] == pytest.approx((1 + 1 + 0.6) / 3)
    assert s["prior_from_eval"] == 1.0 and s["prior_n"] == 3.0
    # With training data whose majority is "no", the baseline says "no" (8 of 10 match -> 1.0).
    train = [_vqa(["no"] * 10), _vqa(["no"] * 10), _vqa(["yes"] * 10)]
    s = baseline_scores(get_task("vqa"), exs, train, BINS)
    assert s["accuracy"] == pytest.approx(1 / 3)
    assert s["prior_from_eval"] == 0.0 and s["prior_n"] == 3.0


@pytest.mark.parametrize("task", ["refexp", "localize"])
def test_prior_box_is_the_mean_box(task: str) -> None:
    a, b = (10.5, 10.5, 50.5, 50.5), (16.5, 16.5, 56.5, 56.5)
    exs = [_box_ex(task, a), _box_ex(task, b)]
    assert prior_box([(a, 100, 100), (b, 100, 100)]) == pytest.approx((0.135, 0.135, 0.535, 0.535))
    # The mean box (13.5, 13.5, 53.5, 53.5) overlaps each by 37 x 37 of a 40 x 40 box.
    iou = 37 * 37 / (2 * 40 * 40 - 37 * 37)
    s = baseline_scores(get_task(task), exs, None, BINS)
    assert s["acc@0.5"] == 1.0 and s["mean_iou"] == pytest.approx(iou)
    # The prior is normalised: a 200 px training image's box lands scaled in the 100 px image.
    train = [_box_ex(task, (27.0, 27.0, 107.0, 107.0), size=200)]
    assert baseline_scores(get_task(task), exs, train, BINS)["mean_iou"] == pytest.approx(iou)


def test_prior_box_misses_below_half() -> None:
    a, b = (10.5, 10.5, 50.5, 50.5), (30.5, 30.5, 70.5, 70.5)  # mean (20.5, 20.5, 60.5, 60.5): IoU 900 / 2300
    s = baseline_scores(get_task("refexp"), [_box_ex("refexp", a), _box_ex("refexp", b)], None, BINS)
    assert s["acc@0.5"] == 0.0 and s["mean_iou"] == pytest.approx(900 / 2300)


def test_classify_majority_class_and_chance() -> None:
    def ex(answer: str, options: list[str]) -> Example:
        return Example(task="classify", images=[IMG], width=100, height=100, text="a red circle", answers=[answer],
                       options=options)

    exs = [ex("yes", ["yes", "no"]), ex("no", ["yes", "no"]), ex("maybe", ["yes", "no", "maybe"])]
    train = [ex("no", ["yes", "no"]), ex("no", ["yes", "no"]), ex("yes", ["yes", "no"])]
    s = baseline_scores(get_task("classify"), exs, train, BINS)
    assert s["accuracy"] == pytest.approx(1 / 3)  # always "no"
    assert s["chance_accuracy"] == pytest.approx((1 / 2 + 1 / 2 + 1 / 3) / 3)


def test_detect_prior_box_for_each_listed_category() -> None:
    box = (10.5, 10.5, 50.5, 50.5)
    ex = Example(task="detect", images=[IMG], width=100, height=100, objects=[Object("circle", box)],
                 options=["circle", "square"])
    s = baseline_scores(get_task("detect"), [ex], [ex], BINS)
    # The circle guess is exact; the square guess is a false positive of a category without ground
    # truth, which COCO leaves out of the mean.
    assert s["map_50"] == pytest.approx(1.0) and s["map"] == pytest.approx(1.0)
    far = Example(task="detect", images=[IMG], width=100, height=100, objects=[Object("circle", (60.5, 60.5, 90.5, 90.5))],
                  options=["circle"])
    assert baseline_scores(get_task("detect"), [far], [ex], BINS)["map_50"] == 0.0


def test_most_frequent_caption_is_written() -> None:
    def cap(answers: list[str]) -> Example:
        return Example(task="caption", images=[IMG], width=100, height=100, answers=answers)

    train = [cap(["a blue square", "A red  circle"]), cap(["a red circle", "a green star"])]
    task = get_task("caption")
    [pred] = task.baseline_predictions([cap(["x"])], train, BINS)
    assert pred.text == "A red circle"  # counted ignoring case and spaces, written as first seen
    exs = [cap(["a red circle", "a red circle on grey"]), cap(["a blue square"]), cap(["a green star"])]
    assert baseline_scores(task, exs, train, BINS)["cider"] == pytest.approx(
        task.evaluate(exs, [pred] * 3)["cider"])


def test_no_baseline_where_none_is_meaningful() -> None:
    ex = Example(task="keypoints", images=[IMG], width=100, height=100, objects=[Object("circle", (1, 1, 9, 9))],
                 options=["circle"])
    assert baseline_scores(get_task("keypoints"), [ex], None, BINS) == {}
    assert baseline_scores(get_task("vqa"), [], None, BINS) == {}


def test_most_common_breaks_ties_by_first_seen() -> None:
    assert most_common(["b", "a", "a", "b"]) == "b" and most_common([]) is None


def test_format_metrics_shows_the_baseline_column() -> None:
    metrics = {"vqa/accuracy": 0.5, "vqa/accuracy/yes/no": 0.5, "vqa/parse_error_rate": 0.0, "vqa/n": 3,
               "vqa/baseline/accuracy": 0.8667, "vqa/baseline/accuracy/yes/no": 0.8667,
               "vqa/baseline/prior_from_eval": 1.0, "vqa/baseline/prior_n": 3.0,
               "classify/accuracy": 0.9, "classify/parse_error_rate": 0.0, "classify/n": 3,
               "classify/baseline/accuracy": 0.3333, "classify/baseline/chance_accuracy": 0.4444,
               "classify/baseline/prior_from_eval": 0.0,
               "keypoints/pck@0.1": 0.25, "keypoints/parse_error_rate": 0.1, "keypoints/n": 4}
    table = format_metrics(metrics)
    lines = table.splitlines()
    assert lines[0] == "| task | metric | value | baseline | parse errors | n |"
    assert "| vqa | accuracy | 0.500 | 0.867 majority answer | 0.000 | 3 |" in lines
    assert "| classify | accuracy | 0.900 | 0.333 majority class; 0.444 chance | 0.000 | 3 |" in lines
    assert "| keypoints | pck@0.1 | 0.250 | n/a | 0.100 | 4 |" in lines
    assert sum(line.startswith("| vqa") for line in lines) == 1  # the answer-type keys are not sources
    assert "of vqa come from the evaluated examples themselves" in table and "classify come" not in table
