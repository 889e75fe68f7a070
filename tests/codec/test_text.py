"""The one text normalisation (``vlseq.codec.text``) and the comparisons that use it."""

from __future__ import annotations

import pytest

from vlseq.codec.text import fold_text


@pytest.mark.parametrize(("text", "expected"), [
    ("", ""),
    ("   ", ""),
    ("Red", "red"),
    ("  Not \n\t Entailed  ", "not entailed"),
    ("A dog.", "a dog."),  # punctuation and articles stay: not the VQA normalisation
    ("Über  CAFÉ", "über café"),
    ("two\u00a0words", "two words"),  # non-breaking space is whitespace too
])
def test_normalize_text(text: str, expected: str) -> None:
    assert fold_text(text) == expected
    assert fold_text(expected) == expected  # idempotent


def test_metrics_compare_in_the_normalised_form() -> None:
    from vlseq.metrics import classification_accuracy, multiple_choice_accuracy

    r = classification_accuracy({1: " Not  ENTAILED\n", 2: "yes"}, {1: "not entailed", 2: "No"})
    assert r["accuracy"] == 0.5 and r["per_class"] == {"no": 0.0, "not entailed": 1.0}
    mc = multiple_choice_accuracy({1: "The  Dog", 2: "Because"}, {1: "the dog", 2: "because  it runs"},
                                  {1: "qa", 2: "qar"}, {1: "q", 2: "q"})
    assert (mc["q_a"], mc["qa_r"], mc["q_ar"]) == (1.0, 0.0, 0.0)


def test_tasks_compare_in_the_normalised_form() -> None:
    from vlseq.data.example import Example
    from vlseq.tasks.dialog import answer_counts, rank_from_text
    from vlseq.tasks.paragraph import most_frequent_sentence

    ex = Example("dialog", [], 8, 8, answers=["A red  Circle"], options=["a red circle", "no"])
    assert rank_from_text("a RED circle ", ex) == 1
    assert answer_counts([ex, ex]) == {"a red circle": 2}
    assert most_frequent_sentence(["A cat sat. a  CAT sat.", "A dog ran."]) == "A cat sat."
