"""The form in which two texts count as the same answer, label or sentence.

Lives in the lowest layer so that tasks, metrics, viz and evaluation compare texts the same way:
a metric that scores ``"Not  Entailed"`` right must agree with the task that ranked it and with the
report that marks it right.
"""

from __future__ import annotations


def fold_text(text: str) -> str:
    """``text`` lowercased, with whitespace runs collapsed to one space and none at either end.

    ``fold_text(" Not \\n Entailed ") == "not entailed"``. Punctuation and articles stay: this
    is exact match up to case and spacing, not the VQA answer normalisation
    (:func:`vlseq.metrics.normalize_answer`).
    """
    return " ".join(text.lower().split())
