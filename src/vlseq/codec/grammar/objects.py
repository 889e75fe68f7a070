"""Label-first object grammars: ``<obj> LABEL box+ [polygons] [keypoints] </obj>``
(:class:`_ObjectGrammar`, composed from the parts of :mod:`.labels`, :mod:`.boxes`,
:mod:`.polygons` and :mod:`.keypoints`) and the grammars built on it (:class:`GroundedTextGrammar`,
:class:`ObjectListGrammar`, :class:`SingleBoxGrammar`); what an object list keeps between its
objects (:class:`ListState`, :class:`ListCounting`, shared with the box-first list).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np

from .base import (
    DONE_STATE,
    END,
    EOS_TOKENS,
    LABEL,
    LIST,
    OUT,
    START,
    UNBOUNDED,
    PhaseState,
    State,
    saturating_sum,
    saturating_times,
)
from .boxes import BOX_TOKENS, AfterBoxState, BoxesPart, BoxState
from .keypoints import KeypointPart, KeypointState
from .labels import FREE_LABEL_MIN_TOKENS, FreeLabelPart, FreeLabelState, LabelState, TrieLabelPart
from .layout import VocabLayout
from .parts import (
    OBJ_CLOSE_TOKENS,
    OBJ_OPEN_TOKENS,
    POINT_TOKENS,
    ClosePart,
    EndsAfterObject,
    ObjectPart,
    ObjectPartsGrammar,
)
from .polygons import (
    MIN_POLYGON_COORDS,
    MIN_POLYGON_POINTS,
    POLY_CLOSE_TOKENS,
    POLY_OPEN_TOKENS,
    AfterPolygonState,
    PolygonPart,
    PolygonState,
    check_polygon_limits,
)

# The object states and token counts live with their parts; they are named here too, where they
# were first defined.
__all__ = [
    "ListState", "ListCounting", "GroundedTextGrammar", "ObjectListGrammar", "SingleBoxGrammar",
    "FreeLabelState", "LabelState", "BoxState", "AfterBoxState", "PolygonState", "AfterPolygonState", "KeypointState",
    "OBJ_OPEN_TOKENS", "OBJ_CLOSE_TOKENS", "POLY_OPEN_TOKENS", "POLY_CLOSE_TOKENS", "BOX_TOKENS", "POINT_TOKENS",
    "FREE_LABEL_MIN_TOKENS", "MIN_POLYGON_POINTS", "MIN_POLYGON_COORDS",
]


class _ObjectGrammar(ObjectPartsGrammar):
    """Shared machinery for ``<obj> LABEL box+ [polygons] [keypoints] </obj>``.

    The object's parts, in order: the label (:class:`~.labels.FreeLabelPart` when ``labels`` is
    None, else :class:`~.labels.TrieLabelPart`), the boxes (:class:`~.boxes.BoxesPart`, at most
    ``max_boxes``, None: any number), the polygons when ``polygons`` (:class:`~.polygons.PolygonPart`),
    the keypoints when ``keypoints`` (:class:`~.keypoints.KeypointPart`), ``</obj>``.

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
                 polygons: bool, max_polygon_points: int, max_polygons: int,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout)
        if require_polygon and not polygons:
            raise ValueError("require_polygon needs polygons=True")
        boxes = BoxesPart(self, max_boxes)
        check_polygon_limits(max_polygon_points, max_polygons)  # checked with polygons off too
        label = FreeLabelPart(self) if labels is None else TrieLabelPart(self, labels, LABEL)
        parts: list[ObjectPart] = [label, boxes]
        if polygons:
            parts.append(PolygonPart(self, max_polygon_points, max_polygons, require_polygon))
        names = KeypointPart(self, keypoints, all_keypoints) if keypoints else None
        if names is not None:
            parts.append(names)
        parts.append(ClosePart(self))
        self._compose(parts)
        self.trie = label.trie if isinstance(label, TrieLabelPart) else None
        self.kp_trie = None if names is None else names.trie
        self.max_boxes = max_boxes
        self.polygons = polygons


class GroundedTextGrammar(_ObjectGrammar):
    """Free text with grounded phrases ``<obj> words <loc>x4 [more boxes] [<poly>...</poly>] </obj>``.

    Inside ``<obj>``: at least one word before the first coordinate, exactly four coordinates
    per box with ``x2 > x1`` and ``y2 > y1``, no text after a coordinate, ``</obj>`` only after
    a whole box (or polygon). ``</s>`` only outside ``<obj>``. Outside: ``PhaseState(OUT)``.
    """

    def __init__(self, layout: VocabLayout, polygons: bool = False, max_polygon_points: int = 32,
                 max_polygons: int = 1,
                 max_boxes_per_phrase: int | None = None) -> None:
        super().__init__(layout, None, max_boxes_per_phrase, polygons, max_polygon_points, max_polygons)

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


class ListState(NamedTuple):
    """``LIST``: between the objects of an object list, ``count`` of them closed (saturated, see
    :class:`ListCounting`)."""

    phase: int
    count: int


class ListCounting(ObjectPartsGrammar):
    """What an object list keeps between its objects: how many closed, ``min_objects`` to
    ``max_objects`` (None: unbounded), and its ``LIST`` phase (``</s>`` or the next ``<obj>``).
    Shared by the label-first and box-first lists, whatever their object's parts: it answers for
    ``LIST`` and hands the states inside an object to the parts. A subclass composes its parts and
    calls :meth:`_init_count`."""

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

    # -- the hooks of the object's parts: back to LIST, one more object closed
    def _after_close(self, outer: int) -> State:
        return ListState(LIST, self._closed(outer))

    def _min_after_close(self, outer: int) -> int:
        return self._min_from_list(outer + 1)

    def _max_after_close(self, outer: int) -> int:
        return self._max_from_list(self._closed(outer))

    # -- LIST here, every other state to the object's parts
    def _advance_list(self, s: ListState, tok: int) -> State | None:
        """``LIST``: ``</s>`` once enough objects are closed, ``<obj>`` while more are allowed."""
        n = s.count
        if tok == self._eos_id:
            return DONE_STATE if n >= self.min_objects else None
        if tok == self._obj_open_id and (self.max_objects is None or n < self.max_objects):
            return self._after_open(n)
        return None

    def _fill_list(self, s: ListState, remaining: int, out: np.ndarray) -> None:
        """``LIST``'s allowed tokens: ``<obj>`` only when a whole object and what must follow it fit."""
        n = s.count
        if n >= self.min_objects:
            out[self._eos_id] = True
        if ((self.max_objects is None or n < self.max_objects)
                and remaining >= self._min_object_tokens + self._min_from_list(n + 1)):
            out[self._obj_open_id] = True

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
                 max_polygon_points: int = 32, max_polygons: int = 1,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons,
                         keypoints, all_keypoints, require_polygon)
        self._init_count(max_objects, min_objects)


class SingleBoxGrammar(EndsAfterObject, _ObjectGrammar):
    """Exactly one object ``<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>`` then ``</s>``.

    ``labels``: allowed labels as token-id sequences (a single forced one for a referring
    expression or a class name to localise), or None for a free-text label. Before ``<obj>``:
    ``PhaseState(START)``; after ``</obj>``: ``PhaseState(END)``.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None = None, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False,
                 require_polygon: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons,
                         keypoints, all_keypoints, require_polygon)

    def initial_state(self) -> State:
        return PhaseState(START)

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
