"""Sine-cosine tables: the image grid's 2-D positions and the coordinate tokens' init.

Both code a place the same way, so a decoder state that carries an attended cell's position scores
the bins near it highest through the tied output head.
"""

from __future__ import annotations

import torch


def sincos_1d(positions: torch.Tensor, dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """(n,) positions (cell units, may be fractional) -> (n, dim) sines then cosines, ``dim/2`` frequencies."""
    half = dim // 2
    freq = temperature ** (-torch.arange(half, dtype=torch.float32) / half)  # (dim/2,)
    angle = positions.float()[:, None] * freq[None, :]  # (n, dim/2)
    return torch.cat([angle.sin(), angle.cos()], dim=1)


def sincos_2d(grid: tuple[int, int], d: int, temperature: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2-D sine-cosine position table, split into its row and column halves.

    Returns ``(pos_row (h, d), pos_col (w, d))``: rows use the first ``d/2`` channels and columns
    the rest, so ``pos_row[i] + pos_col[j]`` is the usual 2-D table (ViT/MAE) for cell ``(i, j)``.
    Entries lie in [-1, 1], the scale of the LayerNorm-ed image features, so a cell's position is
    as loud as its content from step 0. (At ``weight_std`` the positions were ~11x quieter than the
    features and the model knew an object's size long before it knew where the object was.)
    """
    if d % 4:
        raise ValueError(f"sine-cosine positions need d_model divisible by 4, got {d}")
    h, w = grid
    pos_row = torch.cat([sincos_1d(torch.arange(h), d // 2, temperature), torch.zeros(h, d // 2)], dim=1)
    pos_col = torch.cat([torch.zeros(w, d // 2), sincos_1d(torch.arange(w), d // 2, temperature)], dim=1)
    return pos_row, pos_col


def sincos_coordinates(num_bins: int, grid: tuple[int, int], d: int) -> torch.Tensor:
    """(num_bins, d): bin ``k`` coded as the image grid codes a position at its centre, on both axes.

    A bin's centre ``(k + 0.5) / num_bins`` of the side is ``(k + 0.5) / num_bins * n - 0.5`` in the
    cell units of a grid of ``n`` cells (cell ``j``'s centre is at ``j``); the row half codes it as a
    y and the column half as an x, as :func:`sincos_2d` codes cells. A decoder state that carries
    an attended cell's position then scores nearby bins highest through the tied head.
    """
    (h, w), centre = grid, (torch.arange(num_bins, dtype=torch.float32) + 0.5) / num_bins
    return torch.cat([sincos_1d(centre * h - 0.5, d // 2), sincos_1d(centre * w - 0.5, d // 2)], dim=1)
