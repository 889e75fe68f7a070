"""vlseq demo"""

from __future__ import annotations

import argparse
import os
from typing import Sequence

from ..inference.demo import Limits, build_demo, launch
from .options import add_device_args


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlseq demo", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (vlseq train's final/ or best/)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    ap.add_argument("--port", type=int, default=7860)
    ap.add_argument("--max-upload-mb", type=float, default=10.0)
    ap.add_argument("--max-pixels", type=int, default=16_000_000)
    add_device_args(ap)
    args = ap.parse_args(argv)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        print("vlseq demo needs gradio: pip install 'vlseq[demo]'")
        return 1
    from ..inference.pipeline import Pipeline

    limits = Limits(int(args.max_upload_mb * 1024 * 1024), args.max_pixels)
    try:
        pipe = Pipeline.from_pretrained(args.checkpoint, device=args.device, max_pixels=args.max_pixels,
                                        dtype=args.dtype)
    except ValueError as e:  # a device this machine lacks, float16 on the CPU
        print(f"vlseq demo: {e}")
        return 2
    blocks, _ = build_demo(pipe, limits)
    launch(blocks, args.host, args.port, limits, block=True)
    return 0
