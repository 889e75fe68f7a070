"""Build and parse of the sequence format (``vlseq.codec.markup``, ``vlseq.codec.parser``).

Property: ``parse(build(x)) == x`` for every valid :class:`GroundedText` whose coordinates are bin
centres. Literal strings: in the style of a model-card parser test, compact and with the spaces a
WordPiece-style decoder puts between tokens. Malformed sequences: each kind of broken fragment is
dropped with exactly one error message and its words stay in the plain text.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vlseq.codec.coords import Box, box_frame, dequantize_box, dequantize_in_frame
from vlseq.codec.markup import (
    GroundedText,
    Phrase,
    box_tokens,
    build,
    object_frame,
    object_list,
    polygon_tokens,
    validate,
)
from vlseq.codec.parser import BoxSource, parse

WORDS = ["a", "white", "plate", "on", "the", "table", "cat", "dog2", "42", "t", "café", "日本", "Über", "x_y"]
PUNCT = [",", ".", "!", "?", "-", "(", ")", "'", ":", "...", "&", "<", ">", "/", "<>"]
W, H, B = 1000, 1000, 1000  # literal tests: pixel == bin index + 0.5
IMAGE_SIZES = [(1, 1), (64, 64), (640, 480), (480, 640), (333.5, 17.25), (1920, 1080)]


def _is_punct(piece: str) -> bool:
    return not any(ch.isalnum() for ch in piece)


@st.composite
def texts(draw: st.DrawFn) -> tuple[str, list[tuple[int, int]]]:
    """A whitespace-normalised text of words and punctuation, and the ``(start, end)`` of each piece.

    Two pieces touch without a space only when one of them is punctuation, so every piece
    boundary is a word boundary.
    """
    pieces = draw(st.lists(st.sampled_from(WORDS) | st.sampled_from(PUNCT), max_size=14))
    text, spans = "", []
    for i, piece in enumerate(pieces):
        if i and not (_is_punct(piece) or _is_punct(pieces[i - 1])) or (i and draw(st.booleans())):
            text += " "
        spans.append((len(text), len(text) + len(piece)))
        text += piece
    return text, spans


@st.composite
def bin_boxes(draw: st.DrawFn, w: float, h: float, bins: int) -> tuple[float, float, float, float]:
    """A pixel box at bin centres with ``x2 > x1`` and ``y2 > y1`` in bins."""
    x1 = draw(st.integers(0, bins - 2))
    x2 = draw(st.integers(x1 + 1, bins - 1))
    y1 = draw(st.integers(0, bins - 2))
    y2 = draw(st.integers(y1 + 1, bins - 1))
    return dequantize_box((x1, y1, x2, y2), w, h, bins)


@st.composite
def bin_polygons(draw: st.DrawFn, frame: Box, bins: int) -> tuple[tuple[float, float], ...]:
    """A polygon at bin centres of ``frame`` (an object's polygons are written in its box's frame)."""
    n = draw(st.integers(3, 8))
    ks = draw(st.lists(st.tuples(st.integers(0, bins - 1), st.integers(0, bins - 1)), min_size=n, max_size=n))
    return tuple(dequantize_in_frame(k, frame, bins) for k in ks)


#: Keypoint names: one to two words or punctuation pieces, single-spaced (any text without markup).
keypoint_names = st.lists(st.sampled_from(WORDS) | st.sampled_from(PUNCT), min_size=1, max_size=2).map(" ".join)


@st.composite
def bin_points(draw: st.DrawFn, frame: Box, bins: int) -> tuple[float, float]:
    """A point at bin centres of ``frame``."""
    return dequantize_in_frame((draw(st.integers(0, bins - 1)), draw(st.integers(0, bins - 1))), frame, bins)


@st.composite
def grounded(draw: st.DrawFn, polygons: bool = True) -> tuple[GroundedText, float, float, int]:
    """A valid grounded text with boxes (and polygons, keypoints) at bin centres, its image size and bin count."""
    w, h = draw(st.sampled_from(IMAGE_SIZES))
    bins = draw(st.sampled_from([2, 3, 10, 64, 100, 1000]) | st.integers(2, 1000))
    text, spans = draw(texts())
    # Phrases cover runs of whole pieces: pick sorted cut points and pair them up.
    cuts = sorted(draw(st.sets(st.integers(0, len(spans)), max_size=2 * len(spans) + 2)))
    phrases = []
    for i in range(0, len(cuts) - 1, 2):
        a, b = cuts[i], cuts[i + 1]  # pieces a .. b-1
        boxes = tuple(draw(st.lists(bin_boxes(w, h, bins), min_size=1, max_size=3)))
        frame = object_frame(boxes[0], w, h, bins)
        polys = tuple(draw(st.lists(bin_polygons(frame, bins), max_size=2 if polygons else 0)))
        kps = tuple(draw(st.lists(st.tuples(keypoint_names, bin_points(frame, bins)), max_size=3 if polygons else 0)))
        phrases.append(Phrase(spans[a][0], spans[b - 1][1], boxes, polys, kps))
    g = GroundedText(text, phrases)
    validate(g)  # the strategy must only produce valid structures
    return g, w, h, bins


# --------------------------------------------------------------------------- round trip


@settings(max_examples=300, deadline=None)
@given(grounded())
def test_parse_build_round_trip(args: tuple[GroundedText, float, float, int]) -> None:
    g, w, h, bins = args
    seq = build(g, w, h, bins)
    p = parse(seq, w, h, bins)
    assert p.errors == []
    assert p.image_codes == []
    assert p.grounded() == g
    for ph in g.phrases:
        assert p.phrase_text(ph) == g.phrase_text(ph)


@settings(max_examples=100, deadline=None)
@given(grounded())
def test_round_trip_survives_wordpiece_spacing(args: tuple[GroundedText, float, float, int]) -> None:
    """Spaces around markup and coordinate tokens (as a WordPiece decoder emits them) change nothing.

    Only for texts where every phrase already stands apart from its neighbours by a space or the
    text edge, since a decoder's extra space there would otherwise be a real change of the text.
    """
    g, w, h, bins = args
    t = g.text
    if any((p.start > 0 and t[p.start - 1] != " ") or (p.end < len(t) and t[p.end] != " ") for p in g.phrases):
        return
    seq = build(g, w, h, bins)
    spaced = " ".join(re.sub(r"(<(?:/?obj|/?poly|loc_\d+)>)", r" \1 ", seq).split())
    p = parse(spaced, w, h, bins)
    assert p.errors == []
    assert p.grounded() == g


def test_spaced_polygon_literal() -> None:
    seq = "<obj> cat <loc_1> <loc_1> <loc_5> <loc_5> <poly> <loc_1> <loc_1> <loc_5> <loc_1> <loc_3> <loc_5> </poly> </obj>"
    p = parse(seq, W, H, B)
    assert p.errors == []
    frame = box_frame((1, 1, 5, 5), W, H, B)
    assert p.polygons == [("cat", tuple(dequantize_in_frame(k, frame, B) for k in ((1, 1), (5, 1), (3, 5))))]


@settings(max_examples=100, deadline=None)
@given(
    labels=st.lists(st.lists(st.sampled_from(WORDS + PUNCT), min_size=1, max_size=3).map(" ".join), max_size=6),
    data=st.data(),
)
def test_object_list_round_trip(labels: list[str], data: st.DataObject) -> None:
    w, h = data.draw(st.sampled_from(IMAGE_SIZES))
    bins = data.draw(st.integers(2, 1000))
    objs = []
    for label in labels:
        box = data.draw(bin_boxes(w, h, bins))
        poly = data.draw(st.none() | bin_polygons(object_frame(box, w, h, bins), bins))
        objs.append((label, box, poly) if poly else (label, box))
    g = object_list(objs)
    validate(g)
    assert g.text == " ".join(labels)
    p = parse(build(g, w, h, bins), w, h, bins)
    assert p.errors == []
    assert p.grounded() == g
    assert p.objects == [(o[0], o[1]) for o in objs]
    assert p.polygons == [(o[0], o[2]) for o in objs if len(o) > 2]


@settings(max_examples=150, deadline=None)
@given(grounded())
def test_box_first_round_trip(args: tuple[GroundedText, float, float, int]) -> None:
    """``<obj> boxes words </obj>`` (``box_first``) reads back as the words-first form does."""
    g, w, h, bins = args
    g = GroundedText(g.text, [dataclasses.replace(p, polygons=(), keypoints=()) for p in g.phrases])
    seq = build(g, w, h, bins, box_first=True)
    p = parse(seq, w, h, bins)
    assert p.errors == [] and p.grounded() == g
    assert p == parse(build(g, w, h, bins), w, h, bins)


def test_box_first_literals() -> None:
    seq = "<obj> <loc_1> <loc_2> <loc_5> <loc_6> red circle </obj> <obj><loc_0><loc_0><loc_3><loc_3>cat</obj>"
    p = parse(seq, W, H, B)
    assert p.errors == [] and p.text == "red circle cat"
    assert p.objects == [("red circle", dequantize_box([1, 2, 5, 6], W, H, B)), ("cat", dequantize_box([0, 0, 3, 3], W, H, B))]
    # words before the box make the words after it a keypoint name: one without its point is dropped
    p = parse("<obj>cat<loc_1><loc_2><loc_5><loc_6>top</obj>", W, H, B)
    assert p.objects == [("cat", dequantize_box([1, 2, 5, 6], W, H, B))] and len(p.errors) == 1
    with pytest.raises(ValueError, match="box_first"):
        build(object_list([("cat", (0.0, 0.0, 5.0, 5.0), [(0.0, 0.0), (5.0, 0.0), (2.0, 5.0)])]), W, H, B, box_first=True)


def test_object_list_normalises_label_whitespace() -> None:
    g = object_list([("  traffic\n light ", (0.0, 0.0, 5.0, 5.0)), ("cat", (1.0, 1.0, 2.0, 2.0))])
    assert g.text == "traffic light cat"
    assert [g.phrase_text(p) for p in g.phrases] == ["traffic light", "cat"]


@settings(max_examples=100, deadline=None)
@given(grounded())
def test_box_sources_point_at_each_boxs_tokens(args: tuple[GroundedText, float, float, int]) -> None:
    """Each kept box names its 4 coordinate tokens and its phrase's ``<obj>`` by ordinal in the sequence."""
    g, w, h, bins = args
    seq = build(g, w, h, bins)
    p = parse(seq, w, h, bins)
    coords = [int(k) for k in re.findall(r"<loc_(\d+)>", seq)]
    assert len(p.box_sources) == len(p.objects)
    for (_, box), src in zip(p.objects, p.box_sources):
        assert dequantize_box([coords[i] for i in src.locs], w, h, bins) == box
    assert [src.obj for src in p.box_sources] == [i for i, ph in enumerate(g.phrases) for _ in ph.boxes]


def test_box_sources_count_every_coordinate_and_obj_token() -> None:
    """Ordinals count coordinates outside ``<obj>``, in polygons, keypoints and dropped boxes, and every
    ``<obj>``, so they map onto token positions; only kept boxes have a source."""
    seq = (
        "<loc_7> a <obj>cat<loc_5><loc_1><loc_3><loc_9> <loc_1><loc_1><loc_5><loc_5>"  # locs 0, 1-4 dropped, 5-8
        "<poly><loc_1><loc_1><loc_5><loc_1><loc_3><loc_5></poly> top <loc_3><loc_1>"  # locs 9-14, 15-16
        "<loc_2><loc_2><loc_6><loc_6></obj> and <obj>dog</obj> "  # locs 17-20; <obj> 1 dropped (no box)
        "<obj>bird<loc_1><loc_1><loc_2><loc_2></obj> <obj>fish<loc_1><loc_1><loc_2><loc_2>"  # 21-24; 25-28 unclosed
    )
    p = parse(seq, W, H, B)
    assert [label for label, _ in p.objects] == ["cat", "cat", "bird"]
    assert p.box_sources == [BoxSource(0, (5, 6, 7, 8)), BoxSource(0, (17, 18, 19, 20)), BoxSource(2, (21, 22, 23, 24))]
    # where a structure was read from takes no part in equality
    assert dataclasses.replace(p, box_sources=[]) == p


# --------------------------------------------------------------------------- literal strings


@pytest.mark.parametrize(
    "seq",
    [
        "<obj>a white plate<loc_78><loc_84><loc_186><loc_199></obj>",
        "<obj> a white plate <loc_78> <loc_84> <loc_186> <loc_199> </obj>",
        "<s><obj>a white plate<loc_78><loc_84><loc_186><loc_199></obj></s>",
        "<s> <obj> a  white\tplate <loc_78><loc_84> <loc_186><loc_199></obj> </s> <pad> <pad>",
    ],
)
def test_single_phrase_literal(seq: str) -> None:
    p = parse(seq, W, H, B)
    assert p.errors == []
    assert p.text == "a white plate"
    assert [(ph.start, ph.end, ph.polygons) for ph in p.phrases] == [(0, 13, ())]
    assert [(label, pytest.approx(box)) for label, box in p.objects] == [("a white plate", (78.5, 84.5, 186.5, 199.5))]


def test_grounded_caption_literal() -> None:
    compact = (
        "a <obj>cat<loc_10><loc_20><loc_300><loc_400></obj> and two "
        "<obj>dogs<loc_500><loc_500><loc_600><loc_700><loc_700><loc_500><loc_800><loc_700></obj> on grass."
    )
    spaced = (
        "a <obj> cat <loc_10> <loc_20> <loc_300> <loc_400> </obj> and two "
        "<obj> dogs <loc_500> <loc_500> <loc_600> <loc_700> <loc_700> <loc_500> <loc_800> <loc_700> </obj> on grass."
    )
    for seq in (compact, spaced):
        p = parse(seq, W, H, B)
        assert p.errors == []
        assert p.text == "a cat and two dogs on grass."
        assert [p.phrase_text(ph) for ph in p.phrases] == ["cat", "dogs"]
        assert p.phrases[0].boxes == (pytest.approx((10.5, 20.5, 300.5, 400.5)),)
        assert p.phrases[1].boxes == (
            pytest.approx((500.5, 500.5, 600.5, 700.5)),
            pytest.approx((700.5, 500.5, 800.5, 700.5)),
        )


def test_phrase_glued_to_punctuation_keeps_it_glued() -> None:
    p = parse("(<obj>cat<loc_1><loc_1><loc_2><loc_2></obj>), <obj>dog<loc_1><loc_1><loc_2><loc_2></obj>.", W, H, B)
    assert p.errors == []
    assert p.text == "(cat), dog."
    assert [p.phrase_text(ph) for ph in p.phrases] == ["cat", "dog"]


def test_phrase_glued_to_words_gets_a_space() -> None:
    """A phrase directly after/before a word becomes its own word, so its span is on word boundaries."""
    p = parse("big<obj>cat<loc_1><loc_1><loc_2><loc_2></obj>s<obj>dog<loc_1><loc_1><loc_2><loc_2></obj>", W, H, B)
    assert p.text == "big cat s dog"
    assert [p.phrase_text(ph) for ph in p.phrases] == ["cat", "dog"]
    validate(p)


def test_object_list_literal_with_polygon() -> None:
    # the polygon's bins are in its box's frame: pixels 50-100.5 by 25-75.25 (bins 100-200 by 100-300
    # of a 500 x 250 image), so bin 0 / 999 of the frame is the box's near / far edge
    seq = (
        "<obj>cat<loc_100><loc_100><loc_200><loc_300><poly><loc_0><loc_0><loc_999><loc_0>"
        "<loc_500><loc_999></poly></obj><obj>traffic light<loc_0><loc_0><loc_999><loc_999></obj>"
    )
    p = parse(seq, 500, 250, B)
    assert p.errors == []
    assert p.text == "cat traffic light"
    assert [label for label, _ in p.objects] == ["cat", "traffic light"]
    assert p.objects[0][1] == pytest.approx((50.25, 25.125, 100.25, 75.125))
    assert p.objects[1][1] == pytest.approx((0.25, 0.125, 499.75, 249.875))
    ((label, poly),) = p.polygons
    assert label == "cat"
    fw, fh = 50.5, 50.25
    want = [(50 + 0.5 / B * fw, 25 + 0.5 / B * fh), (50 + 999.5 / B * fw, 25 + 0.5 / B * fh),
            (50 + 500.5 / B * fw, 25 + 999.5 / B * fh)]
    assert [pytest.approx(pt) for pt in poly] == want


def test_region_tokens_literal() -> None:
    """A region enters a prompt as four coordinates (same quantisation as a box)."""
    assert box_tokens((78.6, 84.0, 186.9, 199.2), W, H, B) == "<loc_78><loc_84><loc_186><loc_199>"
    assert polygon_tokens([(0, 0), (999.9, 0), (500, 999)], (0.0, 0.0, W, H), B) == (
        "<poly><loc_0><loc_0><loc_999><loc_0><loc_500><loc_999></poly>"
    )
    # in a box's frame: the box's corners are bins 0 and B - 1, whatever the box's place and size
    assert polygon_tokens([(100, 200), (110, 200), (105, 220)], (100.0, 200.0, 110.0, 220.0), B) == (
        "<poly><loc_0><loc_0><loc_999><loc_0><loc_500><loc_999></poly>"
    )


def test_polygon_and_keypoint_without_a_box_are_dropped() -> None:
    """Their coordinates are in the first box's frame: with no whole box there is none to read them in."""
    p = parse("<obj>cat<loc_1><loc_2><poly><loc_1><loc_1><loc_5><loc_1><loc_3><loc_5></poly></obj>", W, H, B)
    assert p.phrases == [] and any("polygon before any box" in e for e in p.errors)
    p = parse("<obj>cat<loc_1><loc_2>top<loc_3><loc_4></obj>", W, H, B)
    assert p.phrases == [] and any("keypoint 'top' before any box" in e for e in p.errors)


def test_eos_stops_parsing() -> None:
    p = parse("a cat</s> <obj>dog<loc_1><loc_1><loc_2><loc_2></obj> <loc_5>", W, H, B)
    assert p.text == "a cat"
    assert p.phrases == []
    assert p.errors == []


def test_pad_and_bos_ignored() -> None:
    p = parse("<pad><s>a<pad> <obj>cat<pad><loc_1><loc_1><pad><loc_2><loc_2></obj><pad>", W, H, B)
    assert p.errors == []
    assert p.text == "a cat"
    assert p.phrases == [Phrase(2, 5, (dequantize_box((1, 1, 2, 2), W, H, B),))]


def test_sep_is_a_space() -> None:
    p = parse("yes<sep>no", W, H, B)
    assert p.text == "yes no"
    assert p.errors == []


def test_image_codes_collected_in_order() -> None:
    p = parse("<img_3><img_0> a picture <img_7><obj>cat<loc_1><loc_1><loc_2><loc_2></obj><img_3>", W, H, B)
    assert p.image_codes == [3, 0, 7, 3]
    assert p.text == "a picture cat"
    assert p.errors == []


def test_empty_and_plain_text() -> None:
    assert parse("", W, H, B).text == ""
    p = parse("  two   cats\n on a\tmat.  ", W, H, B)
    assert (p.text, p.phrases, p.errors, p.image_codes) == ("two cats on a mat.", [], [], [])


# --------------------------------------------------------------------------- malformed sequences

OK = "<loc_1><loc_1><loc_5><loc_5>"  # a valid box, so the phrase itself survives
BOX_OK = dequantize_box((1, 1, 5, 5), W, H, B)

# (kind, sequence, plain text, phrases kept as (text, boxes)); each has exactly ONE error.
MALFORMED = [
    ("coordinate outside obj", "a <loc_5> cat", "a cat", []),
    ("partial box", f"a <obj>cat{OK}<loc_1><loc_2></obj>", "a cat", [("cat", (BOX_OK,))]),
    ("x2 <= x1", f"<obj>cat{OK}<loc_5><loc_1><loc_5><loc_9></obj>", "cat", [("cat", (BOX_OK,))]),
    ("y2 <= y1", f"<obj>cat<loc_1><loc_7><loc_5><loc_6>{OK}</obj>", "cat", [("cat", (BOX_OK,))]),
    ("phrase without box", "a <obj>cat</obj> sits", "a cat sits", []),
    ("box without words", f"a <obj>{OK}</obj> cat", "a cat", []),
    ("box without words, spaces", f"a <obj> {OK} </obj> cat", "a cat", []),
    ("unclosed obj at end", f"a <obj>cat{OK}", "a cat", []),
    ("nested obj", f"a <obj>big <obj>cat{OK}</obj>", "a big cat", [("cat", (BOX_OK,))]),
    ("odd polygon", f"<obj>cat{OK}<poly>{OK}{OK}<loc_3></poly></obj>", "cat", [("cat", (BOX_OK,))]),
    ("polygon < 3 points", f"<obj>cat{OK}<poly>{OK}</poly></obj>", "cat", [("cat", (BOX_OK,))]),
    ("unclosed polygon", f"<obj>cat{OK}<poly>{OK}<loc_3><loc_3></obj>", "cat", [("cat", (BOX_OK,))]),
    ("out-of-range bin outside obj", "a <loc_1000> cat", "a cat", []),
    ("stray </obj>", "a </obj> cat", "a cat", []),
    ("stray </poly>", "a cat </poly>", "a cat", []),
    ("<unk>", "a <unk> cat", "a cat", []),
    ("<unk> inside obj", f"<obj>cat<unk>{OK}</obj>", "cat", [("cat", (BOX_OK,))]),
    ("image token inside obj", f"<obj>cat<img_4>{OK}</obj>", "cat", [("cat", (BOX_OK,))]),
    ("text after coordinates", f"<obj>cat{OK} dog</obj>", "cat", [("cat", (BOX_OK,))]),
]


@pytest.mark.parametrize("kind, seq, text, phrases", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_fragment_counts_one_error(kind: str, seq: str, text: str, phrases: list) -> None:
    p = parse(seq, W, H, B)
    assert len(p.errors) == 1, p.errors
    assert p.text == text
    assert [(p.phrase_text(ph), ph.boxes) for ph in p.phrases] == phrases
    validate(p)


def test_out_of_range_bin_in_box_is_counted() -> None:
    p = parse(f"<obj>cat{OK}<loc_1><loc_2><loc_3><loc_1000></obj>", W, H, B)
    assert p.text == "cat"
    assert [ph.boxes for ph in p.phrases] == [(BOX_OK,)]
    assert any("1000" in e and "outside" in e for e in p.errors), p.errors


def test_out_of_range_bin_drops_its_box_only() -> None:
    """``<loc_B>`` takes its slot in the box: the box is dropped (one error), the next box is read intact."""
    p = parse(f"<obj>cat<loc_1><loc_1000><loc_3><loc_4>{OK}</obj>", W, H, B)
    assert len(p.errors) == 1, p.errors
    assert [ph.boxes for ph in p.phrases] == [(BOX_OK,)]


@pytest.mark.parametrize(
    "seq, n_errors",
    [
        # A phrase whose only box is broken loses the box AND then the phrase: two fragments.
        ("<obj>cat<loc_1><loc_2></obj>", 2),
        ("<obj>cat<loc_5><loc_1><loc_3><loc_9></obj>", 2),
        # Each coordinate outside <obj> is its own fragment.
        ("a <loc_1><loc_2><loc_3><loc_4> b", 4),
        # An unclosed <obj> with a partial box: the partial box and the phrase.
        ("a <obj>cat<loc_1>", 2),
    ],
)
def test_error_counts_of_compound_breakage(seq: str, n_errors: int) -> None:
    p = parse(seq, W, H, B)
    assert len(p.errors) == n_errors, p.errors
    assert p.phrases == []
    assert "cat" in p.text or p.text == "a b"


def test_malformed_fragments_are_independent() -> None:
    """Several broken fragments in one sequence: one error each, every good phrase kept.

    The unclosed ``<obj>`` goes last: anything after it would be read as part of that phrase.
    """
    cases = sorted(MALFORMED, key=lambda m: m[0] == "unclosed obj at end")
    p = parse(" ".join(m[1] for m in cases), W, H, B)
    assert len(p.errors) == len(cases), p.errors
    assert [p.phrase_text(ph) for ph in p.phrases] == [t for m in cases for t, _ in m[3]]
    assert p.text == " ".join(m[2] for m in cases)


def test_validate_rejects_invalid_structures() -> None:
    box = ((1.0, 1.0, 2.0, 2.0),)
    bad = [
        GroundedText(" a cat"),
        GroundedText("a  cat"),
        GroundedText("a <obj> cat"),
        GroundedText("a cat", [Phrase(2, 5, ())]),
        GroundedText("a cat", [Phrase(1, 5, box)]),
        GroundedText("a cat", [Phrase(3, 5, box)]),
        GroundedText("a cat", [Phrase(2, 4, box)]),
        GroundedText("a cat", [Phrase(2, 9, box)]),
        GroundedText("a cat", [Phrase(2, 5, box), Phrase(0, 1, box)]),
        GroundedText("a cat", [Phrase(0, 3, box), Phrase(2, 5, box)]),
    ]
    for g in bad:
        with pytest.raises(ValueError):
            validate(g)
    validate(GroundedText("a cat", [Phrase(0, 1, box), Phrase(2, 5, box)]))
