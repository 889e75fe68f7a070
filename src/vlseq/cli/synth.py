"""``vlseq synth``: write the synthetic world in public formats (the flags of :class:`~vlseq.data.synth.SynthOptions`)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from ..data.synth import DEFAULT_HELDOUT, SynthOptions, parse_scale, world_config, write_world
from ..data.world.scene import ALL_BACKGROUNDS, ALL_SHAPES, BACKGROUNDS, COLOURS, FILLS, SHAPES
from ..data.world.sizes import MAX_SCALE, illegible_note
from .paths import output_dir


def _parse_range(s: str) -> tuple[int, int]:
    lo, _, hi = s.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--objects wants MIN-MAX like 1-5, got {s!r}") from None
    return a, b


def _parse_pairs(s: str) -> tuple[tuple[str, str], ...]:
    if s.lower() in ("", "none"):
        return ()
    pairs = []
    for item in s.split(","):
        colour, sep, shape = item.strip().partition(":")
        if not sep:
            raise argparse.ArgumentTypeError(f"--heldout wants colour:shape pairs like red:star, got {item!r}")
        pairs.append((colour, shape))
    return tuple(pairs)


def _names(flag: str, everything: Sequence[str]):
    def parse(s: str) -> tuple[str, ...]:
        if s.strip().lower() == "all":
            return tuple(everything)
        names = tuple(v.strip() for v in s.split(",") if v.strip())
        bad = [n for n in names if n not in everything]
        if bad or not names:
            raise argparse.ArgumentTypeError(f"{flag} wants a comma-separated subset of {','.join(everything)} "
                                             f"(or 'all'), got {s!r}")
        return names
    return parse


def _scale(s: str) -> tuple[float, float] | None:
    try:
        return parse_scale(s)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vlseq synth", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--train", type=int, default=20000)
    p.add_argument("--val", type=int, default=1000)
    p.add_argument("--test", type=int, default=1000)
    p.add_argument("--test-heldout", type=int, default=None, help="scenes of test_heldout (default: --test)")
    p.add_argument("--size", type=int, default=128, help="image side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--objects", type=_parse_range, default=(1, 5), help="objects per scene, MIN-MAX")
    p.add_argument("--sizes", type=int, choices=(2, 3), default=2, help="2: small/large, 3: with medium")
    p.add_argument("--heldout", type=_parse_pairs, default=DEFAULT_HELDOUT,
                   help="held-out colour:shape pairs, comma separated, or 'none'")
    p.add_argument("--caption-only", type=float, default=0.1, help="fraction of train scenes with captions only")
    p.add_argument("--edit-frac", type=float, default=0.25, help="fraction of scenes with an edit pair")
    p.add_argument("--story-frac", type=float, default=0.25,
                   help="fraction of scenes (not caption-only ones) that start a story of 3-5 images")
    p.add_argument("--detect-labels", choices=("shape", "colour_shape"), default="shape")
    look = p.add_argument_group("the world's look (all off by default: the default world is unchanged)")
    look.add_argument("--shapes", type=_names("--shapes", ALL_SHAPES), default=SHAPES,
                      help=f"shape classes, comma separated, or 'all' (default: {','.join(SHAPES)}; "
                           f"known: {','.join(ALL_SHAPES)})")
    look.add_argument("--colours", "--colors", dest="colours", type=_names("--colours", tuple(COLOURS)),
                      default=tuple(COLOURS), help=f"colours, comma separated (default: all of {','.join(COLOURS)})")
    look.add_argument("--backgrounds", type=_names("--backgrounds", ALL_BACKGROUNDS), default=BACKGROUNDS,
                      help=f"background kinds, comma separated, or 'all' (default: {','.join(BACKGROUNDS)}; "
                           f"known: {','.join(ALL_BACKGROUNDS)})")
    look.add_argument("--scale", type=_scale, default=None, metavar="LO-HI",
                      help=f"object radius drawn (log-uniformly) from LO-HI fractions of the image side, e.g. "
                           f"0.04-0.45 (at most {MAX_SCALE}), instead of the fixed --sizes; the size words then "
                           f"split the range in equal (log) parts")
    look.add_argument("--scale-frac", type=float, default=None, metavar="P",
                      help="with --scale: the share of scenes whose radii are drawn from it; the rest have the "
                           "fixed --sizes, and a drawn radius gets the size word of the nearest fixed size "
                           "(default: every scene drawn from --scale)")
    look.add_argument("--antialias", type=int, default=0, metavar="K",
                      help="draw shapes with K x K supersampled coverage (0 or 1: pixel-sharp)")
    look.add_argument("--rotation", type=float, default=0.0, metavar="DEG",
                      help="turn each shape by uniform(-DEG, DEG) degrees; below 22.5 while square and diamond "
                           "are both among the shapes (a turned square is a diamond)")
    look.add_argument("--fill", choices=FILLS, default="solid",
                      help="solid shapes, outlines only, or mixed (each object 50/50)")
    p.add_argument("--superlatives", type=float, default=None, metavar="P",
                   help="the chance that a question or referring expression names its object by a superlative "
                        "('the leftmost red object') where one can (default: each kind of expression equally likely)")
    p.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8))
    p.add_argument("--chunk", type=int, default=64, help="scenes per worker task (rounded up to even)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--no-contact-sheet", action="store_true",
                   help="do not draw contact_sheet.png (ground truth of a few examples per task, from val)")
    p.add_argument("--overwrite", action="store_true", help="replace a world already written to --out")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = vars(parser.parse_args(argv))
    out = output_dir(args.pop("out"), "manifest.json", "a synthetic world", overwrite=args.pop("overwrite"))
    sheet = not args.pop("no_contact_sheet")
    try:
        opts = SynthOptions(**args)
        note = illegible_note(world_config(opts))
        write_world(out, opts)
    except ValueError as e:  # a held-out pair naming an unknown colour or shape, a bad world option: a bad flag
        parser.error(str(e))
    if note:  # a note, not an error: such a world may be wanted (the quickstart's holds a few such objects)
        print(f"vlseq synth: note: {note}", file=sys.stderr)
    if sheet:
        # Drawn here, not in the data layer: the sheet is a picture of the data written.
        from ..evaluation.data_report import DEFAULT_BINS
        from ..viz.truth_sheet import write_world_sheet

        write_world_sheet(out, DEFAULT_BINS)
    return 0
