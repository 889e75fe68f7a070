"""Read a sequence back: plain text, grounded phrases, polygons, keypoints and image codes (:func:`parse`).

The format is :mod:`vlseq.codec.markup`'s (drawn in docs/architecture.md). :func:`parse` never
raises: a malformed fragment is dropped, its words stay in the plain text, and one message per
dropped fragment goes to ``Parsed.errors``. For every valid
:class:`~vlseq.codec.markup.GroundedText` whose coordinates are bin centres,
``parse(build(x)) == x``, in either object form (label first or box first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from .coords import Box, box_frame, dequantize_box, dequantize_in_frame
from .markup import GroundedText, Keypoint, Phrase, Polygon, _is_word_char
from .tokens import (
    BOS,
    EOS,
    IMG_RE,
    LOC_RE,
    OBJ_CLOSE,
    OBJ_OPEN,
    PAD,
    POLY_CLOSE,
    POLY_OPEN,
    SEP,
    SPECIAL_TOKEN_RE,
    UNK,
)


@dataclass(frozen=True)
class BoxSource:
    """Which tokens of its sequence a box that :func:`parse` kept was read from.

    ``obj``: the ordinal (0-based) of its phrase's opening ``<obj>`` among all ``<obj>`` tokens of
    the sequence. ``locs``: the ordinals of its ``x1 y1 x2 y2`` tokens among all ``<loc_k>`` tokens
    of the sequence. Both count every such token before ``</s>``, wherever it stands (outside
    ``<obj>``, in a polygon or keypoint, in a dropped fragment), so they map one to one onto the
    token ids the sequence was decoded from (:mod:`vlseq.decoding.boxes`).
    """

    obj: int
    locs: tuple[int, int, int, int]


@dataclass
class Parsed(GroundedText):
    """What :func:`parse` reads back: the grounded text, image codes and the errors counted.

    ``box_sources``: one :class:`BoxSource` per box, aligned with :attr:`objects` (every box of
    every phrase in reading order). It describes the sequence, not the structure, so it takes no
    part in equality: two parses of one structure compare equal whatever spacing or dropped
    fragments surrounded it.
    """

    image_codes: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    box_sources: list[BoxSource] = field(default_factory=list, compare=False, repr=False)

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


def tokenize_markup(seq: str) -> Iterator[tuple[str, str | int]]:
    """Split a sequence into ``(kind, value)`` items: text runs, markup tokens, bins, image codes."""
    pos = 0
    for m in SPECIAL_TOKEN_RE.finditer(seq):
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


class _Parser:
    """The reading state of :func:`parse`: one method per kind of item, fed in sequence order.

    State outside ``<obj>``: the plain text so far and whether the last thing read was a phrase
    (so text glued to it gets a space). State inside ``<obj>``: the phrase's words, the pending
    box's coordinates, the boxes / polygons / keypoints read, an open polygon's coordinates and a
    pending keypoint's name and coordinates. Each box also carries where it was read
    (:class:`BoxSource`), which is why coordinate and ``<obj>`` tokens are counted.
    """

    def __init__(self, width: float, height: float, bins: int) -> None:
        self.width, self.height, self.bins = width, height, bins
        self.text = _TextBuilder()
        self.phrases: list[Phrase] = []
        self.sources: list[BoxSource] = []
        self.codes: list[int] = []
        self.errors: list[str] = []
        self.last_was_phrase = False
        self.n_locs = 0  # <loc_k> tokens read so far, wherever they stand
        self.n_objs = 0  # <obj> tokens read so far
        self._reset_phrase()

    def _reset_phrase(self) -> None:
        """Leave ``<obj>``: forget everything of the phrase being read."""
        self.in_obj = False
        self.obj = -1  # ordinal of the <obj> that opened the phrase being read
        self.words = ""  # the phrase's own text, before its first coordinate
        self.coords: list[int] = []  # the pending box's bins ...
        self.coord_locs: list[int] = []  # ... and the ordinals of their <loc_k> tokens
        self.boxes: list[Box] = []
        self.frame: Box | None = None  # the pixel frame of the first box: its polygons' and keypoints'
        self.box_locs: list[tuple[int, int, int, int]] = []  # aligned with self.boxes
        self.polys: list[Polygon] = []
        self.poly: list[int] | None = None  # an open polygon's bins
        self.kps: list[Keypoint] = []
        self.kp_name: str | None = None  # the pending keypoint's name, until its two coordinates are read
        self.kp_coords: list[int] = []

    # ------------------------------------------------------------------ one method per kind of item

    def word(self, text: str) -> None:
        """A run of text: plain text outside ``<obj>``; inside, the phrase's words or a keypoint's name."""
        if not self.in_obj:
            self.text.add(text, separate=self.last_was_phrase)
            self.last_was_phrase = False
            return
        if self.poly is not None:
            if not text.strip():
                return  # a decoder's spaces between coordinate tokens
            self._abandon_polygon()
        if self.kp_name is not None and not self.kp_coords:
            self.kp_name += text  # more of the name (around a dropped token, or a decoder's spaces)
        elif self.coords or self.boxes or self.polys or self.kps or self.kp_name is not None:
            if text.strip():  # a keypoint's name; blanks are a decoder's spaces
                self._drop_keypoint()
                self._drop_partial_box()
                self.kp_name = text
        else:
            self.words += text

    def loc(self, k: int) -> None:
        """A coordinate: of an open polygon, of a pending keypoint, or the next of a box."""
        ordinal = self.n_locs
        self.n_locs += 1
        if not self.in_obj:
            if not 0 <= k < self.bins:
                self.errors.append(f"coordinate <loc_{k}> outside [0, {self.bins - 1}] dropped")
            else:
                self.errors.append("coordinate outside <obj> dropped")
            return
        if self.poly is not None:
            self.poly.append(k)  # range checked when the polygon closes
        elif self.kp_name is not None:
            self._keypoint_coordinate(k)
        else:
            self._box_coordinate(k, ordinal)

    def img(self, k: int) -> None:
        """An image code: collected outside ``<obj>``, dropped inside (an open polygon stays open)."""
        if self.in_obj:
            self.errors.append("image token inside <obj> dropped")
        else:
            self.codes.append(k)

    def obj_open(self) -> None:
        """``<obj>``: starts a phrase; inside one, the open phrase is unclosed and dropped first."""
        ordinal = self.n_objs
        self.n_objs += 1
        if self.in_obj:
            self._abandon_polygon()
            self._close_phrase(ok=False)
        self.in_obj, self.obj = True, ordinal

    def obj_close(self) -> None:
        """``</obj>``: ends the phrase, kept when it has words and at least one box."""
        if not self.in_obj:
            self.errors.append(f"stray {OBJ_CLOSE} dropped")
            return
        self._abandon_polygon()
        self._close_phrase(ok=True)

    def poly_open(self) -> None:
        """``<poly>``: ends a pending keypoint or box (both dropped) and opens a polygon."""
        if not self.in_obj:
            self.errors.append(f"stray {POLY_OPEN} dropped")
            return
        self._abandon_polygon()
        self._drop_keypoint()
        self._drop_partial_box()
        self.poly = []

    def poly_close(self) -> None:
        """``</poly>``: keeps the open polygon when it has an even number (>= 6) of in-range bins."""
        if not self.in_obj or self.poly is None:
            self.errors.append(f"stray {POLY_CLOSE}{' inside <obj>' if self.in_obj else ''} dropped")
            return
        poly, frame = self.poly, self.frame
        if len(poly) % 2 or len(poly) < 6 or max(poly) >= self.bins:
            self.errors.append(f"polygon with {len(poly)} coordinates dropped")
        elif frame is None:
            self.errors.append("polygon before any box dropped (its coordinates are in the box's frame)")
        else:
            self.polys.append(tuple(dequantize_in_frame(poly[i : i + 2], frame, self.bins)
                                    for i in range(0, len(poly), 2)))
        self.poly = None

    def sep(self) -> None:
        """``<sep>``: a space in the plain text; it has no place inside ``<obj>``."""
        if not self.in_obj:
            self.text.add(" ")
            return
        self._abandon_polygon()
        self.errors.append(f"stray {SEP} inside <obj> dropped")

    def end(self) -> Parsed:
        """The end of the sequence (or ``</s>``): an open phrase is unclosed and dropped."""
        if self.in_obj:
            self._close_phrase(ok=False)
        return Parsed(text=self.text.text.strip(), phrases=self.phrases, image_codes=self.codes, errors=self.errors,
                      box_sources=self.sources)

    # ------------------------------------------------------------------ inside <obj>

    def _box_coordinate(self, k: int, ordinal: int) -> None:
        self.coords.append(k)
        self.coord_locs.append(ordinal)
        if len(self.coords) < 4:
            return
        coords, (a, b, c, d) = self.coords, self.coord_locs
        x1, y1, x2, y2 = coords
        if max(coords) >= self.bins:
            self.errors.append(f"box {coords} with a coordinate outside [0, {self.bins - 1}] dropped")
        elif x2 > x1 and y2 > y1:
            self.boxes.append(dequantize_box(coords, self.width, self.height, self.bins))
            if self.frame is None:
                self.frame = box_frame(coords, self.width, self.height, self.bins)
            self.box_locs.append((a, b, c, d))
        else:
            self.errors.append(f"box {coords} with x2 <= x1 or y2 <= y1 dropped")
        self.coords, self.coord_locs = [], []

    def _keypoint_coordinate(self, k: int) -> None:
        self.kp_coords.append(k)
        if len(self.kp_coords) < 2:
            return
        name = " ".join(str(self.kp_name).split())
        if max(self.kp_coords) >= self.bins:
            self.errors.append(f"keypoint {name!r} {self.kp_coords} with a coordinate outside [0, {self.bins - 1}] dropped")
        elif self.frame is None:
            self.errors.append(f"keypoint {name!r} before any box dropped (its coordinates are in the box's frame)")
        else:
            self.kps.append((name, dequantize_in_frame(self.kp_coords, self.frame, self.bins)))
        self.kp_name, self.kp_coords = None, []

    def _abandon_polygon(self) -> None:
        """Anything but a coordinate, blank text or ``</poly>`` inside a polygon leaves it unclosed."""
        if self.poly is not None:
            self.errors.append("unclosed <poly> dropped")
            self.poly = None

    def _drop_keypoint(self) -> None:
        if self.kp_name is not None:
            self.errors.append(f"keypoint {' '.join(self.kp_name.split())!r} with {len(self.kp_coords)} of 2 "
                               "coordinates dropped")
        self.kp_name, self.kp_coords = None, []

    def _drop_partial_box(self) -> None:
        if self.coords:
            self.errors.append(f"partial box of {len(self.coords)} coordinates dropped")
        self.coords, self.coord_locs = [], []

    def _close_phrase(self, ok: bool) -> None:
        """End the phrase being read; ``ok``: it was closed by ``</obj>`` (else it is dropped)."""
        if (ok and self.boxes and not self.words.strip() and self.kp_name is not None and not self.kp_coords
                and not self.kps and not self.polys):
            # Words after the box and nothing before it: the box-first form, the words are the label.
            self.words, self.kp_name = self.kp_name, None
        label = " ".join(self.words.split())
        self._abandon_polygon()
        self._drop_keypoint()
        self._drop_partial_box()
        if not ok:
            self.errors.append("unclosed <obj> dropped")
        if label:
            start, end = self.text.add(label, separate=True)
            if ok and self.boxes:
                self.phrases.append(Phrase(start, end, tuple(self.boxes), tuple(self.polys), tuple(self.kps)))
                self.sources.extend(BoxSource(self.obj, locs) for locs in self.box_locs)
            elif ok:
                self.errors.append(f"phrase {label!r} without a box dropped")
        elif self.boxes and ok:
            self.errors.append("box without words dropped")
        self._reset_phrase()
        self.last_was_phrase = True


def parse(seq: str, width: float, height: float, bins: int) -> Parsed:
    """Read a sequence back into plain text, grounded phrases (pixel boxes), polygons, keypoints and image codes.

    Never raises for any string. Coordinates ``>= bins`` are malformed; a fragment that breaks
    the grammar (coordinate outside ``<obj>``, a partial box, a box with ``x2 <= x1``, a phrase
    without words or without a box, an unclosed ``<obj>``, a polygon with an odd number of
    coordinates or fewer than 3 points, a keypoint name without exactly two coordinates) is
    dropped and counted in ``errors``.

    Inside ``<obj>``, text after a coordinate starts a keypoint: its name (the text up to the next
    coordinate, whitespace-normalised) and the next two coordinates. A keypoint name never enters
    the plain text. One exception: a phrase with no words before its first box whose box(es) are
    followed by words and ``</obj>`` (no coordinate after them) is the box-first form
    ``<obj><loc>x4 words</obj>``, and those words are its text.

    ``Parsed.box_sources`` says which coordinate and ``<obj>`` tokens each kept box was read from.
    """
    p = _Parser(width, height, bins)
    markup = {OBJ_OPEN: p.obj_open, OBJ_CLOSE: p.obj_close, POLY_OPEN: p.poly_open, POLY_CLOSE: p.poly_close, SEP: p.sep}
    for kind, val in tokenize_markup(seq):
        if kind == "text":
            p.word(str(val))
        elif kind == "loc":
            p.loc(int(val))
        elif kind == "img":
            p.img(int(val))
        elif val == EOS:
            break
        elif val in (PAD, BOS):
            continue  # padding and the start token carry nothing, wherever they stand
        elif val == UNK:
            p.errors.append(f"{UNK} dropped")  # wherever it stands: an open polygon stays open
        else:
            markup[str(val)]()
    return p.end()
