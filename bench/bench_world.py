"""Synthetic-world throughput: scenes per second on one core, generation + render + all annotation.

    python bench/bench_world.py [--quick] [--size 128] [--scenes 1000]

Prints scenes/s for each stage cumulatively (generate; + render; + every scene task's examples;
+ PNG encoding) against the goal of 300 scenes/s at 128 px.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from typing import Sequence

import numpy as np
from PIL import Image

from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render

GOAL = 300.0


def measure(n: int, size: int, stage: str) -> float:
    """Scenes per second up to and including ``stage`` (best of 3 runs, so other load counts less)."""
    cfg = WorldConfig(size=size)
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for s in range(n):
            scene = generate_scene(s, cfg)
            if stage == "generate":
                continue
            img = render(scene)
            if stage == "render":
                continue
            examples_for_scene(scene, img, np.random.default_rng(s), cfg)
            if stage == "png":
                Image.fromarray(img).save(io.BytesIO(), format="png", compress_level=1)
        best = max(best, n / (time.perf_counter() - t0))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="100 scenes per stage (a smoke run)")
    p.add_argument("--size", type=int, nargs="*", default=[128, 64])
    p.add_argument("--scenes", type=int, default=500)
    args = p.parse_args(argv)
    n = 100 if args.quick else args.scenes
    print(f"{'size':>5} {'stage':<10} {'scenes/s':>9} {'vs goal':>8}")
    for size in args.size:
        for stage in ("generate", "render", "annotate", "png"):
            rate = measure(n, size, stage)
            print(f"{size:>5} {stage:<10} {rate:>9.0f} {rate / GOAL:>7.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
