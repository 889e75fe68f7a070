"""Ranking metrics (VisDial): ranks from candidate scores, ties against the right answer, and
MRR / R@k / mean rank computed by hand."""

from __future__ import annotations

import math

import pytest

from vlseq.metrics import rank_of, ranking_metrics


def test_rank_of_orders_highest_first_and_ties_against_the_answer():
    assert rank_of([-1.0, -3.0, -0.5], 0) == 2
    assert rank_of([-1.0, -3.0, -0.5], 2) == 1
    assert rank_of([-1.0, -3.0, -0.5], 1) == 3
    assert rank_of([0.0, 0.0, 0.0], 1) == 3  # a constant score earns nothing
    assert rank_of([math.nan, -2.0], 0) == 2 and rank_of([math.nan, -2.0], 1) == 1
    with pytest.raises(ValueError, match="gt_index 3"):
        rank_of([1.0, 2.0], 3)


def test_ranking_metrics_by_hand():
    r = ranking_metrics([1, 2, 6, 20])
    assert r["mrr"] == pytest.approx((1 + 1 / 2 + 1 / 6 + 1 / 20) / 4)
    assert (r["r@1"], r["r@5"], r["r@10"]) == (0.25, 0.5, 0.75)
    assert r["mean_rank"] == pytest.approx(29 / 4)
    assert all(math.isnan(v) for v in ranking_metrics([]).values())
    with pytest.raises(ValueError, match=r"ranks\[1\] must be an integer >= 1"):
        ranking_metrics([1, 0])
