"""Coarse image tokens: a g x g grid (g=1: one global token) beside the fine grid, one stage deeper.

::

    feats (B*I, C, h, w) --3x3 conv, stride 2 + norm + GELU--> (B*I, C, h/2, w/2) --mean over g x g regions-->
        (B*I, C, g, g) --linear + LayerNorm + 2-D position--> (B*I, g*g, d)

Why: each fine token sees one 8 px cell and what the stem's receptive field adds around it, so an
object that spans many cells is told only by the encoder assembling its parts across tokens. A
coarse token sees a whole quarter (g=2), sixteenth (g=4) or all (g=1) of the image through one more
conv stage, the multi-scale form of the seed's backbones (a pooled image token beside the grid, as
Florence-2 adds one). The coarse tokens follow all images' fine grids in the encoder input, so every
reader of the fine grid (the pointer, the cell and referent losses, the encoder skip) still finds
image ``i``'s cells at ``i*h*w ..``.
"""

from __future__ import annotations

import torch
from torch import nn

from .positions import sincos_1d


def coarse_positions(side: int, grid: tuple[int, int], d: int) -> torch.Tensor:
    """(side*side, d): each coarse cell's centre coded as :func:`vlseq.models.positions.sincos_2d`
    codes the fine grid (rows in the first ``d/2`` channels, columns in the rest), in fine-cell units,
    so a coarse token and the fine tokens under it carry nearby positions."""
    h, w = grid
    centre = torch.arange(side, dtype=torch.float32) + 0.5
    rows = sincos_1d(centre * h / side - 0.5, d // 2)  # (side, d/2)
    cols = sincos_1d(centre * w / side - 0.5, d // 2)
    return torch.cat([rows[:, None, :].expand(side, side, -1), cols[None, :, :].expand(side, side, -1)], -1).reshape(-1, d)


class CoarseTokens(nn.Module):
    """The stem's grid features -> ``side * side`` coarse tokens per image.

    Args:
        channels: C, the stem's output channels. d_model: the token width.
        side: the coarse grid's side (1: one global token). grid: the fine grid ``(h, w)``.
        norm: ``batch`` or ``group``, as the conv stem's (``VisionConfig.norm``).
    """

    def __init__(self, channels: int, d_model: int, side: int, grid: tuple[int, int], norm: str = "batch") -> None:
        super().__init__()
        if side < 1 or side > (min(grid) + 1) // 2:
            raise ValueError(f"model.coarse_grid must be between 1 and half the fine grid's side "
                             f"({(min(grid) + 1) // 2}), not {side}")
        if d_model % 4:
            raise ValueError(f"coarse tokens need d_model divisible by 4, got {d_model}")
        self.side = side
        norm_layer = nn.BatchNorm2d(channels) if norm == "batch" else nn.GroupNorm(min(8, channels), channels)
        # No conv bias: the norm right after it has its own.
        self.stage = nn.Sequential(nn.Conv2d(channels, channels, 3, stride=2, padding=1, bias=False), norm_layer, nn.GELU())
        self.proj = nn.Sequential(nn.Linear(channels, d_model), nn.LayerNorm(d_model))
        self.pos = nn.Parameter(coarse_positions(side, grid, d_model))

    @property
    def tokens(self) -> int:
        """Coarse tokens per image."""
        return self.side * self.side

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """(N, C, h, w) fine-grid features -> (N, side*side, d) tokens with their positions."""
        x = nn.functional.adaptive_avg_pool2d(self.stage(feats), self.side)  # (N, C, side, side)
        return self.proj(x.flatten(2).transpose(1, 2)) + self.pos
