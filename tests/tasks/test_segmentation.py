"""segment, instance_segment and keypoints tasks: literal targets and prompts, Douglas-Peucker
vertex budgets, parsing, metrics on hand-computed cases, and grammar-constrained random outputs
through a real tokenizer that parse back into polygons and named keypoints."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from vlseq.data.example import Example, Object
from vlseq.data.polygon import simplify_closed, simplify_to_budget
from vlseq.tasks import GrammarSpec, get_task

W = H = B = 1000  # pixel == bin index + 0.5 at bin centres


def sq(x1: float, y1: float, x2: float, y2: float) -> list[tuple[float, float]]:
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def circle(cx: float, cy: float, r: float, n: int = 40) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n)) for k in range(n)]


def ex(task: str, **kw) -> Example:
    return Example(task=task, images=["x.png"], width=W, height=H, source="test.json#1", **kw)


# --------------------------------------------------------------------------- simplification


def test_simplify_to_budget_keeps_order_drops_collinear_and_respects_budget() -> None:
    square_with_midpoints = [(0, 0), (5, 0), (10, 0), (10, 5), (10, 10), (5, 10), (0, 10), (0, 5)]
    assert simplify_to_budget(square_with_midpoints, 12) == [(0, 0), (10, 0), (10, 10), (0, 10)]
    c = circle(100, 100, 50)
    for budget in (3, 6, 12, 40):
        out = simplify_to_budget(c, budget)
        assert len(out) == budget and all(p in [tuple(q) for q in c] for p in out)
        assert [c.index(p) for p in out] == sorted(c.index(p) for p in out)  # original order
    # the budget version agrees with tolerance Douglas-Peucker when the tolerance binds first
    assert simplify_to_budget(c, 40, eps=2.0) == simplify_closed(c, 2.0)
    assert len(simplify_to_budget([(0, 0), (1, 1), (2, 2), (3, 3)], 12)) == 3  # degenerate: still 3 points
    with pytest.raises(ValueError, match=">= 3"):
        simplify_to_budget(c, 2)


# --------------------------------------------------------------------------- segment


def test_segment_prompt_target_grammar_literal() -> None:
    t = get_task("segment")
    e = ex("segment", text="the  red square", objects=[Object("square", (10.5, 10.5, 20.5, 30.5),
                                                                 polygon=sq(10.5, 10.5, 20.5, 30.5))])
    assert t.prompt(e, B) == "segment: the  red square"
    # the polygon in its box's frame: bins 10-20 by 10-30 cover pixels 10-21 by 10-31, so the
    # corner (10.5, 10.5) is frame bin (0.5 / 11 * 1000, 0.5 / 21 * 1000) = (45, 23)
    assert t.target(e, B) == ("<obj>the red square<loc_10><loc_10><loc_20><loc_30>"
                              "<poly><loc_45><loc_23><loc_954><loc_23><loc_954><loc_976><loc_45><loc_976></poly></obj>")
    assert t.grammar(e) == GrammarSpec("box", labels=("the red square",), polygons=True, max_polygon_points=12,
                                       require_polygon=True)
    p = t.parse(t.target(e, B), e, B)
    ((label, poly),) = p.parsed.polygons
    assert p.parsed.errors == [] and label == "the red square"
    assert [pytest.approx(q, abs=0.011) for q in poly] == sq(10.5, 10.5, 20.5, 30.5)  # within half a frame bin
    with pytest.raises(ValueError, match=r"test.json#1: task 'segment' needs a polygon.*object 0"):
        t.target(ex("segment", text="x", objects=[Object("square", (1, 1, 2, 2))]), B)


def test_segment_target_vertex_budget_and_bin_merging() -> None:
    e = ex("segment", text="the ball", objects=[Object("ball", (50, 50, 150, 150), polygon=circle(100, 100, 50))])
    for budget, bins in ((12, 1000), (5, 1000), (12, 8)):
        seq = get_task("segment").__class__(max_points=budget).target(e, bins)
        poly = get_task("segment").parse(seq, e, bins).parsed.polygons[0][1]
        assert 3 <= len(poly) <= budget
        if bins == 8:  # 40 px per bin: neighbouring vertices in one bin are merged
            assert len(poly) < budget and all(a != b for a, b in zip(poly, poly[1:] + poly[:1]))


def test_segment_evaluate_hand_computed() -> None:
    t = get_task("segment")
    gt_square = sq(10.5, 10.5, 17.5, 17.5)  # at bin centres: <loc_k> decodes to k + 0.5 here
    gt = [ex("segment", text=k, objects=[Object(k, (10.5, 10.5, 17.5, 17.5), polygon=gt_square)]) for k in "abc"]
    # polygons in their boxes' frames: bins 10-17 cover pixels 10-18, whose frame bins 62 and 937
    # decode exactly to 10.5 and 17.5 ((62.5 / 1000) * 8 = 0.5)
    seqs = ["<obj>a<loc_10><loc_10><loc_17><loc_17><poly><loc_62><loc_62><loc_937><loc_62><loc_937><loc_937>"
            "<loc_62><loc_937></poly></obj>",  # the same square
            "<obj>b<loc_14><loc_10><loc_21><loc_17><poly><loc_62><loc_62><loc_937><loc_62><loc_937><loc_937>"
            "<loc_62><loc_937></poly></obj>",  # shifted 4 px right
            "<obj>c<loc_10><loc_10><loc_17><loc_17></obj>"]  # a box but no polygon: IoU 0
    preds = [t.parse(s, e, B) for s, e in zip(seqs, gt)]
    assert all(p.parsed.errors == [] for p in preds)
    r = t.evaluate(gt, preds)
    # pycocotools rasterises each square to a 7x7 pixel block: IoU 1, 21/77 and 0
    assert r["miou"] == pytest.approx((1 + 21 / 77 + 0) / 3)
    assert r["prec@0.5"] == pytest.approx(1 / 3)
    assert r["box_acc@0.5"] == pytest.approx(2 / 3)


# --------------------------------------------------------------------------- instance_segment


def _scene_objects() -> list[Object]:
    # boxes of 40 and 8 px, whose frame bins decode exactly to the pixels k + 0.5 of the outlines
    return [Object("square", (40.5, 10.5, 79.5, 17.5), polygon=sq(40.5, 10.5, 79.5, 17.5)),
            Object("circle", (10.5, 10.5, 17.5, 17.5), polygon=sq(10.5, 10.5, 17.5, 17.5))]


def test_instance_segment_target_order_and_prompt() -> None:
    t = get_task("instance_segment")
    e = ex("instance_segment", objects=_scene_objects(), options=["circle", "square"])
    assert t.prompt(e, B) == "segment all: circle, square"
    assert t.target(e, B) == (
        "<obj>circle<loc_10><loc_10><loc_17><loc_17><poly><loc_62><loc_62><loc_937><loc_62><loc_937><loc_937><loc_62>"
        "<loc_937></poly></obj> <obj>square<loc_40><loc_10><loc_79><loc_17><poly><loc_12><loc_62><loc_987><loc_62>"
        "<loc_987><loc_937><loc_12><loc_937></poly></obj>")
    orders = {t.target(e, B, random.Random(s)).index("square") for s in range(10)}
    assert len(orders) == 2  # random order at train time
    spec = t.grammar(e)
    assert (spec.kind, spec.labels, spec.polygons, spec.max_polygon_points) == ("objects", ("circle", "square"), True, 12)


def test_instance_segment_evaluate_perfect_and_missing() -> None:
    t = get_task("instance_segment")
    e = ex("instance_segment", objects=_scene_objects(), options=["circle", "square"])
    perfect = t.parse(t.target(e, B), e, B)
    r = t.evaluate([e], [perfect])
    assert r["mask_map"] == pytest.approx(1.0) and r["box_map"] == pytest.approx(1.0)
    only_circle = t.parse(t.target(e, B).split("<obj>square")[0], e, B)
    # one of two categories found perfectly, the other missed: mean AP over categories = 0.5
    assert t.evaluate([e], [only_circle])["mask_map"] == pytest.approx(0.5)


# --------------------------------------------------------------------------- keypoints


def _kp_example() -> Example:
    objs = [Object("triangle", (10, 10, 30, 30), keypoints={"bottom": (20, 30), "top": (20, 10), "left": (10, 30)}),
            Object("square", (50, 0, 70, 20), keypoints={"right": (70, 10)})]
    return ex("keypoints", objects=objs, options=["square", "triangle"])


def test_keypoints_target_literal_and_grammar() -> None:
    t = get_task("keypoints")
    e = _kp_example()
    assert t.prompt(e, B) == "keypoints: square, triangle"
    # by position: the square (top 0) first; names in the fixed order top, left, right, bottom; objects
    # are separated by a space as in detect's object list. Keypoints are in their box's frame (21 px a
    # side here): the triangle's top (20, 10) is frame bin (10 / 21 * 1000, 0) = (476, 0)
    assert t.target(e, B) == ("<obj>square<loc_50><loc_0><loc_70><loc_20>right<loc_952><loc_476></obj> "
                              "<obj>triangle<loc_10><loc_10><loc_30><loc_30>top<loc_476><loc_0>left<loc_0><loc_952>"
                              "bottom<loc_476><loc_952></obj>")
    assert t.grammar(e).keypoints == ("top", "left", "right", "bottom")
    e.meta["keypoint_names"] = ["bottom", "top", "left", "right"]
    assert "bottom<loc_476><loc_952>top" in t.target(e, B)
    e.objects[0].keypoints["tail"] = (1, 1)
    with pytest.raises(ValueError, match=r"test.json#1: object 0 \('triangle'\) has keypoint\(s\) \['tail'\]"):
        t.target(e, B)


def test_keypoints_evaluate_pck_hand_computed() -> None:
    t = get_task("keypoints")
    e = _kp_example()
    # triangle: top exact, left 2.5 px off (threshold 0.1 * 20 = 2 px: wrong), bottom missing;
    # square: matched, right exact. Frame bins of 0.021 px: the triangle's box covers pixels 10-31.
    seq = ("<obj>triangle<loc_10><loc_10><loc_30><loc_30>top<loc_476><loc_0>left<loc_119><loc_928></obj>"
           "<obj>square<loc_50><loc_0><loc_70><loc_20>right<loc_952><loc_476></obj>")
    p = t.parse(seq, e, B)
    assert p.parsed.errors == []
    ((label, ((n1, top), (n2, left))),) = p.parsed.keypoints[:1]
    assert (label, n1, n2) == ("triangle", "top", "left")
    assert top == pytest.approx((20.0, 10.0), abs=0.011) and left == pytest.approx((12.5, 29.5), abs=0.011)
    r = t.evaluate([e], [p])
    # top: 0.01 px off (right); left: (2.5, 0.5) off = 2.55 px (wrong); bottom missing; square right: 0.01 px (right)
    assert r["pck@0.1"] == pytest.approx(2 / 4) and r["matched"] == 1.0
    assert r["pck@0.1_given_matched"] == pytest.approx(2 / 4)
    # the square not found: its point is wrong in PCK and left out of the matched objects' score
    only = t.parse(seq.split("<obj>square")[0], e, B)
    r = t.evaluate([e], [only])
    assert r["pck@0.1"] == pytest.approx(1 / 4) and r["matched"] == 0.5
    assert r["pck@0.1_given_matched"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- through a tokenizer


def test_constrained_random_outputs_parse_through_a_tokenizer() -> None:
    """grammar_for(task.grammar(ex)) over a trained tokenizer: every random output parses cleanly,
    with polygons within the vertex budget and keypoint names from the list, in order."""
    from vlseq.decoding.constrain import grammar_for
    from vlseq.tokenizer import VLTokenizer

    seg, kp = get_task("segment"), get_task("keypoints")
    e_seg = ex("segment", text="the red ball", objects=[Object("ball", (50, 50, 150, 150), polygon=circle(100, 100, 50))])
    e_kp = _kp_example()
    bins = 32
    texts = [seg.target(e_seg, bins), kp.target(e_kp, bins), kp.prompt(e_kp, bins), "the red ball square triangle"]
    tok = VLTokenizer.train(texts, num_bins=bins)
    rng = np.random.default_rng(0)
    names = list(kp.grammar(e_kp).keypoints)
    n_poly = n_kps = 0
    for task, e in ((seg, e_seg), (kp, e_kp)):
        g = grammar_for(task.grammar(e), tok)
        lay = g.layout
        for _ in range(60):
            state, ids, budget = g.initial_state(), [], 80
            for step in range(budget):
                mask = g.allowed(state, budget - step)
                logits = np.where(mask, rng.gumbel(size=mask.shape), -np.inf)
                logits[lay.eos_id] -= 3.0 if mask[lay.eos_id] else 0.0
                t = int(np.argmax(logits))
                ids.append(t)
                state = g.advance(state, t)
                if g.is_done(state):
                    break
            assert g.is_done(state)
            p = task.parse(tok.decode_markup(ids), e, bins).parsed
            assert p.errors == [], (tok.decode_markup(ids), p.errors)
            for _, poly in p.polygons:
                assert 3 <= len(poly) <= 12
                n_poly += 1
            for _, kps in p.keypoints:
                idx = [names.index(n) for n, _ in kps]
                assert idx == sorted(set(idx))
                n_kps += len(kps)
    assert n_poly > 20 and n_kps > 20


@pytest.mark.parametrize("bins", [32, 64])
def test_world_segmentation_targets_are_accepted_by_their_grammars(bins: int) -> None:
    """The decoding grammar requires a polygon inside the box; every target the world makes obeys it."""
    from helpers import world_examples
    from vlseq.decoding.constrain import grammar_for
    from vlseq.processing import Processor
    from vlseq.tokenizer import VLTokenizer

    exs = world_examples(12, tasks=("segment", "instance_segment"))
    tasks = {t: get_task(t) for t in ("segment", "instance_segment")}
    tok = VLTokenizer.train([tasks[e.task].target(e, bins) for e in exs] + [tasks[e.task].prompt(e, bins) for e in exs],
                            num_bins=bins)
    proc = Processor(tok, 64, bins, max_target_tokens=512)
    seen = set()
    for e in exs:
        g = grammar_for(tasks[e.task].grammar(e), tok)
        ids = proc.encode(tasks[e.task], e).target[1:]  # without <s>
        assert g.accepts(ids), (e.task, tasks[e.task].target(e, bins))
        closed = tok.decode_markup(ids).replace("<poly>", "").replace("</poly>", "")
        assert "<loc_" in closed
        seen.add(e.task)
    assert seen == {"segment", "instance_segment"}
