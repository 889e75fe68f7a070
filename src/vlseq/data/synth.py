"""``vlseq synth``: write the synthetic world to disk in the public formats (see writers.py).

    vlseq synth --out DIR --train 20000 --val 1000 --test 1000 --size 128 --seed 0 [--objects 1-5] [--workers N]

Output layout (each split directory as described in :mod:`vlseq.data.writers`)::

    DIR/train/  DIR/val/  DIR/test/     scene-level splits
    DIR/test_heldout/                   scenes that each contain a held-out (colour, shape) pair;
                                        their refexp targets are always held-out objects
    DIR/caption_only_eval/              grounded-caption (and caption) ground truth of the
                                        caption-only training images (hard links to the same PNGs)
    DIR/manifest.json                   seed, size, world config, counts, held-out pairs,
                                        caption-only image ids
    DIR/contact_sheet.png               ground truth of a few examples per task, drawn to check by eye
                                        (by ``vlseq synth`` after the data: vlseq.viz.truth_sheet;
                                        :func:`write_world` writes data only)

Held-out combinations: the ``--heldout`` (colour, shape) pairs never occur in a train scene (and
recolour edits never create them); val/test may contain them; test_heldout always does.

Caption-only images: a ``--caption-only`` fraction of train scenes appears only in
``train/captions.json``: no boxes, questions, expressions or other records in any training file.
``caption_only_eval/grounding.json`` holds their grounded captions, so a model trained with boxes
only on the other images can be tested on grounded captioning of images it saw only captioned.

Image ids: split ``k`` (train 0, val 1, test 2, test_heldout 3) uses ids from ``k * 10_000_000``;
scene ``i`` is ``base + i``, the edited target of scene ``i`` is ``base + n_scenes + i``, and image
``s`` (1-4) of the story that starts at scene ``i`` is ``base + (1 + s) * n_scenes + i``. Every
scene draws from ``SeedSequence([seed, k, i])``, so the output does not depend on ``--workers``.

The world's look (all off by default, see :class:`~vlseq.data.world.WorldConfig`): ``--shapes`` /
``--colours`` / ``--backgrounds`` (comma lists; ``all`` for every known one), ``--scale LO-HI``
(radii as fractions of the side instead of the named sizes), ``--antialias K``, ``--rotation DEG``,
``--fill solid|outline|mixed``. The default held-out pairs keep only those the world can draw.

Stories: a ``story_frac`` share of the scenes (not caption-only ones) starts a story (3-5 images
made by successive edits, :mod:`vlseq.data.world.stories`); a story draws from its own child of the
scene's seed sequence, so writing stories leaves every other record as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Sequence

import numpy as np

from .world import WorldConfig, categories, edit_example, examples_for_scene, generate_scene, pair_example, render
from .world.scene import ALL_BACKGROUNDS, ALL_SHAPES, BACKGROUNDS, COLOURS, SHAPES
from .world.sizes import SIZES, SIZES_3
from .world.stories import MAX_IMAGES, story_example
from .writers import SplitWriter, example_records, image_path, save_png

SPLITS = ("train", "val", "test", "test_heldout")
ID_STRIDE = 10_000_000
DEFAULT_HELDOUT = (("red", "star"), ("blue", "triangle"), ("green", "hexagon"), ("yellow", "square"))


@dataclass
class Job:
    """A chunk of scenes ``[start, stop)`` of one split (an even start keeps pairs together)."""

    split: str
    index: int
    start: int
    stop: int
    n_scenes: int
    seed: int
    cfg: WorldConfig
    split_dir: str
    caption_only: float
    edit_frac: float
    story_frac: float = 0.0


def scene_rngs(seed: int, split_index: int, i: int) -> tuple[np.random.Generator, np.random.Generator]:
    """Independent generators for the scene itself and for its annotation."""
    ss = np.random.SeedSequence([seed, split_index, i])
    a, b = ss.spawn(2)
    return np.random.default_rng(a), np.random.default_rng(b)


def story_rng(seed: int, split_index: int, i: int) -> np.random.Generator:
    """The generator of the story of scene ``i``: the third child of the scene's seed sequence (the
    first two are :func:`scene_rngs`'s whatever the number spawned, so stories change nothing else)."""
    return np.random.default_rng(np.random.SeedSequence([seed, split_index, i]).spawn(3)[2])


def run_job(job: Job) -> list[dict]:
    """Generate, render, save and annotate the scenes of a job; return per-scene record bundles."""
    cats = {n: k + 1 for k, n in enumerate(categories(job.cfg))}
    base = job.index * ID_STRIDE
    out, prev = [], None
    for i in range(job.start, job.stop):
        rs, ra = scene_rngs(job.seed, job.index, i)
        scene = generate_scene(rs, job.cfg)
        iid = base + i
        save_png(render(scene), Path(job.split_dir) / image_path(iid))
        caption_only = job.split == "train" and bool(ra.random() < job.caption_only)
        ref = image_path(iid)
        tasks = ["caption"] if caption_only else None
        exs = examples_for_scene(scene, ref, ra, job.cfg, tasks=tasks, image_id=str(iid))
        bundle: dict = {"image_id": iid, "caption_only": caption_only, "images": [(iid, scene.width, scene.height)]}
        if caption_only:
            gt = examples_for_scene(scene, ref, ra, job.cfg, tasks=["grounded_caption"], image_id=str(iid))
            bundle["eval_records"] = [kr for e in exs + gt for kr in example_records(e, cats)]
        elif ra.random() < job.edit_frac:
            eid = base + job.n_scenes + i
            made = edit_example(scene, ref, ra, job.cfg, target_ref=image_path(eid), image_id=str(iid))
            if made is not None:
                save_png(render(made[1].scene), Path(job.split_dir) / image_path(eid))
                bundle["images"].append((eid, scene.width, scene.height))
                exs.append(made[0])
        if not caption_only and job.story_frac > 0:
            rst = story_rng(job.seed, job.index, i)
            if rst.random() < job.story_frac:
                ids = [base + (1 + s) * job.n_scenes + i for s in range(1, MAX_IMAGES)]
                made_story = story_example(scene, ref, rst, job.cfg, [image_path(j) for j in ids], str(iid))
                if made_story is not None:
                    for j, later in zip(ids, made_story[1].scenes[1:]):
                        save_png(render(later), Path(job.split_dir) / image_path(j))
                        bundle["images"].append((j, scene.width, scene.height))
                    exs.append(made_story[0])
        if i % 2 == 1 and prev is not None and not caption_only and not prev[1]:
            exs.append(pair_example(prev[0], image_path(iid - 1), scene, ref, ra, image_id=str(iid - 1)))
        prev = (scene, caption_only) if i % 2 == 0 else None
        bundle["records"] = [kr for e in exs for kr in example_records(e, cats)]
        out.append(bundle)
    return out


def _link(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


@dataclass(frozen=True)
class SynthOptions:
    """What ``vlseq synth`` writes: scenes per split, image size, the world's knobs (its flags, one each)."""

    train: int = 20000
    val: int = 1000
    test: int = 1000
    test_heldout: int | None = None  #: scenes of test_heldout (None: as many as test)
    size: int = 128
    seed: int = 0
    objects: tuple[int, int] = (1, 5)
    sizes: int = 2  #: 2: small/large, 3: with medium
    heldout: tuple[tuple[str, str], ...] = DEFAULT_HELDOUT
    caption_only: float = 0.1
    edit_frac: float = 0.25
    story_frac: float = 0.25  #: share of scenes that start a story (3-5 images each)
    detect_labels: str = "shape"
    workers: int = min(os.cpu_count() or 1, 8)
    chunk: int = 64
    no_progress: bool = False
    # the world's look (WorldConfig's options of the same names; strings like "a,b" / "0.04-0.45" accepted)
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    backgrounds: tuple[str, ...] = BACKGROUNDS
    scale: tuple[float, float] | None = None  #: radius range, fractions of the side (None: the named sizes)
    #: the share of scenes drawn from ``scale``, the rest of the named sizes (None: every scene)
    scale_frac: float | None = None
    antialias: int = 0  #: supersampling factor (0/1: pixel-sharp)
    rotation: float = 0.0  #: max degrees each shape is turned
    fill: str = "solid"  #: "solid", "outline" or "mixed"
    #: the chance of a superlative expression where an object has one (None: the default world's rule)
    superlatives: float | None = None

    def __post_init__(self) -> None:
        for name, everything in (("shapes", ALL_SHAPES), ("colours", tuple(COLOURS)), ("backgrounds", ALL_BACKGROUNDS)):
            object.__setattr__(self, name, parse_names(getattr(self, name), everything))
        object.__setattr__(self, "scale", parse_scale(self.scale))


def parse_names(value: str | Sequence[str], everything: Sequence[str]) -> tuple[str, ...]:
    """``"a,b"`` or a sequence -> a tuple of names; ``"all"`` -> ``everything``."""
    if isinstance(value, str):
        value = tuple(everything) if value.strip().lower() == "all" else [v.strip() for v in value.split(",") if v.strip()]
    return tuple(value)


def parse_scale(value: str | Sequence[float] | None) -> tuple[float, float] | None:
    """``"0.04-0.45"``, ``(0.04, 0.45)`` or None/"none" -> ``(lo, hi)`` or None."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if isinstance(value, str):
        lo, sep, hi = value.partition("-")
        try:
            return float(lo), float(hi if sep else lo)
        except ValueError:
            raise ValueError(f"scale wants LO-HI fractions of the image side like 0.04-0.45, got {value!r}") from None
    if len(value) != 2:
        raise ValueError(f"scale wants (lo, hi) fractions of the image side, got {value!r}")
    return float(value[0]), float(value[1])


def world_config(opts: SynthOptions) -> WorldConfig:
    """The world the options draw (its val and test splits; train also leaves the held-out pairs out).

    Raises ``ValueError`` for a bad world option."""
    return WorldConfig(size=opts.size, min_objects=opts.objects[0], max_objects=opts.objects[1],
                       sizes=dict(SIZES if opts.sizes == 2 else SIZES_3), detect_labels=opts.detect_labels,
                       shapes=opts.shapes, colours=opts.colours, backgrounds=opts.backgrounds, scale=opts.scale,
                       scale_frac=opts.scale_frac, antialias=opts.antialias, rotation=opts.rotation, fill=opts.fill,
                       superlatives=opts.superlatives)


def stale_options(manifest: dict, opts: SynthOptions) -> list[str]:
    """``key: written -> asked`` for each way the world a ``manifest.json`` describes differs from the
    one ``opts`` would draw (its look and seed; split sizes are not compared). A key the manifest
    lacks was written before that option existed, when it was off: its default counts."""
    def as_json(d: dict) -> dict:  # tuples as the manifest holds them: lists
        return json.loads(json.dumps(d))

    want = as_json({**world_config(opts).to_dict(), "seed": opts.seed})
    have = {**manifest.get("world", {}), "seed": manifest.get("seed")}
    default = as_json(WorldConfig(size=opts.size).to_dict())
    return [f"{k}: {have.get(k, default.get(k))!r} -> {v!r}" for k, v in want.items() if have.get(k, default.get(k)) != v]


def write_world(out: str | Path, opts: SynthOptions = SynthOptions()) -> Path:
    """Write the synthetic world's splits and ``manifest.json`` under ``out``; returns ``out``.

    The contact sheet is drawn above the data layer, from the written split
    (:func:`vlseq.viz.truth_sheet.write_world_sheet`, which ``vlseq synth`` calls).

    Raises ``ValueError`` for a held-out pair naming an unknown colour or shape, or a bad world option.
    """
    out = Path(out)
    for name in ("caption_only", "edit_frac", "story_frac"):
        if not 0.0 <= getattr(opts, name) <= 1.0:
            raise ValueError(f"vlseq synth: {name.replace('_', '-')} must be a fraction in [0, 1], "
                             f"got {getattr(opts, name)}")
    base_cfg = world_config(opts)
    heldout = opts.heldout
    if tuple(map(tuple, heldout)) == DEFAULT_HELDOUT:  # the defaults shrink to what the world can draw
        heldout = tuple(p for p in DEFAULT_HELDOUT if p[0] in base_cfg.colours and p[1] in base_cfg.shapes)
    for colour, shape in heldout:
        if colour not in base_cfg.colours or shape not in base_cfg.shapes:
            raise ValueError(f"vlseq synth: held-out pair {colour}:{shape} names an unknown colour or shape")
    n_heldout = opts.test if opts.test_heldout is None else opts.test_heldout
    counts = {"train": opts.train, "val": opts.val, "test": opts.test, "test_heldout": n_heldout if heldout else 0}
    cfgs = {"train": replace(base_cfg, exclude_pairs=heldout), "val": base_cfg, "test": base_cfg,
            "test_heldout": replace(base_cfg, require_pairs=heldout)}
    chunk = max(2, opts.chunk + opts.chunk % 2)
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency; keep the writer usable without it anyway
        tqdm = None

    manifest: dict = {"seed": opts.seed, "size": opts.size, "world": base_cfg.to_dict(),
                      "heldout_pairs": [list(p) for p in heldout], "splits": {}}
    # A pool costs a second or more to start (spawn re-imports vlseq) and starves on a loaded
    # machine; small worlds are written faster in-process.
    workers = opts.workers if sum(max(0, c) for c in counts.values()) >= 2000 else 1
    pool = get_context("spawn").Pool(workers) if workers > 1 else None
    try:
        for index, split in enumerate(SPLITS):
            n = counts[split]
            if n <= 0:
                continue
            split_dir = out / split
            writer = SplitWriter(split_dir, split, categories(cfgs[split]))
            eval_writer = SplitWriter(out / "caption_only_eval", "caption_only_eval", categories(cfgs[split])) \
                if split == "train" else None
            jobs = [Job(split, index, s, min(s + chunk, n), n, opts.seed, cfgs[split], str(split_dir),
                        opts.caption_only, opts.edit_frac, opts.story_frac) for s in range(0, n, chunk)]
            results = pool.imap(run_job, jobs) if pool else map(run_job, jobs)
            bar = tqdm(total=n, desc=f"synth {split}", unit="scene", disable=opts.no_progress) if tqdm else None
            caption_only_ids = []
            for bundles in results:
                for b in bundles:
                    for iid, w, h in b["images"]:
                        writer.add_image(iid, w, h)
                    for kind, rec in b["records"]:
                        writer.add(kind, rec)
                    if b["caption_only"] and eval_writer is not None:
                        caption_only_ids.append(b["image_id"])
                        eval_writer.add_image(b["image_id"], *b["images"][0][1:])
                        for kind, rec in b["eval_records"]:
                            eval_writer.add(kind, rec)
                        _link(split_dir / image_path(b["image_id"]), eval_writer.dir / image_path(b["image_id"]))
                if bar:
                    bar.update(len(bundles))
            if bar:
                bar.close()
            info = {"seed": opts.seed, "size": opts.size, "num_scenes": n, "image_id_base": index * ID_STRIDE,
                    "world": cfgs[split].to_dict(), "heldout_pairs": [list(p) for p in heldout]}
            if split == "train":
                info["caption_only_image_ids"] = caption_only_ids
            manifest["splits"][split] = writer.close(info)
            if eval_writer is not None:
                manifest["splits"]["caption_only_eval"] = eval_writer.close(
                    {**info, "num_scenes": len(caption_only_ids), "source_split": "train"},
                    only=("caption", "grounding"))
                manifest["caption_only_image_ids"] = caption_only_ids
    finally:
        if pool:
            pool.close()
            pool.join()
    with open(out / "manifest.json", "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {sum(counts.values())} scenes to {out}", file=sys.stderr)
    return out
