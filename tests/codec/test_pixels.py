"""The model's pixel scale (``vlseq.codec.pixels``): its numbers, and that it is bit for bit the old ``x * 2 - 1``."""

from __future__ import annotations

import numpy as np
import torch

from vlseq.codec.pixels import PIXEL_MEAN, PIXEL_STD, denormalize_pixels, normalize_pixels


def _bits(t: torch.Tensor) -> torch.Tensor:
    return t.view(torch.int32)


def _unit_floats() -> torch.Tensor:
    """Every uint8 level / 255, the ends, and float32 values spread over [0, 1] by bit pattern."""
    g = torch.Generator().manual_seed(0)
    spread = torch.randint(0, 0x3F800001, (200_000,), generator=g, dtype=torch.int64).to(torch.int32).view(torch.float32)
    return torch.cat([torch.arange(256, dtype=torch.float32) / 255, torch.tensor([0.0, 0.25, 0.5, 1.0]), spread])


def test_the_scale_is_half_and_half() -> None:
    assert (PIXEL_MEAN, PIXEL_STD) == (0.5, 0.5)
    assert normalize_pixels(0.0) == -1.0 and normalize_pixels(1.0) == 1.0 and denormalize_pixels(-1.0) == 0.0


def test_normalize_is_bit_identical_to_the_old_formulas() -> None:
    x = _unit_floats()
    assert torch.equal(_bits(normalize_pixels(x)), _bits(x * 2.0 - 1.0))  # the image tokenizer's old form
    assert torch.equal(_bits(normalize_pixels(x)), _bits(x.clone().sub_(0.5).div_(0.5)))  # the processor's old form
    y = torch.randn(100_000, generator=torch.Generator().manual_seed(1)) * 3
    assert torch.equal(_bits(denormalize_pixels(y)), _bits(y * 0.5 + 0.5))


def test_inplace_overwrites_and_returns_the_same_tensor() -> None:
    x = _unit_floats()
    expect = normalize_pixels(x)
    assert not torch.equal(expect, x)  # the default leaves its input alone
    y = x.clone()
    out = normalize_pixels(y, inplace=True)
    assert out is y and torch.equal(_bits(out), _bits(expect))


def test_numpy_arrays_work_too() -> None:
    x = np.linspace(0, 1, 11, dtype=np.float32)
    np.testing.assert_array_equal(normalize_pixels(x), x * 2 - 1)
    np.testing.assert_allclose(denormalize_pixels(normalize_pixels(x)), x, atol=1e-7)  # one rounding each way

