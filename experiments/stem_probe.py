"""Can the conv stem see the shapes? A stem + mean-pool + linear probe trained to say which shapes
are in a synthetic-world image (multi-label), per stem variant.

    python experiments/stem_probe.py [--synth data/synth-5k] [--steps 500] [--every 100] [--json PATH]
    python experiments/stem_probe.py --quick      # seconds: a 24-scene world, 4 steps

Every variant trains from the same seed on the same batches (AdamW 2e-3, batch 64, images at the
world's size) and is scored on 200 validation images: the fraction of (image, shape) presence
decisions it gets right, next to the all-absent prior. A stem that cannot pass this direct
supervision will not learn from the much weaker signal of a sequence loss either.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # the shared bench helpers (_common)

from PIL import Image  # noqa: E402

from _common import base_parser, markdown_table, set_threads  # noqa: E402
from vlseq.codec.pixels import normalize_pixels  # noqa: E402
from vlseq.data.images import load_image  # noqa: E402
from vlseq.data.readers.split import load_split  # noqa: E402
from vlseq.models.vision import ConvStem  # noqa: E402
from vlseq.train.data import ensure_synth  # noqa: E402

#: (name, convs per stage, norm); channels are tiny's 32-64-128
VARIANTS = [("1 conv/stage, GroupNorm", 1, "group"), ("1 conv/stage, BatchNorm", 1, "batch"),
            ("2 convs/stage, BatchNorm (default)", 2, "batch")]


def presence(exs: Sequence[Any], shapes: list[str], size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (B, 3, S, S) in [-1, 1] and shape-presence targets (B, len(shapes))."""
    x = torch.from_numpy(np.stack([np.asarray(load_image(e.images[0]).resize((size, size), Image.BILINEAR)) for e in exs]))
    x = normalize_pixels(x.permute(0, 3, 1, 2).float().div_(255.0), inplace=True)
    y = torch.zeros(len(exs), len(shapes))
    for i, e in enumerate(exs):
        for o in e.objects:
            y[i, shapes.index(o.label)] = 1.0
    return x, y


def main(argv: Sequence[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--synth", default="data/synth-5k", help="a synthetic world (generated here when missing)")
    ap.add_argument("--scenes", type=int, default=5000)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    tmp = None
    if args.quick:
        tmp = tempfile.TemporaryDirectory()
        args.synth, args.scenes, args.steps, args.every, args.size = f"{tmp.name}/w", 24, 4, 2, 32
    ensure_synth(Path(args.synth), {"train": args.scenes, "val": 200, "test": 8, "size": args.size, "seed": 0})
    train = load_split(Path(args.synth) / "train", tasks=["detect"])["detect"]
    val = load_split(Path(args.synth) / "val", tasks=["detect"])["detect"][:200]
    shapes = sorted({o.label for e in train for o in e.objects})
    vx, vy = presence(val, shapes, args.size)
    prior = float((vy == 0).float().mean())
    rows: list[dict[str, Any]] = []
    for name, blocks, norm in VARIANTS:
        torch.manual_seed(args.seed)
        stem = ConvStem((32, 64, 128), blocks, norm)
        head = nn.Linear(stem.out_channels, len(shapes))
        opt = torch.optim.AdamW([*stem.parameters(), *head.parameters()], lr=2e-3)
        rng, t0 = random.Random(args.seed), time.perf_counter()
        for step in range(1, args.steps + 1):
            x, y = presence([train[rng.randrange(len(train))] for _ in range(64)], shapes, args.size)
            loss = nn.functional.binary_cross_entropy_with_logits(head(stem(x).mean((2, 3))), y)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if step % args.every == 0 or step == args.steps:
                stem.eval()
                with torch.no_grad():
                    acc = float(((head(stem(vx).mean((2, 3))) > 0).float() == vy).float().mean())
                stem.train()
                rows.append({"variant": name, "step": step, "accuracy": acc, "prior": prior,
                             "seconds": time.perf_counter() - t0})
                print(f"{name:>36s} step {step:5d}  accuracy {acc:.3f}  (prior {prior:.3f})", flush=True)
    print()
    print(f"{len(shapes)} shapes, {len(vx)} validation images, {args.steps} steps of batch 64")
    print(markdown_table(["stem", "step", "presence accuracy", "all-absent prior"],
                         [[r["variant"], r["step"], f"{r['accuracy']:.3f}", f"{r['prior']:.3f}"] for r in rows]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
