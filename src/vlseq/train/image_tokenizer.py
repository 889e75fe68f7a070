"""Training the VQ image tokenizer: images from a split directory or the synthetic world, held-out PSNR."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..models.image_tokenizer import ImageTokenizer, ImageTokenizerConfig, heldout_psnr, to_pixels

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
    from ..data.images import load_rgb

    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for i, f in enumerate(files):
        out[i] = load_rgb(f, (size, size))
    return out


def synth_images(n: int, size: int, seed: int) -> np.ndarray:
    """(n, size, size, 3) uint8 renders of synthetic-world scenes with seeds ``seed .. seed + n - 1``."""
    from ..data.world import WorldConfig, generate_scene, render

    cfg = WorldConfig(size=size)
    return np.stack([render(generate_scene(seed + i, cfg)) for i in range(n)])


@dataclass(frozen=True)
class ImageTokenizerTraining:
    """One image tokenizer run: where the images come from, the VQ-VAE's shape, the optimiser
    (the flags of ``vlseq train-image-tokenizer``, one each)."""

    data: str  #: a directory of images / a split dir with images/, or "synth"
    out: str
    size: int = 64
    downsample: int = 8
    codebook: int = 512
    channels: int = 32
    dim: int = 64
    steps: int = 2000
    minutes: float | None = None
    batch: int = 32
    lr: float = 2e-3
    max_images: int = 5000
    heldout: int = 256
    seed: int = 0
    threads: int | None = None
    log_every: int = 50


def train_image_tokenizer(opts: ImageTokenizerTraining) -> dict:
    """Train, save to ``opts.out`` and return the result (steps, held-out PSNR, codebook usage, config, log)."""
    if opts.threads:
        torch.set_num_threads(opts.threads)
    torch.manual_seed(opts.seed)
    rng = random.Random(opts.seed)
    if opts.data == "synth":
        train = synth_images(opts.max_images, opts.size, seed=opts.seed * 1_000_003)
        held = synth_images(opts.heldout, opts.size, seed=opts.seed * 1_000_003 + 10_000_000)
    else:
        files = list_images(opts.data)
        if len(files) < opts.heldout + 1:
            raise ValueError(f"{opts.data}: {len(files)} images, need more than --heldout {opts.heldout}")
        rng.shuffle(files)
        held = load_images(files[: opts.heldout], opts.size)
        train = load_images(files[opts.heldout : opts.heldout + opts.max_images], opts.size)
    cfg = ImageTokenizerConfig(image_size=opts.size, downsample=opts.downsample, channels=opts.channels, dim=opts.dim,
                               codebook_size=opts.codebook)
    model = ImageTokenizer(cfg)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=opts.lr, weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 50))  # short warm-up
    print(f"train-image-tokenizer: {len(train)} train / {len(held)} held-out images, {opts.size}px -> "
          f"{cfg.grid}x{cfg.grid} codes of K={cfg.codebook_size}", flush=True)
    t0, step, log = time.time(), 0, []
    while step < opts.steps and (opts.minutes is None or time.time() - t0 < opts.minutes * 60):
        idx = np.array([rng.randrange(len(train)) for _ in range(opts.batch)])
        out = model.loss(to_pixels(train[idx]))
        opt.zero_grad(set_to_none=True)
        out["loss"].backward()
        opt.step()
        sched.step()
        step += 1
        if step % opts.log_every == 0 or step == 1:
            rec = {"step": step, "seconds": round(time.time() - t0, 1), "mse": float(out["mse"]),
                   "commit": float(out["commit"])}
            log.append(rec)
            print(json.dumps(rec), flush=True)
    train_s = time.time() - t0
    psnr, usage = heldout_psnr(model, held)
    model.save_pretrained(opts.out)
    result = {"steps": step, "train_seconds": round(train_s, 1), "heldout_images": len(held),
              "heldout_psnr_db": round(psnr, 2), "codebook_usage": round(usage, 3), "config": cfg.to_dict(),
              "data": opts.data, "log": log}
    (Path(opts.out) / "train_log.json").write_text(json.dumps(result, indent=2))
    print(f"held-out PSNR {psnr:.2f} dB over {len(held)} images; codebook usage {usage:.1%}; "
          f"{step} steps in {train_s:.0f} s; saved to {opts.out}", flush=True)
    return result
