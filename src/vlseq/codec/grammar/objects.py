"""Object grammars: ``<obj> LABEL box+ [polygons] [keypoints] </obj>`` (:class:`_ObjectGrammar`) and
the grammars built on it (:class:`GroundedTextGrammar`, :class:`ObjectListGrammar`,
:class:`SingleBoxGrammar`).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .base import (
    AFTER_BOX,
    AFTER_POLY,
    DONE_STATE,
    END,
    EOS_TOKENS,
    KP,
    KP_Y,
    LABEL,
    LIST,
    OBJ_START,
    OBJ_WORDS,
    OUT,
    POLY,
    START,
    UNBOUNDED,
    X2,
    Y1,
    Y2,
    Grammar,
    PhaseState,
    State,
    new_state,
    saturating_sum,
    saturating_times,
)
from .layout import TokenTrie, VocabLayout

# Token counts of the pieces of an object (what the distances to the end add up).
#: ``<obj>`` and ``</obj>``.
OBJ_OPEN_TOKENS = OBJ_CLOSE_TOKENS = 1
#: ``<poly>`` and ``</poly>``.
POLY_OPEN_TOKENS = POLY_CLOSE_TOKENS = 1
#: A box: ``x1 y1 x2 y2``.
BOX_TOKENS = 4
#: A point (a polygon vertex, a keypoint): ``x y``.
POINT_TOKENS = 2
#: A free-text label's fewest tokens: one word.
FREE_LABEL_MIN_TOKENS = 1
#: Fewest points of a polygon: parse drops polygons of fewer than 3 points.
MIN_POLYGON_POINTS = 3
MIN_POLYGON_COORDS = MIN_POLYGON_POINTS * POINT_TOKENS
#: Box coordinates already given in each box phase (the phase names the next one).
_BOX_COORDS_GIVEN = {Y1: 1, X2: 2, Y2: 3}


# --------------------------------------------------------------------------- states
# Every object state has ``outer``: what the enclosing grammar needs back at ``</obj>`` (the object
# list's count; 0 elsewhere).


class ListState(NamedTuple):
    """``LIST``: between the objects of an object list, ``count`` of them closed (saturated, see
    :class:`ObjectListGrammar`)."""

    phase: int
    count: int


class FreeLabelState(NamedTuple):
    """``OBJ_START`` (no word yet) / ``OBJ_WORDS`` (a word given): in a free-text label."""

    phase: int
    outer: int


class LabelState(NamedTuple):
    """``LABEL``: at ``node`` of the label trie."""

    phase: int
    outer: int
    node: int


class BoxState(NamedTuple):
    """``Y1`` / ``X2`` / ``Y2``: inside a box, the phase naming the coordinate next; the ones given so
    far (0 for those not yet given). ``boxes``: whole boxes before this one (0 when boxes per object
    are unbounded, so that states stay few)."""

    phase: int
    outer: int
    boxes: int
    x1: int
    y1: int
    x2: int


class AfterBoxState(NamedTuple):
    """``AFTER_BOX``: a whole box given, ``boxes`` of them (0 when unbounded). The box is kept only when
    polygon points must lie inside it (zeros otherwise, so that states stay few)."""

    phase: int
    outer: int
    boxes: int
    x1: int
    y1: int
    x2: int
    y2: int


class PolygonState(NamedTuple):
    """``POLY``: inside a polygon holding ``coords`` coordinates, after ``polygons`` whole ones; the box
    as in :class:`AfterBoxState`."""

    phase: int
    outer: int
    polygons: int
    coords: int
    x1: int
    y1: int
    x2: int
    y2: int


class AfterPolygonState(NamedTuple):
    """``AFTER_POLY``: ``polygons`` whole polygons given; the box as in :class:`AfterBoxState`."""

    phase: int
    outer: int
    polygons: int
    x1: int
    y1: int
    x2: int
    y2: int


class KeypointState(NamedTuple):
    """``KP``: at ``node`` of the keypoint-name trie (0: between keypoints), the names from index
    ``next_name`` of the ordered list still allowed. ``KP_Y``: a keypoint's x given, its y next
    (``node`` 0)."""

    phase: int
    outer: int
    next_name: int
    node: int


# --------------------------------------------------------------------------- objects


class _ObjectGrammar(Grammar):
    """Shared machinery for ``<obj> LABEL box+ [polygons] [keypoints] </obj>``.

    States inside an object (phase: state type): ``OBJ_START``/``OBJ_WORDS``: :class:`FreeLabelState`,
    ``LABEL``: :class:`LabelState`, ``Y1``/``X2``/``Y2``: :class:`BoxState`, ``AFTER_BOX``:
    :class:`AfterBoxState`, ``POLY``: :class:`PolygonState`, ``AFTER_POLY``:
    :class:`AfterPolygonState`, ``KP``/``KP_Y``: :class:`KeypointState`. Each carries ``outer``, what
    the enclosing grammar needs back at ``</obj>`` (e.g. the object count).

    ``require_polygon``: every object has at least one polygon (segmentation targets always do; left
    optional, an undertrained model closes the object after the box and its mask is empty).

    The box is kept only when polygon points must lie inside it (zeros otherwise, so states
    stay few); the box count only when boxes per object are bounded.

    Keypoints (``keypoints``: the names as token-id sequences, in their fixed order): after the
    box(es) and polygons, each name at most once and in list order, each followed by exactly two
    coordinates (any bins). ``all_keypoints`` requires every name, so the names are forced.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None, max_boxes: int | None,
                 polygons: bool, max_polygon_points: int, max_polygons: int, polygon_inside_box: bool,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout)
        if require_polygon and not polygons:
            raise ValueError("require_polygon needs polygons=True")
        if max_boxes is not None and max_boxes < 1:
            raise ValueError(f"max boxes per object must be >= 1 or None, got {max_boxes}")
        if max_polygon_points < MIN_POLYGON_POINTS:
            raise ValueError(f"max_polygon_points must be >= {MIN_POLYGON_POINTS} (parse needs {MIN_POLYGON_POINTS} "
                             f"points), got {max_polygon_points}")
        if max_polygons < 1:
            raise ValueError(f"max_polygons must be >= 1, got {max_polygons}")
        self.trie = None if labels is None else TokenTrie(labels, layout, what="label", need_word=True)
        self.max_boxes = max_boxes
        self.polygons = polygons
        self._max_polygon_coords = POINT_TOKENS * max_polygon_points
        self._max_polygons = max_polygons
        self._polygon_inside_box = polygon_inside_box
        nonword = layout.text_mask & ~layout.word_mask
        nonword.setflags(write=False)
        self._nonword_mask = nonword
        self._obj_open_id, self._obj_close_id = layout.obj_open, layout.obj_close
        self._poly_open_id, self._poly_close_id = layout.poly_open, layout.poly_close
        self._init_keypoints(keypoints, all_keypoints)
        # Fewest tokens of the parts of every object.
        self._min_label_tokens = FREE_LABEL_MIN_TOKENS if self.trie is None else self.trie.depth[0]
        #: the required polygon: <poly>, 3 points, </poly> (0 when polygons are optional)
        self._required_polygon_tokens = (POLY_OPEN_TOKENS + MIN_POLYGON_COORDS + POLY_CLOSE_TOKENS
                                         if require_polygon else 0)
        #: the required keypoints (0 unless all are required), added to every distance before them
        self._required_keypoint_tokens = self._min_names_from[0]
        #: a whole shortest object, <obj> through </obj>
        self._min_object_tokens = (OBJ_OPEN_TOKENS + self._min_label_tokens + BOX_TOKENS
                                   + self._required_polygon_tokens + self._required_keypoint_tokens + OBJ_CLOSE_TOKENS)
        # Most tokens of the parts of an object (UNBOUNDED for a free label).
        self._max_polygons_per_object = max_polygons if polygons else 0
        self._max_polygon_tokens = POLY_OPEN_TOKENS + self._max_polygon_coords + POLY_CLOSE_TOKENS
        max_label = UNBOUNDED if self.trie is None else self.trie.height[0]
        #: a whole longest object, <obj> through </obj>
        self._max_object_tokens = saturating_sum(OBJ_OPEN_TOKENS, max_label, BOX_TOKENS, self._max_after_box(1, 0))

    def _init_keypoints(self, names: Sequence[Sequence[int]] | None, all_keypoints: bool) -> None:
        self.kp_trie = None if not names else TokenTrie(names, self.layout, what="keypoint name", need_word=True)
        seqs = [tuple(int(t) for t in n) for n in (names or ())]
        if len(set(seqs)) != len(seqs):
            raise ValueError("keypoint names must be distinct")
        n = len(seqs)
        self._all_keypoints = all_keypoints
        self._name_at_node: dict[int, int] = {}  # terminal node -> name index
        # node -> {name index j: tokens from the node to the end of name j}, for the names below it
        self._names_below: list[dict[int, int]] = [dict() for _ in range(len(self.kp_trie or ()))]
        for j, seq in enumerate(seqs):
            node = 0
            path = [0]
            for t in seq:
                node = self.kp_trie.children[node][t]
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
        child = self.kp_trie.children[node].get(tok) if self.kp_trie is not None else None
        if child is None or self._min_from_name_node(child, next_name) >= UNBOUNDED:
            return None
        return new_state(KeypointState, (KP, outer, next_name, child))

    def _allow_name_tokens(self, node: int, next_name: int, remaining: int, after_close: int,
                           out: np.ndarray) -> None:
        """Allow the name tokens from ``node`` after which an allowed name, ``</obj>`` and the
        ``after_close`` tokens that must follow it still fit in ``remaining``."""
        if self.kp_trie is None:
            return
        for tok, child in self.kp_trie.children[node].items():
            if 1 + self._min_from_name_node(child, next_name) + OBJ_CLOSE_TOKENS + after_close <= remaining:
                out[tok] = True

    @staticmethod
    def _min_to_close_polygon(coords: int) -> int:
        """Fewest tokens that close a polygon holding ``coords`` coordinates: whole points up to the
        minimum, then ``</poly>``."""
        return max(MIN_POLYGON_COORDS, coords + (coords & 1)) - coords + POLY_CLOSE_TOKENS

    def _max_after_polygons(self, polygons: int, after_close: int) -> int:
        """Most tokens after ``polygons`` whole polygons: the remaining polygons, every keypoint,
        ``</obj>`` and the ``after_close`` tokens."""
        more = saturating_times(self._max_polygons_per_object - polygons, self._max_polygon_tokens)
        return saturating_sum(more, self._max_names_from[0], OBJ_CLOSE_TOKENS, after_close)

    def _max_after_box(self, boxes: int, after_close: int) -> int:
        """Most tokens after ``boxes`` whole boxes: the remaining boxes, then as :meth:`_max_after_polygons`."""
        more = UNBOUNDED if self.max_boxes is None else saturating_times(self.max_boxes - boxes, BOX_TOKENS)
        return saturating_sum(more, self._max_after_polygons(0, after_close))

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

    def _after_open(self, outer: int) -> State:
        """State after ``<obj>``."""
        return FreeLabelState(OBJ_START, outer) if self.trie is None else LabelState(LABEL, outer, 0)

    def _min_with_new_object(self, outer: int) -> int:
        """Fewest tokens for a whole object, ``<obj>`` through ``</obj>``, plus what must follow it."""
        return self._min_object_tokens + self._min_after_close(outer)

    # -- inside an object
    def _advance_object(self, s: State, tok: int) -> State | None:
        ph, outer = s.phase, s.outer
        if ph == OBJ_START:
            if self._word_mask[tok]:
                return new_state(FreeLabelState, (OBJ_WORDS, outer))
            return s if self._text_mask[tok] else None
        k = self._bin_of(tok)
        if ph == OBJ_WORDS or ph == LABEL:
            if ph == OBJ_WORDS:
                if self._text_mask[tok]:
                    return s
                label_done = True
            else:
                child = self.trie.children[s.node].get(tok)
                if child is not None:
                    return new_state(LabelState, (LABEL, outer, child))
                label_done = self.trie.terminal[s.node]
            # x1 and y1 can never be the last bin: x2 > x1, y2 > y1 must stay possible
            return new_state(BoxState, (Y1, outer, 0, k, 0, 0)) if label_done and 0 <= k < self._last_bin else None
        if ph == Y1:
            return new_state(BoxState, (X2, outer, s.boxes, s.x1, k, 0)) if 0 <= k < self._last_bin else None
        if ph == X2:
            return new_state(BoxState, (Y2, outer, s.boxes, s.x1, s.y1, k)) if k > s.x1 else None
        if ph == Y2:
            if k <= s.y1:
                return None
            boxes = 0 if self.max_boxes is None else s.boxes + 1
            if self._polygon_inside_box:
                return new_state(AfterBoxState, (AFTER_BOX, outer, boxes, s.x1, s.y1, s.x2, k))
            return new_state(AfterBoxState, (AFTER_BOX, outer, boxes, 0, 0, 0, 0))
        if ph == AFTER_BOX:
            if tok == self._obj_close_id:
                required = self._required_keypoint_tokens or self._required_polygon_tokens
                return None if required else self._after_close(outer)
            if tok == self._poly_open_id and self.polygons:
                return new_state(PolygonState, (POLY, outer, 0, 0, s.x1, s.y1, s.x2, s.y2))
            if 0 <= k < self._last_bin and (self.max_boxes is None or s.boxes < self.max_boxes):
                return new_state(BoxState, (Y1, outer, s.boxes, k, 0, 0))
            return None if self._required_polygon_tokens else self._enter_name(outer, 0, 0, tok)
        if ph == POLY:
            n = s.coords
            if k >= 0:
                if n >= self._max_polygon_coords:
                    return None
                if self._polygon_inside_box:
                    lo, hi = (s.x1, s.x2) if n % 2 == 0 else (s.y1, s.y2)
                    if not lo <= k <= hi:
                        return None
                return new_state(PolygonState, (POLY, outer, s.polygons, n + 1, s.x1, s.y1, s.x2, s.y2))
            if tok == self._poly_close_id and n % 2 == 0 and n >= MIN_POLYGON_COORDS:
                return new_state(AfterPolygonState, (AFTER_POLY, outer, s.polygons + 1, s.x1, s.y1, s.x2, s.y2))
            return None
        if ph == AFTER_POLY:
            if tok == self._obj_close_id:
                return None if self._required_keypoint_tokens else self._after_close(outer)
            if tok == self._poly_open_id and s.polygons < self._max_polygons:
                return new_state(PolygonState, (POLY, outer, s.polygons, 0, s.x1, s.y1, s.x2, s.y2))
            return self._enter_name(outer, 0, 0, tok)
        if ph == KP:
            next_name, node = s.next_name, s.node
            if node == 0 and tok == self._obj_close_id:
                return self._after_close(outer) if self._min_names_from[next_name] == 0 else None
            if k >= 0:
                j = self._name_at_node.get(node)
                allowed = j is not None and self._name_allowed(next_name, j)
                return new_state(KeypointState, (KP_Y, outer, j + 1, 0)) if allowed else None
            return self._enter_name(outer, next_name, node, tok)
        if ph == KP_Y:
            return new_state(KeypointState, (KP, outer, s.next_name, 0)) if k >= 0 else None
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _min_to_finish_object(self, s: State) -> int:
        ph, after_close = s.phase, self._min_after_close(s.outer)
        if ph == KP:
            if s.node == 0:
                names = self._min_names_from[s.next_name]
            else:
                names = self._min_from_name_node(s.node, s.next_name)
            return names + OBJ_CLOSE_TOKENS + after_close
        if ph == KP_Y:  # the y, then the names still required
            return POINT_TOKENS - 1 + self._min_names_from[s.next_name] + OBJ_CLOSE_TOKENS + after_close
        # every other state comes before the keypoints (and </obj>)
        after_polygons = OBJ_CLOSE_TOKENS + self._required_keypoint_tokens + after_close
        if ph == POLY:
            return self._min_to_close_polygon(s.coords) + after_polygons
        if ph == AFTER_POLY:
            return after_polygons
        # and these before the required polygon
        after_box = after_polygons + self._required_polygon_tokens
        if ph == AFTER_BOX:
            return after_box
        if ph == Y1 or ph == X2 or ph == Y2:
            return BOX_TOKENS - _BOX_COORDS_GIVEN[ph] + after_box
        if ph == LABEL:
            return self.trie.depth[s.node] + BOX_TOKENS + after_box
        if ph == OBJ_WORDS:
            return BOX_TOKENS + after_box
        if ph == OBJ_START:
            return FREE_LABEL_MIN_TOKENS + BOX_TOKENS + after_box
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _max_to_finish_object(self, s: State) -> int:
        ph, after_close = s.phase, self._max_after_close(s.outer)
        if ph == KP:
            if s.node == 0:
                names = self._max_names_from[s.next_name]
            else:
                names = self._max_from_name_node(s.node, s.next_name)
            return saturating_sum(names, OBJ_CLOSE_TOKENS, after_close)
        if ph == KP_Y:  # the y, then every name still allowed
            return saturating_sum(POINT_TOKENS - 1, self._max_names_from[s.next_name], OBJ_CLOSE_TOKENS, after_close)
        if ph == POLY:  # every coordinate this polygon may still take, </poly>, then the polygons after it
            return saturating_sum(self._max_polygon_coords - s.coords, POLY_CLOSE_TOKENS,
                                  self._max_after_polygons(s.polygons + 1, after_close))
        if ph == AFTER_POLY:
            return self._max_after_polygons(s.polygons, after_close)
        if ph == AFTER_BOX:
            return self._max_after_box(s.boxes, after_close)
        if ph == Y1 or ph == X2 or ph == Y2:
            return saturating_sum(BOX_TOKENS - _BOX_COORDS_GIVEN[ph], self._max_after_box(s.boxes + 1, after_close))
        if ph == LABEL:
            return saturating_sum(self.trie.height[s.node], BOX_TOKENS, self._max_after_box(1, after_close))
        if ph == OBJ_START or ph == OBJ_WORDS:
            return UNBOUNDED  # a free label takes any number of words
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _fill_allowed_object(self, s: State, remaining: int, out: np.ndarray) -> None:
        # Each threshold below: this token (1) plus the fewest tokens that finish after it.
        ph, after_close, last = s.phase, self._min_after_close(s.outer), self._last_bin
        if ph == KP:
            next_name, node = s.next_name, s.node
            if node == 0 and self._min_names_from[next_name] == 0:
                out[self._obj_close_id] = True
            self._allow_name_tokens(node, next_name, remaining, after_close, out)
            j = self._name_at_node.get(node)
            if (j is not None and self._name_allowed(next_name, j)
                    and remaining >= POINT_TOKENS + self._min_names_from[j + 1] + OBJ_CLOSE_TOKENS + after_close):
                self._allow_bins(out, 0, last)
            return
        if ph == KP_Y:
            self._allow_bins(out, 0, last)
            return
        # every other state comes before the keypoints (and </obj>)
        after_polygons = OBJ_CLOSE_TOKENS + self._required_keypoint_tokens + after_close
        # and these before the required polygon
        after_box = after_polygons + self._required_polygon_tokens
        if ph == OBJ_START:
            out |= self._word_mask
            if remaining >= 1 + FREE_LABEL_MIN_TOKENS + BOX_TOKENS + after_box:
                out |= self._nonword_mask
        elif ph == OBJ_WORDS:
            self._allow_bins(out, 0, last - 1)
            if remaining >= 1 + BOX_TOKENS + after_box:
                out |= self._text_mask
        elif ph == LABEL:
            node = s.node
            # 1 + depth(child) + BOX_TOKENS + after_box <= remaining
            self.trie.fill_children(node, remaining - 1 - BOX_TOKENS - after_box, out)
            if self.trie.terminal[node]:
                self._allow_bins(out, 0, last - 1)
        elif ph == Y1:
            self._allow_bins(out, 0, last - 1)
        elif ph == X2:
            self._allow_bins(out, s.x1 + 1, last)
        elif ph == Y2:
            self._allow_bins(out, s.y1 + 1, last)
        elif ph == AFTER_BOX:
            if not self._required_keypoint_tokens and not self._required_polygon_tokens:
                out[self._obj_close_id] = True
            if not self._required_polygon_tokens:
                self._allow_name_tokens(0, 0, remaining, after_close, out)
            more_boxes = self.max_boxes is None or s.boxes < self.max_boxes
            if more_boxes and remaining >= BOX_TOKENS + after_box:  # x1, then the rest of the box
                self._allow_bins(out, 0, last - 1)
            if self.polygons and remaining >= 1 + self._min_to_close_polygon(0) + after_polygons:
                out[self._poly_open_id] = True
        elif ph == POLY:
            n = s.coords
            if n >= MIN_POLYGON_COORDS and n % 2 == 0:
                out[self._poly_close_id] = True
            if n < self._max_polygon_coords and remaining >= 1 + self._min_to_close_polygon(n + 1) + after_polygons:
                if self._polygon_inside_box:
                    self._allow_bins(out, *((s.x1, s.x2) if n % 2 == 0 else (s.y1, s.y2)))
                else:
                    self._allow_bins(out, 0, last)
        elif ph == AFTER_POLY:
            if not self._required_keypoint_tokens:
                out[self._obj_close_id] = True
            self._allow_name_tokens(0, 0, remaining, after_close, out)
            if s.polygons < self._max_polygons and remaining >= 1 + self._min_to_close_polygon(0) + after_polygons:
                out[self._poly_open_id] = True
        else:
            raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")


class GroundedTextGrammar(_ObjectGrammar):
    """Free text with grounded phrases ``<obj> words <loc>x4 [more boxes] [<poly>...</poly>] </obj>``.

    Inside ``<obj>``: at least one word before the first coordinate, exactly four coordinates
    per box with ``x2 > x1`` and ``y2 > y1``, no text after a coordinate, ``</obj>`` only after
    a whole box (or polygon). ``</s>`` only outside ``<obj>``. Outside: ``PhaseState(OUT)``.
    """

    def __init__(self, layout: VocabLayout, polygons: bool = False, max_polygon_points: int = 32,
                 max_polygons: int = 1, polygon_inside_box: bool = False,
                 max_boxes_per_phrase: int | None = None) -> None:
        super().__init__(layout, None, max_boxes_per_phrase, polygons, max_polygon_points, max_polygons,
                         polygon_inside_box)

    def initial_state(self) -> State:
        return PhaseState(OUT)

    def _after_close(self, outer: int) -> State:
        return PhaseState(OUT)

    def _min_after_close(self, outer: int) -> int:
        return EOS_TOKENS

    def _max_after_close(self, outer: int) -> int:
        return UNBOUNDED  # free text may follow

    def _advance(self, s: State, tok: int) -> State | None:
        if s.phase != OUT:
            return self._advance_object(s, tok)
        if tok == self._eos_id:
            return DONE_STATE
        if tok == self._obj_open_id:
            return self._after_open(0)
        return s if self._text_mask[tok] else None

    def _min_to_finish(self, s: State) -> int:
        return EOS_TOKENS if s.phase == OUT else self._min_to_finish_object(s)

    def _max_to_finish(self, s: State) -> int:
        return UNBOUNDED if s.phase == OUT else self._max_to_finish_object(s)

    def _fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        if s.phase != OUT:
            return self._fill_allowed_object(s, remaining, out)
        if remaining >= 1 + EOS_TOKENS:  # a text token, then still room for </s>
            out |= self._text_mask
        if remaining >= self._min_with_new_object(0):
            out[self._obj_open_id] = True
        out[self._eos_id] = True


class ListCounting:
    """What an object list keeps between its objects: how many closed, ``min_objects`` to
    ``max_objects`` (None: unbounded), and its ``LIST`` phase (``</s>`` or the next ``<obj>``).
    Shared by the label-first and box-first lists; the grammar sets ``_min_object_tokens`` /
    ``_max_object_tokens`` (a whole object's fewest / most tokens) and ``_after_open(count)`` (the
    state after ``<obj>``)."""

    _min_object_tokens: int
    _max_object_tokens: int
    _eos_id: int
    _obj_open_id: int

    def _init_count(self, max_objects: int | None, min_objects: int) -> None:
        if min_objects < 0 or (max_objects is not None and max_objects < min_objects):
            raise ValueError(f"need 0 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
        self.min_objects, self.max_objects = min_objects, max_objects
        # The count only matters up to max (or min, when unbounded): saturate so states stay few.
        self._count_cap = max_objects if max_objects is not None else min_objects

    def initial_state(self) -> State:
        return ListState(LIST, 0)

    def _closed(self, outer: int) -> int:
        """The (saturated) count after the object opened at count ``outer`` closes."""
        return min(outer + 1, self._count_cap)

    def _min_from_list(self, count: int) -> int:
        """Fewest tokens after ``count`` objects: the objects still required, then ``</s>``."""
        return max(0, self.min_objects - count) * self._min_object_tokens + EOS_TOKENS

    def _max_from_list(self, count: int) -> int:
        """Most tokens after ``count`` objects: every object still allowed, then ``</s>``."""
        if self.max_objects is None:
            return UNBOUNDED
        return saturating_sum(saturating_times(self.max_objects - count, self._max_object_tokens), EOS_TOKENS)

    def _advance_list(self, s: ListState, tok: int) -> State | None:
        """``LIST``: ``</s>`` once enough objects are closed, ``<obj>`` while more are allowed."""
        n = s.count
        if tok == self._eos_id:
            return DONE_STATE if n >= self.min_objects else None
        if tok == self._obj_open_id and (self.max_objects is None or n < self.max_objects):
            return self._after_open(n)  # type: ignore[attr-defined]
        return None

    def _fill_list(self, s: ListState, remaining: int, out: np.ndarray) -> None:
        """``LIST``'s allowed tokens: ``<obj>`` only when a whole object and what must follow it fit."""
        n = s.count
        if n >= self.min_objects:
            out[self._eos_id] = True
        if ((self.max_objects is None or n < self.max_objects)
                and remaining >= self._min_object_tokens + self._min_from_list(n + 1)):
            out[self._obj_open_id] = True


class ObjectListGrammar(ListCounting, _ObjectGrammar):
    """Detection output: ``(<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>)*`` then ``</s>``.

    ``labels``: the allowed labels as token-id sequences (a trie; one may prefix another), or
    None for free-text labels. Between ``min_objects`` and ``max_objects`` (None: unbounded)
    objects, one box each. ``keypoints``: the keypoint names (token-id sequences, as tokenized
    after a coordinate) in their fixed order; see :class:`_ObjectGrammar`. Between objects:
    :class:`ListState`.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None,
                 max_objects: int | None = None, min_objects: int = 0, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1, polygon_inside_box: bool = False,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons, polygon_inside_box,
                         keypoints, all_keypoints, require_polygon)
        self._init_count(max_objects, min_objects)

    def _after_close(self, outer: int) -> State:
        return ListState(LIST, self._closed(outer))

    def _min_after_close(self, outer: int) -> int:
        return self._min_from_list(outer + 1)

    def _max_after_close(self, outer: int) -> int:
        return self._max_from_list(self._closed(outer))

    def _advance(self, s: State, tok: int) -> State | None:
        return self._advance_list(s, tok) if s.phase == LIST else self._advance_object(s, tok)

    def _min_to_finish(self, s: State) -> int:
        return self._min_from_list(s.count) if s.phase == LIST else self._min_to_finish_object(s)

    def _max_to_finish(self, s: State) -> int:
        return self._max_from_list(s.count) if s.phase == LIST else self._max_to_finish_object(s)

    def _fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        if s.phase == LIST:
            self._fill_list(s, remaining, out)
        else:
            self._fill_allowed_object(s, remaining, out)


class SingleBoxGrammar(_ObjectGrammar):
    """Exactly one object ``<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>`` then ``</s>``.

    ``labels``: allowed labels as token-id sequences (a single forced one for a referring
    expression or a class name to localise), or None for a free-text label. Before ``<obj>``:
    ``PhaseState(START)``; after ``</obj>``: ``PhaseState(END)``.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None = None, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1, polygon_inside_box: bool = False,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons, polygon_inside_box,
                         keypoints, all_keypoints, require_polygon)

    def initial_state(self) -> State:
        return PhaseState(START)

    def _after_close(self, outer: int) -> State:
        return PhaseState(END)

    def _min_after_close(self, outer: int) -> int:
        return EOS_TOKENS

    def _max_after_close(self, outer: int) -> int:
        return EOS_TOKENS

    def _advance(self, s: State, tok: int) -> State | None:
        if s.phase == START:
            return self._after_open(0) if tok == self._obj_open_id else None
        if s.phase == END:
            return DONE_STATE if tok == self._eos_id else None
        return self._advance_object(s, tok)

    def _min_to_finish(self, s: State) -> int:
        if s.phase == START:
            return self._min_with_new_object(0)
        return EOS_TOKENS if s.phase == END else self._min_to_finish_object(s)

    def _max_to_finish(self, s: State) -> int:
        if s.phase == START:
            return saturating_sum(self._max_object_tokens, EOS_TOKENS)
        return EOS_TOKENS if s.phase == END else self._max_to_finish_object(s)

    def _fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        if s.phase == START:
            out[self._obj_open_id] = True
        elif s.phase == END:
            out[self._eos_id] = True
        else:
            self._fill_allowed_object(s, remaining, out)
