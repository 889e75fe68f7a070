"""The box of an object, ``x1 y1 x2 y2`` with ``x2 > x1`` and ``y2 > y1``: :class:`BoxPart` (one box,
then straight into the next part: the box-first list) and :class:`BoxesPart` (one or more boxes,
then the optional elements: the label-first objects), with their states.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import AFTER_BOX, UNBOUNDED, X1, X2, Y1, Y2, State, new_state, saturating_sum, saturating_times
from .parts import ObjectPart, ObjectPartsGrammar

#: A box: ``x1 y1 x2 y2``.
BOX_TOKENS = 4
#: Box coordinates still to come in each box phase (the phase names the next one).
BOX_COORDS_LEFT = {X1: BOX_TOKENS, Y1: BOX_TOKENS - 1, X2: BOX_TOKENS - 2, Y2: BOX_TOKENS - 3}


class BoxState(NamedTuple):
    """``X1`` (box first: its x1 next) / ``Y1`` / ``X2`` / ``Y2``: inside a box, the phase naming the
    coordinate next; the ones given so far (0 for those not yet given). ``boxes``: whole boxes before
    this one (0 when boxes per object are unbounded, so that states stay few)."""

    phase: int
    outer: int
    boxes: int
    x1: int
    y1: int
    x2: int


class AfterBoxState(NamedTuple):
    """``AFTER_BOX``: a whole box given, ``boxes`` of them (0 when unbounded). The box itself is not
    kept: the polygons and keypoints after it are written in its frame, where every bin lies inside it."""

    phase: int
    outer: int
    boxes: int


class BoxPart(ObjectPart):
    """One box, then the next part's start state (box first: the label after the box).

    x1 and y1 are never the last bin, so that ``x2 > x1`` and ``y2 > y1`` stay possible; the box's
    coordinates come one per state, so its allowed tokens never depend on the budget (a box once
    begun is finished at its fewest tokens).
    """

    phases: tuple[int, ...] = (X1, Y1, X2, Y2)
    min_tokens = max_tokens = BOX_TOKENS
    #: Most boxes per object (None: any number); :class:`BoxesPart` sets it.
    max_boxes: int | None = 1

    def start(self, outer: int) -> State:
        return new_state(BoxState, (X1, outer, 0, 0, 0, 0))

    def enter(self, s: State, tok: int) -> State | None:
        return self._open(s.outer, 0, tok)

    def fill_entry(self, s: State, remaining: int, out: np.ndarray) -> None:
        if remaining >= BOX_TOKENS + self.min_after(s.outer):  # x1, then the rest of the box
            self._allow_bins(out, 0, self._last_bin - 1)

    def _open(self, outer: int, boxes: int, tok: int) -> State | None:
        """The state after x1 ``tok`` of a box after ``boxes`` whole ones."""
        k = self._bin_of(tok)
        return new_state(BoxState, (Y1, outer, boxes, k, 0, 0)) if 0 <= k < self._last_bin else None

    def _whole(self, s: State, y2: int) -> State:
        """The state after a whole box, its y2 given in box state ``s``."""
        return self.then.start(s.outer)

    def _max_after_box(self, boxes: int, outer: int) -> int:
        """Most tokens after ``boxes`` whole boxes: the boxes still allowed, then :meth:`max_after`."""
        if self.max_boxes is None:
            return UNBOUNDED
        if boxes >= self.max_boxes:  # the last box (box first: the only one)
            return self.max_after(outer)
        return saturating_sum(saturating_times(self.max_boxes - boxes, BOX_TOKENS), self.max_after(outer))

    def advance(self, s: State, tok: int) -> State | None:
        ph = s.phase
        if ph == X1:
            return self._open(s.outer, s.boxes, tok)
        k = self._bin_of(tok)
        if ph == Y1:
            return new_state(BoxState, (X2, s.outer, s.boxes, s.x1, k, 0)) if 0 <= k < self._last_bin else None
        if ph == X2:
            return new_state(BoxState, (Y2, s.outer, s.boxes, s.x1, s.y1, k)) if k > s.x1 else None
        return self._whole(s, k) if k > s.y1 else None  # Y2

    def min_to_finish(self, s: State) -> int:
        return BOX_COORDS_LEFT[s.phase] + self.min_after(s.outer)

    def max_to_finish(self, s: State) -> int:
        return saturating_sum(BOX_COORDS_LEFT[s.phase], self._max_after_box(s.boxes + 1, s.outer))

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        ph, last = s.phase, self._last_bin
        if ph == X1 or ph == Y1:
            self._allow_bins(out, 0, last - 1)
        elif ph == X2:
            self._allow_bins(out, s.x1 + 1, last)
        else:  # Y2
            self._allow_bins(out, s.y1 + 1, last)


class BoxesPart(BoxPart):
    """One or more boxes (at most ``max_boxes``; None: any number), each begun by its x1 after the
    label or the box before it, then ``AFTER_BOX``: another box, or what may come after the boxes
    (the later parts' first tokens, ``</obj>`` when none is required).
    """

    phases = (Y1, X2, Y2, AFTER_BOX)

    def __init__(self, grammar: ObjectPartsGrammar, max_boxes: int | None) -> None:
        super().__init__(grammar)
        if max_boxes is not None and max_boxes < 1:
            raise ValueError(f"max boxes per object must be >= 1 or None, got {max_boxes}")
        self.max_boxes = max_boxes
        self.max_tokens = UNBOUNDED if max_boxes is None else saturating_times(max_boxes, BOX_TOKENS)

    # After the label, the box begins with its x1: there is no state before it.
    start = ObjectPart.start

    def _whole(self, s: State, y2: int) -> State:
        boxes = 0 if self.max_boxes is None else s.boxes + 1
        return new_state(AfterBoxState, (AFTER_BOX, s.outer, boxes))

    def _more(self, s: State) -> bool:
        """Whether another box may follow the ``s.boxes`` whole ones."""
        return self.max_boxes is None or s.boxes < self.max_boxes

    def advance(self, s: State, tok: int) -> State | None:
        if s.phase != AFTER_BOX:
            return BoxPart.advance(self, s, tok)
        if self._more(s):
            nxt = self._open(s.outer, s.boxes, tok)
            if nxt is not None:
                return nxt
        return self.then.enter_rest(s, tok)

    def min_to_finish(self, s: State) -> int:
        if s.phase == AFTER_BOX:
            return self.min_after(s.outer)
        return BoxPart.min_to_finish(self, s)

    def max_to_finish(self, s: State) -> int:
        if s.phase == AFTER_BOX:
            return self._max_after_box(s.boxes, s.outer)
        return BoxPart.max_to_finish(self, s)

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        if s.phase != AFTER_BOX:
            return BoxPart.fill_allowed(self, s, remaining, out)
        self.then.fill_rest(s, remaining, out)
        if self._more(s):
            self.fill_entry(s, remaining, out)
