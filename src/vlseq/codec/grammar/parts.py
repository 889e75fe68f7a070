"""An object as a chain of parts: :class:`ObjectPart` (one element kind of ``<obj> ... </obj>``),
:class:`ClosePart` (``</obj>``) and :class:`ObjectPartsGrammar` (a grammar whose objects are such a
chain).

Each element kind of an object (a label, a box, polygons, keypoints) is one part. A part owns the
phases of its states and answers the four questions of a grammar for them side by side:
:meth:`~ObjectPart.advance`, :meth:`~ObjectPart.min_to_finish`, :meth:`~ObjectPart.max_to_finish`
and :meth:`~ObjectPart.fill_allowed`. A grammar lists its object's parts in order (label first:
label, boxes, polygons, keypoints, ``</obj>``; box first: box, label, ``</obj>``) and dispatches
each state to the part that owns its phase.

A part only knows the part after it (``then``) and the token counts of the later parts
(``min_later`` / ``max_later``), so the same part serves both orders. Where an element may be left
out (polygons; keypoints unless all are required), the state that ends the element before it also
lets the elements after it begin (:meth:`ObjectPart.enter_rest`, :meth:`ObjectPart.fill_rest`): after
a box with optional polygons and keypoints, ``<poly>``, a keypoint name and ``</obj>`` may all come.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .base import END, EOS_TOKENS, Grammar, PhaseState, State, saturating_sum
from .layout import VocabLayout

# Token counts that several parts share (what the distances to the end add up).
#: ``<obj>`` and ``</obj>``.
OBJ_OPEN_TOKENS = OBJ_CLOSE_TOKENS = 1
#: A point (a polygon vertex, a keypoint): ``x y``.
POINT_TOKENS = 2


class ObjectPart:
    """One element kind of an object: the phases it owns and, for its states, the four answers of a
    grammar (see :class:`~.base.Grammar`); ``outer`` in every state is passed through to the
    enclosing grammar at ``</obj>``.

    Set by the part: ``phases``, ``min_tokens`` (fewest tokens of the element in a whole object, 0
    when it may be left out) and ``max_tokens`` (most tokens, :data:`~.base.UNBOUNDED` without a
    limit). Set when the chain is linked (:meth:`ObjectPartsGrammar._compose`): ``then``, the next
    part, and ``min_later`` / ``max_later``, the fewest / most tokens of every later part, ``</obj>``
    included (what the enclosing grammar needs after ``</obj>`` is added per state: it depends on
    ``outer``).
    """

    phases: tuple[int, ...] = ()
    min_tokens: int = 0
    max_tokens: int = 0
    then: ObjectPart
    min_later: int = 0
    max_later: int = 0

    def __init__(self, grammar: ObjectPartsGrammar) -> None:
        self.g = grammar
        # The grammar's coordinate helpers, bound once: transitions run once per generated token.
        self._bin_of = grammar._bin_of
        self._allow_bins = grammar._allow_bins
        self._last_bin = grammar._last_bin

    @property
    def required(self) -> bool:
        """Whether every object has this element."""
        return self.min_tokens > 0

    # -- the part's own states
    def advance(self, s: State, tok: int) -> State | None:
        """The state after ``tok`` from ``s`` (a state of one of this part's phases), None if forbidden."""
        raise NotImplementedError

    def min_to_finish(self, s: State) -> int:
        """Fewest tokens from ``s`` to the end of the output, ``</s>`` included."""
        raise NotImplementedError

    def max_to_finish(self, s: State) -> int:
        """Most tokens from ``s`` to the end of the output, ``</s>`` included."""
        raise NotImplementedError

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        """Allow the tokens after which the output still fits in ``remaining`` (already raised to at
        least :meth:`min_to_finish`)."""
        raise NotImplementedError

    # -- the element's beginning, from the state that ends the element before it
    def start(self, outer: int) -> State:
        """The state where the element begins without a token of its own (a part that follows
        ``<obj>`` or a whole box); parts that begin with a token have none."""
        raise NotImplementedError(f"{type(self).__name__} begins with a token")

    def enter(self, s: State, tok: int) -> State | None:
        """The state after ``tok`` as this element's first token, None if it cannot begin one."""
        raise NotImplementedError

    def fill_entry(self, s: State, remaining: int, out: np.ndarray) -> None:
        """Allow the element's first tokens after which it, and what must follow it, fit in ``remaining``."""
        raise NotImplementedError

    def enter_rest(self, s: State, tok: int) -> State | None:
        """:meth:`enter` of this element or, when it may be left out, of one after it."""
        nxt = self.enter(s, tok)
        if nxt is None and not self.required:
            return self.then.enter_rest(s, tok)
        return nxt

    def fill_rest(self, s: State, remaining: int, out: np.ndarray) -> None:
        """:meth:`fill_entry` of this element and, when it may be left out, of those after it."""
        self.fill_entry(s, remaining, out)
        if not self.required:
            self.then.fill_rest(s, remaining, out)

    # -- what follows the element
    def min_after(self, outer: int) -> int:
        """Fewest tokens after this element: the later required elements, ``</obj>``, and what the
        enclosing grammar needs after it."""
        return self.min_later + self.g._min_after_close(outer)

    def max_after(self, outer: int) -> int:
        """Most tokens after this element: every later element, ``</obj>``, and what the enclosing
        grammar may write after it."""
        return saturating_sum(self.max_later, self.g._max_after_close(outer))


class ClosePart(ObjectPart):
    """``</obj>``: the last part of every object. It has no states: ``</obj>`` leads to the enclosing
    grammar's state (:meth:`ObjectPartsGrammar._after_close`)."""

    min_tokens = max_tokens = OBJ_CLOSE_TOKENS

    def __init__(self, grammar: ObjectPartsGrammar) -> None:
        super().__init__(grammar)
        self._close_id = grammar.layout.obj_close

    def enter(self, s: State, tok: int) -> State | None:
        return self.g._after_close(s.outer) if tok == self._close_id else None

    def fill_entry(self, s: State, remaining: int, out: np.ndarray) -> None:
        # Where </obj> may come it is the shortest way on, so this holds whenever the budget was
        # raised to the state's fewest tokens; checked like every other part's first token.
        if remaining >= OBJ_CLOSE_TOKENS + self.g._min_after_close(s.outer):
            out[self._close_id] = True


class ObjectPartsGrammar(Grammar):
    """A grammar whose objects are a chain of :class:`ObjectPart`, ``</obj>`` last.

    A subclass builds its parts, passes them to :meth:`_compose`, and implements the hooks of the
    enclosing grammar (:meth:`_after_close`, :meth:`_min_after_close`, :meth:`_max_after_close`). It
    then answers for the states inside an object with :meth:`_advance_object`,
    :meth:`_min_to_finish_object`, :meth:`_max_to_finish_object` and :meth:`_fill_allowed_object`,
    and opens an object with :meth:`_after_open`. ``_min_object_tokens`` / ``_max_object_tokens``:
    a whole object's fewest / most tokens, ``<obj>`` through ``</obj>``.
    """

    _min_object_tokens: int
    _max_object_tokens: int

    def __init__(self, layout: VocabLayout) -> None:
        super().__init__(layout)
        self._obj_open_id, self._obj_close_id = layout.obj_open, layout.obj_close

    def _compose(self, parts: Sequence[ObjectPart]) -> None:
        """Link ``parts`` (in object order, :class:`ClosePart` last) into this grammar's object."""
        if not parts or not isinstance(parts[-1], ClosePart):
            raise ValueError("an object's parts end with </obj>")
        min_later = max_later = 0
        for i in range(len(parts) - 2, -1, -1):  # from the last but one back to the first
            part, nxt = parts[i], parts[i + 1]
            part.then = nxt
            min_later += nxt.min_tokens
            max_later = saturating_sum(max_later, nxt.max_tokens)
            part.min_later, part.max_later = min_later, max_later
        self._head = parts[0]
        # phase -> the owning part's bound methods: one lookup per call, as transitions run once per token
        self._advance_at: dict[int, Callable[[State, int], State | None]] = {}
        self._min_at: dict[int, Callable[[State], int]] = {}
        self._max_at: dict[int, Callable[[State], int]] = {}
        self._fill_at: dict[int, Callable[[State, int, np.ndarray], None]] = {}
        for part in parts:
            for ph in part.phases:
                if ph in self._advance_at:
                    raise ValueError(f"phase {ph} has two parts")
                self._advance_at[ph], self._fill_at[ph] = part.advance, part.fill_allowed
                self._min_at[ph], self._max_at[ph] = part.min_to_finish, part.max_to_finish
        self._min_object_tokens = OBJ_OPEN_TOKENS + sum(p.min_tokens for p in parts)
        self._max_object_tokens = saturating_sum(OBJ_OPEN_TOKENS, *(p.max_tokens for p in parts))

    # -- hooks of the enclosing grammar
    def _after_close(self, outer: int) -> State:
        """State after ``</obj>``."""
        raise NotImplementedError

    def _min_after_close(self, outer: int) -> int:
        """``min_to_finish`` of the state after ``</obj>``."""
        raise NotImplementedError

    def _max_after_close(self, outer: int) -> int:
        """``max_to_finish`` of the state after ``</obj>``."""
        raise NotImplementedError

    # -- opening an object
    def _after_open(self, outer: int) -> State:
        """State after ``<obj>``: where the first part begins."""
        return self._head.start(outer)

    def _min_with_new_object(self, outer: int) -> int:
        """Fewest tokens for a whole object, ``<obj>`` through ``</obj>``, plus what must follow it."""
        return self._min_object_tokens + self._min_after_close(outer)

    # -- inside an object: the part that owns the state's phase answers
    def _not_mine(self, s: State) -> ValueError:
        return ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _advance_object(self, s: State, tok: int) -> State | None:
        try:
            advance = self._advance_at[s.phase]
        except KeyError:
            raise self._not_mine(s) from None
        return advance(s, tok)

    def _min_to_finish_object(self, s: State) -> int:
        try:
            fewest = self._min_at[s.phase]
        except KeyError:
            raise self._not_mine(s) from None
        return fewest(s)

    def _max_to_finish_object(self, s: State) -> int:
        try:
            most = self._max_at[s.phase]
        except KeyError:
            raise self._not_mine(s) from None
        return most(s)

    def _fill_allowed_object(self, s: State, remaining: int, out: np.ndarray) -> None:
        try:
            fill = self._fill_at[s.phase]
        except KeyError:
            raise self._not_mine(s) from None
        fill(s, remaining, out)


class EndsAfterObject:
    """The enclosing grammar's hooks (:class:`ObjectPartsGrammar`) for an output of at most one
    object, after whose ``</obj>`` only ``</s>`` may come: ``PhaseState(END)``. Listed before the
    grammar's base class."""

    def _after_close(self, outer: int) -> State:
        return PhaseState(END)

    def _min_after_close(self, outer: int) -> int:
        return EOS_TOKENS

    def _max_after_close(self, outer: int) -> int:
        return EOS_TOKENS
