"""An object's polygons after its box(es): ``<poly> x y x y x y ... </poly>``, one or more
(:class:`PolygonPart`), with their states.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import AFTER_POLY, POLY, State, new_state, saturating_sum, saturating_times
from .parts import POINT_TOKENS, ObjectPart, ObjectPartsGrammar

#: ``<poly>`` and ``</poly>``.
POLY_OPEN_TOKENS = POLY_CLOSE_TOKENS = 1
#: Fewest points of a polygon: parse drops polygons of fewer than 3 points.
MIN_POLYGON_POINTS = 3
MIN_POLYGON_COORDS = MIN_POLYGON_POINTS * POINT_TOKENS


class PolygonState(NamedTuple):
    """``POLY``: inside a polygon holding ``coords`` coordinates, after ``polygons`` whole ones."""

    phase: int
    outer: int
    polygons: int
    coords: int


class AfterPolygonState(NamedTuple):
    """``AFTER_POLY``: ``polygons`` whole polygons given."""

    phase: int
    outer: int
    polygons: int


def check_polygon_limits(max_polygon_points: int, max_polygons: int) -> None:
    """Raise ValueError unless a polygon may have the fewest points parse keeps and an object a polygon."""
    if max_polygon_points < MIN_POLYGON_POINTS:
        raise ValueError(f"max_polygon_points must be >= {MIN_POLYGON_POINTS} (parse needs {MIN_POLYGON_POINTS} "
                         f"points), got {max_polygon_points}")
    if max_polygons < 1:
        raise ValueError(f"max_polygons must be >= 1, got {max_polygons}")


class PolygonPart(ObjectPart):
    """Up to ``max_polygons`` polygons of 3 to ``max_polygon_points`` points each, entered by ``<poly>``
    from ``AFTER_BOX``; any bin may stand at any point (the points are in the box's frame, every bin of
    which lies inside the box). ``required``: every object has at least one (segmentation targets always do; left optional,
    an undertrained model closes the object after the box and its mask is empty)."""

    phases = (POLY, AFTER_POLY)

    def __init__(self, grammar: ObjectPartsGrammar, max_polygon_points: int, max_polygons: int,
                 required: bool) -> None:
        super().__init__(grammar)
        check_polygon_limits(max_polygon_points, max_polygons)
        self._max_coords = POINT_TOKENS * max_polygon_points
        self._max_polygons = max_polygons
        self._open_id, self._close_id = grammar.layout.poly_open, grammar.layout.poly_close
        #: the required polygon: <poly>, 3 points, </poly> (0 when polygons are optional)
        self.min_tokens = POLY_OPEN_TOKENS + MIN_POLYGON_COORDS + POLY_CLOSE_TOKENS if required else 0
        self._max_polygon_tokens = POLY_OPEN_TOKENS + self._max_coords + POLY_CLOSE_TOKENS
        self.max_tokens = saturating_times(max_polygons, self._max_polygon_tokens)

    @staticmethod
    def _min_to_close(coords: int) -> int:
        """Fewest tokens that close a polygon holding ``coords`` coordinates: whole points up to the
        minimum, then ``</poly>``."""
        return max(MIN_POLYGON_COORDS, coords + (coords & 1)) - coords + POLY_CLOSE_TOKENS

    def _max_after_polygons(self, polygons: int, outer: int) -> int:
        """Most tokens after ``polygons`` whole polygons: the polygons still allowed, then :meth:`max_after`."""
        more = saturating_times(self._max_polygons - polygons, self._max_polygon_tokens)
        return saturating_sum(more, self.max_after(outer))

    def _open(self, s: State, polygons: int) -> State:
        """The state after ``<poly>`` from ``s``, after ``polygons`` whole ones."""
        return new_state(PolygonState, (POLY, s.outer, polygons, 0))

    def _fill_open(self, s: State, remaining: int, out: np.ndarray) -> None:
        """Allow ``<poly>`` when the shortest polygon and what must follow it fit."""
        if remaining >= 1 + self._min_to_close(0) + self.min_after(s.outer):
            out[self._open_id] = True

    # -- from AFTER_BOX
    def enter(self, s: State, tok: int) -> State | None:
        return self._open(s, 0) if tok == self._open_id else None

    def fill_entry(self, s: State, remaining: int, out: np.ndarray) -> None:
        self._fill_open(s, remaining, out)

    # -- POLY and AFTER_POLY
    def advance(self, s: State, tok: int) -> State | None:
        if s.phase == AFTER_POLY:
            if tok == self._open_id:
                return self._open(s, s.polygons) if s.polygons < self._max_polygons else None
            return self.then.enter_rest(s, tok)
        n, k = s.coords, self._bin_of(tok)
        if k >= 0:
            if n >= self._max_coords:
                return None
            return new_state(PolygonState, (POLY, s.outer, s.polygons, n + 1))
        if tok == self._close_id and n % 2 == 0 and n >= MIN_POLYGON_COORDS:
            return new_state(AfterPolygonState, (AFTER_POLY, s.outer, s.polygons + 1))
        return None

    def min_to_finish(self, s: State) -> int:
        if s.phase == AFTER_POLY:
            return self.min_after(s.outer)
        return self._min_to_close(s.coords) + self.min_after(s.outer)

    def max_to_finish(self, s: State) -> int:
        if s.phase == AFTER_POLY:
            return self._max_after_polygons(s.polygons, s.outer)
        # every coordinate this polygon may still take, </poly>, then the polygons after it
        return saturating_sum(self._max_coords - s.coords, POLY_CLOSE_TOKENS,
                              self._max_after_polygons(s.polygons + 1, s.outer))

    def fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        if s.phase == AFTER_POLY:
            self.then.fill_rest(s, remaining, out)
            if s.polygons < self._max_polygons:
                self._fill_open(s, remaining, out)
            return
        n = s.coords
        if n >= MIN_POLYGON_COORDS and n % 2 == 0:
            out[self._close_id] = True
        # a coordinate (1), then the fewest that close this polygon, then what must follow it
        if n < self._max_coords and remaining >= 1 + self._min_to_close(n + 1) + self.min_after(s.outer):
            self._allow_bins(out, 0, self._last_bin)
