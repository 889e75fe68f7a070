"""The world's sizes: the smallest radius a world draws, and the note on shapes too small to name."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlseq.cli.synth import main
from vlseq.data.synth import SynthOptions, world_config
from vlseq.data.world import WorldConfig, generate_scene
from vlseq.data.world.rendering import lone_pixels
from vlseq.data.world.sizes import (
    LEGIBLE_RADIUS_PX,
    RADIUS_JITTER,
    SIZE_GAP,
    SIZES,
    illegible_note,
    illegible_share,
    smallest_radius_px,
)


def _shared(radius: float, draws: int = 200) -> int:
    """How many hexagon drawings near ``radius`` (jittered as the world jitters) light exactly the
    pixels of some circle drawing, each centred anywhere within a pixel."""
    rng = np.random.default_rng(0)

    def drawings(shape: str) -> list[bytes]:
        radii = radius * rng.uniform(1 - RADIUS_JITTER, 1 + RADIUS_JITTER, size=draws)
        offsets = 12 + rng.uniform(0.0, 1.0, size=(draws, 2))
        return [lone_pixels(shape, r, x, y, 24) for r, (x, y) in zip(radii, offsets)]

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


@pytest.mark.parametrize("opts, share", [
    ({"size": 64}, 0.0),
    ({"size": 64, "scale": (0.06, 0.4), "scale_frac": 0.1}, 0.0),
    ({"size": 32}, 0.5),  # "small" (2.4 px) always under, "large" (4.3 px) never
    # log-uniform radii, the share of the log range under 3.8 px over the range less its gaps
    ({"size": 64, "scale": (0.04, 0.4)}, math.log(LEGIBLE_RADIUS_PX / 2.56) / math.log(10) / (1 - 2 * SIZE_GAP)),
    ({"size": 64, "scale": (0.04, 0.4), "scale_frac": 0.1},
     0.1 * math.log(LEGIBLE_RADIUS_PX / 2.56) / math.log(10) / (1 - 2 * SIZE_GAP)),
    ({"size": 32, "antialias": 4}, 0.0),  # coverage keeps more of the outline: not judged
])
def test_illegible_share_of_each_kind_of_world(opts, share):
    cfg = world_config(SynthOptions(**opts))
    assert illegible_share(cfg) == pytest.approx(share)
    note = illegible_note(cfg)
    assert (note is None) == (share == 0.0)
    if note:
        assert f"{share:.1%}" in note and "--antialias" in note


def test_illegible_share_matches_the_drawn_radii():
    """The expected share against the radii a world really draws (small objects only, so that no
    placement fails: a large object that finds no room is dropped, which the share does not model)."""
    cfg = WorldConfig(size=64, scale=(0.04, 0.1))
    rng = np.random.default_rng(0)
    radii = [o.radius for _ in range(400) for o in generate_scene(rng, cfg).objects]
    drawn = float(np.mean(np.asarray(radii) < LEGIBLE_RADIUS_PX))
    assert drawn == pytest.approx(illegible_share(cfg), abs=0.04)


def test_synth_cli_notes_a_world_of_illegible_shapes(tmp_path, capsys):
    main(["--out", str(tmp_path / "w"), "--size", "32", "--train", "2", "--val", "1", "--test", "1",
          "--workers", "1", "--no-progress", "--no-contact-sheet"])
    assert "50.0% of the objects" in capsys.readouterr().err
    main(["--out", str(tmp_path / "v"), "--size", "64", "--train", "2", "--val", "1", "--test", "1",
          "--workers", "1", "--no-progress", "--no-contact-sheet"])
    assert "radius under" not in capsys.readouterr().err
