"""``vlseq train-image-tokenizer``: train the VQ-VAE image tokenizer and report held-out PSNR.

Images come from a directory of PNG/JPEG files (a split dir's ``images/`` is used when present, e.g.
``data/synth-tiny-mixed/train``) or, with ``--data synth``, from synthetic-world scenes rendered in
memory. A held-out set (``--heldout`` images never trained on) gives the reconstruction PSNR.
Writes ``image_tokenizer.json`` + ``model.safetensors`` and ``train_log.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
from typing import Sequence

from ..train.image_tokenizer import ImageTokenizerTraining, train_image_tokenizer
from .paths import output_dir


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
    ap.add_argument("--overwrite", action="store_true", help="replace an image tokenizer already saved in --out")
    return ap


def run(argv: Sequence[str] | None = None) -> dict:
    """Train as ``main`` does and return the result (steps, held-out PSNR, codebook usage, config, log)."""
    args = vars(build_parser().parse_args(argv))
    output_dir(args["out"], "image_tokenizer.json", "an image tokenizer", overwrite=args.pop("overwrite"))
    return train_image_tokenizer(ImageTokenizerTraining(**args))


def main(argv: Sequence[str] | None = None) -> int:
    run(argv)
    return 0

