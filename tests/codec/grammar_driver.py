"""What the grammar tests share: the layouts and labels, a random decoder that samples outputs under
a grammar, and the exhaustive check of a grammar's distances and masks on a tiny layout.

Not a test module: the test modules of this folder import it (pytest puts the folder on
``sys.path``, as its test modules are not in a package).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

from vlseq.codec import parse
from vlseq.codec.grammar import DONE_STATE, UNBOUNDED, Grammar, GrammarError, State, VocabLayout

W, H = 640.0, 480.0
BINS = 32
LAYOUT = VocabLayout.standard(num_bins=BINS, num_text_tokens=40)
TEXT = LAYOUT.text_ids.tolist()
# Labels as token ids; [t0] is a prefix of [t0, t1], and labels have 1-3 tokens.
LABELS = [[TEXT[0]], [TEXT[0], TEXT[1]], [TEXT[2], TEXT[3], TEXT[4]], [TEXT[5], TEXT[1]]]

# A layout small enough to enumerate every reachable state: 4 bins, text 12-14 (14 is not a word).
TINY = VocabLayout(vocab_size=16, eos_id=0, pad_id=1, bos_id=2, obj_open=3, obj_close=4, poly_open=5, poly_close=6,
                   sep=7, loc_offset=8, num_bins=4, text_ids=np.array([12, 13, 14]), word_ids=np.array([12, 13]),
                   unk_id=15)


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


# --------------------------------------------------------------------------- exhaustive checks


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


def longest_to_finish(graph: dict) -> dict:
    """The true most tokens to finish from each state of ``reachable``'s graph: the longest path to
    the finished state, UNBOUNDED from a state that reaches a cycle (no state is dead, so every
    cycle can be left and the output finished after any number of turns)."""
    longest: dict[State, int] = {DONE_STATE: 0}
    on_path: set[State] = set()

    def visit(s: State) -> int:
        if s in longest:
            return longest[s]
        if s in on_path:
            return UNBOUNDED
        on_path.add(s)
        most = max(visit(t) for t in graph[s].values())
        on_path.discard(s)
        longest[s] = UNBOUNDED if most >= UNBOUNDED else 1 + most
        return longest[s]

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * len(graph) + 100))
    try:
        for s in graph:
            visit(s)
    finally:
        sys.setrecursionlimit(limit)
    return longest


def check_distances_masks_and_advance(g: Grammar) -> None:
    """Exhaustively, over every reachable state of ``g`` (a grammar over a tiny layout such as
    :data:`TINY`): the fewest and most tokens to finish are exact, :meth:`Grammar.advance` accepts
    exactly the unbudgeted mask, and each budget allows exactly the tokens after which the output
    still fits."""
    lay = g.layout
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
    longest = longest_to_finish(graph)
    for s, nxt in graph.items():
        assert g.min_to_finish(s) == dist[s] < UNBOUNDED, s
        assert g.max_to_finish(s) == longest[s], (s, g.max_to_finish(s), longest[s])
        # advance accepts exactly the unbudgeted mask
        for t in range(lay.vocab_size):
            if s != DONE_STATE and t not in nxt:
                with pytest.raises(GrammarError):
                    g.advance(s, t)
        if s == DONE_STATE:
            assert g.advance(s, lay.vocab_size + 3) == DONE_STATE  # padding after </s>
            assert sorted(nxt) == sorted([lay.eos_id, lay.pad_id])
            continue
        with pytest.raises(GrammarError):
            g.advance(s, lay.vocab_size + 3)
        # under a budget: exactly the tokens after which the output still fits
        for r in range(dist[s], dist[s] + 12):
            want = sorted(t for t, ns in nxt.items() if 1 + dist[ns] <= r)
            assert np.flatnonzero(g.allowed(s, r)).tolist() == want, (s, r)
        # a budget below the minimum keeps the shortest completions
        assert (g.allowed(s, 0) == g.allowed(s, dist[s])).all()
        # a budget of the longest output never binds: decoding under it is decoding without one
        if longest[s] < UNBOUNDED:
            assert (g.allowed(s, longest[s]) == g.allowed(s)).all(), s
