"""Can the pixels tell the world's shapes apart at a given size? The best any reader can do.

A shape drawn a few pixels wide is a handful of pixels: a circle and a hexagon of radius 2.6 px
often light exactly the same ones. No model can name such an object better than chance between
the shapes that share its pixels, so a size bucket full of them caps every identity score below
any goal. This measures that cap directly, with the world's own outlines and rasteriser:

* draw each shape many times at one radius (jittered by ``--jitter``, as the world jitters its
  radii) with its centre anywhere within a pixel, alone on a flat background;
* key each drawing by its exact pixels (the lit pattern cropped to its box);
* the best possible accuracy is the share of drawings whose pattern is drawn most often by their
  own shape (the Bayes rate under a uniform prior over the shapes, for exact patterns).

This is an upper bound: a real scene adds clutter, occlusion and held-out colour-shape pairs,
never information. Reported per radius, with the shape pairs that share the most patterns::

    python experiments/legibility.py --radii 2.6,3.0,3.4,3.8,4.2,4.8 --draws 3000

Pixel-sharp drawing only (the world's default): anti-aliased coverage is continuous, so nearly
every drawing is a pattern of its own and exact matching says nothing there.
"""

from __future__ import annotations

import argparse
import collections
import json

import numpy as np

from vlseq.data.world.rendering import lone_pixels
from vlseq.data.world.scene import SHAPES
from vlseq.data.world.sizes import RADIUS_JITTER

#: The canvas a drawing is made on: wide enough for the largest radius measured here.
CANVAS = 48


def bayes_rate(radius: float, shapes: list[str], draws: int, jitter: float,
               rng: np.random.Generator) -> tuple[float, dict[str, float], collections.Counter]:
    """The best accuracy over ``shapes`` at ``radius`` px, each shape's own best, and the shape
    pairs that share patterns (counted in drawings that a best reader gets wrong)."""
    by_pattern: dict[bytes, collections.Counter] = collections.defaultdict(collections.Counter)
    for s in shapes:
        for _ in range(draws):
            r = radius * float(rng.uniform(1 - jitter, 1 + jitter))
            c = CANVAS / 2 + rng.uniform(0.0, 1.0, size=2)
            by_pattern[lone_pixels(s, r, float(c[0]), float(c[1]), CANVAS)][s] += 1
    right: collections.Counter = collections.Counter()
    confused: collections.Counter = collections.Counter()
    for counts in by_pattern.values():
        best = max(counts, key=counts.get)  # type: ignore[arg-type]
        right[best] += counts[best]
        for s, n in counts.items():
            if s != best:
                confused[tuple(sorted((s, best)))] += n
    per_shape = {s: right[s] / draws for s in shapes}
    return sum(right.values()) / (draws * len(shapes)), per_shape, confused


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--radii", default="2.6,3.0,3.4,3.8,4.2,4.8,5.5", help="radii in pixels, comma-separated")
    ap.add_argument("--shapes", default=",".join(SHAPES), help="the shapes a reader chooses between")
    ap.add_argument("--draws", type=int, default=3000, help="drawings per shape and radius")
    ap.add_argument("--jitter", type=float, default=RADIUS_JITTER, help="radius jitter, a fraction (the world's)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", help="also write the table here")
    args = ap.parse_args()
    shapes = args.shapes.split(",")
    rng = np.random.default_rng(args.seed)
    rows = []
    print("| radius, px | box side, px | best accuracy | worst shape | pairs sharing pixels (share of drawings) |")
    print("|---:|---:|---:|---|---|")
    for radius in (float(r) for r in args.radii.split(",")):
        acc, per_shape, confused = bayes_rate(radius, shapes, args.draws, args.jitter, rng)
        worst = min(per_shape, key=per_shape.get)  # type: ignore[arg-type]
        total = args.draws * len(shapes)
        pairs = ", ".join(f"{a}/{b} {n / total:.3f}" for (a, b), n in confused.most_common(3))
        print(f"| {radius:.1f} | {2 * radius:.1f} | {acc:.3f} | {worst} {per_shape[worst]:.3f} | {pairs or '-'} |")
        rows.append({"radius": radius, "best_accuracy": acc, "per_shape": per_shape,
                     "pairs": {f"{a}/{b}": n / total for (a, b), n in confused.items()}})
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
