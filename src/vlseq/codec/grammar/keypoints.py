"""An object's named keypoints after its box(es) and polygons: ``name x y name x y ...``, the names
from a fixed, ordered list (:class:`KeypointPart`), with their state.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .base import KP, KP_Y, UNBOUNDED, State, new_state, saturating_sum
from .layout import TokenTrie
from .parts import POINT_TOKENS, ObjectPart, ObjectPartsGrammar


class KeypointState(NamedTuple):
    """``KP``: at ``node`` of the keypoint-name trie (0: between keypoints), the names from index
    ``next_name`` of the ordered list still allowed. ``KP_Y``: a keypoint's x given, its y next
    (``node`` 0)."""

    phase: int
    outer: int
    next_name: int
    node: int


class KeypointPart(ObjectPart):
    """Named keypoints (``names``: token-id sequences, as tokenized after a coordinate, in their fixed
    order): each name at most once and in list order, each followed by exactly two coordinates (any
    bins). ``all_keypoints`` requires every name, so the names are forced.

    A name token is allowed only when a whole allowed name, its point, the names still required
    after it and what follows the keypoints fit in the budget.
    """

    phases = (KP, KP_Y)

    def __init__(self, grammar: ObjectPartsGrammar, names: Sequence[Sequence[int]], all_keypoints: bool) -> None:
        super().__init__(grammar)
        self.trie = TokenTrie(names, grammar.layout, what="keypoint name", need_word=True)
        seqs = [tuple(int(t) for t in n) for n in names]
        if len(set(seqs)) != len(seqs):
            raise ValueError("keypoint names must be distinct")
        n = len(seqs)
        self._all_keypoints = all_keypoints
        self._name_at_node: dict[int, int] = {}  # terminal node -> name index
        # node -> {name index j: tokens from the node to the end of name j}, for the names below it
        self._names_below: list[dict[int, int]] = [dict() for _ in range(len(self.trie))]
        for j, seq in enumerate(seqs):
            node = 0
            path = [0]
            for t in seq:
                node = self.trie.children[node][t]
                path.append(node)
            self._name_at_node[node] = j
            for m, nd in enumerate(path):
                self._names_below[nd][j] = len(seq) - m
        # [i]: fewest tokens of the names still required from index i on, each with its point
        # (0 unless all are required); most tokens of the names allowed from index i on (all of them)
        self._min_names_from = [0] * (n + 1)
        self._max_names_from = [0] * (n + 1)
        for j in range(n - 1, -1, -1):
            if all_keypoints:
                self._min_names_from[j] = self._min_names_from[j + 1] + len(seqs[j]) + POINT_TOKENS
            self._max_names_from[j] = self._max_names_from[j + 1] + len(seqs[j]) + POINT_TOKENS
        self._name_cost_memo: dict[tuple[int, int], int] = {}
        self.min_tokens, self.max_tokens = self._min_names_from[0], self._max_names_from[0]

    def _name_allowed(self, next_name: int, j: int) -> bool:
        """Whether name ``j`` may come when the names from index ``next_name`` on remain."""
        return j == next_name if self._all_keypoints else j >= next_name

    def _min_from_name_node(self, node: int, next_name: int) -> int:
        """Fewest tokens from trie ``node`` through an allowed name's point and the names still
        required after it (``</obj>`` excluded); UNBOUNDED when no allowed name lies below ``node``."""
        key = (node, next_name)
        hit = self._name_cost_memo.get(key)
        if hit is None:
            costs = [rest + POINT_TOKENS + self._min_names_from[j + 1]
                     for j, rest in self._names_below[node].items() if self._name_allowed(next_name, j)]
            hit = self._name_cost_memo[key] = min(costs) if costs else UNBOUNDED
        return hit

    def _max_from_name_node(self, node: int, next_name: int) -> int:
        """Most tokens from trie ``node`` through an allowed name's point and every name allowed after it
        (``</obj>`` excluded)."""
        return max(rest + POINT_TOKENS + self._max_names_from[j + 1]
                   for j, rest in self._names_below[node].items() if self._name_allowed(next_name, j))

    def _enter_name(self, outer: int, next_name: int, node: int, tok: int) -> State | None:
        """State after name token ``tok`` from trie ``node`` (None if it leads to no allowed name)."""
        child = self.trie.children[node].get(tok)
        if child is None or self._min_from_name_node(child, next_name) >= UNBOUNDED:
            return None
        return new_state(KeypointState, (KP, outer, next_name, child))

    def _allow_name_tokens(self, node: int, next_name: int, remaining: int, after: int, out: np.ndarray) -> None:
        """Allow the name tokens from ``node`` after which an allowed name and the ``after`` tokens that
        must follow the keypoints still fit in ``remaining``."""
        for tok, child in self.trie.children[node].items():
            if 1 + self._min_from_name_node(child, next_name) + after <= remaining:
                out[tok] = True

    # -- from the state before the keypoints (AFTER_BOX, AFTER_POLY): the first name, from index 0
    def enter(self, s: State, tok: int) -> State | None:
        return self._enter_name(s.outer, 0, 0, tok)

    def fill_entry(self, s: State, remaining: int, out: np.ndarray) -> None:
        self._allow_name_tokens(0, 0, remaining, self.min_after(s.outer), out)

    # -- KP and KP_Y
    def advance(self, s: State, tok: int) -> State | None:
        k = self._bin_of(tok)
        if s.phase == KP_Y:
            return new_state(KeypointState, (KP, s.outer, s.next_name, 0)) if k >= 0 else None
        next_name, node = s.next_name, s.node
        if k >= 0:  # the x of the name ending at this node
            j = self._name_at_node.get(node)
            allowed = j is not None and self._name_allowed(next_name, j)
            return new_state(KeypointState, (KP_Y, s.outer, j + 1, 0)) if allowed else None
        if node == 0 and self._min_names_from[next_name] == 0:  # no name still required: what follows
            nxt = self.then.enter_rest(s, tok)
            if nxt is not None:
                return nxt
        return self._enter_name(s.outer, next_name, node, tok)

    def min_to_finish(self, s: State) -> int:
        if s.phase == KP_Y:  # the y, then the names still required
            return POINT_TOKENS - 1 + self._min_names_from[s.next_name] + self.min_after(s.outer)
        if s.node == 0:
            names = self._min_names_from[s.next_name]
        else:
            names = self._min_from_name_node(s.node, s.next_name)
        return names + self.min_after(s.outer)

    def max_to_finish(self, s: State) -> int:
        if s.phase == KP_Y:  # the y, then every name still allowed
            return saturating_sum(POINT_TOKENS - 1, self._max_names_from[s.next_name], self.max_after(s.outer))
        if s.node == 0:
            names = self._max_names_from[s.next_name]
        else:
            names = self._max_from_name_node(s.node, s.next_name)
        return saturating_sum(names, self.max_after(s.outer))

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        if s.phase == KP_Y:
            self._allow_bins(out, 0, self._last_bin)
            return
        next_name, node, after = s.next_name, s.node, self.min_after(s.outer)
        if node == 0 and self._min_names_from[next_name] == 0:
            self.then.fill_rest(s, remaining, out)
        self._allow_name_tokens(node, next_name, remaining, after, out)
        j = self._name_at_node.get(node)
        # the x (1) and y, then the names still required after this one and what follows the keypoints
        if j is not None and self._name_allowed(next_name, j) and remaining >= POINT_TOKENS + self._min_names_from[j + 1] + after:
            self._allow_bins(out, 0, self._last_bin)
