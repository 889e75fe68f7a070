"""The image-use diagnostic: a model that reads the pixels shows a gap, a blind one shows none."""

from __future__ import annotations

import torch
from torch import nn

from vlseq.evaluation.diagnostics import format_image_use, loss_true_and_shuffled


class _Toy(nn.Module):
    """Loss = squared error between each image's mean pixel and its label (or a pixel-free loss)."""

    def __init__(self, reads_image: bool) -> None:
        super().__init__()
        self.reads_image = reads_image
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, pixel_values, labels, **_):
        target = labels.float().mean(1)
        pred = pixel_values.mean((1, 2, 3, 4)) if self.reads_image else torch.zeros_like(target)
        return {"loss": ((self.w * pred - target) ** 2).mean()}


def _batch(b: int = 6) -> dict[str, torch.Tensor]:
    levels = torch.arange(b, dtype=torch.float32)
    pixels = levels[:, None, None, None, None].expand(b, 1, 3, 4, 4).clone()
    return {"pixel_values": pixels, "image_mask": torch.ones(b, 1, dtype=torch.bool),
            "labels": levels[:, None].long().expand(b, 3).clone()}


def test_gap_only_for_a_model_that_reads_the_image() -> None:
    reads, blind = _Toy(True), _Toy(False)
    true, shuffled = loss_true_and_shuffled(reads, _batch())
    assert true == 0.0 and shuffled == 9.0  # rolled by 3: every example is off by 3 levels
    true, shuffled = loss_true_and_shuffled(blind, _batch())
    assert true == shuffled
    assert reads.training and blind.training  # the train/eval mode is restored


def test_table() -> None:
    text = format_image_use({"vqa": (0.5, 0.75), "detect": (1.0, 1.0)})
    assert text.splitlines()[2] == "| detect | 1.0000 | 1.0000 | +0.0000 |"
    assert text.splitlines()[3] == "| vqa | 0.5000 | 0.7500 | +0.2500 |"
