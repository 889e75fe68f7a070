"""Candidate-ranking metrics (VisDial's discriminative protocol): MRR, R@k and mean rank.

VisDial scores each round by where the right answer lands when the model orders its 100 candidate
answers: the rank (1 = first), then over all rounds the mean reciprocal rank, the recall at 1, 5
and 10 (the share of rounds whose right answer is in the top k) and the mean rank (lower is better).
These are pure functions over per-example ranks; :func:`rank_of` turns one example's candidate
scores into its rank.
"""

from __future__ import annotations

import math
from typing import Sequence

#: The recall cut-offs VisDial reports.
RECALL_AT = (1, 5, 10)


def rank_of(scores: Sequence[float], gt_index: int) -> int:
    """The 1-based rank of candidate ``gt_index`` when candidates are ordered by ``scores``, highest first.

    Ties are ranked against the right answer (it comes after every candidate scoring the same), so
    a constant score earns no credit; NaN scores count as the lowest possible.
    """
    if not 0 <= gt_index < len(scores):
        raise ValueError(f"rank_of: gt_index {gt_index} is not a candidate index (0-{len(scores) - 1})")
    vals = [-math.inf if isinstance(s, float) and math.isnan(s) else float(s) for s in scores]
    gt = vals[gt_index]
    return 1 + sum(1 for k, s in enumerate(vals) if k != gt_index and s >= gt)


def ranking_metrics(ranks: Sequence[int], recall_at: Sequence[int] = RECALL_AT) -> dict[str, float]:
    """``{"mrr", "r@1", "r@5", "r@10", "mean_rank"}`` over the examples' ranks (NaN for no examples).

    Raises ``ValueError`` on a rank below 1.
    """
    for k, r in enumerate(ranks):
        if isinstance(r, bool) or not isinstance(r, int) or r < 1:
            raise ValueError(f"ranking_metrics: ranks[{k}] must be an integer >= 1, got {r!r}")
    n = len(ranks)
    if n == 0:
        return {"mrr": math.nan, **{f"r@{k}": math.nan for k in recall_at}, "mean_rank": math.nan}
    return {"mrr": sum(1.0 / r for r in ranks) / n, **{f"r@{k}": sum(r <= k for r in ranks) / n for k in recall_at},
            "mean_rank": sum(ranks) / n}
