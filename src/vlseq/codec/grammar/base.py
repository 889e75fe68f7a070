"""The grammar state machine: state and phase constants, the :class:`Grammar` base class and the
grammars without objects (:class:`TextGrammar`, :class:`ChoiceGrammar`, :class:`ImageGrammar`).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .layout import GrammarError, TokenTrie, VocabLayout

State = tuple[int, ...]
#: A remaining-token budget that never binds.
UNBOUNDED = 1 << 30

# Phases: the first element of every state tuple.
DONE, OUT, LIST, END, START, CHOICE, OBJ_START, OBJ_WORDS, LABEL = range(9)
Y1, X2, Y2, AFTER_BOX, POLY, AFTER_POLY = range(9, 15)
KP, KP_Y = 15, 16  # keypoints: a name from the name trie, then x, then y
IMG = 17  # image codes: (IMG, codes emitted so far)
DONE_STATE: State = (DONE,)


# --------------------------------------------------------------------------- base


class Grammar:
    """Base class: a state machine over token ids (see :mod:`vlseq.codec.grammar`).

    Subclasses implement ``initial_state``, ``_advance``, ``_dist`` and ``_fill`` for states
    other than the finished state ``(DONE,)``, which accepts anything (padding after ``</s>``)
    and allows ``</s>`` and ``<pad>``.
    """

    def __init__(self, layout: VocabLayout) -> None:
        self.layout = layout
        self._b = layout.num_bins
        self._lo = layout.loc_offset
        self._text = layout.text_mask
        self._word = layout.word_mask
        self._eos = layout.eos_id

    # -- public API
    def initial_state(self) -> State:
        raise NotImplementedError

    def advance(self, state: State, token: int) -> State:
        """The state after ``token``; :class:`GrammarError` if ``token`` is not allowed (budget ignored)."""
        if state[0] == DONE:
            return state
        token = int(token)
        nxt = self._advance(state, token) if 0 <= token < self.layout.vocab_size else None
        if nxt is None:
            raise GrammarError(f"{type(self).__name__}: token {int(token)} not allowed in state {state}")
        return nxt

    def min_to_finish(self, state: State) -> int:
        """Fewest tokens, ``</s>`` included, that complete an output from ``state`` (0 when finished)."""
        return 0 if state[0] == DONE else self._dist(state)

    def fill_allowed(self, state: State, remaining: int, out: np.ndarray) -> None:
        """Set ``out[t] = True`` for each allowed next token ``t``.

        ``out``: bool array of shape ``(vocab_size,)``, all False on entry. ``remaining``: tokens
        that may still be generated, this one included. Only tokens after which the output can be
        finished within ``remaining`` are allowed; a budget below :meth:`min_to_finish` is raised
        to it, so the shortest completion stays allowed and the mask is never empty.
        """
        if state[0] == DONE:
            out[self._eos] = True
            out[self.layout.pad_id] = True
            return
        d = self._dist(state)
        self._fill(state, remaining if remaining > d else d, out)

    def allowed(self, state: State, remaining: int = UNBOUNDED) -> np.ndarray:
        """Bool mask ``(vocab_size,)`` of the allowed next tokens (a fresh array)."""
        out = np.zeros(self.layout.vocab_size, dtype=bool)
        self.fill_allowed(state, remaining, out)
        return out

    def is_done(self, state: State) -> bool:
        return state[0] == DONE

    def replay(self, ids: Sequence[int], state: State | None = None) -> State:
        """Advance from ``state`` (default: the initial state) through ``ids``."""
        s = self.initial_state() if state is None else state
        for t in ids:
            s = self.advance(s, t)
        return s

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether ``ids`` is a complete output (``</s>`` reached) of this grammar."""
        try:
            return self.replay(ids)[0] == DONE
        except GrammarError:
            return False

    # -- helpers for subclasses
    def _loc(self, token: int) -> int:
        """Bin of a coordinate token, -1 for any other token."""
        k = token - self._lo
        return k if 0 <= k < self._b else -1

    def _locs(self, out: np.ndarray, first: int, last: int) -> None:
        """Allow bins ``first..last`` (inclusive)."""
        out[self._lo + first : self._lo + last + 1] = True

    def _advance(self, state: State, token: int) -> State | None:
        raise NotImplementedError

    def _dist(self, state: State) -> int:
        raise NotImplementedError

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        raise NotImplementedError


class TextGrammar(Grammar):
    """Plain text: text ids, then ``</s>``; never a coordinate or markup token."""

    def initial_state(self) -> State:
        return (OUT,)

    def _advance(self, state: State, token: int) -> State | None:
        if token == self._eos:
            return DONE_STATE
        return state if self._text[token] else None

    def _dist(self, state: State) -> int:
        return 1

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        if r >= 2:
            out |= self._text
        out[self._eos] = True


class ChoiceGrammar(Grammar):
    """One of a closed set of token-id sequences (a prefix trie), then ``</s>``."""

    def __init__(self, layout: VocabLayout, choices: Sequence[Sequence[int]]) -> None:
        super().__init__(layout)
        self.trie = TokenTrie(choices, layout, what="choice")

    def initial_state(self) -> State:
        return (CHOICE, 0)

    def _advance(self, state: State, token: int) -> State | None:
        node = state[1]
        if token == self._eos:
            return DONE_STATE if self.trie.terminal[node] else None
        child = self.trie.children[node].get(token)
        return None if child is None else (CHOICE, child)

    def _dist(self, state: State) -> int:
        return self.trie.depth[state[1]] + 1

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        node = state[1]
        self.trie.fill_children(node, r - 2, out)  # 1 (the child) + depth + 1 (</s>) <= r
        if self.trie.terminal[node]:
            out[self._eos] = True


class ImageGrammar(Grammar):
    """Exactly ``n_tokens`` image codes ``<img_k>`` (any codes, a fixed grid), then ``</s>``.

    States: ``(IMG, i)`` after ``i`` codes. The budget never binds below ``n_tokens + 1``: the
    grid has a fixed size, so a shorter output would not decode to an image at all.
    """

    def __init__(self, layout: VocabLayout, n_tokens: int) -> None:
        super().__init__(layout)
        if layout.num_image_tokens < 1:
            raise ValueError("ImageGrammar: the layout has no image tokens (num_image_tokens = 0)")
        if n_tokens < 1:
            raise ValueError(f"ImageGrammar: n_tokens must be >= 1, got {n_tokens}")
        self.n_tokens = int(n_tokens)
        self._io, self._ni = layout.img_offset, layout.num_image_tokens

    def initial_state(self) -> State:
        return (IMG, 0)

    def _advance(self, state: State, token: int) -> State | None:
        i = state[1]
        if i < self.n_tokens:
            return (IMG, i + 1) if self._io <= token < self._io + self._ni else None
        return DONE_STATE if token == self._eos else None

    def _dist(self, state: State) -> int:
        return self.n_tokens - state[1] + 1

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        if state[1] < self.n_tokens:
            out[self._io : self._io + self._ni] = True
        else:
            out[self._eos] = True

