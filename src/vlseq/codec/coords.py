"""Coordinates <-> bins: the quantisation every box, point and polygon goes through.

A coordinate ``c`` on an axis of length ``size`` falls in bin ``k = floor(c / size * B)``,
clipped to ``[0, B-1]``; bin ``k`` decodes at its centre ``(k + 0.5) / B * size``. The
round-trip error is therefore at most half a bin (``size / (2B)``) for any ``c`` in
``[0, size]``. Boxes are absolute pixel ``xyxy`` outside the codec.
"""

from __future__ import annotations

import math
from typing import Sequence

Box = tuple[float, float, float, float]
Point = tuple[float, float]
BinBox = tuple[int, int, int, int]


def _check(size: float, bins: int) -> None:
    if not size > 0:
        raise ValueError(f"axis size must be > 0, got {size}")
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")


def quantize(c: float, size: float, bins: int) -> int:
    """Bin of coordinate ``c`` on an axis of length ``size`` (``floor(c/size*B)`` clipped)."""
    _check(size, bins)
    if math.isnan(c):
        raise ValueError("coordinate is NaN")
    k = math.floor(c / size * bins) if math.isfinite(c) else (bins - 1 if c > 0 else 0)
    return min(max(k, 0), bins - 1)


def dequantize(k: int, size: float, bins: int) -> float:
    """Centre of bin ``k`` in pixels."""
    _check(size, bins)
    if not 0 <= k < bins:
        raise ValueError(f"bin {k} outside [0, {bins - 1}]")
    return (k + 0.5) / bins * size


def quantize_point(p: Point, width: float, height: float, bins: int) -> tuple[int, int]:
    return quantize(p[0], width, bins), quantize(p[1], height, bins)


def dequantize_point(k: Sequence[int], width: float, height: float, bins: int) -> Point:
    return dequantize(k[0], width, bins), dequantize(k[1], height, bins)


def _widen(a: int, b: int, bins: int) -> tuple[int, int]:
    """Make ``b > a`` (the grammar's rule) for a degenerate box side, moving as little as possible."""
    if b > a:
        return a, b
    if a < bins - 1:
        return a, a + 1
    return bins - 2, bins - 1


def quantize_box(box: Box, width: float, height: float, bins: int) -> BinBox:
    """Bins ``(x1, y1, x2, y2)`` of a pixel xyxy box, with ``x2 > x1`` and ``y2 > y1``.

    A box narrower than one bin (both sides in the same bin) is widened to one bin, the only
    case where the round-trip error exceeds half a bin (it stays below one bin).
    """
    x1, y1, x2, y2 = box
    if x2 < x1 or y2 < y1:
        raise ValueError(f"box {box} has negative size (need x2 >= x1 and y2 >= y1)")
    bx1, bx2 = _widen(quantize(x1, width, bins), quantize(x2, width, bins), bins)
    by1, by2 = _widen(quantize(y1, height, bins), quantize(y2, height, bins), bins)
    return bx1, by1, bx2, by2


def dequantize_box(k: Sequence[int], width: float, height: float, bins: int) -> Box:
    """Pixel xyxy box at the centres of bins ``(x1, y1, x2, y2)``."""
    return (
        dequantize(k[0], width, bins),
        dequantize(k[1], height, bins),
        dequantize(k[2], width, bins),
        dequantize(k[3], height, bins),
    )


def quantize_polygon(points: Sequence[Point], width: float, height: float, bins: int) -> list[tuple[int, int]]:
    return [quantize_point(p, width, height, bins) for p in points]


def dequantize_polygon(points: Sequence[Sequence[int]], width: float, height: float, bins: int) -> list[Point]:
    return [dequantize_point(p, width, height, bins) for p in points]
