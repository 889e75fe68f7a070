"""Properties of the coordinate quantisation (``vlseq.codec.coords``).

Bin ``k = floor(c / size * B)`` clipped to ``[0, B-1]``, decoded at the centre ``(k + 0.5) / B * size``.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vlseq.codec.coords import (
    dequantize,
    dequantize_box,
    dequantize_point,
    dequantize_polygon,
    quantize,
    quantize_box,
    quantize_point,
    quantize_polygon,
)

# Float round-off in c / size * B may land a coordinate that sits exactly on a bin edge one ulp
# into the neighbouring bin; allow that much (relative to the axis) on top of the exact bounds.
EPS = 1e-9

sizes = st.floats(min_value=1e-3, max_value=1e5, allow_nan=False, allow_infinity=False)
bin_counts = st.integers(min_value=2, max_value=1000)
any_float = st.floats(allow_nan=False)  # includes +-inf, huge and subnormal values
# Off-image and infinite values that cannot overflow c / size * B (see the xfail overflow tests).
wild_float = st.floats(min_value=-1e300, max_value=1e300) | st.sampled_from([math.inf, -math.inf])


@st.composite
def axis_and_coord(draw: st.DrawFn) -> tuple[float, int, float]:
    """``(size, bins, c)`` with ``c`` in ``[0, size]``."""
    size, bins = draw(sizes), draw(bin_counts)
    c = draw(st.floats(min_value=0.0, max_value=size))
    return size, bins, c


# --------------------------------------------------------------------------- scalars


@given(c=wild_float, size=sizes, bins=bin_counts)
def test_quantize_in_range_out_of_image_and_inf(c: float, size: float, bins: int) -> None:
    k = quantize(c, size, bins)
    assert isinstance(k, int)
    assert 0 <= k <= bins - 1


@given(c=any_float, size=st.floats(min_value=5e-324, max_value=1e308), bins=bin_counts)
def test_quantize_always_in_range(c: float, size: float, bins: int) -> None:
    """Any float ``c`` (incl. +-inf) on any finite positive axis; ``c / size * B`` may overflow."""
    k = quantize(c, size, bins)
    assert isinstance(k, int)
    assert 0 <= k <= bins - 1


def test_quantize_overflow_example() -> None:
    assert quantize(1e308, 0.5, 1000) == 999


@pytest.mark.parametrize(
    "c, expected",
    [(-1.0, 0), (-math.inf, 0), (0.0, 0), (9.99, 0), (10.0, 1), (99.99, 9), (100.0, 9), (1e9, 9), (math.inf, 9)],
)
def test_quantize_literal_bins(c: float, expected: int) -> None:
    assert quantize(c, 100.0, 10) == expected


def test_dequantize_literal_centres() -> None:
    assert dequantize(0, 100.0, 10) == 5.0
    assert dequantize(9, 100.0, 10) == 95.0
    assert dequantize(499, 1000.0, 1000) == 499.5


@given(axis_and_coord())
def test_round_trip_within_half_a_bin(args: tuple[float, int, float]) -> None:
    size, bins, c = args
    err = abs(dequantize(quantize(c, size, bins), size, bins) - c)
    assert err <= size / (2 * bins) * (1 + EPS) + size * EPS


@given(size=sizes, bins=bin_counts, data=st.data())
def test_bin_centres_are_fixed_points(size: float, bins: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, bins - 1))
    assert quantize(dequantize(k, size, bins), size, bins) == k


@given(size=sizes, bins=bin_counts, a=st.floats(0, 1), b=st.floats(0, 1))
def test_quantize_is_monotonic(size: float, bins: int, a: float, b: float) -> None:
    lo, hi = sorted((a * size, b * size))
    assert quantize(lo, size, bins) <= quantize(hi, size, bins)


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize("size", [0.0, -1.0, -math.inf, math.nan])
def test_bad_size_raises(size: float) -> None:
    with pytest.raises(ValueError, match="size"):
        quantize(1.0, size, 10)
    with pytest.raises(ValueError, match="size"):
        dequantize(1, size, 10)


def test_infinite_size_raises() -> None:
    with pytest.raises(ValueError, match="size"):
        dequantize(1, math.inf, 10)


@pytest.mark.parametrize("bins", [1, 0, -5])
def test_bad_bins_raises(bins: int) -> None:
    with pytest.raises(ValueError, match="bins"):
        quantize(1.0, 10.0, bins)
    with pytest.raises(ValueError, match="bins"):
        dequantize(0, 10.0, bins)


def test_nan_coordinate_raises() -> None:
    with pytest.raises(ValueError, match="NaN"):
        quantize(math.nan, 10.0, 10)
    with pytest.raises(ValueError, match="NaN"):
        quantize_box((0.0, 0.0, math.nan, 5.0), 10.0, 10.0, 10)
    with pytest.raises(ValueError, match="NaN"):
        quantize_point((math.nan, 1.0), 10.0, 10.0, 10)


@pytest.mark.parametrize("k", [-1, 10, 1000])
def test_dequantize_out_of_range_bin_raises(k: int) -> None:
    with pytest.raises(ValueError, match="outside"):
        dequantize(k, 10.0, 10)


@pytest.mark.parametrize("box", [(5.0, 0.0, 4.0, 1.0), (0.0, 5.0, 1.0, 4.9), (3.0, 3.0, 2.0, 2.0)])
def test_negative_size_box_raises(box: tuple[float, float, float, float]) -> None:
    with pytest.raises(ValueError, match="negative size"):
        quantize_box(box, 10.0, 10.0, 10)


# --------------------------------------------------------------------------- boxes


@st.composite
def image_box(draw: st.DrawFn, min_side_bins: float = 0.0) -> tuple[float, float, int, tuple[float, float, float, float]]:
    """``(width, height, bins, box)``: a box inside the image; each side spans >= ``min_side_bins`` bins."""
    w, h, bins = draw(sizes), draw(sizes), draw(bin_counts)
    assume(min_side_bins <= bins)
    mw, mh = min_side_bins * w / bins, min_side_bins * h / bins
    x1 = draw(st.floats(0.0, w - mw))
    y1 = draw(st.floats(0.0, h - mh))
    x2 = draw(st.floats(min(x1 + mw, w), w))
    y2 = draw(st.floats(min(y1 + mh, h), h))
    return w, h, bins, (x1, y1, x2, y2)


def _bin_errors(box, w: float, h: float, bins: int) -> list[float]:
    """Round-trip error of each box coordinate, in bin widths of its axis."""
    back = dequantize_box(quantize_box(box, w, h, bins), w, h, bins)
    scale = (w / bins, h / bins, w / bins, h / bins)
    return [abs(b - a) / s for a, b, s in zip(box, back, scale)]


@given(args=image_box(), extra=st.tuples(wild_float, wild_float, wild_float, wild_float))
def test_quantize_box_always_positive(args, extra) -> None:
    w, h, bins, box = args
    for b in (box, (min(extra[0], extra[2]), min(extra[1], extra[3]), max(extra[0], extra[2]), max(extra[1], extra[3]))):
        x1, y1, x2, y2 = quantize_box(b, w, h, bins)
        assert 0 <= x1 < x2 <= bins - 1
        assert 0 <= y1 < y2 <= bins - 1


@given(image_box(min_side_bins=1.0))
def test_box_round_trip_half_bin_when_sides_span_a_bin(args) -> None:
    w, h, bins, box = args
    assert max(_bin_errors(box, w, h, bins)) <= 0.5 + 1e-6


@given(image_box())
def test_box_round_trip_bounded_for_thin_boxes(args) -> None:
    """Any box inside the image: at most 1.5 bins, the best a valid bin box can do at the border.

    A side inside the first half-bin (``x2 < 0.5 w/B``) must still decode to ``x2 >= 1.5 w/B``.
    """
    w, h, bins, box = args
    assert max(_bin_errors(box, w, h, bins)) <= 1.5 + 1e-6


@given(image_box())
def test_box_round_trip_one_bin_away_from_border(args) -> None:
    """A side narrower than a bin whose midpoint is at least half a bin from the border: <= 1 bin."""
    w, h, bins, box = args
    x1, y1, x2, y2 = box
    assume(0.5 * w / bins <= (x1 + x2) / 2 <= w - 0.5 * w / bins)
    assume(0.5 * h / bins <= (y1 + y2) / 2 <= h - 0.5 * h / bins)
    assert max(_bin_errors(box, w, h, bins)) <= 1.0 + 1e-6


def test_degenerate_box_literals() -> None:
    # A point box in the last bin widens leftwards; in the first bin rightwards.
    assert quantize_box((99.0, 99.0, 99.0, 99.0), 100, 100, 10) == (8, 8, 9, 9)
    assert quantize_box((0.0, 0.0, 0.0, 0.0), 100, 100, 10) == (0, 0, 1, 1)
    # Sides in different bins are left alone even when thinner than a bin.
    assert quantize_box((9.0, 19.0, 11.0, 21.0), 100, 100, 10) == (0, 1, 1, 2)
    # Out-of-image boxes clip.
    assert quantize_box((-50.0, -50.0, 500.0, 500.0), 100, 100, 10) == (0, 0, 9, 9)


def test_non_square_image_uses_each_axis() -> None:
    k = quantize_box((32.0, 24.0, 320.0, 240.0), 640, 480, 100)
    assert k == (5, 5, 50, 50)
    assert dequantize_box(k, 640, 480, 100) == pytest.approx((35.2, 26.4, 323.2, 242.4))


# --------------------------------------------------------------------------- points and polygons


@given(w=sizes, h=sizes, bins=bin_counts, fx=st.floats(0, 1), fy=st.floats(0, 1))
def test_point_round_trip(w: float, h: float, bins: int, fx: float, fy: float) -> None:
    p = (fx * w, fy * h)
    k = quantize_point(p, w, h, bins)
    assert all(0 <= v < bins for v in k)
    back = dequantize_point(k, w, h, bins)
    assert abs(back[0] - p[0]) <= w / (2 * bins) * (1 + EPS) + w * EPS
    assert abs(back[1] - p[1]) <= h / (2 * bins) * (1 + EPS) + h * EPS


@settings(max_examples=50)
@given(w=sizes, h=sizes, bins=bin_counts, pts=st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), max_size=20))
def test_polygon_round_trip(w: float, h: float, bins: int, pts: list[tuple[float, float]]) -> None:
    poly = [(fx * w, fy * h) for fx, fy in pts]
    k = quantize_polygon(poly, w, h, bins)
    assert len(k) == len(poly)
    assert k == [quantize_point(p, w, h, bins) for p in poly]
    back = dequantize_polygon(k, w, h, bins)
    assert len(back) == len(poly)
    for (x, y), (bx, by) in zip(poly, back):
        assert abs(bx - x) <= w / (2 * bins) * (1 + EPS) + w * EPS
        assert abs(by - y) <= h / (2 * bins) * (1 + EPS) + h * EPS
    # Decoded points are bin centres: quantising them again is the identity.
    assert quantize_polygon(back, w, h, bins) == k
