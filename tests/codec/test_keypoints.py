"""Named keypoints inside ``<obj>``: build/parse on literal strings, malformed keypoints, and the
keypoint option of the object grammars (sampled outputs parse; distances exact on a tiny layout)."""

from __future__ import annotations

import grammar_driver as gd  # the random-sampling driver and the tiny layout shared by the grammar tests
import pytest

from vlseq.codec import parse
from vlseq.codec.coords import box_frame, dequantize_box, dequantize_in_frame
from vlseq.codec.grammar import LIST, GrammarError, ListState, ObjectListGrammar, SingleBoxGrammar
from vlseq.codec.markup import GroundedText, Phrase, build, keypoint_tokens, validate

W, H, B = 1000, 1000, 1000  # pixel == bin index + 0.5
BOX = "<loc_10><loc_10><loc_20><loc_30>"
BOX_PX = dequantize_box((10, 10, 20, 30), W, H, B)
#: keypoints and polygons are written in the bins of the box's frame: pixels 10-21 by 10-31
FRAME = box_frame((10, 10, 20, 30), W, H, B)


def pt(kx: int, ky: int) -> tuple[float, float]:
    """The pixel point at bins (kx, ky) of the box's frame."""
    return dequantize_in_frame((kx, ky), FRAME, B)


# --------------------------------------------------------------------------- markup


@pytest.mark.parametrize("seq", [
    f"<obj>circle{BOX}top<loc_15><loc_10>left side<loc_10><loc_20></obj>",
    f"<obj> circle {BOX.replace('><', '> <')} top <loc_15> <loc_10> left  side <loc_10> <loc_20> </obj>",
])
def test_keypoints_literal(seq: str) -> None:
    p = parse(seq, W, H, B)
    assert p.errors == []
    assert p.text == "circle"  # names never enter the plain text
    (ph,) = p.phrases
    assert ph.boxes == (BOX_PX,)
    assert ph.keypoints == (("top", pt(15, 10)), ("left side", pt(10, 20)))
    assert FRAME == (10.0, 10.0, 21.0, 31.0) and pt(500, 0) == (10.0 + 500.5 / 1000 * 11, 10.0 + 0.5 / 1000 * 21)
    assert p.keypoints == [("circle", ph.keypoints)]


def test_keypoints_after_polygon_and_build_literal() -> None:
    g = GroundedText("a cat", [Phrase(2, 5, (BOX_PX,), ((pt(10, 10), pt(20, 10), pt(15, 30)),),
                                      (("nose", pt(12, 11)), ("tail", pt(19, 29))))])
    seq = build(g, W, H, B)
    assert seq == ("a <obj>cat<loc_10><loc_10><loc_20><loc_30><poly><loc_10><loc_10><loc_20><loc_10><loc_15><loc_30>"
                   "</poly>nose<loc_12><loc_11>tail<loc_19><loc_29></obj>")
    p = parse(seq, W, H, B)
    assert p.errors == [] and p.grounded() == g
    assert keypoint_tokens([("top", (0.0, 999.9))], (0.0, 0.0, W, H), B) == "top<loc_0><loc_999>"
    assert keypoint_tokens([("top", (15.5, 10.0))], FRAME, B) == "top<loc_500><loc_0>"  # mid-top of the box


@pytest.mark.parametrize("seq, want, error", [
    (f"<obj>cat{BOX}top</obj>", (), "'top' with 0 of 2"),
    (f"<obj>cat{BOX}top<loc_1></obj>", (), "'top' with 1 of 2"),
    (f"<obj>cat{BOX}top<loc_1>left<loc_2><loc_3></obj>", (("left", pt(2, 3)),), "'top' with 1 of 2"),
    (f"<obj>cat{BOX}top<loc_1><loc_1000></obj>", (), "outside"),
    (f"<obj>cat{BOX}top<loc_1><poly><loc_1><loc_1><loc_2><loc_2><loc_3><loc_1></poly></obj>", (), "'top' with 1 of 2"),
    (f"<obj>cat{BOX}<loc_10><loc_10>top<loc_1><loc_2></obj>", (("top", pt(1, 2)),), "partial box"),
])
def test_malformed_keypoint_counts_one_error(seq: str, want: tuple, error: str) -> None:
    p = parse(seq, W, H, B)
    assert len(p.errors) == 1 and error in p.errors[0], p.errors
    assert p.text == "cat"
    if p.phrases:
        assert p.phrases[0].keypoints == want
        validate(p)


def test_validate_rejects_bad_keypoint_names() -> None:
    for name, match in (("", "empty"), (" top", "normalised"), ("a  b", "normalised"), ("<loc_3>", "markup token")):
        g = GroundedText("cat", [Phrase(0, 3, (BOX_PX,), (), ((name, pt(1, 1)),))])
        with pytest.raises(ValueError, match=match):
            validate(g)


# --------------------------------------------------------------------------- grammar

LAYOUT, TEXT = gd.LAYOUT, gd.TEXT
# Names as token ids; "t6" is a prefix of "t6 t8" and both are names.
NAMES = [[TEXT[6]], [TEXT[6], TEXT[8]], [TEXT[9]]]


def _kp_names(p) -> list[list[str]]:
    return [[name for name, _ in kps] for _, kps in p.keypoints]


@pytest.mark.parametrize("all_keypoints", [False, True])
def test_object_list_with_keypoints_outputs_parse(all_keypoints: bool) -> None:
    g = ObjectListGrammar(LAYOUT, gd.LABELS, max_objects=3, keypoints=NAMES, all_keypoints=all_keypoints)
    budgets = gd.budgets_for(g, 600, 11, high=60)
    order = [gd.label_text(n) for n in NAMES]
    n_kps, seen = 0, set()
    for ids, b in zip(gd.sample_outputs(g, budgets, 12), budgets):
        assert ids[-1] == LAYOUT.eos_id and len(ids) <= b
        p = parse(LAYOUT.render(ids), gd.W, gd.H, gd.BINS)
        assert p.errors == [], (LAYOUT.render(ids), p.errors)
        assert len(p.objects) == ids.count(LAYOUT.obj_open)
        for ph in p.phrases:
            names = [n for n, _ in ph.keypoints]
            idx = [order.index(n) for n in names]
            assert idx == sorted(set(idx))  # each name at most once, in list order
            assert names == order if all_keypoints else True
            n_kps += len(names)
            seen |= set(names)
    assert n_kps > 300 and seen == set(order)


def test_single_box_with_polygon_and_keypoints_outputs_parse() -> None:
    g = SingleBoxGrammar(LAYOUT, [gd.LABELS[2]], polygons=True, max_polygon_points=4, keypoints=NAMES)
    budgets = gd.budgets_for(g, 600, 13, high=40)
    n_poly = n_kp = 0
    for ids, b in zip(gd.sample_outputs(g, budgets, 14), budgets):
        p = parse(LAYOUT.render(ids), gd.W, gd.H, gd.BINS)
        assert p.errors == [] and len(p.objects) == 1 and len(ids) <= b
        n_poly += len(p.polygons)
        n_kp += sum(len(k) for _, k in p.keypoints)
    assert n_poly > 50 and n_kp > 50


def test_keypoint_grammar_replay() -> None:
    g = ObjectListGrammar(LAYOUT, [[TEXT[0]]], keypoints=NAMES, all_keypoints=True)
    loc = lambda k: LAYOUT.loc_offset + k  # noqa: E731
    head = [LAYOUT.obj_open, TEXT[0], loc(1), loc(1), loc(5), loc(5)]
    kps = [TEXT[6], loc(2), loc(3), TEXT[6], TEXT[8], loc(4), loc(4), TEXT[9], loc(0), loc(31)]
    assert g.accepts(head + kps + [LAYOUT.obj_close, LAYOUT.eos_id])
    assert not g.accepts(head + [LAYOUT.obj_close, LAYOUT.eos_id])  # all names required
    assert not g.accepts(head + kps[3:] + kps[:3] + [LAYOUT.obj_close, LAYOUT.eos_id])  # out of order
    opt = ObjectListGrammar(LAYOUT, [[TEXT[0]]], keypoints=NAMES)
    assert opt.accepts(head + [LAYOUT.obj_close, LAYOUT.eos_id])
    assert opt.accepts(head + kps[7:] + [LAYOUT.obj_close, LAYOUT.eos_id])  # a later name only
    assert not opt.accepts(head + kps[7:] + kps[:3] + [LAYOUT.obj_close, LAYOUT.eos_id])  # then an earlier one
    with pytest.raises(GrammarError):
        opt.replay(head + [TEXT[6], loc(2), LAYOUT.obj_close])  # one coordinate only
    with pytest.raises(ValueError, match="distinct"):
        ObjectListGrammar(LAYOUT, None, keypoints=[NAMES[0], NAMES[0]])
    assert g.min_to_finish(g.initial_state()) == 1  # zero objects
    one = ObjectListGrammar(LAYOUT, [[TEXT[0]]], min_objects=1, keypoints=NAMES, all_keypoints=True)
    # <obj> label x1 y1 x2 y2, the names (1, 2, 1 tokens) with 2 coordinates each, </obj> </s>
    assert one.min_to_finish(ListState(LIST, 0)) == 1 + 1 + 4 + (3 + 4 + 3) + 1 + 1


@pytest.mark.parametrize("name, grammar", [
    ("kp_objects", lambda: ObjectListGrammar(gd.TINY, [[12]], max_objects=2, min_objects=1, polygons=True,
                                             max_polygon_points=3, keypoints=[[13], [12, 14], [12]])),
    ("kp_single_all", lambda: SingleBoxGrammar(gd.TINY, [[13, 14]], keypoints=[[12, 14], [13]], all_keypoints=True)),
])
def test_keypoint_distances_exact(name: str, grammar) -> None:
    """The exhaustive check of the grammar tests (true distances by relaxation, masks under every budget)."""
    gd.check_distances_masks_and_advance(grammar())
