"""The grammar state machine: state and phase constants, the :class:`Grammar` base class and the
grammars without objects (:class:`TextGrammar`, :class:`ChoiceGrammar`, :class:`ImageGrammar`).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, Sequence

import numpy as np

from .layout import GrammarError, TokenTrie, VocabLayout


class State(Protocol):
    """Any grammar state. Every state is a :class:`~typing.NamedTuple` of ints whose first field,
    ``phase``, says which state type it is (:class:`PhaseState`, :class:`TrieState`,
    :class:`ImageState` here, the object states in :mod:`.objects`): tuples, so they hash and
    compare cheaply (decoders cache one per generated prefix)."""

    @property
    def phase(self) -> int: ...

    def __hash__(self) -> int: ...


#: A token count that never binds: a remaining budget without limit, or the length of an output
#: that can grow without end (:meth:`Grammar.max_to_finish`). Sums saturate at it.
UNBOUNDED = 1 << 30

# Phases: the ``phase`` field of every state, i.e. what the grammar expects next. The values are
# fixed (they are the first element of each state tuple).
DONE = 0  # finished: ``</s>`` given, padding may follow (PhaseState)
OUT = 1  # free text outside ``<obj>`` (PhaseState)
LIST = 2  # between the objects of an object list (objects.ListState)
END = 3  # a single object closed, ``</s>`` next (PhaseState)
START = 4  # a single object's ``<obj>`` next (PhaseState)
CHOICE = 5  # in the choice trie (TrieState)
OBJ_START = 6  # after ``<obj>``, a free label without a word yet (objects.FreeLabelState)
OBJ_WORDS = 7  # a free label with a word (objects.FreeLabelState)
LABEL = 8  # in the label trie (objects.LabelState)
Y1, X2, Y2 = 9, 10, 11  # in a box: the coordinate named next (objects.BoxState)
AFTER_BOX = 12  # a whole box given (objects.AfterBoxState)
POLY = 13  # inside ``<poly>`` (objects.PolygonState)
AFTER_POLY = 14  # after ``</poly>`` (objects.AfterPolygonState)
KP = 15  # keypoints: in a name of the name trie, or between keypoints (objects.KeypointState)
KP_Y = 16  # keypoints: a keypoint's x given, its y next (objects.KeypointState)
IMG = 17  # image codes (ImageState)
X1 = 18  # a box-first object: after ``<obj>``, its x1 next (objects.BoxState)
LABEL_AFTER_BOX = 19  # a box-first object: in the label trie after the box (objects.LabelState)

#: Tokens of ``</s>``, the last token of every output.
EOS_TOKENS = 1


class PhaseState(NamedTuple):
    """A state that is its phase alone (``DONE``, ``OUT``, ``START``, ``END``)."""

    phase: int


class TrieState(NamedTuple):
    """``CHOICE``: at ``node`` of the choice trie (0: the root)."""

    phase: int
    node: int


class ImageState(NamedTuple):
    """``IMG``: ``codes`` image codes given so far."""

    phase: int
    codes: int


DONE_STATE: State = PhaseState(DONE)

#: ``new_state(StateType, (phase, ...))``: the state ``StateType(phase, ...)``, built without the Python
#: frame of the named tuple's generated ``__new__`` (a quarter to a half cheaper, and transitions run
#: once per generated token). It does not check the field count: give every field.
new_state = tuple.__new__


def saturating_sum(*counts: int) -> int:
    """``sum(counts)``, or :data:`UNBOUNDED` when any count is (a bound plus an unbounded part is unbounded)."""
    total = 0
    for n in counts:
        if n >= UNBOUNDED:
            return UNBOUNDED
        total += n
    return min(total, UNBOUNDED)


def saturating_times(k: int, count: int) -> int:
    """``k * count`` for ``k >= 0`` repetitions: 0 for none (even of an unbounded part), else saturated."""
    if k <= 0:
        return 0
    return UNBOUNDED if count >= UNBOUNDED else min(k * count, UNBOUNDED)


# --------------------------------------------------------------------------- base


class Grammar:
    """Base class: a state machine over token ids (see :mod:`vlseq.codec.grammar`).

    Subclasses implement ``initial_state``, ``_advance``, ``_min_to_finish``, ``_max_to_finish`` and
    ``_fill_allowed`` for states other than the finished state ``DONE_STATE``, which accepts
    anything (padding after ``</s>``) and allows ``</s>`` and ``<pad>``.
    """

    def __init__(self, layout: VocabLayout) -> None:
        self.layout = layout
        self._num_bins = layout.num_bins
        self._loc_offset = layout.loc_offset
        self._last_bin = layout.num_bins - 1
        self._text_mask = layout.text_mask
        self._word_mask = layout.word_mask
        self._eos_id = layout.eos_id

    # -- public API
    def initial_state(self) -> State:
        raise NotImplementedError

    def advance(self, state: State, token: int) -> State:
        """The state after ``token``; :class:`GrammarError` if ``token`` is not allowed (budget ignored)."""
        if state.phase == DONE:
            return state
        token = int(token)
        nxt = self._advance(state, token) if 0 <= token < self.layout.vocab_size else None
        if nxt is None:
            raise GrammarError(f"{type(self).__name__}: token {int(token)} not allowed in state {state}")
        return nxt

    def min_to_finish(self, state: State | None = None) -> int:
        """Fewest tokens, ``</s>`` included, that complete an output from ``state`` (default: the
        initial state; 0 when finished)."""
        if state is None:
            state = self.initial_state()
        return 0 if state.phase == DONE else self._min_to_finish(state)

    def max_to_finish(self, state: State | None = None) -> int:
        """Most tokens, ``</s>`` included, of any output completed from ``state`` (default: the initial
        state; 0 when finished), ignoring any budget; :data:`UNBOUNDED` when outputs can grow without
        end (free text, an object list without ``max_objects``)."""
        if state is None:
            state = self.initial_state()
        return 0 if state.phase == DONE else self._max_to_finish(state)

    def fill_allowed(self, state: State, remaining: int, out: np.ndarray) -> None:
        """Set ``out[t] = True`` for each allowed next token ``t``.

        ``out``: bool array of shape ``(vocab_size,)``, all False on entry. ``remaining``: tokens
        that may still be generated, this one included. Only tokens after which the output can be
        finished within ``remaining`` are allowed; a budget below :meth:`min_to_finish` is raised
        to it, so the shortest completion stays allowed and the mask is never empty.
        """
        if state.phase == DONE:
            out[self._eos_id] = True
            out[self.layout.pad_id] = True
            return
        fewest = self._min_to_finish(state)
        self._fill_allowed(state, remaining if remaining > fewest else fewest, out)

    def allowed(self, state: State, remaining: int = UNBOUNDED) -> np.ndarray:
        """Bool mask ``(vocab_size,)`` of the allowed next tokens (a fresh array)."""
        out = np.zeros(self.layout.vocab_size, dtype=bool)
        self.fill_allowed(state, remaining, out)
        return out

    def is_done(self, state: State) -> bool:
        return state.phase == DONE

    def replay(self, ids: Sequence[int], state: State | None = None) -> State:
        """Advance from ``state`` (default: the initial state) through ``ids``."""
        s = self.initial_state() if state is None else state
        for t in ids:
            s = self.advance(s, t)
        return s

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether ``ids`` is a complete output (``</s>`` reached) of this grammar."""
        try:
            return self.replay(ids).phase == DONE
        except GrammarError:
            return False

    # -- helpers for subclasses
    def _bin_of(self, token: int) -> int:
        """Bin of a coordinate token, -1 for any other token."""
        k = token - self._loc_offset
        return k if 0 <= k < self._num_bins else -1

    def _allow_bins(self, out: np.ndarray, first: int, last: int) -> None:
        """Allow the coordinate tokens of bins ``first..last`` (inclusive)."""
        out[self._loc_offset + first : self._loc_offset + last + 1] = True

    # -- what subclasses implement (never called with the finished state)
    def _advance(self, state: State, token: int) -> State | None:
        """The state after ``token`` (a valid id), None when the grammar forbids it."""
        raise NotImplementedError

    def _min_to_finish(self, state: State) -> int:
        raise NotImplementedError

    def _max_to_finish(self, state: State) -> int:
        raise NotImplementedError

    def _fill_allowed(self, state: State, remaining: int, out: np.ndarray) -> None:
        """:meth:`fill_allowed` with ``remaining`` already raised to at least :meth:`min_to_finish`."""
        raise NotImplementedError


class TextGrammar(Grammar):
    """Plain text: text ids, then ``</s>``; never a coordinate or markup token."""

    def initial_state(self) -> State:
        return PhaseState(OUT)

    def _advance(self, state: State, token: int) -> State | None:
        if token == self._eos_id:
            return DONE_STATE
        return state if self._text_mask[token] else None

    def _min_to_finish(self, state: State) -> int:
        return EOS_TOKENS

    def _max_to_finish(self, state: State) -> int:
        return UNBOUNDED

    def _fill_allowed(self, state: State, remaining: int, out: np.ndarray) -> None:
        if remaining >= 1 + EOS_TOKENS:  # a text token, then still room for </s>
            out |= self._text_mask
        out[self._eos_id] = True


class ChoiceGrammar(Grammar):
    """One of a closed set of token-id sequences (a prefix trie), then ``</s>``. States: :class:`TrieState`."""

    def __init__(self, layout: VocabLayout, choices: Sequence[Sequence[int]]) -> None:
        super().__init__(layout)
        self.trie = TokenTrie(choices, layout, what="choice")

    def initial_state(self) -> State:
        return TrieState(CHOICE, 0)

    def _advance(self, state: TrieState, token: int) -> State | None:
        node = state.node
        if token == self._eos_id:
            return DONE_STATE if self.trie.terminal[node] else None
        child = self.trie.children[node].get(token)
        return None if child is None else new_state(TrieState, (CHOICE, child))

    def _min_to_finish(self, state: TrieState) -> int:
        return self.trie.depth[state.node] + EOS_TOKENS

    def _max_to_finish(self, state: TrieState) -> int:
        return self.trie.height[state.node] + EOS_TOKENS

    def _fill_allowed(self, state: TrieState, remaining: int, out: np.ndarray) -> None:
        node = state.node
        # the child (1), the rest of its choice (its depth) and </s> fit in ``remaining``
        self.trie.fill_children(node, remaining - 1 - EOS_TOKENS, out)
        if self.trie.terminal[node]:
            out[self._eos_id] = True


class ImageGrammar(Grammar):
    """Exactly ``n_tokens`` image codes ``<img_k>`` (any codes, a fixed grid), then ``</s>``.

    States: :class:`ImageState`. The budget never binds below ``n_tokens + 1``: the grid has a
    fixed size, so a shorter output would not decode to an image at all.
    """

    def __init__(self, layout: VocabLayout, n_tokens: int) -> None:
        super().__init__(layout)
        if layout.num_image_tokens < 1:
            raise ValueError("ImageGrammar: the layout has no image tokens (num_image_tokens = 0)")
        if n_tokens < 1:
            raise ValueError(f"ImageGrammar: n_tokens must be >= 1, got {n_tokens}")
        self.n_tokens = int(n_tokens)
        # image code ids are img_first .. img_stop - 1
        self._img_first = layout.img_offset
        self._img_stop = layout.img_offset + layout.num_image_tokens

    def initial_state(self) -> State:
        return ImageState(IMG, 0)

    def _advance(self, state: ImageState, token: int) -> State | None:
        codes = state.codes
        if codes < self.n_tokens:
            return new_state(ImageState, (IMG, codes + 1)) if self._img_first <= token < self._img_stop else None
        return DONE_STATE if token == self._eos_id else None

    def _min_to_finish(self, state: ImageState) -> int:
        return self.n_tokens - state.codes + EOS_TOKENS

    def _max_to_finish(self, state: ImageState) -> int:
        return self.n_tokens - state.codes + EOS_TOKENS  # the grid's size is fixed

    def _fill_allowed(self, state: ImageState, remaining: int, out: np.ndarray) -> None:
        if state.codes < self.n_tokens:
            out[self._img_first : self._img_stop] = True
        else:
            out[self._eos_id] = True
