"""VCR accuracies (Q->A, QA->R, Q->AR) and a uniform guess's expected accuracies, by hand."""

from __future__ import annotations

import math

import pytest

from vlseq.metrics import chance_multiple_choice, multiple_choice_accuracy

# three questions: q1 both stages right, q2 answer right but rationale wrong, q3 answer wrong and
# rationale right; q4 has its answer stage only (right)
REFS = {"1a": "red.", "1r": "because a", "2a": "blue.", "2r": "because b", "3a": "two.", "3r": "because c",
        "4a": "yes."}
PREDS = {"1a": " Red. ", "1r": "because  a", "2a": "blue.", "2r": "because x", "3a": "three.", "3r": "because c",
         "4a": "yes."}
STAGES = {k: ("qa" if k.endswith("a") else "qar") for k in REFS}
QUESTIONS = {k: k[0] for k in REFS}


def test_accuracies_by_hand():
    r = multiple_choice_accuracy(PREDS, REFS, STAGES, QUESTIONS)
    assert r["q_a"] == pytest.approx(3 / 4)  # 1a (case and spaces ignored), 2a, 4a right; 3a wrong
    assert r["qa_r"] == pytest.approx(2 / 3)  # 1r, 3r right; 2r wrong
    assert r["q_ar"] == pytest.approx(1 / 3)  # only q1 of the three paired questions; q4 is unpaired
    assert (r["n_q_a"], r["n_qa_r"], r["n_q_ar"]) == (4.0, 3.0, 3.0)


def test_a_missing_stage_is_nan_not_zero():
    r = multiple_choice_accuracy({"4a": "yes."}, {"4a": "yes."}, {"4a": "qa"}, {"4a": "4"})
    assert r["q_a"] == 1.0 and math.isnan(r["qa_r"]) and math.isnan(r["q_ar"])


def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="have no prediction"):
        multiple_choice_accuracy({"1a": "red."}, REFS, STAGES, QUESTIONS)
    with pytest.raises(ValueError, match="stage must be one of"):
        multiple_choice_accuracy(PREDS, REFS, dict(STAGES, **{"1a": "why"}), QUESTIONS)
    with pytest.raises(ValueError, match="question '1' has two 'qa' examples"):
        multiple_choice_accuracy(PREDS, REFS, dict(STAGES, **{"1r": "qa"}), QUESTIONS)
    with pytest.raises(ValueError, match="no references"):
        multiple_choice_accuracy({}, {}, {}, {})


def test_uniform_guess_expectations_by_hand():
    four = {k: 4 for k in REFS}
    r = chance_multiple_choice(four, STAGES, QUESTIONS)
    assert (r["q_a"], r["qa_r"], r["q_ar"]) == (0.25, 0.25, 0.0625)
    # a question with 2 answers and 4 rationales: 1/2, and 1/8 for the pair
    mixed = chance_multiple_choice({"1a": 2, "1r": 4, "2a": 4, "2r": 4}, STAGES, QUESTIONS)
    assert mixed["q_a"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert mixed["qa_r"] == pytest.approx(1 / 4)
    assert mixed["q_ar"] == pytest.approx((1 / 8 + 1 / 16) / 2)
    with pytest.raises(ValueError, match="at least one choice"):
        chance_multiple_choice({"1a": 0}, STAGES, QUESTIONS)
