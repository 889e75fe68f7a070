"""Inference speed of a trained checkpoint, per task: batch throughput (images/s) and batch-1 latency.

Runs the public :class:`vlseq.Pipeline` (image loading, prompt, constrained greedy generation,
parsing) on validation examples of the synthetic world::

    python bench/bench_inference.py --checkpoint runs/tiny/final --data data/synth-tiny/val
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import markdown_table  # noqa: E402

TASKS = ("caption", "vqa", "classify", "refexp", "ground", "grounded_caption", "detect", "localize", "region_caption")


def inputs_for(task: str, ex) -> dict:
    """The Pipeline keyword inputs that reproduce an Example of ``task``."""
    kw: dict = {}
    if task in ("vqa", "refexp", "ground", "localize", "classify"):
        kw["text"] = ex.text
    if task == "classify":
        kw["options"] = list(ex.options)
    if task == "detect":
        kw["categories"] = list(ex.options)
    if task == "region_caption":
        kw["region"] = ex.region
    return kw


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True, help="a split dir (e.g. data/synth-tiny/val)")
    ap.add_argument("--tasks", nargs="*", default=list(TASKS))
    ap.add_argument("--n", type=int, default=64, help="images per task for the throughput run")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latency-n", type=int, default=8, help="batch-1 calls per task (median reported)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    from vlseq import Pipeline
    from vlseq.data.images import load_image
    from vlseq.data.readers.split import load_split

    pipe = Pipeline.from_pretrained(args.checkpoint)
    data = load_split(args.data, tasks=args.tasks)
    rows = []
    for task in args.tasks:
        exs = [e for e in data.get(task, []) if len(e.images) == 1][: args.n]
        if not exs:
            continue
        images = [load_image(e.images[0]) for e in exs]
        # Batched throughput: one call per batch; examples in a batch share the inputs of the first
        # (a Pipeline call takes one prompt), which keeps prompts realistic.
        pipe.run(images[:2], task, **inputs_for(task, exs[0]), batch_size=2)  # warm-up
        t0 = time.perf_counter()
        for i in range(0, len(images), args.batch):
            pipe.run(images[i : i + args.batch], task, **inputs_for(task, exs[i]), batch_size=args.batch)
        thr = len(images) / (time.perf_counter() - t0)
        lat = []
        for e, img in list(zip(exs, images))[: args.latency_n]:
            t = time.perf_counter()
            pipe.run([img], task, **inputs_for(task, e), batch_size=1)
            lat.append(time.perf_counter() - t)
        rows.append([task, len(images), f"{thr:.1f}", f"{statistics.median(lat) * 1000:.0f}"])
    print(f"checkpoint {args.checkpoint}, {args.threads} threads, greedy + grammar, batch {args.batch}\n")
    print(markdown_table(["task", "images", f"images/s (batch {args.batch})", "latency batch 1 (ms, median)"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
