"""``vlseq codec-demo``: the sequence format on a small example, built and read back.

Shows a grounded caption, an object list with a polygon, a region prompt, and a malformed
sequence with the errors :func:`~vlseq.codec.parser.parse` counts for it. Plain Python, no model.
"""

from __future__ import annotations

from typing import Sequence

from .coords import Box, dequantize_box
from .markup import GroundedText, Phrase, box_tokens, build, object_list
from .parser import Parsed, parse
from .tokens import LOC_RE


def _fmt_box(box: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.1f}" for v in box) + ")"


def _max_error(a: Sequence[float], b: Sequence[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def _show_parsed(p: Parsed) -> None:
    print(f"  text back : {p.text!r}")
    for ph in p.phrases:
        boxes = ", ".join(_fmt_box(b) for b in ph.boxes)
        polys = f" + {len(ph.polygons)} polygon(s) of {[len(q) for q in ph.polygons]} points" if ph.polygons else ""
        print(f"  phrase    : {p.phrase_text(ph)!r} [{ph.start}:{ph.end}] -> {boxes}{polys}")
    print(f"  errors    : {len(p.errors)}")
    for e in p.errors:
        print(f"    - {e}")


def _section(title: str) -> None:
    print(f"\n== {title}")


def grounded_caption_demo(width: float, height: float, bins: int) -> Parsed:
    """A caption with two grounded phrases, one of them with two boxes; returns what parse reads back."""
    text = "a white plate with two apples on a table."
    plate: Box = (0.12 * width, 0.30 * height, 0.70 * width, 0.85 * height)
    apples: tuple[Box, ...] = (
        (0.25 * width, 0.40 * height, 0.38 * width, 0.55 * height),
        (0.41 * width, 0.42 * height, 0.53 * width, 0.58 * height),
    )
    g = GroundedText(text, [Phrase(2, 13, (plate,)), Phrase(23, 29, apples)])
    seq = build(g, width, height, bins)
    p = parse(seq, width, height, bins)
    _section("grounded caption")
    print(f"  text      : {text!r}")
    print(f"  sequence  : {seq}")
    _show_parsed(p)
    err = max(_max_error(a, b) for ph, qh in zip(g.phrases, p.phrases) for a, b in zip(ph.boxes, qh.boxes))
    print(f"  box error : {err:.2f} px (half a bin: {max(width, height) / (2 * bins):.2f} px)")
    return p


def object_list_demo(width: float, height: float, bins: int) -> Parsed:
    """Detection output: labelled boxes, the first with a triangle polygon."""
    cat_box: Box = (0.10 * width, 0.20 * height, 0.45 * width, 0.90 * height)
    triangle = [(0.10 * width, 0.90 * height), (0.275 * width, 0.20 * height), (0.45 * width, 0.90 * height)]
    objects = [
        ("cat", cat_box, triangle),
        ("traffic light", (0.60 * width, 0.05 * height, 0.70 * width, 0.40 * height)),
    ]
    seq = build(object_list(objects), width, height, bins)
    p = parse(seq, width, height, bins)
    _section("object list with a polygon")
    print(f"  sequence  : {seq}")
    _show_parsed(p)
    for label, poly in p.polygons:
        print(f"  polygon   : {label!r} -> " + ", ".join(f"({x:.1f}, {y:.1f})" for x, y in poly))
    return p


def region_prompt_demo(width: float, height: float, bins: int) -> Box:
    """A region enters the prompt as four coordinate tokens; returns the region read back from it."""
    region: Box = (0.30 * width, 0.25 * height, 0.80 * width, 0.75 * height)
    prompt = f"describe {box_tokens(region, width, height, bins)}"
    back = dequantize_box([int(k) for k in LOC_RE.findall(prompt)], width, height, bins)
    _section("region prompt")
    print(f"  region    : {_fmt_box(region)}")
    print(f"  prompt    : {prompt}")
    print(f"  read back : {_fmt_box(back)}")
    return back


def malformed_demo(width: float, height: float, bins: int) -> Parsed:
    """A broken model output: every bad fragment is dropped and counted, the words are kept."""
    ok = box_tokens((0.1 * width, 0.1 * height, 0.5 * width, 0.5 * height), width, height, bins)
    seq = (
        f"a <obj>dog{ok}</obj> <loc_3> chases "  # coordinate outside <obj>
        f"<obj>the ball<loc_5><loc_7></obj> "  # partial box, so the phrase has no box
        f"near <obj>{ok}</obj> "  # box without words
        f"a <obj>tree<loc_9><loc_2><loc_4><loc_8>"  # x2 <= x1, and never closed
    )
    p = parse(seq, width, height, bins)
    _section("malformed sequence")
    print(f"  sequence  : {seq}")
    _show_parsed(p)
    return p

