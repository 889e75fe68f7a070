"""Loader throughput: can the data pipeline feed the training step?

    python bench/bench_loader.py [--quick] [--sizes 64 128] [--samples 3000] [--workers 0 2] [--presets tiny]

For each image size (64 px: the tiny preset, 128 px: the small preset) it writes a synthetic split,
shards it, and measures samples/s of, cumulatively:

* ``decode``   -- split dir: open_image of each path (Processor.image_array, resize included);
                  shards: tar read + PNG decode (ShardStream)
* ``+encode``  -- + Processor.encode (prompt/target strings, tokenizer ids; no augmentation yet)
* ``+collate`` -- + Processor.collate into batches of ``--batch``

``split cold`` is the first pass over a split dir with the Processor's image cache (each image decoded
once, then shared by all its examples -- the synthetic world has ~20 examples per image), ``split
warm`` a second pass (what later epochs of an in-memory run cost), ``split no-cache`` decodes per
example, as a shard stream does (a shard sample carries its own copy of the image bytes). Shard rows with
``--workers N > 0`` run the full pipeline in a DataLoader with N worker processes (collate in the
workers too). The last rows time the training step (forward + backward + AdamW, fp32) of each
``--presets`` model at ``--batch`` samples, which is what the loader has to keep up with: the
``vs step`` column is loader rate / step rate (>= 1 means the loader is not the bottleneck, on the
same cores -- a loader in worker processes competes with the step for them).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import torch

from vlseq.cli import synth
from vlseq.data.example import Example
from vlseq.data.readers import load_split
from vlseq.data.shards import write_shards
from vlseq.data.stream import ShardStream
from vlseq.processing import Processor
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer

# Presets whose image sizes the benchmark covers, with their coordinate bins.
SIZE_BINS = {64: 64, 128: 128}


def make_split(root: Path, size: int, samples: int) -> Path:
    """A synthetic split of about ``samples`` examples (~20 examples per scene) at ``size`` px."""
    scenes = max(4, samples // 20)
    rc = synth.main(["--out", str(root), "--train", str(scenes), "--val", "1", "--test", "1", "--test-heldout", "0",
                     "--size", str(size), "--workers", "1", "--no-progress", "--no-contact-sheet"])
    if rc:
        raise RuntimeError(f"vlseq synth failed with exit code {rc}")
    return root / "train"


def mixed(split: dict[str, list[Example]], seed: int = 0) -> list[Example]:
    """Every example of a split (image-generation tasks left out), in a seeded random order."""
    exs = [e for t, v in split.items() if get_task(t).output != "image" for e in v]
    random.Random(seed).shuffle(exs)
    return exs


def tokenizer_for(exs: Sequence[Example], bins: int) -> VLTokenizer:
    texts = []
    for e in exs[:3000]:
        task = get_task(e.task)
        texts += [task.prompt(e, bins), task.target(e, bins, random.Random(0))] + e.answers[:3]
    return VLTokenizer.train(texts, num_bins=bins)


def rate(examples: Iterable[Example], stage: str, proc: Processor, batch: int, limit: int) -> float:
    """Samples/s of pulling ``limit`` examples through the pipeline up to ``stage``."""
    rng = random.Random(0)
    t0 = time.perf_counter()
    n, pending = 0, []
    for ex in examples:
        if stage == "decode":
            for ref in ex.images:
                proc.image_array(ref)
        else:
            pending.append(proc.encode(get_task(ex.task), ex, rng))
            if stage == "+collate" and len(pending) == batch:
                proc.collate(pending)
                pending = []
            elif stage == "+encode":
                pending = []
        n += 1
        if n >= limit:
            break
    if pending and stage == "+collate":
        proc.collate(pending)
    return n / (time.perf_counter() - t0)


class _Encode:
    """The per-worker pipeline of a DataLoader run: encode one Example (picklable)."""

    def __init__(self, proc: Processor) -> None:
        self.proc = proc
        self.rng = random.Random(0)

    def __call__(self, batch: list[Example]) -> dict[str, torch.Tensor]:
        return self.proc.collate([self.proc.encode(get_task(e.task), e, self.rng) for e in batch])


def loader_rate(shard_dir: Path, tasks: list[str], proc: Processor, batch: int, workers: int, limit: int) -> float:
    """Samples/s of the full shard pipeline in a DataLoader with ``workers`` processes."""
    from torch.utils.data import DataLoader

    from vlseq.train.streaming import ShardStreamDataset  # the stream as a torch IterableDataset

    ds = ShardStreamDataset(shard_dir, rank=0, world_size=1, tasks=tasks, epochs=None, shuffle_buffer=256)
    dl = DataLoader(ds, batch_size=batch, num_workers=workers, collate_fn=_Encode(proc))
    it = iter(dl)
    next(it)  # worker start-up is a one-off; not part of the steady rate
    t0 = time.perf_counter()
    n = 0
    while n < limit:
        n += next(it)["input_ids"].shape[0]
    r = n / (time.perf_counter() - t0)
    del it
    return r


def step_rate(preset: str, tok: VLTokenizer, items: list[Any], proc: Processor, steps: int) -> float:
    """Samples/s of the training step (fwd + bwd + AdamW, fp32) of a preset's model on one batch."""
    from vlseq.models.factory import build_model
    from vlseq.train.config import load_config

    mc = load_config(preset).model
    mc.fill_from_tokenizer(tok)
    torch.manual_seed(0)
    model = build_model(mc)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = proc.collate(items)

    def one() -> None:
        loss = model(**b)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    one()  # warm-up (allocations, first-call dispatch)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        one()
        times.append(time.perf_counter() - t0)
    return len(items) / sorted(times)[len(times) // 2]


def run_size(size: int, args: argparse.Namespace, tmp: Path, emit: Callable) -> None:
    bins = SIZE_BINS.get(size, size)
    split_dir = make_split(tmp / f"synth{size}", size, args.samples)
    t0 = time.perf_counter()
    split = load_split(split_dir)
    t_load = time.perf_counter() - t0
    tasks = [t for t in split if get_task(t).output != "image" and split[t]]  # image outputs need an image tokenizer
    exs = mixed(split)
    shard_dir = tmp / f"shards{size}"
    t0 = time.perf_counter()
    write_shards({t: split[t] for t in tasks}, shard_dir, shard_size=args.shard_size)
    t_shard = time.perf_counter() - t0
    emit(size, "load_split (one-off)", len(exs) / t_load, f"{t_load:.1f} s for {len(exs)}")
    emit(size, "write_shards (one-off)", len(exs) / t_shard, f"{t_shard:.1f} s")
    tok = tokenizer_for(exs, bins)
    limit = min(args.samples, len(exs))
    for stage in ("decode", "+encode", "+collate"):
        proc = Processor(tok, size, bins)
        emit(size, f"split cold {stage}", rate(exs, stage, proc, args.batch, limit))
        emit(size, f"split warm {stage}", rate(exs, stage, proc, args.batch, limit))
        emit(size, f"split no-cache {stage}", rate(exs, stage, Processor(tok, size, bins, cache_images=0), args.batch, limit))
        stream = ShardStream(shard_dir, rank=0, world_size=1, worker=(0, 1), shuffle_buffer=256, epochs=None)
        emit(size, f"shards {stage}", rate(stream, stage, Processor(tok, size, bins), args.batch, limit))
    for w in args.workers:
        if w > 0:
            emit(size, f"shards DataLoader x{w} +collate", loader_rate(shard_dir, tasks, Processor(tok, size, bins), args.batch, w, limit))
    proc = Processor(tok, size, bins)
    items = [proc.encode(get_task(e.task), e, random.Random(0)) for e in exs[: args.batch]]
    for preset in args.presets:
        from vlseq.train.config import load_config

        if load_config(preset).model.image_size != size:
            continue
        emit(size, f"train step {preset} (batch {args.batch})", step_rate(preset, tok, items, proc, args.steps), "", step=True)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: 64 px, ~300 samples, 2 training steps")
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--samples", type=int, default=3000, help="examples per measurement (~samples/20 scenes)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--shard-size", type=int, default=500)
    p.add_argument("--workers", type=int, nargs="*", default=[0, 2], help="DataLoader worker counts to time (0: skipped)")
    p.add_argument("--presets", nargs="*", default=["tiny", "small"], help="models whose training step to time (at their own image size)")
    p.add_argument("--steps", type=int, default=5, help="timed training steps (median)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--json", default=None, help="also write the rows to this JSON file")
    args = p.parse_args(argv)
    if args.quick:
        args.sizes, args.samples, args.steps, args.presets = [64], 300, 2, ["tiny"]
        args.workers = [w for w in args.workers if w <= 1] or [0]
    if args.threads:
        torch.set_num_threads(args.threads)
    rows: list[dict[str, Any]] = []
    step_rates: dict[int, float] = {}

    def emit(size: int, what: str, r: float, note: str = "", step: bool = False) -> None:
        if step:
            step_rates[size] = r
        rows.append({"size": size, "what": what, "samples_per_s": r, "note": note})
        print(f"{size:>5} {what:<38} {r:>10.1f} {note}", flush=True)

    print(f"{'size':>5} {'pipeline':<38} {'samples/s':>10}")
    with tempfile.TemporaryDirectory(prefix="bench_loader_") as tmp:
        for size in args.sizes:
            run_size(size, args, Path(tmp), emit)
    # The step is timed last; print the loader rows again against it.
    if step_rates:
        print(f"\n{'size':>5} {'pipeline':<38} {'vs step':>8}  (loader samples/s / training-step samples/s)")
        for r in rows:
            if r["size"] in step_rates and not r["what"].startswith(("train step", "load_split", "write_shards")):
                print(f"{r['size']:>5} {r['what']:<38} {r['samples_per_s'] / step_rates[r['size']]:>6.2f}x")
    if args.json:
        Path(args.json).write_text(json.dumps({"rows": rows, "step_samples_per_s": step_rates}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
