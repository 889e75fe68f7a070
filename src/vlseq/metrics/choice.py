"""Multiple-choice accuracy the VCR way: Q->A, QA->R and Q->AR, and what a uniform guess expects.

A VCR question is asked in two stages: pick the answer (``qa``), then, given the right answer, pick
the rationale (``qar``). Q->A and QA->R are the accuracies of the two stages; Q->AR counts a
question right only when both of its stages are right, so it needs the stages paired (by a
question id). A question with one stage only counts in its stage's accuracy, not in Q->AR.

Predictions are compared to the reference choice after strip, lowercase and whitespace collapsing
(as :func:`~vlseq.metrics.classification_accuracy`).
"""

from __future__ import annotations

import math
from typing import Hashable, Mapping

from ..codec.text import fold_text
from ._validate import check_ids

STAGES = ("qa", "qar")


def _pairs(stages: Mapping[Hashable, str], questions: Mapping[Hashable, Hashable], ids, what: str) -> dict:
    """``{question: {stage: id}}``; a stage given twice for one question is an error."""
    out: dict[Hashable, dict[str, Hashable]] = {}
    for i in ids:
        stage = stages[i]
        if stage not in STAGES:
            raise ValueError(f"{what}: id {i!r}: stage must be one of {STAGES}, got {stage!r}")
        per = out.setdefault(questions[i], {})
        if stage in per:
            raise ValueError(f"{what}: question {questions[i]!r} has two {stage!r} examples ({per[stage]!r}, {i!r})")
        per[stage] = i
    return out


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def multiple_choice_accuracy(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, str],
    stages: Mapping[Hashable, str],
    questions: Mapping[Hashable, Hashable],
) -> dict[str, float]:
    """VCR accuracies of predicted choices.

    Args:
        predictions: id -> predicted choice text. Every reference id needs one.
        references: id -> the right choice text.
        stages: id -> ``"qa"`` or ``"qar"``.
        questions: id -> the question the example belongs to (pairs its two stages).

    Returns ``{"q_a", "qa_r", "q_ar", "n_q_a", "n_qa_r", "n_q_ar"}``; an accuracy with nothing to
    count (e.g. Q->AR without any paired question) is NaN, not 0.
    """
    check_ids(list(predictions), list(references), "multiple_choice_accuracy", allow_missing=False)
    if not references:
        raise ValueError("multiple_choice_accuracy: no references to score")
    right: dict[Hashable, bool] = {}
    for i, gt in references.items():
        pred = predictions[i]
        if not isinstance(pred, str) or not isinstance(gt, str):
            raise ValueError(f"multiple_choice_accuracy: id {i!r}: prediction and reference must be strings, "
                             f"got {pred!r} and {gt!r}")
        right[i] = fold_text(pred) == fold_text(gt)
    pairs = _pairs(stages, questions, references, "multiple_choice_accuracy")
    per_stage = {s: [float(right[i]) for i in references if stages[i] == s] for s in STAGES}
    both = [float(right[p["qa"]] and right[p["qar"]]) for p in pairs.values() if len(p) == 2]
    return {"q_a": _mean(per_stage["qa"]), "qa_r": _mean(per_stage["qar"]), "q_ar": _mean(both),
            "n_q_a": float(len(per_stage["qa"])), "n_qa_r": float(len(per_stage["qar"])), "n_q_ar": float(len(both))}


def chance_multiple_choice(
    n_choices: Mapping[Hashable, int], stages: Mapping[Hashable, str], questions: Mapping[Hashable, Hashable]
) -> dict[str, float]:
    """The expected accuracies of a uniform random choice: ``1 / choices`` per stage example and the
    product of a question's two stages for Q->AR (0.25, 0.25 and 0.0625 with VCR's four choices).

    Keys as :func:`multiple_choice_accuracy`'s.
    """
    if not n_choices:
        raise ValueError("chance_multiple_choice: no examples")
    for i, n in n_choices.items():
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"chance_multiple_choice: id {i!r} must have at least one choice, got {n!r}")
    pairs = _pairs(stages, questions, n_choices, "chance_multiple_choice")
    per_stage = {s: [1.0 / n_choices[i] for i in n_choices if stages[i] == s] for s in STAGES}
    both = [1.0 / (n_choices[p["qa"]] * n_choices[p["qar"]]) for p in pairs.values() if len(p) == 2]
    return {"q_a": _mean(per_stage["qa"]), "qa_r": _mean(per_stage["qar"]), "q_ar": _mean(both),
            "n_q_a": float(len(per_stage["qa"])), "n_qa_r": float(len(per_stage["qar"])), "n_q_ar": float(len(both))}
