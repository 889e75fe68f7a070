"""The label of an object: free text (:class:`FreeLabelPart`) or one of a closed set of token
sequences (:class:`TrieLabelPart`), with their states.

A label before the box (label first) ends where the box's first coordinate comes; a label after
the box (box first) ends at ``</obj>``: either way the label hands the token that ends it to the
next part (``then``).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .base import OBJ_START, OBJ_WORDS, UNBOUNDED, State, new_state, saturating_sum
from .layout import TokenTrie
from .parts import ObjectPart, ObjectPartsGrammar

#: A free-text label's fewest tokens: one word.
FREE_LABEL_MIN_TOKENS = 1


class FreeLabelState(NamedTuple):
    """``OBJ_START`` (no word yet) / ``OBJ_WORDS`` (a word given): in a free-text label."""

    phase: int
    outer: int


class LabelState(NamedTuple):
    """``LABEL`` (before the box) / ``LABEL_AFTER_BOX`` (after it): at ``node`` of the label trie."""

    phase: int
    outer: int
    node: int


class FreeLabelPart(ObjectPart):
    """A free-text label: any text, at least one word (a token with a visible character) so that
    the label is never empty. Any number of tokens: a free label has no longest form."""

    phases = (OBJ_START, OBJ_WORDS)
    min_tokens = FREE_LABEL_MIN_TOKENS
    max_tokens = UNBOUNDED

    def __init__(self, grammar: ObjectPartsGrammar) -> None:
        super().__init__(grammar)
        self._text_mask, self._word_mask = grammar._text_mask, grammar._word_mask
        nonword = self._text_mask & ~self._word_mask
        nonword.setflags(write=False)
        self._nonword_mask = nonword

    def start(self, outer: int) -> State:
        return FreeLabelState(OBJ_START, outer)

    def advance(self, s: State, tok: int) -> State | None:
        if s.phase == OBJ_START:
            if self._word_mask[tok]:
                return new_state(FreeLabelState, (OBJ_WORDS, s.outer))
            return s if self._text_mask[tok] else None
        # OBJ_WORDS: more text, or the first token of the next part
        return s if self._text_mask[tok] else self.then.enter(s, tok)

    def min_to_finish(self, s: State) -> int:
        after = self.min_after(s.outer)
        return FREE_LABEL_MIN_TOKENS + after if s.phase == OBJ_START else after

    def max_to_finish(self, s: State) -> int:
        return UNBOUNDED  # a free label takes any number of words

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        # Each threshold: this token (1) plus the fewest tokens that finish after it.
        after = self.min_after(s.outer)
        if s.phase == OBJ_START:
            out |= self._word_mask  # one word is the shortest label: always within the budget
            if remaining >= 1 + FREE_LABEL_MIN_TOKENS + after:
                out |= self._nonword_mask
        else:
            self.then.fill_entry(s, remaining, out)
            if remaining >= 1 + after:
                out |= self._text_mask


class TrieLabelPart(ObjectPart):
    """A label from a closed set (``labels``, token-id sequences; one may prefix another): a walk
    down the label trie, in states of ``phase`` (``LABEL`` before the box, ``LABEL_AFTER_BOX`` after
    it). At a node that ends a label, the next part's first token ends it."""

    def __init__(self, grammar: ObjectPartsGrammar, labels: Sequence[Sequence[int]], phase: int) -> None:
        super().__init__(grammar)
        self.trie = TokenTrie(labels, grammar.layout, what="label", need_word=True)
        self._phase = phase
        self.phases = (phase,)
        self.min_tokens, self.max_tokens = self.trie.depth[0], self.trie.height[0]

    def start(self, outer: int) -> State:
        return new_state(LabelState, (self._phase, outer, 0))

    def advance(self, s: State, tok: int) -> State | None:
        child = self.trie.children[s.node].get(tok)
        if child is not None:
            return new_state(LabelState, (self._phase, s.outer, child))
        return self.then.enter(s, tok) if self.trie.terminal[s.node] else None

    def min_to_finish(self, s: State) -> int:
        return self.trie.depth[s.node] + self.min_after(s.outer)

    def max_to_finish(self, s: State) -> int:
        return saturating_sum(self.trie.height[s.node], self.max_after(s.outer))

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        node = s.node
        # a child (1), the rest of its label (the child's depth) and what must follow the label
        self.trie.fill_children(node, remaining - 1 - self.min_after(s.outer), out)
        if self.trie.terminal[node]:
            self.then.fill_entry(s, remaining, out)
