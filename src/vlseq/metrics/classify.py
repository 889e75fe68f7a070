"""Classification accuracy: exact match of the predicted option after strip + lowercase.

Used by the classify task family (visual entailment, image-text matching, NLVR2-style pairs),
whose predictions are one option of a closed set.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Mapping

from ..codec.text import fold_text
from ._validate import check_ids


def classification_accuracy(
    predictions: Mapping[Hashable, str], references: Mapping[Hashable, str]
) -> dict[str, object]:
    """Share of ids whose prediction equals the reference label after strip/lower.

    Args:
        predictions: id -> predicted label. Every reference id needs one.
        references: id -> GT label.

    Returns ``{"accuracy": float, "per_class": {normalised GT label: accuracy}}``; the
    per-class value is the recall of that class.
    """
    check_ids(list(predictions), list(references), "classification_accuracy", allow_missing=False)
    if not references:
        raise ValueError("classification_accuracy: no references to score")
    per_class: dict[str, list[int]] = defaultdict(list)
    for i, gt in references.items():
        pred = predictions[i]
        if not isinstance(pred, str) or not isinstance(gt, str):
            raise ValueError(
                f"classification_accuracy: id {i!r}: prediction and reference must be strings, "
                f"got {pred!r} and {gt!r}"
            )
        # whitespace inside the label is collapsed too, so "not  entailed" == "not entailed"
        per_class[fold_text(gt)].append(int(fold_text(pred) == fold_text(gt)))
    hits = [x for v in per_class.values() for x in v]
    return {
        "accuracy": sum(hits) / len(hits),
        "per_class": {c: sum(v) / len(v) for c, v in sorted(per_class.items())},
    }
