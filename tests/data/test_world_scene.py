"""The scene graph's geometry: masks, tight boxes, polygons, occlusion rules, determinism, rendering."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlseq.data.world import SHAPES, WorldConfig, generate_scene, render
from vlseq.data.world.contour import simplify_closed, trace_outline
from vlseq.data.world.scene import rasterize


def _shoelace(poly) -> float:
    p = np.asarray(poly, dtype=float)
    return abs(float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - p[:, 1] * np.roll(p[:, 0], -1)))) / 2


def _perimeter(poly) -> float:
    p = np.asarray(poly, dtype=float)
    return float(np.sum(np.hypot(*(np.roll(p, -1, axis=0) - p).T)))


def _bbox_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@pytest.fixture(scope="module", params=[64, 128])
def scenes(request):
    cfg = WorldConfig(size=request.param)
    return [generate_scene(s, cfg) for s in range(150)]


def test_counts_kinds_and_bounds(scenes):
    cfg = WorldConfig(size=scenes[0].width)
    counts = [len(s.objects) for s in scenes]
    assert min(counts) >= cfg.min_objects and max(counts) <= cfg.max_objects
    assert np.mean(counts) > 2.5  # placement rarely gives up
    seen = {o.shape for s in scenes for o in s.objects}
    assert seen == set(SHAPES) and len(SHAPES) >= 6
    assert len({o.colour for s in scenes for o in s.objects}) >= 8
    for s in scenes:
        for o in s.objects:
            x1, y1, x2, y2 = o.box
            assert 0 <= x1 < x2 <= s.width and 0 <= y1 < y2 <= s.height


def test_boxes_are_tight_boxes_of_visible_pixels(scenes):
    for s in scenes:
        covered = np.zeros((s.height, s.width), bool)
        for o in reversed(s.objects):
            visible = o.mask & ~covered  # recomputed here from the full masks
            assert np.array_equal(visible, o.visible)
            assert o.area == int(visible.sum())
            assert o.box == _bbox_of(visible)
            assert o.visible_fraction >= 0.6 - 1e-9
            covered |= o.mask


def test_polygon_area_matches_mask_area(scenes):
    rel = []
    for s in scenes:
        for o in s.objects:
            pa = _shoelace(o.polygon)
            # pixel sampling errs by at most about half a pixel along the outline
            assert abs(pa - o.area) <= 0.5 * _perimeter(o.polygon) + 1, (o.shape, o.size, pa, o.area)
            rel.append(abs(pa - o.area) / o.area)
    assert np.mean(rel) < 0.05


def test_occlusion_happens_and_occluded_polygons_follow_the_visible_region(scenes):
    occluded = [o for s in scenes for o in s.objects if o.visible_fraction < 1]
    assert len(occluded) >= 10
    for o in occluded:
        # every polygon vertex lies on the visible region's box, and the polygon covers the visible pixels
        x1, y1, x2, y2 = o.box
        p = np.asarray(o.polygon)
        assert p[:, 0].min() >= x1 - 1e-6 and p[:, 0].max() <= x2 + 1e-6
        assert p[:, 1].min() >= y1 - 1e-6 and p[:, 1].max() <= y2 + 1e-6
        inside = rasterize(p, o.mask.shape[1], o.mask.shape[0])
        iou = (inside & o.visible).sum() / (inside | o.visible).sum()
        assert iou > 0.8


def test_trace_outline_area_equals_pixel_count():
    rng = np.random.default_rng(0)
    for _ in range(50):
        m = np.zeros((12, 12), bool)
        x, y = rng.integers(2, 8, size=2)
        m[y : y + rng.integers(1, 4), x : x + rng.integers(1, 4)] = True
        m[y, x : x + 4] = True
        pts = trace_outline(m)
        assert _shoelace(pts) == m.sum()
    two_pieces = np.zeros((5, 5), bool)
    two_pieces[0, 0] = two_pieces[3, 3] = True
    assert _shoelace(trace_outline(two_pieces)) == 1  # only the first piece: the scene's split test
    assert trace_outline(np.zeros((3, 3), bool)) == []
    square = [(0, 0), (1, 0), (2, 0), (2, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    assert len(simplify_closed(square, 0.1)) == 4


def test_rasterize_is_unbiased_for_a_large_circle():
    r = 40.0
    poly = np.stack([60 + r * np.cos(np.linspace(0, 2 * math.pi, 200, endpoint=False)),
                     60 + r * np.sin(np.linspace(0, 2 * math.pi, 200, endpoint=False))], 1)
    assert abs(rasterize(poly, 128, 128).sum() - math.pi * r * r) / (math.pi * r * r) < 0.01


def test_deterministic_by_seed():
    cfg = WorldConfig(size=64)
    a, b, c = generate_scene(7, cfg), generate_scene(7, cfg), generate_scene(8, cfg)
    assert np.array_equal(render(a), render(b))
    assert [(o.shape, o.colour, o.box) for o in a.objects] == [(o.shape, o.colour, o.box) for o in b.objects]
    assert not np.array_equal(render(a), render(c))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(render(generate_scene(g1, cfg)), render(generate_scene(g2, cfg)))


def test_render_shows_each_object_in_its_colour():
    cfg = WorldConfig(size=64)
    s = generate_scene(11, cfg)
    img = render(s)
    assert img.shape == (64, 64, 3) and img.dtype == np.uint8
    for o in s.objects:
        assert np.all(img[o.visible] == np.array(o.rgb, dtype=np.uint8))


def test_config_constraints_and_errors():
    heldout = (("red", "star"), ("blue", "circle"))
    train = WorldConfig(size=64, exclude_pairs=heldout)
    test = WorldConfig(size=64, require_pairs=heldout)
    for s in range(100):
        assert not any((o.colour, o.shape) in heldout for o in generate_scene(s, train).objects)
        assert any((o.colour, o.shape) in heldout for o in generate_scene(s, test).objects)
    assert all(len(generate_scene(s, WorldConfig(size=64, min_objects=3, max_objects=3)).objects) == 3
               for s in range(20))
    with pytest.raises(ValueError, match="unknown shape"):
        WorldConfig(shapes=("circle", "blob"))
    with pytest.raises(ValueError, match="min_objects"):
        WorldConfig(min_objects=4, max_objects=2)
