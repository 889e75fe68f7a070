"""What length-grouped batches buy: padding and training-step time, mixed against grouped.

Draws one pool of ``--pool`` batches from a preset's task mixture (real examples of the synthetic
world or your data, encoded by the run's own processor, augmentation included) and trains on the
same examples two ways, taking turns batch by batch:

* ``mixed``: the batches as drawn (``group_pool=0``);
* ``grouped``: sorted by (images, target length, prompt length; lengths in buckets) and cut
  (``group_pool=K``).

It prints, per way, the padded against the real prompt tokens, target tokens and images, the
encoder+decoder token cells, and the time of forward + backward + AdamW over the pool.

    python bench/bench_group_by_length.py --data data/synth-tiny --tokenizer runs/tiny/tokenizer
    python bench/bench_group_by_length.py --quick     # a seconds-long smoke run on a small world
"""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path
from typing import Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import base_parser, median, print_table, set_threads, time_interleaved  # noqa: E402
from vlseq.train.batching import Item, group_batches  # noqa: E402
from vlseq.train.config import load_config  # noqa: E402
from vlseq.train.loop import Trainer  # noqa: E402


def padding(batches: Sequence[Sequence[Item]], tokens_per_image: int) -> dict[str, tuple[int, int]]:
    """(padded, real) counts over ``batches``: prompt tokens, target tokens, images, and all token
    cells (images x encoder tokens per image + prompt + target)."""
    out = {"prompt": [0, 0], "target": [0, 0], "images": [0, 0], "cells": [0, 0]}
    for b in batches:
        n = len(b)
        lp, lt = max(len(e.prompt) for e, _ in b), max(len(e.target) for e, _ in b)
        ni = max(e.images.shape[0] for e, _ in b)
        real = [(len(e.prompt), len(e.target), e.images.shape[0]) for e, _ in b]
        for key, pad, tot in (("prompt", n * lp, sum(r[0] for r in real)), ("target", n * lt, sum(r[1] for r in real)),
                              ("images", n * ni, sum(r[2] for r in real))):
            out[key][0] += pad
            out[key][1] += tot
        out["cells"][0] += n * (ni * tokens_per_image + lp + lt)
        out["cells"][1] += sum(r[2] * tokens_per_image + r[0] + r[1] for r in real)
    return {k: (v[0], v[1]) for k, v in out.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = base_parser(__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--data", default="data/synth-tiny", help="a synthetic-world directory")
    ap.add_argument("--tokenizer", default=None, help="a trained tokenizer dir (default: train one on the corpus)")
    ap.add_argument("--pool", type=int, default=16, help="batches drawn and grouped at once")
    ap.add_argument("--repeats", type=int, default=2, help="timed passes over the pool")
    args = ap.parse_args(argv)
    threads = set_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        over = [f"out_dir={tmp}/run", "group_pool=0", "eval_examples=0", f"threads={threads}", f"seed={args.seed}"]
        if args.quick:
            args.preset, args.pool, args.repeats = "debug", 4, 1
            over += [f"data.synth={tmp}/world", "batch_size=8",
                     'data.synth_generate={"train": 48, "val": 4, "test": 4, "size": 32, "seed": 0}']
        else:
            over.append(f"data.synth={args.data}")
        if args.tokenizer:
            over.append(f"tokenizer={args.tokenizer}")
        trainer = Trainer(load_config(args.preset, over), resume=False, evaluate_at_end=False)
        b = trainer.cfg.batch_size
        items = trainer.draw_encoded(args.pool * b)
        ways = {"mixed": [items[i:i + b] for i in range(0, len(items), b)],
                "grouped": group_batches(items, args.pool, random.Random(args.seed))}
        model, opt, proc = trainer.model, trainer.optimizer, trainer.processor
        model.train()
        collated = {k: [proc.collate([e for e, _ in bt]) for bt in v] for k, v in ways.items()}

        def train_pool(batches: list[dict[str, torch.Tensor]]) -> None:
            for batch in batches:
                opt.zero_grad(set_to_none=True)
                model(**batch)["loss"].backward()
                opt.step()

        times = time_interleaved({k: (lambda v=v: train_pool(v)) for k, v in collated.items()}, args.repeats)
        tpi = trainer.raw_model.tokens_per_image
    rows, result = [], {}
    for name, batches in ways.items():
        pad = padding(batches, tpi)
        sec = median(times[name]) / len(batches)
        result[f"{name}/s_per_batch"] = sec
        result[f"{name}/cells_ratio"] = pad["cells"][0] / pad["cells"][1]
        rows.append([name, *(f"{pad[k][0]:,} / {pad[k][1]:,} ({pad[k][0] / pad[k][1]:.2f}x)"
                             for k in ("prompt", "target", "images", "cells")), f"{sec:.3f}"])
    speedup = result["mixed/s_per_batch"] / result["grouped/s_per_batch"]
    result["speedup"] = speedup
    print_table(f"{args.preset}: one pool of {args.pool} batches of {b} ({len(items)} examples), {tpi} encoder tokens "
                f"per image, {threads} threads, median of {args.repeats} passes; grouped is {speedup:.2f}x faster",
                ["batches", "prompt tokens padded / real", "target tokens", "images", "all token cells", "s per batch"],
                rows)
    return result


if __name__ == "__main__":
    main()
