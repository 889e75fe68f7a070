"""A fair peer for "what": a plain CNN that names each object of the world, trained on its labels alone.

vlseq finds the synthetic world's objects and names them worse than it places them. Is that the
stem's limit (too little resolution, depth or time to tell seven shapes apart at this size) or the
way from the image grid to the answer? This trains a conv stem built exactly as a vlseq config
builds it (``VisionConfig``: the same module, channels, blocks, skip) plus one linear layer on
the detection labels of the world's training split, for a fixed number of steps or minutes, and
scores it on the validation split's objects. Two read-outs, both linear on the stem's grid:

* ``centre``: the cell that holds the centre of the object's box (what a pointer lands on);
* ``pooled``: the mean of the cells the box covers (what cross-attention over the object can form).

Accuracy is reported overall and by object size in grid cells covered (the buckets of
:mod:`vlseq.metrics.identity`), with the stem's forward FLOPs per image, so a vlseq run's
identity scores can be set beside what the same stem reaches on identity alone in the same
minutes::

    python experiments/identity_peer.py --data data/synth-tiny --minutes 3
    python experiments/identity_peer.py --data data/synth-tiny --steps 600 --channels 32,64,128 --blocks 2 --skip
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from vlseq.codec.pixels import normalize_pixels
from vlseq.data.images import load_image
from vlseq.data.readers import load_split
from vlseq.metrics.identity import size_bucket
from vlseq.models.config import VisionConfig
from vlseq.models.vision import build_vision, grid_size


def load_objects(split_dir: Path, size: int, limit: int | None) -> tuple[torch.Tensor, list[list[tuple]], list[str]]:
    """Images (N, 3, S, S) normalised as the Processor does, and per image its ``(label, box in pixels of S)``."""
    exs = load_split(str(split_dir), tasks=["detect"], check_images=False)["detect"][:limit]
    pix = np.empty((len(exs), size, size, 3), dtype=np.uint8)
    objs: list[list[tuple]] = []
    for i, ex in enumerate(exs):
        img = load_image(ex.images[0]).convert("RGB")
        sx, sy = size / img.width, size / img.height
        if img.size != (size, size):
            img = img.resize((size, size))
        pix[i] = np.asarray(img)
        objs.append([(o.label, (o.box[0] * sx, o.box[1] * sy, o.box[2] * sx, o.box[3] * sy)) for o in ex.objects])
    x = normalize_pixels(torch.from_numpy(pix).permute(0, 3, 1, 2).float().div_(255), inplace=True)
    labels = sorted({lab for o in objs for lab, _ in o})
    return x, objs, labels


def cell_targets(objs: list[list[tuple]], grid: tuple[int, int], size: int, classes: dict[str, int]):
    """Per object: (image index, class, centre cell index, box-cells mask (h*w,), size bucket)."""
    h, w = grid
    ch, cw = size / h, size / w
    out = []
    for i, o in enumerate(objs):
        for lab, (x1, y1, x2, y2) in o:
            r = min(int((y1 + y2) / 2 / ch), h - 1)
            c = min(int((x1 + x2) / 2 / cw), w - 1)
            m = torch.zeros(h, w)
            m[int(y1 // ch): max(int(np.ceil(y2 / ch)), int(y1 // ch) + 1), int(x1 // cw): max(int(np.ceil(x2 / cw)), int(x1 // cw) + 1)] = 1
            out.append((i, classes[lab], r * w + c, m.flatten(), size_bucket((x1, y1, x2, y2), (cw, ch))))
    return out


class Peer(nn.Module):
    """stem -> (B, C, h, w); a linear classifier per cell (centre read-out) and over box means (pooled)."""

    def __init__(self, vision: VisionConfig, size: int, n_classes: int) -> None:
        super().__init__()
        self.stem = build_vision(vision, size)
        self.grid = grid_size(self.stem, size)
        self.head = nn.Linear(self.stem.out_channels, n_classes)

    def forward(self, x: torch.Tensor, img: torch.Tensor, cell: torch.Tensor, box: torch.Tensor):
        """x (B, 3, S, S); per object: img (N,), cell (N,), box (N, h*w) -> (centre logits, pooled logits), (N, K) each."""
        f = self.stem(x).flatten(2).transpose(1, 2)  # (B, h*w, C)
        fo = f[img]  # (N, h*w, C)
        centre = fo[torch.arange(len(img)), cell]
        pooled = (fo * box[..., None]).sum(1) / box.sum(1, keepdim=True).clamp(min=1)
        return self.head(centre), self.head(pooled)


def batch_of(targets: list, idx: list[int]):
    imgs = sorted({targets[k][0] for k in idx})
    pos = {im: j for j, im in enumerate(imgs)}
    t = [targets[k] for k in idx]
    return (imgs, torch.tensor([pos[a[0]] for a in t]), torch.tensor([a[1] for a in t]),
            torch.tensor([a[2] for a in t]), torch.stack([a[3] for a in t]), [a[4] for a in t])


@torch.no_grad()
def evaluate(model: Peer, x: torch.Tensor, targets: list) -> dict[str, Any]:
    model.eval()
    res: dict[str, list[float]] = {}
    for s in range(0, len(targets), 512):
        imgs, img, y, cell, box, cells = batch_of(targets, list(range(s, min(s + 512, len(targets)))))
        lc, lp = model(x[imgs], img, cell, box)
        for k in range(len(y)):
            for name, logit in (("centre", lc), ("pooled", lp)):
                ok = float(logit[k].argmax() == y[k])
                res.setdefault(name, []).append(ok)
                res.setdefault(f"{name}@{cells[k]}", []).append(ok)
    model.train()
    return {k: (sum(v) / len(v), len(v)) for k, v in sorted(res.items())}


def run(data: str, vision: VisionConfig, size: int, steps: int | None, minutes: float | None, batch: int, lr: float,
        eval_every: int, n_train: int | None, seed: int) -> dict[str, Any]:
    torch.manual_seed(seed)
    xt, ot, labels = load_objects(Path(data) / "train", size, n_train)
    xv, ov, _ = load_objects(Path(data) / "val", size, None)
    classes = {lab: k for k, lab in enumerate(labels)}
    model = Peer(vision, size, len(labels))
    tt, tv = cell_targets(ot, model.grid, size, classes), cell_targets(ov, model.grid, size, classes)
    with FlopCounterMode(display=False) as fc:
        model.stem(xt[:1])
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)
    rng = np.random.default_rng(seed)
    curve, step, t0 = [], 0, time.time()
    # A batch is ``batch`` images: all their objects train at once.
    per_image: dict[int, list[int]] = {}
    for k, t in enumerate(tt):
        per_image.setdefault(t[0], []).append(k)
    image_ids = np.array(sorted(per_image))
    while True:
        done = (steps is not None and step >= steps) or (minutes is not None and time.time() - t0 >= minutes * 60)
        if step % eval_every == 0 or done:
            r = evaluate(model, xv, tv)
            curve.append({"step": step, "seconds": round(time.time() - t0, 1), **{k: v[0] for k, v in r.items()}})
            print(f"step {step:5d} {curve[-1]['seconds']:7.1f}s  centre {r['centre'][0]:.3f}  pooled {r['pooled'][0]:.3f}  "
                  + "  ".join(f"{k} {v[0]:.3f} (n={v[1]})" for k, v in r.items() if "@" in k), flush=True)
        if done:
            break
        chosen = rng.choice(image_ids, size=batch, replace=False)
        idx = [k for im in chosen for k in per_image[int(im)]]
        imgs, img, y, cell, box, _ = batch_of(tt, idx)
        lc, lp = model(xt[imgs], img, cell, box)
        loss = nn.functional.cross_entropy(lc, y) + nn.functional.cross_entropy(lp, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    return {"classes": labels, "grid": model.grid, "stem_gflops_per_image": fc.get_total_flops() / 1e9,
            "stem_parameters": sum(p.numel() for p in model.stem.parameters()), "curve": curve}


def _blocks(text: str) -> int | tuple[int, ...]:
    """``--blocks``: ``2`` (every stage) or ``1,2,2`` (one count per stage)."""
    counts = tuple(int(b) for b in text.split(","))
    return counts[0] if len(counts) == 1 else counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a synthetic world or any split folders with detection files")
    ap.add_argument("--size", type=int, default=64, help="the model's input side")
    ap.add_argument("--channels", default="32,64,128")
    ap.add_argument("--blocks", default="2", help="convs per stage: one count, or one per stage (1,2,2)")
    ap.add_argument("--skip", action="store_true", help="the stem's first stage beside its last (vision.stem_skip)")
    ap.add_argument("--skip-kind", default="pool", help="how the skip reaches the grid (vision.skip_kind): pool or patch")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--minutes", type=float, default=None)
    ap.add_argument("--batch", type=int, default=64, help="images per step")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--train-images", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    if args.steps is None and args.minutes is None:
        args.minutes = 3.0
    torch.set_num_threads(2)
    vision = VisionConfig(channels=tuple(int(c) for c in args.channels.split(",")), blocks=_blocks(args.blocks), stem_skip=args.skip,
                          skip_kind=args.skip_kind)
    out = run(args.data, vision, args.size, args.steps, args.minutes, args.batch, args.lr, args.eval_every,
              args.train_images, args.seed)
    print(f"stem: {out['stem_gflops_per_image']:.4f} GFLOPs/image, {out['stem_parameters']} parameters, grid {out['grid']}")
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), **out}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
