"""Object grammars: ``<obj> LABEL box+ [polygons] [keypoints] </obj>`` (:class:`_ObjectGrammar`) and
the grammars built on it (:class:`GroundedTextGrammar`, :class:`ObjectListGrammar`,
:class:`SingleBoxGrammar`).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import (
    AFTER_BOX,
    AFTER_POLY,
    DONE_STATE,
    END,
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
    State,
)
from .layout import TokenTrie, VocabLayout

_NO_BOX = (0, 0, 0, 0)
_MIN_POLY_COORDS = 6  # parse drops polygons of fewer than 3 points


# --------------------------------------------------------------------------- objects


class _ObjectGrammar(Grammar):
    """Shared machinery for ``<obj> LABEL box+ [polygons] [keypoints] </obj>``.

    Inside-object states carry a context int ``ctx`` (what the enclosing grammar needs back at
    ``</obj>``, e.g. the object count) at index 1. States::

        (OBJ_START, ctx)                   after <obj>, free label, no word yet
        (OBJ_WORDS, ctx)                   free label with a word
        (LABEL, ctx, node)                 in the label trie
        (Y1, ctx, nbox, x1) / (X2, ctx, nbox, x1, y1) / (Y2, ctx, nbox, x1, y1, x2)
        (AFTER_BOX, ctx, nbox, x1, y1, x2, y2)
        (POLY, ctx, npoly, ncoords, x1, y1, x2, y2)
        (AFTER_POLY, ctx, npoly, x1, y1, x2, y2)
        (KP, ctx, i, node)                 in keypoint name ``node`` of the name trie (0: between
                                           keypoints); names ``i..`` of the ordered list remain
        (KP_Y, ctx, i)                     a keypoint's x given, its y next

    ``require_polygon``: every object has at least one polygon (segmentation targets always do; left
    optional, an undertrained model closes the object after the box and its mask is empty).

    The box is kept only when polygon points must lie inside it (zeros otherwise, so states
    stay few); ``nbox`` only when boxes per object are bounded.

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
        if max_polygon_points < 3:
            raise ValueError(f"max_polygon_points must be >= 3 (parse needs 3 points), got {max_polygon_points}")
        if max_polygons < 1:
            raise ValueError(f"max_polygons must be >= 1, got {max_polygons}")
        self.trie = None if labels is None else TokenTrie(labels, layout, what="label", need_word=True)
        self._label_min = 1 if self.trie is None else self.trie.depth[0]
        self.max_boxes = max_boxes
        self.polygons = polygons
        self._max_poly_coords = 2 * max_polygon_points
        self._max_polys = max_polygons
        self._inside = polygon_inside_box
        #: tokens every object spends on its required polygon: <poly>, 3 points, </poly>
        self._poly_min = 2 + _MIN_POLY_COORDS if require_polygon else 0
        nonword = layout.text_mask & ~layout.word_mask
        nonword.setflags(write=False)
        self._nonword = nonword
        self._open_id, self._close_id = layout.obj_open, layout.obj_close
        self._popen, self._pclose = layout.poly_open, layout.poly_close
        self._init_keypoints(keypoints, all_keypoints)

    def _init_keypoints(self, names: Sequence[Sequence[int]] | None, all_keypoints: bool) -> None:
        self.kp_trie = None if not names else TokenTrie(names, self.layout, what="keypoint name", need_word=True)
        seqs = [tuple(int(t) for t in n) for n in (names or ())]
        if len(set(seqs)) != len(seqs):
            raise ValueError("keypoint names must be distinct")
        n = len(seqs)
        self._kp_all = all_keypoints
        self._kp_index: dict[int, int] = {}  # terminal node -> name index
        # node -> {name index j: tokens from the node to the end of name j}, for the names below it
        self._kp_reach: list[dict[int, int]] = [dict() for _ in range(len(self.kp_trie or ()))]
        for j, seq in enumerate(seqs):
            node = 0
            path = [0]
            for t in seq:
                node = self.kp_trie.children[node][t]
                path.append(node)
            self._kp_index[node] = j
            for m, nd in enumerate(path):
                self._kp_reach[nd][j] = len(seq) - m
        # rest[i]: fewest tokens for the names still required from index i (0 unless all are required)
        rest = [0] * (n + 1)
        if all_keypoints:
            for j in range(n - 1, -1, -1):
                rest[j] = rest[j + 1] + len(seqs[j]) + 2
        self._kp_rest = rest
        self._kp_min = rest[0]  # added to every distance before the keypoints
        self._kp_cost_memo: dict[tuple[int, int], int] = {}

    def _kp_valid(self, i: int, j: int) -> bool:
        return j == i if self._kp_all else j >= i

    def _kp_cost(self, node: int, i: int) -> int:
        """Fewest tokens from trie ``node`` through a valid name's two coordinates and the names still
        required after it (``</obj>`` excluded); UNBOUNDED when no valid name lies below ``node``."""
        key = (node, i)
        hit = self._kp_cost_memo.get(key)
        if hit is None:
            costs = [d + 2 + self._kp_rest[j + 1] for j, d in self._kp_reach[node].items() if self._kp_valid(i, j)]
            hit = self._kp_cost_memo[key] = min(costs) if costs else UNBOUNDED
        return hit

    def _kp_enter(self, ctx: int, i: int, node: int, tok: int) -> State | None:
        """State after name token ``tok`` from trie ``node`` (None if it leads to no valid name)."""
        child = self.kp_trie.children[node].get(tok) if self.kp_trie is not None else None
        if child is None or self._kp_cost(child, i) >= UNBOUNDED:
            return None
        return (KP, ctx, i, child)

    def _kp_fill_names(self, node: int, i: int, r: int, tail: int, out: np.ndarray) -> None:
        """Allow the name tokens from ``node`` after which a valid name still fits in ``r``."""
        if self.kp_trie is None:
            return
        for tok, child in self.kp_trie.children[node].items():
            if 1 + self._kp_cost(child, i) + 1 + tail <= r:
                out[tok] = True

    # -- hooks of the enclosing grammar
    def _close(self, ctx: int) -> State:
        """State after ``</obj>``."""
        raise NotImplementedError

    def _tail(self, ctx: int) -> int:
        """``min_to_finish`` of the state after ``</obj>``."""
        raise NotImplementedError

    def _open(self, ctx: int) -> State:
        """State after ``<obj>``."""
        return (OBJ_START, ctx) if self.trie is None else (LABEL, ctx, 0)

    def _open_cost(self, ctx: int) -> int:
        """Tokens for a whole shortest object, ``<obj>`` through ``</obj>``, plus what follows."""
        return 1 + self._label_min + 5 + self._poly_min + self._kp_min + self._tail(ctx)

    # -- inside an object
    def _advance_obj(self, s: State, tok: int) -> State | None:
        ph, ctx = s[0], s[1]
        if ph == OBJ_START:
            if self._word[tok]:
                return (OBJ_WORDS, ctx)
            return s if self._text[tok] else None
        k = self._loc(tok)
        if ph == OBJ_WORDS or ph == LABEL:
            if ph == OBJ_WORDS:
                if self._text[tok]:
                    return s
                label_done = True
            else:
                child = self.trie.children[s[2]].get(tok)
                if child is not None:
                    return (LABEL, ctx, child)
                label_done = self.trie.terminal[s[2]]
            return (Y1, ctx, 0, k) if label_done and 0 <= k < self._b - 1 else None
        if ph == Y1:  # x1 and y1 can never be the last bin: x2 > x1, y2 > y1 must stay possible
            return (X2, ctx, s[2], s[3], k) if 0 <= k < self._b - 1 else None
        if ph == X2:
            return (Y2, ctx, s[2], s[3], s[4], k) if k > s[3] else None
        if ph == Y2:
            if k <= s[4]:
                return None
            nbox = 0 if self.max_boxes is None else s[2] + 1
            return (AFTER_BOX, ctx, nbox) + ((s[3], s[4], s[5], k) if self._inside else _NO_BOX)
        if ph == AFTER_BOX:
            if tok == self._close_id:
                return self._close(ctx) if not self._kp_min and not self._poly_min else None
            if tok == self._popen and self.polygons:
                return (POLY, ctx, 0, 0) + s[3:7]
            if 0 <= k < self._b - 1 and (self.max_boxes is None or s[2] < self.max_boxes):
                return (Y1, ctx, s[2], k)
            return None if self._poly_min else self._kp_enter(ctx, 0, 0, tok)
        if ph == POLY:
            n = s[3]
            if k >= 0:
                if n >= self._max_poly_coords:
                    return None
                if self._inside:
                    lo, hi = (s[4], s[6]) if n % 2 == 0 else (s[5], s[7])
                    if not lo <= k <= hi:
                        return None
                return (POLY, ctx, s[2], n + 1) + s[4:8]
            if tok == self._pclose and n % 2 == 0 and n >= _MIN_POLY_COORDS:
                return (AFTER_POLY, ctx, s[2] + 1) + s[4:8]
            return None
        if ph == AFTER_POLY:
            if tok == self._close_id:
                return self._close(ctx) if not self._kp_min else None
            if tok == self._popen and s[2] < self._max_polys:
                return (POLY, ctx, s[2], 0) + s[3:7]
            return self._kp_enter(ctx, 0, 0, tok)
        if ph == KP:
            i, node = s[2], s[3]
            if node == 0 and tok == self._close_id:
                return self._close(ctx) if self._kp_rest[i] == 0 else None
            if k >= 0:
                j = self._kp_index.get(node)
                return (KP_Y, ctx, j + 1) if j is not None and self._kp_valid(i, j) else None
            return self._kp_enter(ctx, i, node, tok)
        if ph == KP_Y:
            return (KP, ctx, s[2], 0) if k >= 0 else None
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    @staticmethod
    def _poly_dist(n: int) -> int:
        """Tokens to close a polygon holding ``n`` coordinates, through ``</obj>`` (tail excluded)."""
        return max(_MIN_POLY_COORDS, n + (n & 1)) - n + 2

    def _dist_obj(self, s: State) -> int:
        ph, tail = s[0], self._tail(s[1])
        if ph == KP:
            return (self._kp_rest[s[2]] if s[3] == 0 else self._kp_cost(s[3], s[2])) + 1 + tail
        if ph == KP_Y:
            return 1 + self._kp_rest[s[2]] + 1 + tail
        tail += self._kp_min  # every other state comes before the keypoints
        if ph != POLY and ph != AFTER_POLY:
            tail += self._poly_min  # and these before the required polygon
        if ph == OBJ_START:
            return 6 + tail  # a word, 4 coordinates, </obj>
        if ph == OBJ_WORDS:
            return 5 + tail
        if ph == LABEL:
            return self.trie.depth[s[2]] + 5 + tail
        if ph == Y1:
            return 4 + tail
        if ph == X2:
            return 3 + tail
        if ph == Y2:
            return 2 + tail
        if ph == AFTER_BOX or ph == AFTER_POLY:
            return 1 + tail
        if ph == POLY:
            return self._poly_dist(s[3]) + tail
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _fill_obj(self, s: State, r: int, out: np.ndarray) -> None:
        ph, tail, last = s[0], self._tail(s[1]), self._b - 1
        if ph == KP:
            i, node = s[2], s[3]
            if node == 0 and self._kp_rest[i] == 0:
                out[self._close_id] = True
            self._kp_fill_names(node, i, r, tail, out)
            j = self._kp_index.get(node)
            if j is not None and self._kp_valid(i, j) and r >= 2 + self._kp_rest[j + 1] + 1 + tail:
                self._locs(out, 0, last)
            return
        if ph == KP_Y:
            self._locs(out, 0, last)
            return
        tail += self._kp_min  # every other state comes before the keypoints
        pre = tail + self._poly_min  # budget of the states before the (required) polygon
        if ph == OBJ_START:
            out |= self._word
            if r >= 7 + pre:
                out |= self._nonword
        elif ph == OBJ_WORDS:
            self._locs(out, 0, last - 1)
            if r >= 6 + pre:
                out |= self._text
        elif ph == LABEL:
            node = s[2]
            self.trie.fill_children(node, r - 6 - pre, out)  # 1 + depth(child) + 5 + pre <= r
            if self.trie.terminal[node]:
                self._locs(out, 0, last - 1)
        elif ph == Y1:
            self._locs(out, 0, last - 1)
        elif ph == X2:
            self._locs(out, s[3] + 1, last)
        elif ph == Y2:
            self._locs(out, s[4] + 1, last)
        elif ph == AFTER_BOX:
            if not self._kp_min and not self._poly_min:
                out[self._close_id] = True
            if not self._poly_min:
                self._kp_fill_names(0, 0, r, tail - self._kp_min, out)
            if r >= 5 + pre and (self.max_boxes is None or s[2] < self.max_boxes):
                self._locs(out, 0, last - 1)
            if self.polygons and r >= 1 + self._poly_dist(0) + tail:
                out[self._popen] = True
        elif ph == POLY:
            n = s[3]
            if n >= _MIN_POLY_COORDS and n % 2 == 0:
                out[self._pclose] = True
            if n < self._max_poly_coords and r >= 1 + self._poly_dist(n + 1) + tail:
                if self._inside:
                    self._locs(out, *((s[4], s[6]) if n % 2 == 0 else (s[5], s[7])))
                else:
                    self._locs(out, 0, last)
        elif ph == AFTER_POLY:
            if not self._kp_min:
                out[self._close_id] = True
            self._kp_fill_names(0, 0, r, tail - self._kp_min, out)
            if s[2] < self._max_polys and r >= 1 + self._poly_dist(0) + tail:
                out[self._popen] = True
        else:
            raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")


class GroundedTextGrammar(_ObjectGrammar):
    """Free text with grounded phrases ``<obj> words <loc>x4 [more boxes] [<poly>...</poly>] </obj>``.

    Inside ``<obj>``: at least one word before the first coordinate, exactly four coordinates
    per box with ``x2 > x1`` and ``y2 > y1``, no text after a coordinate, ``</obj>`` only after
    a whole box (or polygon). ``</s>`` only outside ``<obj>``.
    """

    def __init__(self, layout: VocabLayout, polygons: bool = False, max_polygon_points: int = 32,
                 max_polygons: int = 1, polygon_inside_box: bool = False,
                 max_boxes_per_phrase: int | None = None) -> None:
        super().__init__(layout, None, max_boxes_per_phrase, polygons, max_polygon_points, max_polygons,
                         polygon_inside_box)

    def initial_state(self) -> State:
        return (OUT,)

    def _close(self, ctx: int) -> State:
        return (OUT,)

    def _tail(self, ctx: int) -> int:
        return 1

    def _advance(self, s: State, tok: int) -> State | None:
        if s[0] != OUT:
            return self._advance_obj(s, tok)
        if tok == self._eos:
            return DONE_STATE
        if tok == self._open_id:
            return self._open(0)
        return s if self._text[tok] else None

    def _dist(self, s: State) -> int:
        return 1 if s[0] == OUT else self._dist_obj(s)

    def _fill(self, s: State, r: int, out: np.ndarray) -> None:
        if s[0] != OUT:
            return self._fill_obj(s, r, out)
        if r >= 2:
            out |= self._text
        if r >= self._open_cost(0):
            out[self._open_id] = True
        out[self._eos] = True


class ObjectListGrammar(_ObjectGrammar):
    """Detection output: ``(<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>)*`` then ``</s>``.

    ``labels``: the allowed labels as token-id sequences (a trie; one may prefix another), or
    None for free-text labels. Between ``min_objects`` and ``max_objects`` (None: unbounded)
    objects, one box each. ``keypoints``: the keypoint names (token-id sequences, as tokenized
    after a coordinate) in their fixed order; see :class:`_ObjectGrammar`.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None,
                 max_objects: int | None = None, min_objects: int = 0, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1, polygon_inside_box: bool = False,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons, polygon_inside_box,
                         keypoints, all_keypoints, require_polygon)
        if min_objects < 0 or (max_objects is not None and max_objects < min_objects):
            raise ValueError(f"need 0 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
        self.min_objects, self.max_objects = min_objects, max_objects
        # The count only matters up to max (or min, when unbounded): saturate so states stay few.
        self._cap = max_objects if max_objects is not None else min_objects
        self._per_object = 1 + self._label_min + 5 + self._poly_min + self._kp_min

    def initial_state(self) -> State:
        return (LIST, 0)

    def _close(self, ctx: int) -> State:
        return (LIST, min(ctx + 1, self._cap))

    def _tail(self, ctx: int) -> int:
        return 1 + max(0, self.min_objects - ctx - 1) * self._per_object

    def _advance(self, s: State, tok: int) -> State | None:
        if s[0] != LIST:
            return self._advance_obj(s, tok)
        n = s[1]
        if tok == self._eos:
            return DONE_STATE if n >= self.min_objects else None
        if tok == self._open_id and (self.max_objects is None or n < self.max_objects):
            return self._open(n)
        return None

    def _dist(self, s: State) -> int:
        if s[0] != LIST:
            return self._dist_obj(s)
        return 1 + max(0, self.min_objects - s[1]) * self._per_object

    def _fill(self, s: State, r: int, out: np.ndarray) -> None:
        if s[0] != LIST:
            return self._fill_obj(s, r, out)
        n = s[1]
        if n >= self.min_objects:
            out[self._eos] = True
        if (self.max_objects is None or n < self.max_objects) and r >= self._open_cost(n):
            out[self._open_id] = True


class SingleBoxGrammar(_ObjectGrammar):
    """Exactly one object ``<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>`` then ``</s>``.

    ``labels``: allowed labels as token-id sequences (a single forced one for a referring
    expression or a class name to localise), or None for a free-text label.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None = None, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1, polygon_inside_box: bool = False,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons, polygon_inside_box,
                         keypoints, all_keypoints, require_polygon)

    def initial_state(self) -> State:
        return (START,)

    def _close(self, ctx: int) -> State:
        return (END,)

    def _tail(self, ctx: int) -> int:
        return 1

    def _advance(self, s: State, tok: int) -> State | None:
        if s[0] == START:
            return self._open(0) if tok == self._open_id else None
        if s[0] == END:
            return DONE_STATE if tok == self._eos else None
        return self._advance_obj(s, tok)

    def _dist(self, s: State) -> int:
        if s[0] == START:
            return self._open_cost(0)
        return 1 if s[0] == END else self._dist_obj(s)

    def _fill(self, s: State, r: int, out: np.ndarray) -> None:
        if s[0] == START:
            out[self._open_id] = True
        elif s[0] == END:
            out[self._eos] = True
        else:
            self._fill_obj(s, r, out)
