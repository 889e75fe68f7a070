"""The world's sizes: the smallest radius a world draws, and the warning for shapes too small to name."""

from __future__ import annotations

import numpy as np
import pytest

from vlseq.data.synth import SynthOptions, world_config, write_world
from vlseq.data.world.rendering import coverage
from vlseq.data.world.scene import SceneObject
from vlseq.data.world.sizes import LEGIBLE_RADIUS_PX, RADIUS_JITTER, SIZES, illegible_note, smallest_radius_px


def _pixels(shape: str, radius: float, cx: float, cy: float) -> bytes:
    """A lone pixel-sharp drawing's lit pixels, cropped to their box."""
    obj = SceneObject(shape=shape, colour="red", size="small", cx=cx, cy=cy, radius=radius, rgb=(255, 0, 0))
    lit = coverage(obj, 24, 24, 1) > 0
    ys, xs = np.nonzero(lit)
    crop = lit[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return bytes(crop.shape) + np.packbits(crop).tobytes()


def _shared(radius: float, draws: int = 200) -> int:
    """How many hexagon drawings near ``radius`` (jittered as the world jitters) light exactly the
    pixels of some circle drawing, each centred anywhere within a pixel."""
    rng = np.random.default_rng(0)

    def drawings(shape: str) -> list[bytes]:
        radii = radius * rng.uniform(1 - RADIUS_JITTER, 1 + RADIUS_JITTER, size=draws)
        offsets = 12 + rng.uniform(0.0, 1.0, size=(draws, 2))
        return [_pixels(shape, r, x, y) for r, (x, y) in zip(radii, offsets)]

    circles = set(drawings("circle"))
    return sum(p in circles for p in drawings("hexagon"))


def test_a_circle_and_a_hexagon_share_pixels_below_the_legible_radius_and_not_well_above():
    """What the constant rests on, with the world's own rasteriser."""
    assert _shared(2.6) > 0
    assert _shared(LEGIBLE_RADIUS_PX + 1.7) == 0


def test_smallest_radius_of_each_kind_of_world():
    default = world_config(SynthOptions(size=64))
    assert smallest_radius_px(default) == pytest.approx(min(SIZES.values()) * (1 - RADIUS_JITTER) * 64)
    every_scene_scaled = world_config(SynthOptions(size=64, scale=(0.06, 0.4)))
    assert smallest_radius_px(every_scene_scaled) == pytest.approx(0.06 * 64)
    mixed = world_config(SynthOptions(size=64, scale=(0.1, 0.4), scale_frac=0.1))  # its default scenes are smaller
    assert smallest_radius_px(mixed) == pytest.approx(min(SIZES.values()) * (1 - RADIUS_JITTER) * 64)


@pytest.mark.parametrize("opts, legible", [
    ({"size": 64}, True),
    ({"size": 64, "scale": (0.06, 0.4), "scale_frac": 0.1}, True),
    ({"size": 64, "scale": (0.04, 0.4), "scale_frac": 0.1}, False),
    ({"size": 32}, False),
    ({"size": 32, "antialias": 4}, True),  # coverage keeps more of the outline: not judged
])
def test_illegible_note_names_the_radius_and_the_way_out(opts, legible):
    note = illegible_note(world_config(SynthOptions(**opts)))
    if legible:
        assert note is None
    else:
        assert note is not None and "px" in note and "--antialias" in note


def test_writing_a_world_of_illegible_shapes_warns(tmp_path):
    with pytest.warns(UserWarning, match="light the same pixels"):
        write_world(tmp_path / "w", SynthOptions(size=32, train=2, val=1, test=1, workers=1))
