"""Decoding grammars: every output parses, no dead state, ``</s>`` within the budget, exact distances."""

from __future__ import annotations

import numpy as np
import pytest
from grammar_driver import (
    BINS,
    LABELS,
    LAYOUT,
    TEXT,
    TINY,
    H,
    W,
    budgets_for,
    check_distances_masks_and_advance,
    check_parses,
    label_text,
    loc,
    sample_outputs,
)

from vlseq.codec.grammar import (
    BoxFirstListGrammar,
    ChoiceGrammar,
    GrammarError,
    GroundedTextGrammar,
    ObjectListGrammar,
    PointedAnswerGrammar,
    SingleBoxGrammar,
    TextGrammar,
    TokenTrie,
    VocabLayout,
)
from vlseq.codec.tokens import special_tokens

CHOICES = [[TEXT[7]], [TEXT[7], TEXT[8]], [TEXT[9], TEXT[10], TEXT[11], TEXT[12]]]


# --------------------------------------------------------------------------- 2,000 outputs per grammar


def test_text_grammar_outputs_parse() -> None:
    g = TextGrammar(LAYOUT)
    budgets = budgets_for(g, 2000, 0)
    for ids, b in zip(sample_outputs(g, budgets, 1), budgets):
        p = check_parses(ids, b)
        assert p.phrases == [] and all(LAYOUT.text_mask[t] for t in ids[:-1])


def test_pointed_answer_outputs_parse() -> None:
    g = PointedAnswerGrammar(LAYOUT)
    budgets = budgets_for(g, 2000, 9)
    kinds = set()
    for ids, b in zip(sample_outputs(g, budgets, 10), budgets):
        p = check_parses(ids, b)
        if ids[0] != LAYOUT.obj_open:  # plain text
            assert p.phrases == [] and all(LAYOUT.text_mask[t] for t in ids[:-1])
            kinds.add("plain")
            continue
        # objects first, each one phrase at one box; then the answer's words, if any
        assert all(len(ph.boxes) == 1 for ph in p.phrases)
        assert ids.count(LAYOUT.obj_open) == ids.count(LAYOUT.obj_close) == len(p.phrases)
        last = len(ids) - 1 - ids[::-1].index(LAYOUT.obj_close)
        assert all(LAYOUT.text_mask[t] for t in ids[last + 1:-1])
        if len(p.phrases) == 1 and last == len(ids) - 2:  # one object, nothing after: the answer is its words
            assert p.phrase_text(p.phrases[0]) == p.text
            kinds.add("pointed")
        else:
            kinds.add("evidence")
    assert kinds == {"pointed", "plain", "evidence"}


def test_pointed_answer_accepts_and_rejects() -> None:
    g = PointedAnswerGrammar(LAYOUT)
    box = [loc(2), loc(5), loc(3), loc(6)]
    assert g.accepts([LAYOUT.obj_open, *box, TEXT[4], TEXT[5], LAYOUT.obj_close, LAYOUT.eos_id])
    assert g.accepts([TEXT[4], LAYOUT.eos_id])
    assert not g.accepts([LAYOUT.obj_open, *box, LAYOUT.obj_close, LAYOUT.eos_id])  # no words
    assert not g.accepts([LAYOUT.obj_open, TEXT[4], *box, LAYOUT.obj_close, LAYOUT.eos_id])  # words first
    # objects, then the answer: a count or yes/no after its evidence
    assert g.accepts([LAYOUT.obj_open, *box, TEXT[4], LAYOUT.obj_close, TEXT[4], LAYOUT.eos_id])
    assert g.accepts([LAYOUT.obj_open, *box, TEXT[4], LAYOUT.obj_close, LAYOUT.obj_open, *box, TEXT[5],
                      LAYOUT.obj_close, TEXT[6], LAYOUT.eos_id])
    assert not g.accepts([LAYOUT.obj_open, *box, TEXT[4], LAYOUT.obj_close, TEXT[4], LAYOUT.obj_open])  # an object after the answer
    assert not g.accepts([TEXT[4], LAYOUT.obj_open])  # a box after the answer began
    assert not g.accepts([LAYOUT.obj_open, loc(2), loc(5), loc(2)])  # x2 <= x1
    assert g.max_to_finish(g.advance(g.initial_state(), LAYOUT.obj_open)) > 6  # free words: unbounded


def _inside_frame(poly, box) -> bool:
    """Whether every point lies in the frame of the (bin-centre) box: half a bin beyond each side."""
    hx, hy = W / (2 * BINS), H / (2 * BINS)
    return all(box[0] - hx <= x <= box[2] + hx and box[1] - hy <= y <= box[3] + hy for x, y in poly)


@pytest.mark.parametrize("polygons,bounded", [(False, False), (True, False), (True, True)])
def test_grounded_text_outputs_parse(polygons: bool, bounded: bool) -> None:
    g = GroundedTextGrammar(LAYOUT, polygons=polygons, max_polygon_points=5, max_polygons=2,
                            max_boxes_per_phrase=3 if bounded else None)
    budgets = budgets_for(g, 2000, 2, high=64)
    n_phrases = n_polys = 0
    for ids, b in zip(sample_outputs(g, budgets, 3), budgets):
        p = check_parses(ids, b)
        n_phrases += len(p.phrases)
        n_polys += len(p.polygons)
        for ph in p.phrases:
            assert 1 <= len(ph.boxes) <= (3 if bounded else 99)
            assert len(ph.polygons) <= 2
            for poly in ph.polygons:
                assert 3 <= len(poly) <= 5
                assert _inside_frame(poly, ph.boxes[0])  # the codec writes points in the first box's frame
    # The random decoder really exercises phrases (and polygons when enabled).
    assert n_phrases > 500 and (n_polys > 100) == polygons


@pytest.mark.parametrize("box_first", [False, True])
@pytest.mark.parametrize("max_objects,min_objects", [(None, 0), (3, 1)])
def test_object_list_outputs_parse(max_objects: int | None, min_objects: int, box_first: bool) -> None:
    cls = BoxFirstListGrammar if box_first else ObjectListGrammar
    g = cls(LAYOUT, LABELS, max_objects=max_objects, min_objects=min_objects)
    budgets = budgets_for(g, 2000, 4)
    names = {label_text(lab) for lab in LABELS}
    seen: set[str] = set()
    for ids, b in zip(sample_outputs(g, budgets, 5), budgets):
        p = check_parses(ids, b)
        labels = [lab for lab, _ in p.objects]
        assert set(labels) <= names and len(labels) == len(p.phrases)
        assert min_objects <= len(labels) <= (max_objects or 99)
        assert p.text == " ".join(labels)
        # each object opens with its box (box first) or with its label
        after_open = [ids[i + 1] for i, t in enumerate(ids) if t == LAYOUT.obj_open]
        assert all((LAYOUT.loc_offset <= t < LAYOUT.loc_offset + BINS) == box_first for t in after_open)
        seen |= set(labels)
    assert seen == names  # a label that prefixes another is reachable, and so is the longer one


def test_box_first_and_label_first_lists_read_the_same() -> None:
    lab, box = LABELS[1], [loc(1), loc(2), loc(5), loc(6)]
    first = [LAYOUT.obj_open, *lab, *box, LAYOUT.obj_close, LAYOUT.eos_id]
    last = [LAYOUT.obj_open, *box, *lab, LAYOUT.obj_close, LAYOUT.eos_id]
    g = BoxFirstListGrammar(LAYOUT, LABELS)
    assert g.accepts(last) and not g.accepts(first)
    assert ObjectListGrammar(LAYOUT, LABELS).accepts(first)
    from vlseq.codec import parse

    assert parse(LAYOUT.render(last), 640, 480, BINS) == parse(LAYOUT.render(first), 640, 480, BINS)


@pytest.mark.parametrize("labels", [None, [LABELS[2]], LABELS])
def test_single_box_outputs_parse(labels: list[list[int]] | None) -> None:
    g = SingleBoxGrammar(LAYOUT, labels, polygons=labels is None, max_polygon_points=4)
    budgets = budgets_for(g, 2000, 6, high=30)
    for ids, b in zip(sample_outputs(g, budgets, 7), budgets):
        p = check_parses(ids, b)
        assert len(p.objects) == 1
        if labels is not None:
            assert p.objects[0][0] in {label_text(lab) for lab in labels}


@pytest.mark.parametrize("kind", ["single", "objects"])
def test_required_polygon_in_every_object_inside_its_box(kind: str) -> None:
    kw = dict(polygons=True, max_polygon_points=4, require_polygon=True)
    g = (SingleBoxGrammar(LAYOUT, LABELS, **kw) if kind == "single"
         else ObjectListGrammar(LAYOUT, LABELS, max_objects=3, min_objects=1, **kw))
    budgets = budgets_for(g, 1000, 10, high=60)
    for ids, b in zip(sample_outputs(g, budgets, 11), budgets):
        p = check_parses(ids, b)
        assert len(p.polygons) == len(p.objects) >= 1
        for (_, box), (_, poly) in zip(p.objects, p.polygons):
            assert _inside_frame(poly, box)
    lab, box = LABELS[0], [loc(1), loc(2), loc(5), loc(6)]
    closed = [LAYOUT.obj_open, *lab, *box, LAYOUT.obj_close, LAYOUT.eos_id]
    assert not g.accepts(closed)  # no polygon
    poly = [LAYOUT.poly_open, loc(1), loc(2), loc(5), loc(2), loc(3), loc(6), LAYOUT.poly_close]
    assert g.accepts([LAYOUT.obj_open, *lab, *box, *poly, LAYOUT.obj_close, LAYOUT.eos_id])
    with pytest.raises(ValueError, match="require_polygon"):
        SingleBoxGrammar(LAYOUT, LABELS, require_polygon=True)


def test_choice_outputs_parse() -> None:
    g = ChoiceGrammar(LAYOUT, CHOICES)
    budgets = budgets_for(g, 2000, 8, high=12)
    answers = {label_text(c) for c in CHOICES}
    seen = set()
    for ids, b in zip(sample_outputs(g, budgets, 9), budgets):
        p = check_parses(ids, b)
        assert p.text in answers
        seen.add(p.text)
    assert seen == answers


# --------------------------------------------------------------------------- exhaustive checks on a tiny layout

TINY_GRAMMARS = {
    "text": TextGrammar(TINY),
    "grounded": GroundedTextGrammar(TINY, polygons=True, max_polygon_points=4, max_polygons=2,
                                    max_boxes_per_phrase=2),
    "grounded_free": GroundedTextGrammar(TINY, polygons=True, max_polygon_points=3),
    "objects": ObjectListGrammar(TINY, [[12], [12, 14], [14, 13, 14]], max_objects=2, min_objects=1, polygons=True,
                                 max_polygon_points=3),
    "objects_open": ObjectListGrammar(TINY, None, min_objects=2),
    "single": SingleBoxGrammar(TINY, [[13, 14, 14]]),
    "single_poly_required": SingleBoxGrammar(TINY, [[13]], polygons=True, max_polygon_points=4,
                                             require_polygon=True),
    "objects_poly_required": ObjectListGrammar(TINY, [[12], [12, 14]], max_objects=2, min_objects=1, polygons=True,
                                               max_polygon_points=3, require_polygon=True),
    "choice": ChoiceGrammar(TINY, [[12], [12, 13, 14], [14, 14]]),
    "box_first": BoxFirstListGrammar(TINY, [[12], [12, 14], [14, 13, 14]], max_objects=2, min_objects=1),
    "box_first_open": BoxFirstListGrammar(TINY, [[13], [12, 13]], min_objects=2),
    "pointed_answer": PointedAnswerGrammar(TINY),
}


@pytest.mark.parametrize("name", sorted(TINY_GRAMMARS))
def test_distances_masks_and_advance_agree(name: str) -> None:
    check_distances_masks_and_advance(TINY_GRAMMARS[name])


# --------------------------------------------------------------------------- construction and rejection


def test_replay_accepts_and_rejects() -> None:
    g = GroundedTextGrammar(LAYOUT)
    ok = [TEXT[3], LAYOUT.obj_open, TEXT[4], loc(2), loc(5), loc(3), loc(6), LAYOUT.obj_close, TEXT[1], LAYOUT.eos_id]
    assert g.accepts(ok)
    assert not g.accepts(ok[:-1])  # not finished
    assert not g.accepts([LAYOUT.obj_open, loc(2)])  # coordinate before a word
    assert not g.accepts([LAYOUT.obj_open, TEXT[4], loc(2), loc(5), loc(2)])  # x2 <= x1
    assert not g.accepts([LAYOUT.obj_open, TEXT[4], loc(BINS - 1)])  # x1 on the last bin leaves no x2
    assert not g.accepts([LAYOUT.obj_open, TEXT[4], LAYOUT.eos_id])  # </s> inside <obj>
    assert not g.accepts([LAYOUT.obj_open, TEXT[4], LAYOUT.obj_close])  # </obj> before a box
    assert not g.accepts([loc(1)])
    assert not GroundedTextGrammar(LAYOUT).accepts(ok[:7] + [LAYOUT.poly_open])  # polygons off
    with pytest.raises(GrammarError, match="not allowed"):
        TextGrammar(LAYOUT).replay([TEXT[0], LAYOUT.obj_open])


def test_layout_from_vocab_with_appended_specials() -> None:
    # A user's tokenizer: its own text first, vlseq's tokens appended, in another order.
    base = special_tokens(8)[:9][::-1]
    vocab = {f"t{i}": i for i in range(50)}
    vocab.update({t: 50 + i for i, t in enumerate(base)})
    vocab.update({f"<loc_{k}>": 60 + k for k in range(8)})
    lay = VocabLayout.from_vocab(vocab, vocab_size=70, num_bins=8, text_ids=range(50))
    assert (lay.loc_offset, lay.eos_id, lay.obj_open) == (60, vocab["</s>"], vocab["<obj>"])
    assert lay.render([lay.obj_open, 3, 60, 61, 67, 66, lay.obj_close, 68]) == (
        "<obj> w3 <loc_0><loc_1><loc_7><loc_6></obj><unk>")
    assert lay.unk_id == vocab["<unk>"]
    bad = dict(vocab, **{"<loc_3>": 59})
    with pytest.raises(ValueError, match="contiguous"):
        VocabLayout.from_vocab(bad, 70, 8, range(50))
    with pytest.raises(ValueError, match="no <obj>"):
        VocabLayout.from_vocab({k: v for k, v in vocab.items() if k != "<obj>"}, 70, 8, range(50))


def test_layout_and_trie_validation() -> None:
    with pytest.raises(ValueError, match="control/markup"):
        VocabLayout(**{**_fields(LAYOUT), "text_ids": np.array([LAYOUT.eos_id, 50])})
    with pytest.raises(ValueError, match="coordinate ids"):
        VocabLayout(**{**_fields(LAYOUT), "text_ids": np.array([LAYOUT.loc_offset])})
    with pytest.raises(ValueError, match="subset"):
        VocabLayout(**{**_fields(LAYOUT), "word_ids": np.array([LAYOUT.loc_offset])})
    with pytest.raises(ValueError, match="label 1 is empty"):
        ObjectListGrammar(LAYOUT, [[TEXT[0]], []])
    with pytest.raises(ValueError, match="not a text id"):
        ChoiceGrammar(LAYOUT, [[TEXT[0], LAYOUT.obj_open]])
    with pytest.raises(ValueError, match="no word id"):
        SingleBoxGrammar(TINY, [[14]])  # 14 is text but not a word: the label would be empty
    with pytest.raises(ValueError, match="min_objects"):
        ObjectListGrammar(LAYOUT, LABELS, max_objects=1, min_objects=2)
    with pytest.raises(ValueError, match="3 points"):
        GroundedTextGrammar(LAYOUT, polygons=True, max_polygon_points=2)
    trie = TokenTrie([[15, 19], [15], [17, 18, 19]], VocabLayout.standard(2, 20))  # text ids are 11..30
    assert trie.depth[0] == 1 and trie.terminal[trie.children[0][15]] and trie.depth[trie.children[0][17]] == 2
    assert len(trie) == 6


def _fields(lay: VocabLayout) -> dict:
    names = ["vocab_size", "eos_id", "pad_id", "bos_id", "obj_open", "obj_close", "poly_open", "poly_close", "sep",
             "loc_offset", "num_bins", "text_ids", "word_ids", "unk_id"]
    return {n: getattr(lay, n) for n in names}
