"""``vlseq train-image-tokenizer``: train the VQ-VAE image tokenizer and report held-out PSNR.

Images come from a directory of PNG/JPEG files (a split dir's ``images/`` is used when present, e.g.
``data/synth-tiny/train``) or, with ``--data synth``, from synthetic-world scenes rendered in
memory. A held-out set (``--heldout`` images never trained on) gives the reconstruction PSNR.
Writes ``image_tokenizer.json`` + ``model.safetensors`` and ``train_log.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .models.image_tokenizer import ImageTokenizer, ImageTokenizerConfig, psnr_batch, to_pixels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def list_images(data: str | Path) -> list[Path]:
    """Image files of a directory (its ``images/`` subdirectory when it has one), sorted."""
    d = Path(data)
    if (d / "images").is_dir():
        d = d / "images"
    if not d.is_dir():
        raise FileNotFoundError(f"{d}: not a directory of images (or 'synth')")
    files = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"{d}: no {'/'.join(IMAGE_SUFFIXES)} images")
    return files


def load_images(files: Sequence[Path], size: int) -> np.ndarray:
    """(N, size, size, 3) uint8 of image files (RGB, resized bilinear when needed)."""
    from PIL import Image

    from .data.readers.images import open_image

    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, f in enumerate(files):
        img = open_image(f)
        if img.size != (size, size):
            img = img.resize((size, size), Image.BILINEAR)
        out[i] = np.asarray(img, dtype=np.uint8)
    return out


def synth_images(n: int, size: int, seed: int) -> np.ndarray:
    """(n, size, size, 3) uint8 renders of synthetic-world scenes with seeds ``seed .. seed + n - 1``."""
    from .data.world import WorldConfig, generate_scene, render

    cfg = WorldConfig(size=size)
    return np.stack([render(generate_scene(seed + i, cfg)) for i in range(n)])


def heldout_psnr(model: ImageTokenizer, images: np.ndarray, batch: int = 64) -> tuple[float, float]:
    """(mean PSNR in dB of encode -> decode on ``images`` (N, S, S, 3) uint8, fraction of the codebook used)."""
    was = model.training
    model.eval()
    scores, used = [], set()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            px = to_pixels(images[i : i + batch])
            codes = model.encode(px)
            used.update(codes.unique().tolist())
            # Score the uint8 round trip, as an image would be stored.
            rec = torch.round(model.decode(codes) * 255.0) / 255.0
            scores.append(psnr_batch(rec, px))
    model.train(was)
    return float(torch.cat(scores).mean()), len(used) / model.config.codebook_size


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vlseq train-image-tokenizer", description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="a directory of images / a split dir with images/, or 'synth'")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--size", type=int, default=64, help="image side S (images are resized)")
    ap.add_argument("--downsample", type=int, default=8, help="total stride; grid = size / downsample")
    ap.add_argument("--codebook", type=int, default=512, help="codebook size K (number of <img_k> tokens)")
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--dim", type=int, default=64, help="code vector size")
    ap.add_argument("--steps", type=int, default=2000, help="max optimiser steps")
    ap.add_argument("--minutes", type=float, default=None, help="stop after this many minutes of training")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--max-images", type=int, default=5000, help="training images to read (or render)")
    ap.add_argument("--heldout", type=int, default=256, help="held-out images for the PSNR")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--log-every", type=int, default=50)
    return ap


def run(argv: Sequence[str] | None = None) -> dict:
    """Train as ``main`` does and return the result (steps, held-out PSNR, codebook usage, config, log)."""
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    if args.data == "synth":
        train = synth_images(args.max_images, args.size, seed=args.seed * 1_000_003)
        held = synth_images(args.heldout, args.size, seed=args.seed * 1_000_003 + 10_000_000)
    else:
        files = list_images(args.data)
        if len(files) < args.heldout + 1:
            raise ValueError(f"{args.data}: {len(files)} images, need more than --heldout {args.heldout}")
        rng.shuffle(files)
        held = load_images(files[: args.heldout], args.size)
        train = load_images(files[args.heldout : args.heldout + args.max_images], args.size)
    cfg = ImageTokenizerConfig(image_size=args.size, downsample=args.downsample, channels=args.channels, dim=args.dim,
                               codebook_size=args.codebook)
    model = ImageTokenizer(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50))  # short warm-up
    print(f"train-image-tokenizer: {len(train)} train / {len(held)} held-out images, {args.size}px -> "
          f"{cfg.grid}x{cfg.grid} codes of K={cfg.codebook_size}", flush=True)
    t0, step, log = time.time(), 0, []
    while step < args.steps and (args.minutes is None or time.time() - t0 < args.minutes * 60):
        idx = np.array([rng.randrange(len(train)) for _ in range(args.batch)])
        out = model.loss(to_pixels(train[idx]))
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        sched.step()
        step += 1
        if step % args.log_every == 0 or step == 1:
            rec = {"step": step, "seconds": round(time.time() - t0, 1), "mse": float(out["mse"]),
                   "commit": float(out["commit"])}
            log.append(rec)
            print(json.dumps(rec), flush=True)
    train_s = time.time() - t0
    psnr, usage = heldout_psnr(model, held)
    model.save_pretrained(args.out)
    result = {"steps": step, "train_seconds": round(train_s, 1), "heldout_images": len(held),
              "heldout_psnr_db": round(psnr, 2), "codebook_usage": round(usage, 3), "config": cfg.to_dict(),
              "data": args.data, "log": log}
    (Path(args.out) / "train_log.json").write_text(json.dumps(result, indent=2))
    print(f"held-out PSNR {psnr:.2f} dB over {len(held)} images; codebook usage {usage:.1%}; "
          f"{step} steps in {train_s:.0f} s; saved to {args.out}", flush=True)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    run(argv)
    return 0


if __name__ == "__main__":
    main()
