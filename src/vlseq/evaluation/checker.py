"""The independent render-and-check judge: a checker trained on true images of the world.

Render-and-check (:mod:`vlseq.evaluation.render_check`) scores a generated or edited image by what
it shows against ``meta["requirements"]`` (``[{"label", "colour", "shape", "count"}]``: every
colour-shape group of the scene). Asking the model under test to judge its own images passed only
0.105 of the *true* images (see render_check's docstring for why): a judge that fails the truth
says nothing about a generator. This judge is separate from that model, as GenEval's detector is:
a :class:`~vlseq.models.checker.Checker` trained on fresh renders of the world the data came from.

Counting an image (:func:`count_objects`): the segmenter labels each pixel with a colour or
background; the pixels of each colour split into 8-connected components; each component is cropped
and the classifier says how many objects of each shape it holds; the counts per (colour, shape)
pair are summed over components. A requirement ``{colour, shape, count}`` is then judged on those
counts ``n`` (:func:`judge`):

* ``objects``: some object of the shape is there (``sum_colour n[:, shape] >= 1``);
* ``colours``: one of that colour and shape is there (``n[colour, shape] >= 1``);
* ``counts``: exactly ``count`` of them (``n[colour, shape] == count``);
* an image passes ``all`` when every requirement passes ``counts`` (hence the other two), and
  ``exact`` when, in addition, nothing else is there (``n`` is zero off the requirements).

Training (:func:`train_checker`) renders scenes of the world's own :class:`WorldConfig` (read from a
split's ``manifest.json``), so the ground truth is exact (every object's colour, shape and visible
pixels) and no image of a written split is seen. :func:`checker_for_split` caches the result
beside the split it came from.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch.nn import functional as F

from ..data.example import Example
from ..data.readers import read_edits, read_generations
from ..data.world import COLOURS, WorldConfig, generate_scene, render
from ..models.checker import CONFIG_FILE, Checker, CheckerConfig, to_pixels

log = logging.getLogger(__name__)

#: Files of a split whose examples carry requirements (the image-output tasks').
REQUIREMENT_FILES = (("generations.jsonl", read_generations), ("edits.jsonl", read_edits))
#: Sub-directory a checker is cached in, beside the split it was trained on.
CHECKER_DIR = "checker"
#: The judgements :func:`judge` returns: fractions of requirements, then of images.
JUDGEMENTS = ("objects", "counts", "colours", "all", "exact")
#: Second entry of the checker's scene seed sequences: apart from every split of ``vlseq synth``
#: (whose sequences are ``[seed, split index, scene]`` with a split index under 10).
_CHECKER_STREAM = 0xC4EC


def requirement_examples(split_dir: str | Path) -> list[Example]:
    """The examples of ``split_dir``'s ``generations.jsonl`` and ``edits.jsonl`` that carry requirements."""
    d = Path(split_dir)
    out: list[Example] = []
    for name, read in REQUIREMENT_FILES:
        if (d / name).is_file():
            out += [ex for ex in read(d / name) if ex.meta.get("requirements")]
    return out


def world_config(path: str | Path) -> WorldConfig | None:
    """The :class:`WorldConfig` a split directory (or a world root) was written with, from its
    ``manifest.json``; None when there is none or it is not a world's."""
    try:
        return WorldConfig(**json.loads((Path(path) / "manifest.json").read_text())["world"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def inventory(requirements: Sequence[dict[str, Any]], colours: Sequence[str], shapes: Sequence[str]) -> np.ndarray:
    """``(C, K)`` int64: the required count of every (colour, shape) pair (zero where none is asked for)."""
    ci, si = {c: i for i, c in enumerate(colours)}, {s: i for i, s in enumerate(shapes)}
    out = np.zeros((len(colours), len(shapes)), dtype=np.int64)
    for r in requirements:
        if r["colour"] not in ci or r["shape"] not in si:
            raise ValueError(f"requirement {r!r} names a colour or shape the checker does not know "
                             f"(colours {list(colours)}, shapes {list(shapes)})")
        out[ci[r["colour"]], si[r["shape"]]] += int(r["count"])
    return out


def _soften(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Half of a batch ``(B, 3, S, S)`` blurred a little and shifted in brightness: a decoded VQ image
    is softer than the render and its colours drift, and a judge that saw only sharp renders would
    be judging the image tokenizer, not the generator."""
    b = x.shape[0]
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    pick = (torch.rand(b, 1, 1, 1, generator=gen) < 0.5).float()
    shift = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5) * 0.1
    return pick * (0.5 * x + 0.5 * blur + shift) + (1 - pick) * x


def count_objects(checker: Checker, images: Sequence[np.ndarray]) -> np.ndarray:
    """``(N, C, K)`` int64 counts per (colour, shape) pair: :meth:`Checker.count`."""
    return checker.count(images)


def judge(checker: Checker, images: Sequence[np.ndarray | None],
          requirements: Sequence[Sequence[dict[str, Any]]]) -> dict[str, float]:
    """Judge ``images`` (``(H, W, 3)`` uint8, or None for an output that is no image: it fails
    everything) against their ``requirements`` (see the module docstring for each check).

    Returns ``objects``, ``counts``, ``colours`` (fractions of requirements) and ``all``, ``exact``
    (fractions of images).
    """
    return judge_counts(checker.config, found_counts(checker, images), requirements)


def found_counts(checker: Checker, images: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    """:func:`count_objects` of each image, None where the image is None."""
    valid = [i for i, im in enumerate(images) if im is not None]
    found: list[np.ndarray | None] = [None] * len(images)
    for i, n in zip(valid, count_objects(checker, [images[i] for i in valid])):  # type: ignore[misc]
        found[i] = n
    return found


def judge_counts(cfg: CheckerConfig, found: Sequence[np.ndarray | None],
                 requirements: Sequence[Sequence[dict[str, Any]]]) -> dict[str, float]:
    """:func:`judge` from counts already made (``(C, K)`` per image, None: no image)."""
    if len(found) != len(requirements):
        raise ValueError(f"{len(found)} images but {len(requirements)} requirement lists")
    ci, si = {n: i for i, n in enumerate(cfg.colours)}, {n: i for i, n in enumerate(cfg.shapes)}
    passed = dict.fromkeys(("objects", "counts", "colours"), 0)
    n_req = n_all = n_exact = 0
    for n, reqs in zip(found, requirements):
        want = inventory(reqs, cfg.colours, cfg.shapes)  # unknown names: a clear error
        ok = n is not None
        for r in reqs:
            n_req += 1
            if n is None:
                continue
            c, s = ci[r["colour"]], si[r["shape"]]
            passed["objects"] += int(n[:, s].sum() >= 1)
            passed["colours"] += int(n[c, s] >= 1)
            good = int(n[c, s]) == int(want[c, s])  # the group's count (a repeated group: summed)
            passed["counts"] += int(good)
            ok = ok and good
        n_all += ok
        n_exact += ok and bool(np.array_equal(n, want))
    m = max(1, len(requirements))
    return {**{k: v / max(1, n_req) for k, v in passed.items()}, "all": n_all / m, "exact": n_exact / m}


# --------------------------------------------------------------------------- training


def training_scenes(cfg: WorldConfig, n: int, seed: int = 0, merge: bool = False
                    ) -> tuple[np.ndarray, np.ndarray, list[list[tuple]]]:
    """``n`` fresh scenes of the world ``cfg``: ``(images (N, S, S, 3) uint8, labels (N, S, S) int64,
    objects)``, ``objects[i]`` = ``[(colour index, shape index, painted (S, S) bool), ...]``.

    ``merge``: touching objects are recoloured into one-colour groups (:func:`_merged`).

    ``labels`` is the segmenter's target: ``1 + colour`` where an object's paint shows (its visible
    pixels whose colour is near its own: an outline's hollow and an antialiased rim's faint pixels
    are background), else 0. Seeded apart from ``vlseq synth``'s splits, so no image of a written
    split is among them.
    """
    ci, si = {c: i for i, c in enumerate(cfg.colours)}, {s: i for i, s in enumerate(cfg.shapes)}
    images = np.empty((n, cfg.size, cfg.size, 3), dtype=np.uint8)
    labels = np.zeros((n, cfg.size, cfg.size), dtype=np.int64)
    objects: list[list[tuple]] = []
    for i in range(n):
        rng = np.random.default_rng([seed, _CHECKER_STREAM, int(merge), i])
        scene = generate_scene(rng, cfg)
        if merge:
            scene = _merged(scene, cfg, rng)
        images[i] = img = render(scene)
        objs = []
        for o in scene.objects:
            near = np.abs(img.astype(np.int16) - np.asarray(o.rgb, dtype=np.int16)).max(-1) <= 48
            painted = o.visible & near
            labels[i][painted] = 1 + ci[o.colour]
            objs.append((ci[o.colour], si[o.shape], painted))
        objects.append(objs)
    return images, labels, objects


def _touching(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two ``(S, S)`` bool masks touch, 8-connected (``a`` grown by one pixel meets ``b``)."""
    grown = a.copy()
    grown[1:] |= a[:-1]
    grown[:-1] |= a[1:]
    grown[:, 1:] |= grown[:, :-1].copy()
    grown[:, :-1] |= grown[:, 1:].copy()
    return bool((grown & b).any())


def _merged(scene: Any, cfg: WorldConfig, rng: np.random.Generator) -> Any:
    """``scene`` with each object that touches an earlier one given that one's colour (keeping its own
    brightness jitter; never into a held-out pair): one-colour groups of touching objects, the
    classifier's hardest case, which the world itself draws in only a few scenes in a hundred."""
    objs = list(scene.objects)
    for j in range(1, len(objs)):
        for i in range(j):
            a, b = objs[i], objs[j]
            allowed = (a.colour, b.shape) not in cfg.exclude_pairs
            if a.colour != b.colour and allowed and _touching(a.visible, b.visible):
                shift = int(b.rgb[0]) - COLOURS[b.colour][0]
                rgb = tuple(int(min(max(v + shift, 0), 255)) for v in COLOURS[a.colour])
                objs[j] = dataclasses.replace(b, colour=a.colour, rgb=rgb)
                break
    return dataclasses.replace(scene, objects=objs)


def _component_targets(comps: list[list[tuple[int, np.ndarray]]], objects: list[list[tuple]], k: int,
                       max_count: int) -> torch.Tensor:
    """``(M, K)`` int64: per component, how many objects of each shape it holds. An object belongs to
    the component of its colour that covers most of its paint (none, if no component touches it)."""
    rows = []
    for cs, objs in zip(comps, objects):
        t = np.zeros((len(cs), k), dtype=np.int64)
        for c, s, painted in objs:
            overlap = [int((m & painted).sum()) if cc == c else 0 for cc, m in cs]
            if overlap and max(overlap) > 0:
                t[int(np.argmax(overlap)), s] += 1
        rows.append(t)
    if not rows:
        return torch.zeros((0, k), dtype=torch.long)
    return torch.from_numpy(np.minimum(np.concatenate(rows), max_count))


def _labelled_crops(checker: Checker, pixels: torch.Tensor, objects: list[list[tuple]], gen: torch.Generator
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """The crops ``(M, 5, P, P)`` float16 (a few thousand of them: half the memory) of the components the
    segmenter finds in ``pixels`` ``(N, 3, S, S)``, half of them softened, and their targets ``(M, K)``."""
    comps, crops = checker.crops(torch.cat([_soften(pixels[i : i + 256], gen) for i in range(0, len(pixels), 256)]))
    return crops.half(), _component_targets(comps, objects, len(checker.config.shapes), checker.config.max_count)


def _world_of(data: str | Path | WorldConfig | Sequence[Example]) -> WorldConfig:
    """The world to render: a WorldConfig, a split directory or world root (its manifest), or the
    split the first of some Examples was read from (``source`` = ``path#id``)."""
    if isinstance(data, WorldConfig):
        return data
    where = Path(data) if isinstance(data, (str, Path)) else None
    if where is None:
        first = next(iter(data), None)
        if first is None or not first.source:
            raise ValueError("train_checker: no examples, or examples without a source file to find their world by")
        where = Path(first.source.split("#", 1)[0]).parent
    cfg = world_config(where)
    if cfg is None:
        raise ValueError(f"{where}: no manifest.json of a synthetic world; the checker learns from renders of the "
                         "world (write one with vlseq synth, or pass its WorldConfig)")
    return cfg


def _fit(net: torch.nn.Module, items: torch.Tensor, batch_size: int, epochs: int, lr: float, gen: torch.Generator,
         loss_of, deadline: float | None, name: str) -> None:
    """Adam with a one-cycle schedule over ``epochs`` shuffled passes of ``items`` (indices, repeats
    allowed); ``loss_of(idx)`` gives a batch's loss. Stops at ``deadline`` (a ``time.time()``)."""
    n = len(items)
    steps = max(1, epochs * ((n + batch_size - 1) // batch_size))
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.15)
    net.train()
    t0 = time.time()
    for epoch in range(epochs):
        total = 0.0
        for idx in items[torch.randperm(n, generator=gen)].split(batch_size):
            loss = loss_of(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
            if deadline is not None and time.time() > deadline:
                log.warning("checker: time budget reached in the %s's epoch %d of %d", name, epoch + 1, epochs)
                net.eval()
                return
        log.info("checker %s epoch %d: loss %.4f (%.0f s)", name, epoch + 1, total / max(1, n), time.time() - t0)
    net.eval()


def train_checker(data: str | Path | WorldConfig | Sequence[Example], scenes: int = 3000, seg_steps: int = 400,
                  merge_scenes: int = 4000, epochs: int = 6, batch_size: int = 64,
                  lr: float = 3e-3, seed: int = 0, time_budget_s: float | None = None, **config: Any) -> Checker:
    """Train a :class:`Checker` on fresh renders of a world.

    ``data``: a split directory or world root written by ``vlseq synth`` (its ``manifest.json``), a
    :class:`WorldConfig`, or Examples read from such a split. The segmenter learns from the
    ``scenes`` renders (``seg_steps`` batches of 16, per-pixel cross-entropy). The
    classifier learns from the components the trained segmenter finds, so from what it will be given:
    all those of the ``scenes`` renders, and the ones holding several objects among ``merge_scenes``
    renders made of one-colour groups (:func:`training_scenes`), each labelled with the objects
    whose paint it holds (``epochs`` passes, cross-entropy per shape). Half of every batch is
    softened (:func:`_soften`). ``config``: :class:`CheckerConfig` fields (default: ``window`` half
    the image side). ``time_budget_s`` stops early. Returns the checker in eval mode, on the CPU.

    At the defaults on a 64 px world: about 2.5 minutes on one busy CPU core.
    """
    t0 = time.time()
    deadline = None if time_budget_s is None else t0 + time_budget_s
    world = _world_of(data)
    images, labels, objects = training_scenes(world, scenes, seed)
    window = max(world.size // 2, 4)  # the default world's largest shape spans about 0.3 of the side
    crop = min(32, -(-window // 4) * 4)  # a small world's crops stay at their own size
    cfg = CheckerConfig(world.colours, world.shapes, world.size, **{"window": window, "crop": crop, **config})
    log.info("checker: %d scenes rendered in %.1f s", scenes, time.time() - t0)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    checker = Checker(cfg)
    pixels, target = to_pixels(images, world.size), torch.from_numpy(labels)
    # a fixed number of steps, however many scenes: colour is quick to learn, but not in a handful of steps
    seg_items = torch.arange(seg_steps * 16) % scenes
    _fit(checker.segmenter, seg_items, 16, 1, 1e-2, gen,
         lambda idx: F.cross_entropy(checker.segmenter(_soften(pixels[idx], gen)), target[idx]), deadline, "segmenter")
    # The classifier learns from the segmenter's components of softened and sharp renders alike: all
    # those of the world's scenes, and those holding several objects of ``merge_scenes`` scenes made
    # of one-colour groups (training_scenes' ``merge``), the hardest case and rare in the world.
    crops, counts = _labelled_crops(checker, pixels, objects, gen)
    more_images, _, more_objects = training_scenes(world, merge_scenes, seed, merge=True)
    for i in range(0, merge_scenes, 500):
        c, t = _labelled_crops(checker, to_pixels(more_images[i : i + 500], world.size), more_objects[i : i + 500], gen)
        keep = t.sum(1) > 1
        crops, counts = torch.cat([crops, c[keep]]), torch.cat([counts, t[keep]])
    log.info("checker: %d components to classify, %d holding several objects (%.0f s)", len(crops),
             int((counts.sum(1) > 1).sum()), time.time() - t0)
    _fit(checker.classifier, torch.arange(len(crops)), batch_size, epochs, lr, gen,
         lambda idx: F.cross_entropy(checker.classifier(crops[idx].float()).flatten(0, 1), counts[idx].flatten()),
         deadline, "classifier")
    log.info("checker: trained in %.0f s", time.time() - t0)
    return checker.eval()


def checker_for_split(train_dir: str | Path, cache_dir: str | Path | None = None, **train_kw: Any) -> Checker:
    """The checker of a world's training split: loaded from ``cache_dir`` (default
    ``train_dir/checker``) when one was saved there, else trained (:func:`train_checker`) and saved there.

    Unless ``train_kw`` says, it renders as many scenes as the split has image-output records (64 to
    3000; a third more for the one-colour groups) and trains the segmenter for a fifth as many steps
    (50 to 400): a world written for a smoke test gets a checker trained in seconds, and its
    ``check_all_truth`` says how far to trust it. The save is atomic (a concurrent one is not
    clobbered); a cache that cannot be written is logged and skipped, one that cannot be loaded
    (another version's) is replaced.
    """
    cache = Path(cache_dir) if cache_dir is not None else Path(train_dir) / CHECKER_DIR
    if (cache / CONFIG_FILE).is_file():
        try:
            return Checker.from_pretrained(cache)
        except (OSError, ValueError) as e:  # e.g. saved by another version of the checker: train anew
            log.warning("checker cache %s cannot be loaded (%s): training a new one in its place", cache, e)
            shutil.rmtree(cache, ignore_errors=True)
    if "scenes" not in train_kw:
        records = sum(_count_lines(Path(train_dir) / name) for name, _ in REQUIREMENT_FILES)
        train_kw["scenes"] = min(max(records, 64), 3000)
        train_kw.setdefault("merge_scenes", train_kw["scenes"] * 4 // 3)
        train_kw.setdefault("seg_steps", min(max(train_kw["scenes"] // 5, 50), 400))
    model = train_checker(train_dir, **train_kw)
    tmp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
    try:
        model.save_pretrained(tmp)
        os.replace(tmp, cache)
    except OSError as e:
        if not (cache / CONFIG_FILE).is_file():
            log.warning("could not cache the checker in %s (%s): it will be trained again next time", cache, e)
        shutil.rmtree(tmp, ignore_errors=True)
    return model


def _count_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for line in f if line.strip())
    except OSError:
        return 0


__all__ = ["CHECKER_DIR", "JUDGEMENTS", "checker_for_split", "count_objects", "found_counts", "inventory", "judge",
           "judge_counts", "requirement_examples", "train_checker", "training_scenes", "world_config"]
