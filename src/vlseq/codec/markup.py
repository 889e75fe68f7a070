"""The sequence format: its structures (:class:`GroundedText`, :class:`Phrase`), their validity and
how they are built into a sequence (:func:`build`); :mod:`vlseq.codec.parser` reads them back.

The one format (drawn in docs/architecture.md)::

    a <obj>white plate<loc_78><loc_84><loc_186><loc_199></obj> on a table.

* A grounded phrase is ``<obj>`` + its words + one or more boxes (4 coordinates each, ``x1 y1
  x2 y2``, ``x2 > x1`` and ``y2 > y1`` in bins) + optional polygons ``<poly> x y x y ... </poly>``
  + optional named keypoints ``name <loc_x><loc_y>`` (each name is text, then exactly two
  coordinates) + ``</obj>``. Boxes are in the image's bins; polygons and keypoints in the bins of
  the phrase's first box (:func:`vlseq.codec.coords.box_frame`).
* An object list (detection) is the same with only phrases: ``<obj>cat<loc>x4</obj><obj>dog...``;
  its plain text is the labels joined by spaces. Its box-first form puts each label after its box,
  ``<obj><loc>x4 cat</obj>`` (``build(..., box_first=True)``); both read back the same.
* Image codes ``<img_k>`` may appear outside phrases; they are collected in order.

For every valid :class:`GroundedText` (see :func:`validate`) whose box coordinates are bin centres
and whose polygon and keypoint coordinates are bin centres of the first box's frame,
``parse(build(x)) == x`` (:func:`vlseq.codec.parser.parse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .coords import Box, Point, box_frame, quantize_box, quantize_in_frame
from .tokens import OBJ_CLOSE, OBJ_OPEN, POLY_CLOSE, POLY_OPEN, SPECIAL_TOKEN_RE, loc_token

Polygon = tuple[Point, ...]
#: A named point of an object, e.g. ``("top", (12.5, 3.5))``.
Keypoint = tuple[str, Point]


@dataclass(frozen=True)
class Phrase:
    """A span ``text[start:end]`` grounded by one or more pixel boxes (optional polygons, keypoints).

    ``keypoints``: ``(name, (x, y))`` pairs in sequence order; a name is whitespace-normalised text.
    """

    start: int
    end: int
    boxes: tuple[Box, ...]
    polygons: tuple[Polygon, ...] = ()
    keypoints: tuple[Keypoint, ...] = ()


@dataclass
class GroundedText:
    """Plain text plus grounded phrases: the structure every sequence encodes."""

    text: str
    phrases: list[Phrase] = field(default_factory=list)

    def phrase_text(self, p: Phrase) -> str:
        return self.text[p.start : p.end]


# --------------------------------------------------------------------------- validity


def _is_word_char(ch: str) -> bool:
    return ch.isalnum()


def validate(g: GroundedText) -> None:
    """Raise ``ValueError`` unless ``g`` is a structure that survives ``parse(build(g))``.

    Text: single spaces, no leading/trailing whitespace, no markup-like ``<...>`` tokens.
    Phrases: sorted, non-overlapping, non-empty, stripped, on word boundaries, each with at
    least one box. Keypoint names: non-empty, whitespace-normalised, no markup-like tokens.
    """
    t = g.text
    if t != " ".join(t.split()):
        raise ValueError(f"text is not whitespace-normalised: {t!r}")
    if SPECIAL_TOKEN_RE.search(t):
        raise ValueError(f"text contains a markup token: {t!r}")
    prev_end = 0
    for p in g.phrases:
        if not (prev_end <= p.start < p.end <= len(t)):
            raise ValueError(f"phrase span ({p.start}, {p.end}) overlaps or lies outside the text of length {len(t)}")
        s = t[p.start : p.end]
        if s != s.strip():
            raise ValueError(f"phrase {s!r} has surrounding whitespace")
        if p.start > 0 and _is_word_char(t[p.start - 1]) and _is_word_char(t[p.start]):
            raise ValueError(f"phrase {s!r} starts inside a word")
        if p.end < len(t) and _is_word_char(t[p.end]) and _is_word_char(t[p.end - 1]):
            raise ValueError(f"phrase {s!r} ends inside a word")
        if not p.boxes:
            raise ValueError(f"phrase {s!r} has no box")
        for name, _ in p.keypoints:
            if not isinstance(name, str) or not name or name != " ".join(name.split()):
                raise ValueError(f"phrase {s!r}: keypoint name {name!r} is empty or not whitespace-normalised")
            if SPECIAL_TOKEN_RE.search(name):
                raise ValueError(f"phrase {s!r}: keypoint name {name!r} contains a markup token")
        prev_end = p.end


# --------------------------------------------------------------------------- build


def box_tokens(box: Box, width: float, height: float, bins: int) -> str:
    """``<loc_x1><loc_y1><loc_x2><loc_y2>`` of a pixel box (also how a region enters a prompt)."""
    return "".join(loc_token(k) for k in quantize_box(box, width, height, bins))


def object_frame(box: Box, width: float, height: float, bins: int) -> Box:
    """The pixel frame of an object's polygons and keypoints: what its box's bins cover."""
    return box_frame(quantize_box(box, width, height, bins), width, height, bins)


def polygon_tokens(poly: Sequence[Point], frame: Box, bins: int) -> str:
    """``<poly> x y x y ... </poly>`` of a pixel polygon, in the bins of ``frame`` (:func:`object_frame`)."""
    pts = "".join(loc_token(k) for p in poly for k in quantize_in_frame(p, frame, bins))
    return f"{POLY_OPEN}{pts}{POLY_CLOSE}"


def keypoint_tokens(keypoints: Sequence[Keypoint], frame: Box, bins: int) -> str:
    """``name<loc_x><loc_y>`` per keypoint in the bins of ``frame`` (:func:`object_frame`), e.g.
    ``top<loc_32><loc_0>left<loc_0><loc_30>``."""
    return "".join(name + "".join(loc_token(k) for k in quantize_in_frame(pt, frame, bins))
                   for name, pt in keypoints)


def escape_markup(text: str) -> str:
    """Break any markup token spelled inside data text (``"<obj>"`` -> ``"< obj >"``).

    A caption or answer that happens to contain ``<obj>`` or ``<loc_3>`` must stay text: left as
    is, the tokenizer would map it to the special token and the target would carry a fake phrase.
    """
    return SPECIAL_TOKEN_RE.sub(lambda m: "< " + m.group(0)[1:-1] + " >", text)


def build(g: GroundedText, width: float, height: float, bins: int, box_first: bool = False) -> str:
    """The sequence of a grounded text, boxes, polygons and keypoints quantised to ``bins``.

    Markup tokens spelled inside the text are escaped (:func:`escape_markup`); :func:`validate`
    rejects such texts, so for valid structures the text is emitted verbatim.

    ``box_first``: each phrase's words after its boxes, ``<obj><loc>x4 words</obj>`` (the box-first
    object list); only for phrases without polygons or keypoints, since words after a box otherwise
    name a keypoint. :func:`parse` reads both orders.
    """
    out: list[str] = []
    pos = 0
    for p in sorted(g.phrases, key=lambda q: q.start):
        out.append(escape_markup(g.text[pos : p.start]))
        words = escape_markup(g.text[p.start : p.end])
        boxes = "".join(box_tokens(b, width, height, bins) for b in p.boxes)
        if box_first:
            if p.polygons or p.keypoints:
                raise ValueError(f"phrase {words!r}: box_first takes phrases without polygons or keypoints")
            out.append(OBJ_OPEN + boxes + words + OBJ_CLOSE)
            pos = p.end
            continue
        out.append(OBJ_OPEN + words + boxes)
        frame = object_frame(p.boxes[0], width, height, bins)
        out.extend(polygon_tokens(poly, frame, bins) for poly in p.polygons)
        out.append(keypoint_tokens(p.keypoints, frame, bins))
        out.append(OBJ_CLOSE)
        pos = p.end
    out.append(escape_markup(g.text[pos:]))
    return "".join(out)


def object_list(objects: Sequence[tuple[str, Box] | tuple[str, Box, Sequence[Point]]]) -> GroundedText:
    """The grounded text of an object list: labels joined by spaces, one phrase per object."""
    parts: list[str] = []
    phrases: list[Phrase] = []
    pos = 0
    for obj in objects:
        label, box = " ".join(obj[0].split()), obj[1]
        polys = (tuple(tuple(p) for p in obj[2]),) if len(obj) > 2 and obj[2] else ()
        if parts:
            pos += 1
        phrases.append(Phrase(pos, pos + len(label), (tuple(box),), polys))
        parts.append(label)
        pos += len(label)
    return GroundedText(" ".join(parts), phrases)
