"""The world's keypoints (extreme points of each shape, hidden ones dropped) and its segment examples,
through the keypoints / segment tasks."""

from __future__ import annotations

import numpy as np
import pytest

from vlseq.data.example import DEFAULT_NAMES
from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render
from vlseq.data.world.keypoints import KEYPOINT_NAMES, extreme_points, keypoints_example, object_keypoints
from vlseq.data.world.scene import UNIT_SHAPES
from vlseq.metrics import segmentation_iou
from vlseq.tasks import get_task

BINS = 64


def test_extreme_points_of_unit_shapes() -> None:
    sq = extreme_points(UNIT_SHAPES["square"])
    assert list(sq) == list(KEYPOINT_NAMES) == list(DEFAULT_NAMES)
    # a tie (a whole edge) gives the middle of the edge
    assert sq == {"top": (0.0, -0.82), "left": (-0.82, 0.0), "right": (0.82, 0.0), "bottom": (0.0, 0.82)}
    assert extreme_points(UNIT_SHAPES["diamond"])["top"] == (0.0, -1.05)
    star = extreme_points(UNIT_SHAPES["star"])
    assert star["bottom"][0] == pytest.approx(0.0, abs=1e-9)  # between the two lower tips
    assert star["bottom"][1] == pytest.approx(UNIT_SHAPES["star"][:, 1].max())
    with pytest.raises(ValueError, match=">= 3"):
        extreme_points(np.zeros((2, 2)))


def test_keypoints_visible_unless_covered_by_a_later_object() -> None:
    cfg = WorldConfig(size=64, min_objects=3, max_objects=5)
    dropped = 0
    for seed in range(40):
        scene = generate_scene(seed, cfg)
        for i, o in enumerate(scene.objects):
            kps = object_keypoints(scene, i)
            full = extreme_points(o.outline)
            for name, (x, y) in full.items():
                if name in kps:
                    assert kps[name] == pytest.approx((x, y), abs=0.006)
                else:  # hidden: a later object covers its pixel
                    assert any(later.mask[min(int(y), 63), min(int(x), 63)] for later in scene.objects[i + 1 :])
                    dropped += 1
            if not o.occluded:
                assert set(kps) == set(KEYPOINT_NAMES)
    assert dropped > 0  # occlusion really happens in these scenes


def test_world_keypoints_example_round_trips_through_the_task() -> None:
    cfg = WorldConfig(size=64, max_objects=4)
    t = get_task("keypoints")
    for seed in range(5):
        scene = generate_scene(seed, cfg)
        e = keypoints_example(scene, render(scene), cfg, image_id=str(seed))
        seq = t.target(e, BINS)
        p = t.parse(seq, e, BINS)
        assert p.parsed.errors == [] and len(p.parsed.phrases) == len(scene.objects)
        r = t.evaluate([e], [p])
        assert r["pck@0.1"] > 0.9 and r["matched"] == 1.0  # only quantisation error left


def test_world_segment_targets_keep_the_shape() -> None:
    """Simplified (<= 12 points) and quantised targets still cover the object's outline: mIoU > 0.8."""
    cfg = WorldConfig(size=64, max_objects=4)
    t = get_task("segment")
    examples, preds = [], []
    for seed in range(6):
        scene = generate_scene(seed, cfg)
        for e in examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg, tasks=["segment"]):
            p = t.parse(t.target(e, BINS), e, BINS)
            assert p.parsed.errors == [] and 3 <= len(p.parsed.polygons[0][1]) <= 12
            examples.append(e)
            preds.append(p)
    assert len(examples) > 5
    assert t.evaluate(examples, preds)["miou"] > 0.8
    r = segmentation_iou({0: [examples[0].objects[0].polygon]}, {0: [examples[0].objects[0].polygon]},
                         {0: (64, 64)})
    assert r["miou"] == 1.0
