"""VQAv2 accuracy and answer normalisation against hand-computed values."""

import pytest

from vlseq.metrics import classification_accuracy, normalize_answer, question_accuracy, vqa_accuracy


@pytest.mark.parametrize(
    "raw, norm",
    [
        ("Two", "2"),
        ("a dog.", "dog"),
        ("The  Cat!", "cat"),
        ("none", "0"),
        ("3.5", "3.5"),  # a period before a digit stays
        ("dont", "don't"),  # contractions map
        ("yes, it is", "yes it is"),  # ", " touches a space: deleted
        ("black/white", "black white"),  # no space around: replaced by a space
        ("1,000 people", "1000 people"),  # digit-comma-digit: punctuation deleted
        ("t-shirt", "t shirt"),
        ("man's", "man's"),  # apostrophe kept
        ("\tan apple\n", "apple"),
    ],
)
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_accuracy_leave_one_out_values():
    others = ["cat"] * 8
    assert question_accuracy("dog", ["dog", "dog"] + others) == pytest.approx(0.6)
    assert question_accuracy("dog", ["dog"] + others + ["cat"]) == pytest.approx(0.3)
    assert question_accuracy("dog", ["dog"] * 3 + ["cat"] * 7) == pytest.approx(0.9)
    assert question_accuracy("dog", ["dog"] * 4 + ["cat"] * 6) == pytest.approx(1.0)
    assert question_accuracy("bird", ["dog"] * 10) == 0.0
    # normalisation on both sides: "Two" matches GT "2" and "two"
    assert question_accuracy("Two", ["2", "two", "2"] + ["3"] * 7) == pytest.approx(0.9)
    assert question_accuracy("yes", ["yes"]) == 1.0  # single answer: exact match


def test_official_quirks_normalise_only_when_gt_disagree():
    # all GT agree: the official script compares the raw prediction
    assert question_accuracy("Two", ["2"] * 10, official_quirks=True) == 0.0
    assert question_accuracy("Two", ["2"] * 10) == 1.0
    # GT disagree: the prediction is normalised
    assert question_accuracy("Two", ["2"] * 9 + ["3"], official_quirks=True) == pytest.approx(1.0)


def test_vqa_accuracy_overall_and_per_type():
    refs = {1: ["yes"] * 10, 2: ["2"] * 2 + ["3"] * 8, 3: ["red"] * 10}
    preds = {1: "Yes", 2: "two", 3: "blue"}
    types = {1: "yes/no", 2: "number", 3: "other"}
    out = vqa_accuracy(preds, refs, types)
    assert out["accuracy"] == pytest.approx((1.0 + 0.6 + 0.0) / 3)
    assert out["per_answer_type"] == pytest.approx({"number": 0.6, "other": 0.0, "yes/no": 1.0})
    assert out["per_question"][2] == pytest.approx(0.6)


def test_vqa_errors():
    with pytest.raises(ValueError, match="not in the references"):
        vqa_accuracy({9: "x"}, {1: ["x"]})
    with pytest.raises(ValueError, match="no prediction"):
        vqa_accuracy({}, {1: ["x"]})
    with pytest.raises(ValueError, match="non-empty list"):
        vqa_accuracy({1: "x"}, {1: []})


def test_classification_accuracy():
    out = classification_accuracy(
        {"a": " Entailment", "b": "NEUTRAL ", "c": "entailment"},
        {"a": "entailment", "b": "contradiction", "c": "entailment"},
    )
    assert out["accuracy"] == pytest.approx(2 / 3)
    assert out["per_class"] == {"contradiction": 0.0, "entailment": 1.0}
    with pytest.raises(ValueError, match="no prediction"):
        classification_accuracy({}, {"a": "x"})
