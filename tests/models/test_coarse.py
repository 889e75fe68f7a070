"""Coarse image tokens: their shape, their positions against the fine grid's, their limits."""

from __future__ import annotations

import pytest
import torch

from vlseq.models.coarse import CoarseTokens, coarse_positions
from vlseq.models.config import ModelConfig
from vlseq.models.positions import sincos_1d, sincos_2d


def test_tokens_per_image_and_shape() -> None:
    torch.manual_seed(0)
    for side in (1, 2, 4):
        tower = CoarseTokens(24, 32, side, (8, 8))
        out = tower(torch.randn(3, 24, 8, 8))
        assert tower.tokens == side * side and out.shape == (3, side * side, 32)
        assert torch.isfinite(out).all()


def test_a_coarse_cell_is_coded_at_the_centre_of_the_fine_cells_it_covers() -> None:
    d, grid = 16, (8, 8)
    pos = coarse_positions(2, grid, d)  # (4, d), row-major
    # coarse cell (row 1, col 0) covers fine rows 4..7 and columns 0..3: centre (5.5, 1.5) in fine units
    assert torch.allclose(pos[2, : d // 2], sincos_1d(torch.tensor([5.5]), d // 2)[0])
    assert torch.allclose(pos[2, d // 2:], sincos_1d(torch.tensor([1.5]), d // 2)[0])
    # at the side of the fine grid the code is the fine grid's own (sincos_2d)
    rows, cols = sincos_2d(grid, d)
    fine = (rows[:, None, :] + cols[None, :, :]).reshape(-1, d)
    assert torch.allclose(coarse_positions(8, grid, d), fine, atol=1e-6)
    # one global token sits at the image's centre
    assert torch.allclose(coarse_positions(1, grid, d)[0, : d // 2], sincos_1d(torch.tensor([3.5]), d // 2)[0])


def test_a_coarse_grid_finer_than_its_stage_or_a_bad_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="coarse_grid must be between 1 and half"):
        CoarseTokens(8, 16, 5, (8, 8))
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="model.coarse_grid"):
            ModelConfig(coarse_grid=bad)
