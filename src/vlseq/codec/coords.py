"""Coordinates <-> bins: the quantisation every box, point and polygon goes through.

A coordinate ``c`` on an axis of length ``size`` falls in bin ``k = floor(c / size * B)``,
clipped to ``[0, B-1]``; bin ``k`` decodes at its centre ``(k + 0.5) / B * size``. The
round-trip error is therefore at most half a bin (``size / (2B)``) for any ``c`` in
``[0, size]``. Boxes are absolute pixel ``xyxy`` outside the codec.

Boxes are written in the image's frame. The polygons and keypoints of an object are written in
the frame of its box (:func:`box_frame`): the same ``B`` bins span the box's extent, so a shape's
outline reads the same wherever the object stands and however large it is, and a small object's
vertices get finer bins than the image's.
"""

from __future__ import annotations

import math
from typing import Sequence

Box = tuple[float, float, float, float]
Point = tuple[float, float]
BinBox = tuple[int, int, int, int]


def _check(size: float, bins: int) -> None:
    if not 0 < size < math.inf:
        raise ValueError(f"axis size must be finite and > 0, got {size}")
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")


def quantize(c: float, size: float, bins: int) -> int:
    """Bin of coordinate ``c`` on an axis of length ``size`` (``floor(c/size*B)`` clipped)."""
    _check(size, bins)
    if math.isnan(c):
        raise ValueError("coordinate is NaN")
    x = c / size * bins  # overflows to +-inf for huge c or a tiny axis
    k = math.floor(x) if math.isfinite(x) else (bins - 1 if x > 0 else 0)
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


def _widen(a: int, b: int, bins: int, mid: float) -> tuple[int, int]:
    """Make ``b > a`` (the grammar's rule) for a box side inside one bin ``a``.

    ``mid`` is the side's midpoint in bin units; the side grows into the neighbour bin on the half
    of bin ``a`` that the midpoint lies in, so each end moves at most one bin (1.5 bins within the
    outer half-bin of the axis, where no valid bin box can do better).
    """
    if b > a:
        return a, b
    if a == 0 or (a < bins - 1 and mid >= a + 0.5):
        return a, a + 1
    return a - 1, a


def quantize_box(box: Box, width: float, height: float, bins: int) -> BinBox:
    """Bins ``(x1, y1, x2, y2)`` of a pixel xyxy box, with ``x2 > x1`` and ``y2 > y1``.

    A box narrower than one bin (both sides in the same bin) is widened to one bin, the only
    case where the round-trip error exceeds half a bin (at most one bin; 1.5 bins within the
    outer half-bin of the axis).
    """
    x1, y1, x2, y2 = box
    if x2 < x1 or y2 < y1:
        raise ValueError(f"box {box} has negative size (need x2 >= x1 and y2 >= y1)")
    # Halves before the sum: x1 + x2 may overflow where each fits.
    bx1, bx2 = _widen(quantize(x1, width, bins), quantize(x2, width, bins), bins, (x1 / 2 + x2 / 2) / width * bins)
    by1, by2 = _widen(quantize(y1, height, bins), quantize(y2, height, bins), bins, (y1 / 2 + y2 / 2) / height * bins)
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


def box_frame(k: Sequence[int], width: float, height: float, bins: int) -> Box:
    """The pixel extent ``(x0, y0, x1, y1)`` that bin box ``k`` covers: from the near edge of its first
    bins to the far edge of its last, so every point of the pixel box it was quantised from lies inside."""
    _check(width, bins)
    _check(height, bins)
    return k[0] / bins * width, k[1] / bins * height, (k[2] + 1) / bins * width, (k[3] + 1) / bins * height


def quantize_in_frame(p: Point, frame: Box, bins: int) -> tuple[int, int]:
    """Bins of pixel point ``p`` in ``frame`` (:func:`box_frame`); a point outside is clipped to its edge."""
    x0, y0, x1, y1 = frame
    return quantize(p[0] - x0, x1 - x0, bins), quantize(p[1] - y0, y1 - y0, bins)


def dequantize_in_frame(k: Sequence[int], frame: Box, bins: int) -> Point:
    """Pixel point at the centre of bins ``k`` of ``frame`` (:func:`box_frame`)."""
    x0, y0, x1, y1 = frame
    return x0 + dequantize(k[0], x1 - x0, bins), y0 + dequantize(k[1], y1 - y0, bins)
