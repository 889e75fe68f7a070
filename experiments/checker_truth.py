"""How often the render-and-check checker passes TRUE images (its own ceiling), and fails wrong ones.

    vlseq synth --out /tmp/world --train 3000 --val 300 --test 10 --size 64 --seed 3
    python experiments/checker_truth.py --world /tmp/world --scenes 3000 --epochs 6

Trains a checker on fresh renders of the world (``train_checker``), then judges every image-output
example of its val split: the true target images against their requirements, the generate_image
ones alone, those holding a colour-shape pair the world holds out, blank images, and true images
against the next example's requirements. Prints one line of check rates per set.
"""

from __future__ import annotations

import argparse
import logging
import time

import numpy as np
import torch

from vlseq.data.images import load_rgb
from vlseq.evaluation.checker import judge, requirement_examples, train_checker


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--world", required=True, help="a world written by vlseq synth (train/ and val/)")
    ap.add_argument("--scenes", type=int, default=3000)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--held-out", default="red:star,blue:triangle,green:hexagon,yellow:square",
                    help="colour:shape pairs the world holds out of training (its defaults)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    t = time.time()
    checker = train_checker(f"{args.world}/train", scenes=args.scenes, epochs=args.epochs)
    print(f"trained in {time.time() - t:.1f} s")
    val = requirement_examples(f"{args.world}/val")
    imgs = [load_rgb(e.target_image, (args.size, args.size)) for e in val]
    reqs = [e.meta["requirements"] for e in val]
    print("true images:", len(val), judge(checker, imgs, reqs))
    gen = [i for i, e in enumerate(val) if e.task == "generate_image"]
    print("generate_image targets:", len(gen), judge(checker, [imgs[i] for i in gen], [reqs[i] for i in gen]))
    held = {tuple(p.split(":")) for p in args.held_out.split(",") if p}
    h = [i for i in range(len(val)) if any((r["colour"], r["shape"]) in held for r in reqs[i])]
    print("with a held-out pair:", len(h), judge(checker, [imgs[i] for i in h], [reqs[i] for i in h]))
    blank = [np.full((args.size, args.size, 3), 128, np.uint8)] * len(val)
    print("blank images:", judge(checker, blank, reqs))
    print("against another image's requirements:", judge(checker, imgs, reqs[1:] + reqs[:1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
