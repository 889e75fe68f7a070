"""The inverse-loss task balancer: weights from each task's moving-average loss."""

from __future__ import annotations

import pytest
import torch

from vlseq.train.balance import LossBalancer, build_balancer


def test_weights_are_the_inverse_of_each_tasks_loss_with_mean_one() -> None:
    b = LossBalancer(momentum=0.0)
    b.update(["detect", "vqa", "detect"], torch.tensor([2.0, 0.5, 2.0]))
    w = b.weights()
    # 1/2 and 1/0.5 have mean 1.25: 0.4 and 1.6
    assert w == pytest.approx({"detect": 0.4, "vqa": 1.6})
    assert b.factors(["vqa", "caption", "detect"]).tolist() == pytest.approx([1.6, 1.0, 0.4])


def test_weights_follow_a_moving_average_and_stay_within_bounds() -> None:
    b = LossBalancer(momentum=0.5, floor=0.5, ceil=2.0)
    b.update(["a", "b"], torch.tensor([1.0, 1.0]))
    b.update(["a"], torch.tensor([3.0]))
    assert b.avg == pytest.approx({"a": 2.0, "b": 1.0})
    c = LossBalancer(momentum=0.0, floor=0.5, ceil=2.0)
    c.update(["a", "b", "c"], torch.tensor([1.0, 1e-9, 1.0]))  # b's loss near 0: its weight is capped
    w = c.weights()
    assert w == {"a": 0.5, "b": 2.0, "c": 0.5}


def test_state_round_trips_and_bad_settings_are_named() -> None:
    b = LossBalancer()
    b.update(["a"], torch.tensor([0.7]))
    c = LossBalancer()
    c.load_state_dict(b.state_dict())
    assert c.weights() == b.weights() and c.avg == b.avg
    c.load_state_dict(None)  # a checkpoint from before the balancer
    assert c.avg == {}
    assert build_balancer("none") is None
    with pytest.raises(ValueError, match="loss_balance"):
        build_balancer("uncertainty")
    with pytest.raises(ValueError, match="momentum"):
        LossBalancer(momentum=1.0)
