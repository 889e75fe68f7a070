"""Per-task loss weights that follow the tasks' losses: the inverse-loss rule.

Uncertainty weighting (Kendall, Gal and Cipolla, 2018) learns one log-variance ``s_m`` per task and
minimises ``sum_m exp(-s_m) L_m + s_m``. For a fixed loss its optimum is ``exp(-s_m) = 1 / L_m``:
each task is weighted by the inverse of its own loss. This keeps that fixed point directly, with
an exponential moving average of each task's loss in place of the learned variance (no extra
parameters, no second learning rate), and hands the weights to the loss as per-sample weights.

The trainer knows each sample's task; the model does not: it only sees ``sample_weight``.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

#: the balancing rules ``TrainConfig.loss_balance`` accepts
LOSS_BALANCE_RULES = ("none", "inverse_loss")


class LossBalancer:
    """Task weights ``w_m ∝ 1 / EMA(L_m)``, scaled to a mean of 1 over the tasks seen so far and
    kept within ``[floor, ceil]`` of that mean (a task whose loss nears 0 would otherwise take the
    whole batch).

    Args:
        momentum: of the moving average of each task's mean per-sample loss, per update.
        floor, ceil: the bounds of a task's weight relative to the mean weight.
    """

    def __init__(self, momentum: float = 0.98, floor: float = 0.25, ceil: float = 4.0) -> None:
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"loss balance momentum must be in [0, 1), got {momentum}")
        if not 0.0 < floor <= 1.0 <= ceil:
            raise ValueError(f"loss balance bounds must satisfy 0 < floor <= 1 <= ceil, got {floor}, {ceil}")
        self.momentum, self.floor, self.ceil = momentum, floor, ceil
        #: the moving average of each task's mean per-sample loss
        self.avg: dict[str, float] = {}

    def weights(self) -> dict[str, float]:
        """The current weight of every task seen so far (mean 1 before the bounds)."""
        if not self.avg:
            return {}
        inv = {t: 1.0 / max(v, 1e-6) for t, v in self.avg.items()}
        mean = sum(inv.values()) / len(inv)
        return {t: min(self.ceil, max(self.floor, w / mean)) for t, w in inv.items()}

    def factors(self, tasks: Sequence[str]) -> torch.Tensor:
        """(B,) the weight of each sample's task; 1 for a task not seen yet."""
        w = self.weights()
        return torch.tensor([w.get(t, 1.0) for t in tasks], dtype=torch.float32)

    def update(self, tasks: Sequence[str], sample_loss: torch.Tensor) -> None:
        """Fold one micro-batch's per-sample losses (B,) into each task's average. The losses are
        the unweighted ones the model returns, so the weights never feed back into what they read."""
        losses = sample_loss.detach().float().cpu().tolist()
        sums: dict[str, list[float]] = {}
        for t, v in zip(tasks, losses):
            sums.setdefault(t, []).append(v)
        for t, vs in sums.items():
            mean = sum(vs) / len(vs)
            self.avg[t] = mean if t not in self.avg else self.momentum * self.avg[t] + (1 - self.momentum) * mean

    def state_dict(self) -> dict[str, Any]:
        return {"avg": dict(self.avg)}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        self.avg = {str(k): float(v) for k, v in ((state or {}).get("avg") or {}).items()}


def build_balancer(rule: str) -> LossBalancer | None:
    """The balancer of ``TrainConfig.loss_balance``: None for ``none``."""
    if rule not in LOSS_BALANCE_RULES:
        raise ValueError(f"loss_balance must be one of {LOSS_BALANCE_RULES}, got {rule!r}")
    return LossBalancer() if rule == "inverse_loss" else None
