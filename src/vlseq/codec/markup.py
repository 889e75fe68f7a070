"""Build sequences from structured values and read them back.

The one format (DESIGN.md section 1)::

    a <obj>white plate<loc_78><loc_84><loc_186><loc_199></obj> on a table.

* A grounded phrase is ``<obj>`` + its words + one or more boxes (4 coordinates each, ``x1 y1
  x2 y2``, ``x2 > x1`` and ``y2 > y1`` in bins) + optional polygons ``<poly> x y x y ... </poly>``
  + optional named keypoints ``name <loc_x><loc_y>`` (each name is text, then exactly two
  coordinates) + ``</obj>``.
* An object list (detection) is the same with only phrases: ``<obj>cat<loc>x4</obj><obj>dog...``;
  its plain text is the labels joined by spaces.
* Image codes ``<img_k>`` may appear outside phrases; they are collected in order.

:func:`parse` never raises: a malformed fragment is dropped, its words stay in the plain text,
and one message per dropped fragment goes to ``Parsed.errors``. For every valid
:class:`GroundedText` (see :func:`validate`) whose coordinates are bin centres,
``parse(build(x)) == x``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from .coords import Box, Point, dequantize_box, dequantize_point, quantize_box, quantize_point
from .tokens import BOS, EOS, IMG_RE, LOC_RE, OBJ_CLOSE, OBJ_OPEN, PAD, POLY_CLOSE, POLY_OPEN, SEP, UNK, loc_token

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


@dataclass
class Parsed(GroundedText):
    """What :func:`parse` reads back: the grounded text, image codes and the errors counted."""

    image_codes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def objects(self) -> list[tuple[str, Box]]:
        """``(label, box)`` for every box of every phrase, in sequence order (detection view)."""
        return [(self.phrase_text(p), b) for p in self.phrases for b in p.boxes]

    @property
    def polygons(self) -> list[tuple[str, Polygon]]:
        return [(self.phrase_text(p), poly) for p in self.phrases for poly in p.polygons]

    @property
    def keypoints(self) -> list[tuple[str, tuple[Keypoint, ...]]]:
        """``(label, keypoints)`` of every phrase that has keypoints, in sequence order."""
        return [(self.phrase_text(p), p.keypoints) for p in self.phrases if p.keypoints]

    def grounded(self) -> GroundedText:
        return GroundedText(self.text, list(self.phrases))


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
    if _TOKEN_RE.search(t):
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
            if _TOKEN_RE.search(name):
                raise ValueError(f"phrase {s!r}: keypoint name {name!r} contains a markup token")
        prev_end = p.end


# --------------------------------------------------------------------------- build


def box_tokens(box: Box, width: float, height: float, bins: int) -> str:
    """``<loc_x1><loc_y1><loc_x2><loc_y2>`` of a pixel box (also how a region enters a prompt)."""
    return "".join(loc_token(k) for k in quantize_box(box, width, height, bins))


def polygon_tokens(poly: Sequence[Point], width: float, height: float, bins: int) -> str:
    pts = "".join(loc_token(k) for p in poly for k in quantize_point(p, width, height, bins))
    return f"{POLY_OPEN}{pts}{POLY_CLOSE}"


def keypoint_tokens(keypoints: Sequence[Keypoint], width: float, height: float, bins: int) -> str:
    """``name<loc_x><loc_y>`` per keypoint, e.g. ``top<loc_5><loc_1>left<loc_1><loc_4>``."""
    return "".join(name + "".join(loc_token(k) for k in quantize_point(pt, width, height, bins))
                   for name, pt in keypoints)


def escape_markup(text: str) -> str:
    """Break any markup token spelled inside data text (``"<obj>"`` -> ``"< obj >"``).

    A caption or answer that happens to contain ``<obj>`` or ``<loc_3>`` must stay text: left as
    is, the tokenizer would map it to the special token and the target would carry a fake phrase.
    """
    return _TOKEN_RE.sub(lambda m: "< " + m.group(0)[1:-1] + " >", text)


def build(g: GroundedText, width: float, height: float, bins: int) -> str:
    """The sequence of a grounded text, boxes, polygons and keypoints quantised to ``bins``.

    Markup tokens spelled inside the text are escaped (:func:`escape_markup`); :func:`validate`
    rejects such texts, so for valid structures the text is emitted verbatim.
    """
    out: list[str] = []
    pos = 0
    for p in sorted(g.phrases, key=lambda q: q.start):
        out.append(escape_markup(g.text[pos : p.start]))
        out.append(OBJ_OPEN + escape_markup(g.text[p.start : p.end]))
        out.extend(box_tokens(b, width, height, bins) for b in p.boxes)
        out.extend(polygon_tokens(poly, width, height, bins) for poly in p.polygons)
        out.append(keypoint_tokens(p.keypoints, width, height, bins))
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


# --------------------------------------------------------------------------- parse

_TOKEN_RE = re.compile(r"<(?:/?obj|/?poly|sep|s|/s|pad|unk|loc_\d+|img_\d+)>")


def tokenize_markup(seq: str) -> Iterator[tuple[str, str | int]]:
    """Split a sequence into ``(kind, value)`` items: text runs, markup tokens, bins, image codes."""
    pos = 0
    for m in _TOKEN_RE.finditer(seq):
        if m.start() > pos:
            yield "text", seq[pos : m.start()]
        tok = m.group(0)
        lm = LOC_RE.fullmatch(tok)
        im = IMG_RE.fullmatch(tok)
        if lm:
            yield "loc", int(lm.group(1))
        elif im:
            yield "img", int(im.group(1))
        else:
            yield "tok", tok
        pos = m.end()
    if pos < len(seq):
        yield "text", seq[pos:]


class _TextBuilder:
    """Accumulates plain text with whitespace collapsed, joining fragments at word boundaries."""

    def __init__(self) -> None:
        self.text = ""

    def add(self, fragment: str, separate: bool = False) -> tuple[int, int]:
        """Append ``fragment`` (whitespace-normalised); return its span in the text.

        ``separate`` inserts a space when the fragment would otherwise glue onto a word
        (a phrase after text, text starting with a word character after a phrase).
        """
        lead = fragment[:1].isspace()
        frag = " ".join(fragment.split())
        if not frag:
            if lead and self.text and not self.text.endswith(" "):
                self.text += " "
            return len(self.text), len(self.text)
        if self.text and not self.text.endswith(" "):
            if lead or (separate and _is_word_char(frag[0]) and _is_word_char(self.text[-1])):
                self.text += " "
        start = len(self.text)
        self.text += frag
        if fragment[-1:].isspace():
            self.text += " "
        return start, start + len(frag)


def parse(seq: str, width: float, height: float, bins: int) -> Parsed:
    """Read a sequence back into plain text, grounded phrases (pixel boxes), polygons, keypoints and image codes.

    Never raises for any string. Coordinates ``>= bins`` are malformed; a fragment that breaks
    the grammar (coordinate outside ``<obj>``, a partial box, a box with ``x2 <= x1``, a phrase
    without words or without a box, an unclosed ``<obj>``, a polygon with an odd number of
    coordinates or fewer than 3 points, a keypoint name without exactly two coordinates) is
    dropped and counted in ``errors``.

    Inside ``<obj>``, text after a coordinate starts a keypoint: its name (the text up to the next
    coordinate, whitespace-normalised) and the next two coordinates. A keypoint name never enters
    the plain text.
    """
    tb = _TextBuilder()
    phrases: list[Phrase] = []
    codes: list[int] = []
    errors: list[str] = []

    in_obj = False
    words = ""  # the phrase's own text, before its first coordinate
    coords: list[int] = []
    boxes: list[Box] = []
    polys: list[Polygon] = []
    poly: list[int] | None = None
    kps: list[Keypoint] = []
    kp_name: str | None = None  # the pending keypoint's name, until its two coordinates are read
    kp_coords: list[int] = []
    last_was_phrase = False

    def drop_keypoint() -> None:
        nonlocal kp_name, kp_coords
        if kp_name is not None:
            errors.append(f"keypoint {' '.join(kp_name.split())!r} with {len(kp_coords)} of 2 coordinates dropped")
        kp_name, kp_coords = None, []

    def close_obj(ok: bool) -> None:
        nonlocal in_obj, words, coords, boxes, polys, poly, kps, last_was_phrase
        label = " ".join(words.split())
        if poly is not None:
            errors.append("unclosed <poly> dropped")
        drop_keypoint()
        if coords:
            errors.append(f"partial box of {len(coords)} coordinates dropped")
        if not ok:
            errors.append("unclosed <obj> dropped")
        if label:
            start, end = tb.add(label, separate=True)
            if ok and boxes:
                phrases.append(Phrase(start, end, tuple(boxes), tuple(polys), tuple(kps)))
            elif ok:
                errors.append(f"phrase {label!r} without a box dropped")
        elif boxes and ok:
            errors.append("box without words dropped")
        in_obj, words, coords, boxes, polys, poly, kps = False, "", [], [], [], None, []
        last_was_phrase = True

    for kind, val in tokenize_markup(seq):
        if kind == "loc" and not 0 <= int(val) < bins and not in_obj:
            errors.append(f"coordinate <loc_{val}> outside [0, {bins - 1}] dropped")
            continue
        if kind == "img" and in_obj:
            errors.append("image token inside <obj> dropped")
            continue
        if kind == "img":
            codes.append(int(val))
            continue
        if kind == "tok" and val in (PAD, BOS):
            continue
        if kind == "tok" and val == EOS:
            break
        if kind == "tok" and val == UNK:
            errors.append("<unk> dropped")
            continue
        if not in_obj:
            if kind == "text":
                tb.add(str(val), separate=last_was_phrase)
                last_was_phrase = False
            elif val == OBJ_OPEN:
                in_obj = True
            elif val == SEP:
                tb.add(" ")
            elif kind == "loc":
                errors.append("coordinate outside <obj> dropped")
            else:
                errors.append(f"stray {val} dropped")
            continue
        # inside <obj>
        if poly is not None:
            if kind == "loc":
                poly.append(int(val))
                continue
            if kind == "text" and not str(val).strip():
                continue  # a decoder's spaces between coordinate tokens
            if val == POLY_CLOSE:
                if len(poly) % 2 or len(poly) < 6 or max(poly) >= bins:
                    errors.append(f"polygon with {len(poly)} coordinates dropped")
                else:
                    polys.append(tuple(dequantize_point(poly[i : i + 2], width, height, bins) for i in range(0, len(poly), 2)))
                poly = None
                continue
            errors.append("unclosed <poly> dropped")
            poly = None
            # fall through: handle this item in the phrase
        if kind == "text":
            if kp_name is not None and not kp_coords:
                kp_name += str(val)  # more of the name (around a dropped token, or a decoder's spaces)
            elif coords or boxes or polys or kps or kp_name is not None:
                if str(val).strip():  # a keypoint's name; blanks are a decoder's spaces
                    drop_keypoint()
                    if coords:
                        errors.append(f"partial box of {len(coords)} coordinates dropped")
                        coords = []
                    kp_name = str(val)
            else:
                words += str(val)
        elif kind == "loc" and kp_name is not None:
            kp_coords.append(int(val))
            if len(kp_coords) == 2:
                name = " ".join(kp_name.split())
                if max(kp_coords) >= bins:
                    errors.append(f"keypoint {name!r} {kp_coords} with a coordinate outside [0, {bins - 1}] dropped")
                else:
                    kps.append((name, dequantize_point(kp_coords, width, height, bins)))
                kp_name, kp_coords = None, []
        elif kind == "loc":
            coords.append(int(val))
            if len(coords) == 4:
                x1, y1, x2, y2 = coords
                if max(coords) >= bins:
                    errors.append(f"box {coords} with a coordinate outside [0, {bins - 1}] dropped")
                elif x2 > x1 and y2 > y1:
                    boxes.append(dequantize_box(coords, width, height, bins))
                else:
                    errors.append(f"box {coords} with x2 <= x1 or y2 <= y1 dropped")
                coords = []
        elif val == POLY_OPEN:
            drop_keypoint()
            if coords:
                errors.append(f"partial box of {len(coords)} coordinates dropped")
                coords = []
            poly = []
        elif val == OBJ_CLOSE:
            close_obj(ok=True)
        elif val == OBJ_OPEN:
            close_obj(ok=False)
            in_obj = True
        else:
            errors.append(f"stray {val} inside <obj> dropped")
    if in_obj:
        close_obj(ok=False)
    text = tb.text.strip()
    return Parsed(text=text, phrases=phrases, image_codes=codes, errors=errors)
