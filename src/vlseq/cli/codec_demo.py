"""vlseq codec-demo"""

from __future__ import annotations

import argparse
from typing import Sequence

from ..codec.demo import grounded_caption_demo, malformed_demo, object_list_demo, region_prompt_demo


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlseq codec-demo", description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=640.0, help="image width in pixels")
    ap.add_argument("--height", type=float, default=480.0, help="image height in pixels")
    ap.add_argument("--bins", type=int, default=1000, help="coordinate bins B (tokens <loc_0>..<loc_B-1>)")
    args = ap.parse_args(list(argv) if argv is not None else None)
    if not args.width > 0 or not args.height > 0:
        ap.error(f"--width and --height must be > 0, got {args.width} x {args.height}")
    if args.bins < 10:
        ap.error(f"--bins must be >= 10 for this demo (its malformed sequence uses <loc_9>), got {args.bins}")
    print(f"vlseq sequence format: {args.width:g} x {args.height:g} image, {args.bins} coordinate bins")
    grounded_caption_demo(args.width, args.height, args.bins)
    object_list_demo(args.width, args.height, args.bins)
    region_prompt_demo(args.width, args.height, args.bins)
    malformed_demo(args.width, args.height, args.bins)
    return 0
