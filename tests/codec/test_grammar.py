"""Decoding grammars: every output parses, no dead state, ``</s>`` within the budget, exact distances."""

from __future__ import annotations

import numpy as np
import pytest

from vlseq.codec import parse
from vlseq.codec.grammar import (
    DONE_STATE,
    UNBOUNDED,
    ChoiceGrammar,
    Grammar,
    GrammarError,
    GroundedTextGrammar,
    ObjectListGrammar,
    SingleBoxGrammar,
    TextGrammar,
    TokenTrie,
    VocabLayout,
)
from vlseq.codec.tokens import special_tokens

W, H = 640.0, 480.0
BINS = 32
LAYOUT = VocabLayout.standard(num_bins=BINS, num_text_tokens=40)
TEXT = LAYOUT.text_ids.tolist()
# Labels as token ids; [t0] is a prefix of [t0, t1], and labels have 1-3 tokens.
LABELS = [[TEXT[0]], [TEXT[0], TEXT[1]], [TEXT[2], TEXT[3], TEXT[4]], [TEXT[5], TEXT[1]]]
CHOICES = [[TEXT[7]], [TEXT[7], TEXT[8]], [TEXT[9], TEXT[10], TEXT[11], TEXT[12]]]


def loc(k: int) -> int:
    return LAYOUT.loc_offset + k


def label_text(ids: list[int]) -> str:
    return " ".join(f"w{t}" for t in ids)


def sample_outputs(g: Grammar, budgets: np.ndarray, seed: int) -> list[list[int]]:
    """Decode ``len(budgets)`` outputs token by token from random logits, masked by ``g``.

    Gumbel-max over ``bias + gumbel`` samples the masked softmax; per-row biases on ``</s>``,
    markup and coordinates vary how often each kind of token wins. Asserts at every step that
    the mask is non-empty and that the chosen token leaves the output finishable in budget.
    """
    lay, rng = g.layout, np.random.default_rng(seed)
    n, v = len(budgets), lay.vocab_size
    bias = np.zeros((n, v))
    bias[:, lay.eos_id] = rng.uniform(-5, 1, n)
    for tok in (lay.obj_open, lay.obj_close, lay.poly_open, lay.poly_close):
        bias[:, tok] = rng.uniform(-1, 4, n)
    bias[:, lay.loc_offset : lay.loc_offset + lay.num_bins] = rng.uniform(-2, 2, (n, 1))
    states = [g.initial_state()] * n
    out: list[list[int]] = [[] for _ in range(n)]
    for step in range(int(budgets.max())):
        live = [i for i in range(n) if states[i] != DONE_STATE]
        if not live:
            break
        mask = np.zeros((len(live), v), dtype=bool)
        for j, i in enumerate(live):
            assert step < budgets[i], f"row {i} did not end within its budget {budgets[i]}"
            g.fill_allowed(states[i], int(budgets[i]) - step, mask[j])
        assert mask.any(axis=1).all(), "dead state: no token allowed"
        logits = np.where(mask, bias[live] + rng.gumbel(size=mask.shape), -np.inf)
        for j, i in enumerate(live):
            tok = int(logits[j].argmax())
            states[i] = g.advance(states[i], tok)
            out[i].append(tok)
            assert g.min_to_finish(states[i]) <= budgets[i] - step - 1
    assert all(s == DONE_STATE for s in states)
    return out


def check_parses(ids: list[int], budget: int) -> "parse":
    """The output ends with </s> within budget and parses with zero errors, boxes and polygons kept."""
    assert ids[-1] == LAYOUT.eos_id and LAYOUT.eos_id not in ids[:-1] and len(ids) <= budget
    p = parse(LAYOUT.render(ids), W, H, BINS)
    assert p.errors == [], (LAYOUT.render(ids), p.errors)
    in_poly, n_box_coords, n_polys = False, 0, 0
    for t in ids:
        if t == LAYOUT.poly_open:
            in_poly, n_polys = True, n_polys + 1
        elif t == LAYOUT.poly_close:
            in_poly = False
        elif LAYOUT.loc_offset <= t < LAYOUT.loc_offset + BINS and not in_poly:
            n_box_coords += 1
    assert n_box_coords % 4 == 0 and len(p.objects) == n_box_coords // 4
    assert len(p.polygons) == n_polys
    return p


def budgets_for(g: Grammar, n: int, seed: int, high: int = 48) -> np.ndarray:
    """Budgets from the tightest possible up to ``high``, a quarter of them tight (6-20 tokens)."""
    low = g.min_to_finish(g.initial_state())
    rng = np.random.default_rng(seed)
    tight = rng.integers(max(low, 6) if low <= 20 else low, max(21, low + 1), n // 4)
    return np.concatenate([tight, rng.integers(low, high + 1, n - n // 4)])


# --------------------------------------------------------------------------- 2,000 outputs per grammar


def test_text_grammar_outputs_parse() -> None:
    g = TextGrammar(LAYOUT)
    budgets = budgets_for(g, 2000, 0)
    for ids, b in zip(sample_outputs(g, budgets, 1), budgets):
        p = check_parses(ids, b)
        assert p.phrases == [] and all(LAYOUT.text_mask[t] for t in ids[:-1])


@pytest.mark.parametrize("polygons,inside", [(False, False), (True, False), (True, True)])
def test_grounded_text_outputs_parse(polygons: bool, inside: bool) -> None:
    g = GroundedTextGrammar(LAYOUT, polygons=polygons, max_polygon_points=5, max_polygons=2,
                            polygon_inside_box=inside, max_boxes_per_phrase=3 if inside else None)
    budgets = budgets_for(g, 2000, 2, high=64)
    n_phrases = n_polys = 0
    for ids, b in zip(sample_outputs(g, budgets, 3), budgets):
        p = check_parses(ids, b)
        n_phrases += len(p.phrases)
        n_polys += len(p.polygons)
        for ph in p.phrases:
            assert 1 <= len(ph.boxes) <= (3 if inside else 99)
            assert len(ph.polygons) <= 2
            for poly in ph.polygons:
                assert 3 <= len(poly) <= 5
                if inside:
                    x1, y1, x2, y2 = ph.boxes[-1]
                    assert all(x1 <= x <= x2 and y1 <= y <= y2 for x, y in poly)
    # The random decoder really exercises phrases (and polygons when enabled).
    assert n_phrases > 500 and (n_polys > 100) == polygons


@pytest.mark.parametrize("max_objects,min_objects", [(None, 0), (3, 1)])
def test_object_list_outputs_parse(max_objects: int | None, min_objects: int) -> None:
    g = ObjectListGrammar(LAYOUT, LABELS, max_objects=max_objects, min_objects=min_objects)
    budgets = budgets_for(g, 2000, 4)
    names = {label_text(lab) for lab in LABELS}
    seen: set[str] = set()
    for ids, b in zip(sample_outputs(g, budgets, 5), budgets):
        p = check_parses(ids, b)
        labels = [lab for lab, _ in p.objects]
        assert set(labels) <= names and len(labels) == len(p.phrases)
        assert min_objects <= len(labels) <= (max_objects or 99)
        assert p.text == " ".join(labels)
        seen |= set(labels)
    assert seen == names  # a label that prefixes another is reachable, and so is the longer one


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
    kw = dict(polygons=True, max_polygon_points=4, require_polygon=True, polygon_inside_box=True)
    g = (SingleBoxGrammar(LAYOUT, LABELS, **kw) if kind == "single"
         else ObjectListGrammar(LAYOUT, LABELS, max_objects=3, min_objects=1, **kw))
    budgets = budgets_for(g, 1000, 10, high=60)
    for ids, b in zip(sample_outputs(g, budgets, 11), budgets):
        p = check_parses(ids, b)
        assert len(p.polygons) == len(p.objects) >= 1
        for (_, box), (_, poly) in zip(p.objects, p.polygons):
            assert all(box[0] <= x <= box[2] and box[1] <= y <= box[3] for x, y in poly)
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

TINY = VocabLayout(vocab_size=16, eos_id=0, pad_id=1, bos_id=2, obj_open=3, obj_close=4, poly_open=5, poly_close=6,
                   sep=7, loc_offset=8, num_bins=4, text_ids=np.array([12, 13, 14]), word_ids=np.array([12, 13]),
                   unk_id=15)
TINY_GRAMMARS = {
    "text": TextGrammar(TINY),
    "grounded": GroundedTextGrammar(TINY, polygons=True, max_polygon_points=4, max_polygons=2,
                                    polygon_inside_box=True, max_boxes_per_phrase=2),
    "grounded_free": GroundedTextGrammar(TINY, polygons=True, max_polygon_points=3),
    "objects": ObjectListGrammar(TINY, [[12], [12, 14], [14, 13, 14]], max_objects=2, min_objects=1, polygons=True,
                                 max_polygon_points=3),
    "objects_open": ObjectListGrammar(TINY, None, min_objects=2),
    "single": SingleBoxGrammar(TINY, [[13, 14, 14]]),
    "single_poly_required": SingleBoxGrammar(TINY, [[13]], polygons=True, max_polygon_points=4,
                                             require_polygon=True, polygon_inside_box=True),
    "objects_poly_required": ObjectListGrammar(TINY, [[12], [12, 14]], max_objects=2, min_objects=1, polygons=True,
                                               max_polygon_points=3, require_polygon=True),
    "choice": ChoiceGrammar(TINY, [[12], [12, 13, 14], [14, 14]]),
}


def reachable(g: Grammar) -> dict:
    """Every state reachable without a budget -> {token: next state} (the allowed tokens)."""
    graph, todo = {}, [g.initial_state()]
    while todo:
        s = todo.pop()
        if s in graph:
            continue
        graph[s] = {int(t): g.advance(s, int(t)) for t in np.flatnonzero(g.allowed(s))}
        todo.extend(graph[s].values())
    return graph


@pytest.mark.parametrize("name", sorted(TINY_GRAMMARS))
def test_distances_masks_and_advance_agree(name: str) -> None:
    g = TINY_GRAMMARS[name]
    graph = reachable(g)
    assert len(graph) < 5000
    # True fewest tokens to finish, by relaxation over the reachable graph.
    dist = {s: (0 if s == DONE_STATE else UNBOUNDED) for s in graph}
    changed = True
    while changed:
        changed = False
        for s, nxt in graph.items():
            if s != DONE_STATE:
                d = 1 + min(dist[t] for t in nxt.values())
                if d < dist[s]:
                    dist[s], changed = d, True
    for s, nxt in graph.items():
        assert g.min_to_finish(s) == dist[s] < UNBOUNDED, s
        # advance accepts exactly the unbudgeted mask
        for t in range(TINY.vocab_size):
            if s != DONE_STATE and t not in nxt:
                with pytest.raises(GrammarError):
                    g.advance(s, t)
        if s == DONE_STATE:
            assert g.advance(s, TINY.vocab_size + 3) == DONE_STATE  # padding after </s>
            assert sorted(nxt) == sorted([TINY.eos_id, TINY.pad_id])
            continue
        with pytest.raises(GrammarError):
            g.advance(s, TINY.vocab_size + 3)
        # under a budget: exactly the tokens after which the output still fits
        for r in range(dist[s], dist[s] + 12):
            want = sorted(t for t, ns in nxt.items() if 1 + dist[ns] <= r)
            assert np.flatnonzero(g.allowed(s, r)).tolist() == want, (s, r)
        # a budget below the minimum keeps the shortest completions
        assert (g.allowed(s, 0) == g.allowed(s, dist[s])).all()


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
