"""The world's look options (scale, antialias, rotation, fill, backgrounds, shapes, colours): off by
default and then byte-identical to the world before they existed; each one on does what it says."""

from __future__ import annotations

import hashlib
import json
import math
import re

import numpy as np
import pytest

from vlseq.cli.synth import main
from vlseq.data.synth import SynthOptions, write_world
from vlseq.data.world import (
    ALL_BACKGROUNDS,
    ALL_SHAPES,
    SHAPES,
    WorldConfig,
    examples_for_scene,
    generate_scene,
    polygon_area,
    rasterize,
    render,
    render_background,
    tight_box,
)
from vlseq.data.world.language import captions
from vlseq.data.world.rendering import STROKE, coverage
from vlseq.data.world.scene import UNIT_SHAPES, rotated
from vlseq.data.world.sizes import SIZE_GAP, SIZES, SIZES_3, size_name, thresholds

# sha256 of render(generate_scene(seed, WorldConfig(size=64))) and of the whole scene graph (below),
# computed before the options existed: the default world must not move by a pixel or a draw.
RENDER_SHA = {
    0: "79ca374fd712397212a926aa3b3459b12db34c4ef72edd1d3ac21ba30c9c5bf4",
    1: "7c9ffd71b3880b5d988c10b621b6ac5092fa45f720423641c81151821915bcad",
    2: "cfef1c006f9f919112f0ad926a0f58b53e157bcae193d68704b28b176ae946b2",
    3: "bcad2340eb697f406ce6f5cdbff10da33eed53dc2133ff3f87590adcc582bbb5",
    4: "3bd44f6cf100ea6e5fc388bf78cb93c5210310e437bb8253bc636aaf68b31813",
}
SCENE_SHA = {
    0: "696dee59970ea3530fd3a0c2899f6f00359a9fff9d40398ff510c6c08f6fb54c",
    1: "b0b668bb10ceeaf1fb687f02fc7cc837566c414ea8db4d5e6b3716fc982044a3",
    2: "7fd6396d1e74ddfb8d59945062c3cb2d13d055822bb23b6a01c72e816a54c5d8",
    3: "5aa8c67e54e6a73757b8dd33c94081e8eddab4df805d49c290eb311912defc41",
    4: "e6d46766172b046271370897b4f274974e3c99d392a1fff930f0aed172876f18",
}
# the same for WorldConfig(size=128, sizes=SIZES_3, max_objects=8) from a Generator of the seed
SCENE_SHA_128_3 = {
    0: "4ed2af388d63aebb9add89b4f14f3278b4d9d4d1556da8f42486290d8ca1a419",
    1: "8d696d1bc2e350033dc480ba88ce30c6474d09b6f5afe6d580e148419b05a2fe",
    2: "be17c7f727bde2d3d25cbd87565a2449e8e45dac753b40a973fcef9a9a094449",
}


def _scene_sha(scene) -> str:
    d = hashlib.sha256(render(scene).tobytes())
    for o in scene.objects:
        d.update(json.dumps([o.shape, o.colour, o.size, round(o.cx, 6), round(o.cy, 6), round(o.radius, 6),
                             list(o.rgb), list(o.box), o.polygon]).encode())
        d.update(np.packbits(o.mask).tobytes())
    d.update(json.dumps(scene.background).encode())
    return d.hexdigest()


def test_default_world_is_byte_identical():
    cfg = WorldConfig(size=64)
    for seed in range(5):
        scene = generate_scene(seed, cfg)
        assert hashlib.sha256(render(scene).tobytes()).hexdigest() == RENDER_SHA[seed], seed
        assert _scene_sha(scene) == SCENE_SHA[seed], seed
    cfg = WorldConfig(size=128, sizes=dict(SIZES_3), max_objects=8)
    for seed in range(3):
        assert _scene_sha(generate_scene(np.random.default_rng(seed), cfg)) == SCENE_SHA_128_3[seed], seed


def test_options_that_only_draw_leave_the_geometry_alone():
    """antialias and fill="outline" draw no random number: same objects, only the pixels differ."""
    base = WorldConfig(size=64)
    for seed in range(5):
        a = generate_scene(seed, base)
        for kw in ({"antialias": 4}, {"fill": "outline"}):
            b = generate_scene(seed, WorldConfig(size=64, **kw))
            assert [(o.shape, o.colour, o.cx, o.cy, o.radius, o.box) for o in a.objects] == \
                   [(o.shape, o.colour, o.cx, o.cy, o.radius, o.box) for o in b.objects]
            assert all(np.array_equal(o.mask, p.mask) for o, p in zip(a.objects, b.objects))


def _single(seed: int, **kw):
    cfg = WorldConfig(size=64, min_objects=1, max_objects=1, sizes={"large": 0.3}, **kw)
    scene = generate_scene(seed, cfg)
    bg = render_background(scene.background["kind"], scene.background["seed"], 64, 64)
    return scene, scene.objects[0], bg


def test_antialias_edges_lie_between_background_and_object():
    for seed in range(4):
        scene, o, bg = _single(seed, antialias=4)
        img = render(scene).astype(float)
        cov = coverage(o, 64, 64, 4)
        assert abs(cov.sum() - polygon_area(o.outline)) < 0.02 * polygon_area(o.outline) + 2
        full, empty = cov == 1, cov == 0
        assert np.allclose(img[full], o.rgb, atol=0.51) and np.allclose(img[empty], bg[empty], atol=0.51)
        edge = (cov > 0.2) & (cov < 0.8)
        assert edge.sum() >= 8
        want = bg[edge] + cov[edge][:, None] * (np.asarray(o.rgb, float) - bg[edge])
        assert np.abs(img[edge] - want).max() <= 0.51
        far = np.abs(np.asarray(o.rgb, float) - bg[edge]) > 40  # channels where the two differ clearly
        lo, hi = np.minimum(bg[edge], o.rgb), np.maximum(bg[edge], o.rgb)
        assert np.all((img[edge] > lo + 1)[far]) and np.all((img[edge] < hi - 1)[far])
        sharp = render(generate_scene(seed, WorldConfig(size=64, min_objects=1, max_objects=1,
                                                        sizes={"large": 0.3})))
        assert np.array_equal(sharp[o.mask], np.broadcast_to(np.asarray(o.rgb, np.uint8), sharp[o.mask].shape))


def test_rotation_turns_outlines_and_keeps_ground_truth_consistent():
    cfg = WorldConfig(size=64, rotation=20)
    angles = []
    for seed in range(30):
        scene = generate_scene(seed, cfg)
        for i, o in enumerate(scene.objects):
            angles.append(o.angle)
            assert -20 <= o.angle <= 20
            want = rotated(UNIT_SHAPES[o.shape], o.angle) * o.radius + np.array([o.cx, o.cy])
            assert np.allclose(o.outline, want)
            assert np.array_equal(o.mask, rasterize(o.outline, 64, 64))
            covered = np.zeros_like(o.mask)
            for later in scene.objects[i + 1:]:
                covered |= later.mask
            assert np.array_equal(o.visible, o.mask & ~covered)
            assert o.box == tight_box(o.visible) and o.area == int(o.visible.sum())
            if not o.occluded:
                assert np.allclose(o.polygon, np.round(o.outline, 2))
    assert np.std(angles) > 5 and max(angles) > 10 and min(angles) < -10
    square = rotated(UNIT_SHAPES["square"], 15)
    assert not np.allclose(square, UNIT_SHAPES["square"]) and np.allclose(rotated(square, -15), UNIT_SHAPES["square"])
    # a square turned 45 degrees is a diamond: the two labels need rotation < 22.5
    with pytest.raises(ValueError, match="rotation"):
        WorldConfig(rotation=22.5)
    WorldConfig(rotation=22.4)
    WorldConfig(rotation=90, shapes=tuple(s for s in SHAPES if s != "diamond"))


def test_outline_fill_leaves_the_interior_background():
    for seed in range(4):
        scene, o, bg = _single(seed, fill="outline")
        assert o.fill == "outline"
        img = render(scene)
        solid, _, _ = _single(seed)
        assert np.array_equal(o.mask, solid.objects[0].mask) and o.box == solid.objects[0].box
        ys, xs = np.nonzero(o.mask)
        width = max(1.0, STROKE * o.radius)
        poly = o.outline
        dist = np.full(len(xs), np.inf)
        for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
            px, py = xs + 0.5, ys + 0.5
            t = np.clip(((px - ax) * (bx - ax) + (py - ay) * (by - ay)) / ((bx - ax) ** 2 + (by - ay) ** 2), 0, 1)
            dist = np.minimum(dist, np.hypot(px - ax - t * (bx - ax), py - ay - t * (by - ay)))
        inner, stroke = dist > width, dist <= width
        assert inner.sum() > 20 and stroke.sum() > 20
        assert np.array_equal(img[ys[inner], xs[inner]], bg[ys[inner], xs[inner]])  # interior: background
        assert np.all(img[ys[stroke], xs[stroke]] == np.asarray(o.rgb, np.uint8))
        assert np.array_equal(img[~o.mask], bg[~o.mask])
    fills = [o.fill for s in range(40) for o in generate_scene(s, WorldConfig(size=64, fill="mixed")).objects]
    assert 0.3 < fills.count("outline") / len(fills) < 0.7


def test_outline_objects_hide_what_they_cover():
    """An outline object is opaque: where its interior covers an earlier object, the image shows background."""
    cfg = WorldConfig(size=64, fill="outline", min_objects=4, max_objects=5, antialias=3)
    seen = 0
    for seed in range(40):
        scene = generate_scene(seed, cfg)
        img = render(scene).astype(int)
        bg = render_background(scene.background["kind"], scene.background["seed"], 64, 64).astype(int)
        objs = scene.objects
        for j, later in enumerate(objs):
            interior = (coverage(later, 64, 64, 3) == 1) & (coverage(later, 64, 64, 3, stroke=True) == 0)
            for o in objs[j + 1:]:  # nothing drawn after it touches the pixel
                interior &= coverage(o, 64, 64, 3) == 0
            under = interior & np.logical_or.reduce([o.mask for o in objs[:j]] + [np.zeros_like(interior)])
            seen += int(under.sum())
            assert np.abs(img[interior] - bg[interior]).max(initial=0) <= 1
    assert seen > 0


def test_scale_draws_radii_in_range_with_matching_size_words():
    for sizes, names in ((None, ("small", "large")), (dict(SIZES_3), ("small", "medium", "large"))):
        kw = {"sizes": sizes} if sizes else {}
        cfg = WorldConfig(size=64, scale=(0.04, 0.45), **kw)
        seen = {}
        for seed in range(60):
            for o in generate_scene(seed, cfg).objects:
                frac = o.radius / 64
                assert 0.04 <= frac <= 0.45
                assert o.size == size_name(frac, cfg)
                u = math.log(frac / 0.04) / math.log(0.45 / 0.04)
                k = names.index(o.size)
                assert k / len(names) + (SIZE_GAP if k else 0) - 1e-9 <= u <= (k + 1) / len(names) + 1e-9
                assert all(abs(u - t / len(names)) >= SIZE_GAP - 1e-9 for t in range(1, len(names)))
                seen.setdefault(o.size, []).append(frac)
        assert set(seen) == set(names)
        for a, b in zip(names, names[1:]):
            assert max(seen[a]) < min(seen[b])  # the words order the radii
        assert min(min(v) for v in seen.values()) < 0.08 and max(max(v) for v in seen.values()) > 0.3


def test_mixed_world_keeps_one_meaning_per_size_word():
    """With ``scale_frac`` about that share of scenes draws its radii from ``scale``; the rest are
    default-world scenes; and a size word names the same radii in both (split at the geometric
    mean of the named sizes, never within the gap of it)."""
    cfg = WorldConfig(size=64, scale=(0.04, 0.4), scale_frac=0.25)
    cut = thresholds(SIZES)[0]
    assert cut == pytest.approx(math.sqrt(0.075 * 0.135))
    scaled, radii = 0, {"small": [], "large": []}
    for seed in range(400):
        objs = generate_scene(seed, cfg).objects
        named = [abs(o.radius / 64 / SIZES[o.size] - 1) <= 0.08 + 1e-9 for o in objs]
        scaled += not all(named)
        for o in objs:
            frac = o.radius / 64
            radii[o.size].append(frac)
            assert 0.04 - 1e-9 <= frac <= 0.4 + 1e-9
            assert (frac < cut) == (o.size == "small")
    assert 0.15 < scaled / 400 < 0.3  # a few drawn scenes hold only radii a named size could have
    assert max(radii["small"]) < cut < min(radii["large"])
    assert max(radii["large"]) > 0.3 and min(radii["small"]) < 0.05  # the range is used
    gap = SIZE_GAP * math.log(0.4 / 0.04)
    assert all(abs(math.log(r / cut)) >= gap - 1e-9 for v in radii.values() for r in v if not
               any(abs(r / s - 1) <= 0.08 + 1e-9 for s in SIZES.values()))


def test_mixed_world_option_off_draws_nothing():
    """``scale_frac`` unset leaves a ``scale`` world as it was: every scene drawn from the range."""
    a = WorldConfig(size=64, scale=(0.04, 0.4))
    for seed in range(20):
        assert all(o.size == size_name(o.radius / 64, a) for o in generate_scene(seed, a).objects)


@pytest.mark.parametrize("size", [32, 64])
def test_large_scale_never_hangs_or_raises(size):
    cfg = WorldConfig(size=size, scale=(0.3, 0.45) if size == 32 else (0.04, 0.45), min_objects=1, max_objects=5,
                      rotation=180, shapes=("circle", "tee", "triangle", "star"))
    for seed in range(25):
        scene = generate_scene(seed, cfg)
        assert scene.objects
        for o in scene.objects:
            assert o.mask.any() and o.box[2] <= size and o.box[3] <= size
            p = np.asarray(o.polygon)
            assert p.min() >= 0 and p.max() <= size  # a clipped outline is traced inside the image


def test_new_shapes_are_simple_unit_outlines_that_rasterise():
    assert set(SHAPES) < set(ALL_SHAPES) and len(ALL_SHAPES) - len(SHAPES) >= 4
    assert SHAPES == ("circle", "square", "triangle", "diamond", "star", "hexagon", "cross")
    for name in ALL_SHAPES[len(SHAPES):]:
        p = UNIT_SHAPES[name]
        signed = float(np.sum(p[:, 0] * np.roll(p[:, 1], -1) - p[:, 1] * np.roll(p[:, 0], -1))) / 2
        assert signed > 0.8, name  # clockwise on screen (y down), a real area
        assert 0.85 <= np.abs(p).max() <= 1.0 and np.abs(p.min(axis=0) + p.max(axis=0)).max() < 0.05, name
        edges = [(p[i], p[(i + 1) % len(p)]) for i in range(len(p))]
        for i in range(len(edges)):  # simple: no two non-adjacent edges cross
            for j in range(i + 2, len(edges)):
                if i == 0 and j == len(edges) - 1:
                    continue
                (a, b), (c, d) = edges[i], edges[j]
                cross = lambda o, q, r: (q[0] - o[0]) * (r[1] - o[1]) - (q[1] - o[1]) * (r[0] - o[0])  # noqa: E731
                assert not (cross(a, b, c) * cross(a, b, d) < 0 and cross(c, d, a) * cross(c, d, b) < 0), name
        mask = rasterize(p * 12 + 32, 64, 64)
        assert abs(int(mask.sum()) - polygon_area(p * 12)) < 0.1 * polygon_area(p * 12), name
        assert rasterize(p * 2.5 + 32, 64, 64).any(), name  # even under one grid cell


def _texts(examples) -> str:
    parts = []
    for e in examples:
        parts += [e.text or "", *e.answers, *(e.options or []), *e.meta.get("sentences", [])]
    return " ".join(parts)


def test_new_shapes_appear_in_the_language():
    new = ALL_SHAPES[len(SHAPES):]
    cfg = WorldConfig(size=64, shapes=new, antialias=2, rotation=15, fill="mixed", backgrounds=ALL_BACKGROUNDS,
                      scale=(0.06, 0.3))
    said = ""
    for seed in range(12):
        scene = generate_scene(seed, cfg)
        exs = examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg)
        caps = [a for e in exs if e.task == "caption" for a in e.answers]
        for o in scene.objects:
            assert any(re.search(rf"\b{o.shape}s?\b", c) for c in caps), (o.shape, caps)
        said += _texts(exs)
    assert all(re.search(rf"\b{s}s?\b", said) for s in new)
    assert "an arrow" in said or "arrows" in said


def test_distractors_come_from_the_worlds_vocabulary():
    shapes, colours = ("circle", "square", "triangle"), ("red", "blue", "white")
    cfg = WorldConfig(size=64, shapes=shapes, colours=colours)
    said = ""
    for seed in range(25):
        scene = generate_scene(seed, cfg)
        said += _texts(examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg))
    words = set(re.findall(r"[a-z]+", said))
    outside = {w for s in ALL_SHAPES if s not in shapes for w in (s, s + "s", s + "es")}
    outside |= {c for c in ("green", "yellow", "purple", "orange", "cyan")}
    assert not words & outside, words & outside
    assert {"circle", "square", "triangle", "red", "blue", "white"} <= words


def test_new_backgrounds():
    img = {k: np.stack([render_background(k, s, 64, 64) for s in range(20)]).astype(float) for k in ALL_BACKGROUNDS}
    spread = {k: (v.max(axis=-1) - v.min(axis=-1)).mean() for k, v in img.items()}  # how coloured
    grey = {k: v.mean(axis=-1) for k, v in img.items()}
    contrast = {k: np.mean([g.std() for g in v]) for k, v in grey.items()}
    local = {k: np.abs(v[:, :, 4:] - v[:, :, :-4]).mean() for k, v in grey.items()}  # detail, not a slope
    old = ("gradient", "noise", "stripes", "checker")
    assert spread["tinted"] > 2 * max(spread[k] for k in old)
    assert contrast["texture"] > 1.2 * max(contrast[k] for k in old + ("tinted",))
    assert local["texture"] > 1.15 * max(local[k] for k in old + ("tinted",))
    assert contrast["tinted"] < min(contrast[k] for k in old) and local["tinted"] < min(local[k] for k in old)
    cfg = WorldConfig(size=64, backgrounds=("tinted", "texture"))
    said = " ".join(c for seed in range(10) for c in captions(generate_scene(seed, cfg), np.random.default_rng(seed), 20))
    assert "on a tinted background" in said and "on a textured background" in said
    for seed in range(10):  # paragraphs name the background too
        scene = generate_scene(seed, cfg)
        examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg, tasks=["caption", "paragraph"])
    assert WorldConfig().backgrounds == ("gradient", "noise", "stripes", "checker")


@pytest.mark.parametrize("kw, match", [
    ({"scale": (0.2, 0.1)}, "scale"), ({"scale": (0.1, 0.6)}, "scale"), ({"scale": (0.01, 0.2), "size": 64}, "scale"),
    ({"scale_frac": 0.5}, "scale_frac"), ({"scale": (0.04, 0.4), "scale_frac": 0.0}, "scale_frac"),
    ({"scale": (0.04, 0.4), "scale_frac": 1.5}, "scale_frac"),
    ({"antialias": -1}, "antialias"), ({"antialias": 2.5}, "antialias"), ({"rotation": 200}, "rotation"),
    ({"fill": "hatched"}, "fill"), ({"backgrounds": ("plaid",)}, "backgrounds"), ({"backgrounds": ()}, "backgrounds"),
    ({"shapes": ("circle",)}, "shapes"), ({"colours": ("red", "red")}, "colours"), ({"colours": ("mauve", "red")}, "colour"),
    ({"shapes": ("circle", "square"), "colours": ("red", "blue"),
      "exclude_pairs": (("red", "circle"), ("red", "square"), ("blue", "circle"), ("blue", "square"))}, "exclude_pairs"),
])
def test_bad_options_name_the_option(kw, match):
    with pytest.raises(ValueError, match=match):
        WorldConfig(**kw)


def test_cli_flags_write_a_world(tmp_path):
    out = tmp_path / "w"
    args = ["--out", str(out), "--train", "8", "--val", "4", "--test", "4", "--size", "64", "--no-contact-sheet",
            "--no-progress", "--workers", "1", "--shapes", "circle,square,triangle,heart,arrow", "--colours",
            "red,green,blue", "--backgrounds", "gradient,noise,stripes,checker,tinted,texture", "--scale", "0.04-0.45",
            "--antialias", "3", "--rotation", "15", "--fill", "mixed", "--sizes", "3", "--scale-frac", "0.5"]
    assert main(args) == 0
    m = json.loads((out / "manifest.json").read_text())
    w = m["world"]
    assert w["shapes"] == ["circle", "square", "triangle", "heart", "arrow"] and w["colours"] == ["red", "green", "blue"]
    assert w["scale"] == [0.04, 0.45] and w["scale_frac"] == 0.5 and w["antialias"] == 3 and w["rotation"] == 15 and w["fill"] == "mixed"
    assert w["backgrounds"][-2:] == ["tinted", "texture"]
    assert m["heldout_pairs"] == [["blue", "triangle"]]  # the default pairs the world can draw
    cats = json.loads((out / "val" / "instances.json").read_text())["categories"]
    assert [c["name"] for c in cats] == w["shapes"]
    assert any((out / "train").rglob("*.png"))
    for bad in (["--rotation", "30"], ["--shapes", "circle,blob"], ["--scale", "0.3-0.9"], ["--fill", "dotted"],
                ["--colours", "red"], ["--antialias", "x"], ["--scale-frac", "0.5"]):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path / "bad"), *bad])


def test_synth_generate_dict_keys(tmp_path):
    """Training configs' ``data.synth_generate`` reach SynthOptions as JSON gives them (lists, strings)."""
    gen = {"train": 4, "val": 2, "test": 2, "size": 64, "seed": 1, "no_progress": True,
           "shapes": ["circle", "tee", "ell"], "colours": "red,blue", "backgrounds": "all", "scale": [0.05, 0.4],
           "antialias": 2, "rotation": 10.0, "fill": "outline", "heldout": []}
    opts = SynthOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in gen.items()})  # as train.data does
    # (train.data also takes a no_contact_sheet key, for the sheet drawn above the data layer: tests/train)
    assert opts.backgrounds == ALL_BACKGROUNDS and opts.colours == ("red", "blue") and opts.scale == (0.05, 0.4)
    write_world(tmp_path, opts)
    w = json.loads((tmp_path / "manifest.json").read_text())["world"]
    assert w["shapes"] == ["circle", "tee", "ell"] and w["fill"] == "outline" and w["scale"] == [0.05, 0.4]
    assert SynthOptions(scale="0.1-0.2").scale == (0.1, 0.2) and SynthOptions(scale="none").scale is None


# sha256 of each default scene's examples' words ([task, text, answers] per example, seeds 0-2 as in
# test_default_world_is_byte_identical), computed before the ``superlatives`` option existed.
LANGUAGE_SHA = {
    0: "97286a7ef6aaa4a92d52f320a601b7dfcb969bdab0d18661e0750927baacfa00",
    1: "3f35e38bfc113f5046cd347da98d180e8655941692d268988f626087a3e34d05",
    2: "c39013e666685496a21a0f9f5638be620992e32f54af16029a34a8eaf4d57f8f",
}


def _superlative_share(cfg: WorldConfig, scenes: int = 60) -> float:
    """The share of shape, colour and position questions and refexps whose expression is a superlative."""
    said, n = 0, 0
    for seed in range(scenes):
        scene = generate_scene(seed, cfg)
        for e in examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg, tasks=["vqa", "refexp"]):
            if e.task == "refexp" or (e.task == "vqa" and e.meta.get("question_type") in ("shape", "colour", "position")):
                n += 1
                said += bool(re.search(r"\b(leftmost|rightmost|topmost|bottommost)\b", e.text))
    return said / n


def test_superlatives_off_leaves_the_language_as_it_was_and_on_names_by_superlative_more():
    cfg = WorldConfig(size=64)
    for seed in range(3):
        scene = generate_scene(seed, cfg)
        words = [[e.task, e.text, list(e.answers)] for e in
                 examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg)]
        assert hashlib.sha256(json.dumps(words).encode()).hexdigest() == LANGUAGE_SHA[seed], seed
    never, default, always = (_superlative_share(WorldConfig(size=64, superlatives=p)) for p in (0.0, None, 1.0))
    assert never < default < always, (never, default, always)
    assert 0 <= never < 0.02  # 0: a superlative only where an object has no other expression
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="superlatives must be a probability"):
            WorldConfig(superlatives=bad)


def test_superlatives_flag_reaches_the_manifest(tmp_path):
    out = tmp_path / "w"
    assert main(["--out", str(out), "--train", "4", "--val", "2", "--test", "2", "--size", "64", "--no-contact-sheet",
                 "--no-progress", "--workers", "1", "--superlatives", "0.6"]) == 0
    assert json.loads((out / "manifest.json").read_text())["world"]["superlatives"] == 0.6
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "bad"), "--superlatives", "2"])
