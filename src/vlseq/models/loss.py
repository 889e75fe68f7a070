"""The one loss: next-token cross-entropy, balanced per sample."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def balanced_loss(logits: torch.Tensor, labels: torch.Tensor, sample_weight: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy averaged over each sample's tokens first, then over samples.

    Args:
        logits: (B, T, V); labels: (B, T) with -100 where ignored; sample_weight: (B,) or None.
    Returns:
        (loss scalar, per-sample loss (B,) detached).

    A one-token VQA answer thus weighs as much as a 40-token object list; with the usual
    token average, short-output tasks get a few percent of the gradient and stall.
    """
    tok = F.cross_entropy(logits.transpose(1, 2).float(), labels, ignore_index=-100, reduction="none")
    valid = (labels != -100).float()
    per_sample = (tok * valid).sum(1) / valid.sum(1).clamp(min=1.0)
    w = sample_weight if sample_weight is not None else torch.ones_like(per_sample)
    return (per_sample * w).sum() / w.sum().clamp(min=1e-8), per_sample.detach()
