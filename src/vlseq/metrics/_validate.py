"""Input checks shared by the metrics: prediction ids against reference ids."""

from __future__ import annotations

from typing import Hashable, Sequence


def check_ids(
    pred_ids: Sequence[Hashable], ref_ids: Sequence[Hashable], what: str, allow_missing: bool
) -> None:
    """Raise if predictions name ids the references lack (or miss ids, unless ``allow_missing``)."""
    refs = set(ref_ids)
    extra = [i for i in pred_ids if i not in refs]
    if extra:
        raise ValueError(
            f"{what}: {len(extra)} prediction id(s) not in the references, e.g. {extra[:5]!r}"
        )
    if not allow_missing:
        preds = set(pred_ids)
        missing = [i for i in ref_ids if i not in preds]
        if missing:
            raise ValueError(
                f"{what}: {len(missing)} reference id(s) have no prediction, e.g. {missing[:5]!r}"
            )
