"""vlseq codec-demo"""

from __future__ import annotations

import argparse
from typing import Sequence

from ..codec.demo import (
    GroundedCaptionDemo,
    RegionPromptDemo,
    SequenceDemo,
    grounded_caption_demo,
    malformed_demo,
    object_list_demo,
    region_prompt_demo,
)
from ..codec.parser import Parsed


def _fmt_box(box: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in box) + ")"


def _section(title: str) -> None:
    print(f"\n== {title}")


def _show_parsed(p: Parsed) -> None:
    print(f"  text back : {p.text!r}")
    for ph in p.phrases:
        boxes = ", ".join(_fmt_box(b) for b in ph.boxes)
        polys = f" + {len(ph.polygons)} polygon(s) of {[len(q) for q in ph.polygons]} points" if ph.polygons else ""
        print(f"  phrase    : {p.phrase_text(ph)!r} [{ph.start}:{ph.end}] -> {boxes}{polys}")
    print(f"  errors    : {len(p.errors)}")
    for e in p.errors:
        print(f"    - {e}")


def show_grounded_caption(d: GroundedCaptionDemo) -> None:
    _section("grounded caption")
    print(f"  text      : {d.text!r}")
    print(f"  sequence  : {d.sequence}")
    _show_parsed(d.parsed)
    print(f"  box error : {d.box_error:.2f} px (half a bin: {d.half_bin:.2f} px)")


def show_object_list(d: SequenceDemo) -> None:
    _section("object list with a polygon")
    print(f"  sequence  : {d.sequence}")
    _show_parsed(d.parsed)
    for label, poly in d.parsed.polygons:
        print(f"  polygon   : {label!r} -> " + ", ".join(f"({x:.1f}, {y:.1f})" for x, y in poly))


def show_region_prompt(d: RegionPromptDemo) -> None:
    _section("region prompt")
    print(f"  region    : {_fmt_box(d.region)}")
    print(f"  prompt    : {d.prompt}")
    print(f"  read back : {_fmt_box(d.back)}")


def show_malformed(d: SequenceDemo) -> None:
    _section("malformed sequence")
    print(f"  sequence  : {d.sequence}")
    _show_parsed(d.parsed)


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
    show_grounded_caption(grounded_caption_demo(args.width, args.height, args.bins))
    show_object_list(object_list_demo(args.width, args.height, args.bins))
    show_region_prompt(region_prompt_demo(args.width, args.height, args.bins))
    show_malformed(malformed_demo(args.width, args.height, args.bins))
    return 0
