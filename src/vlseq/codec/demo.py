"""The sequence format on a small example, built and read back: the data behind ``vlseq codec-demo``.

A grounded caption, an object list with a polygon, a region prompt, and a malformed sequence with
the errors :func:`~vlseq.codec.parser.parse` counts for it. Each function builds its sequence and
returns what was built and what the parser read back; showing it is :mod:`vlseq.cli.codec_demo`'s
job (the codec prints nothing). Plain Python, no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .coords import Box, dequantize_box
from .markup import GroundedText, Phrase, box_tokens, build, object_list
from .parser import Parsed, parse
from .tokens import LOC_RE


@dataclass(frozen=True)
class SequenceDemo:
    """A sequence and what :func:`~vlseq.codec.parser.parse` reads back from it."""

    sequence: str
    parsed: Parsed


@dataclass(frozen=True)
class GroundedCaptionDemo(SequenceDemo):
    """A caption built into a sequence; ``box_error`` (pixels) is the largest coordinate change of
    the round trip, bounded by ``half_bin``: half a bin of the longer image side."""

    text: str
    box_error: float
    half_bin: float


@dataclass(frozen=True)
class RegionPromptDemo:
    """A region written into a prompt as four coordinate tokens, and the region read back from them."""

    region: Box
    prompt: str
    back: Box


def _max_error(a: Sequence[float], b: Sequence[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b))


def grounded_caption_demo(width: float, height: float, bins: int) -> GroundedCaptionDemo:
    """A caption with two grounded phrases, one of them with two boxes, built and parsed back."""
    text = "a white plate with two apples on a table."
    plate: Box = (0.12 * width, 0.30 * height, 0.70 * width, 0.85 * height)
    apples: tuple[Box, ...] = (
        (0.25 * width, 0.40 * height, 0.38 * width, 0.55 * height),
        (0.41 * width, 0.42 * height, 0.53 * width, 0.58 * height),
    )
    g = GroundedText(text, [Phrase(2, 13, (plate,)), Phrase(23, 29, apples)])
    seq = build(g, width, height, bins)
    p = parse(seq, width, height, bins)
    err = max(_max_error(a, b) for ph, qh in zip(g.phrases, p.phrases) for a, b in zip(ph.boxes, qh.boxes))
    return GroundedCaptionDemo(seq, p, text, err, max(width, height) / (2 * bins))


def object_list_demo(width: float, height: float, bins: int) -> SequenceDemo:
    """Detection output: labelled boxes, the first with a triangle polygon."""
    cat_box: Box = (0.10 * width, 0.20 * height, 0.45 * width, 0.90 * height)
    triangle = [(0.10 * width, 0.90 * height), (0.275 * width, 0.20 * height), (0.45 * width, 0.90 * height)]
    objects = [
        ("cat", cat_box, triangle),
        ("traffic light", (0.60 * width, 0.05 * height, 0.70 * width, 0.40 * height)),
    ]
    seq = build(object_list(objects), width, height, bins)
    return SequenceDemo(seq, parse(seq, width, height, bins))


def region_prompt_demo(width: float, height: float, bins: int) -> RegionPromptDemo:
    """A region enters the prompt as four coordinate tokens; the region is read back from them."""
    region: Box = (0.30 * width, 0.25 * height, 0.80 * width, 0.75 * height)
    prompt = f"describe {box_tokens(region, width, height, bins)}"
    back = dequantize_box([int(k) for k in LOC_RE.findall(prompt)], width, height, bins)
    return RegionPromptDemo(region, prompt, back)


def malformed_demo(width: float, height: float, bins: int) -> SequenceDemo:
    """A broken model output: every bad fragment is dropped and counted, the words are kept."""
    ok = box_tokens((0.1 * width, 0.1 * height, 0.5 * width, 0.5 * height), width, height, bins)
    seq = (
        f"a <obj>dog{ok}</obj> <loc_3> chases "  # coordinate outside <obj>
        f"<obj>the ball<loc_5><loc_7></obj> "  # partial box, so the phrase has no box
        f"near <obj>{ok}</obj> "  # box without words
        f"a <obj>tree<loc_9><loc_2><loc_4><loc_8>"  # x2 <= x1, and never closed
    )
    return SequenceDemo(seq, parse(seq, width, height, bins))
