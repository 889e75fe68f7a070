"""Optimiser, schedule and EMA: AdamW with decoupled decay, linear warmup + cosine, EMA weights."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """No decay for biases, norms, embeddings and position tables (the usual transformer recipe)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        if p.dim() < 2 or "embed" in name or "pos_" in name or "shared" in name or "image_index" in name:
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    return torch.optim.AdamW(param_groups(model, weight_decay), lr=lr, betas=(0.9, 0.98), eps=1e-8)


class WarmupCosine:
    """lr multiplier: linear warmup over ``warmup`` steps, then cosine down to ``min_ratio`` at ``total``.

    A callable object (not a lambda) so ``LambdaLR.state_dict`` records it.
    """

    def __init__(self, warmup: int, total: int, min_ratio: float) -> None:
        self.warmup, self.total, self.min_ratio = max(0, warmup), max(1, total), min_ratio

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / self.warmup
        t = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return self.min_ratio + (1 - self.min_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def build_scheduler(opt: torch.optim.Optimizer, warmup: int, total: int, min_ratio: float) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(opt, WarmupCosine(warmup, total, min_ratio))


def build_ema(model: nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the weights (buffers too), or None when ``decay`` is 0."""
    if decay <= 0:
        return None
    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
