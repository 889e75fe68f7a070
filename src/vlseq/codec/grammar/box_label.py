"""The box-first object list: ``(<obj> x1 y1 x2 y2 LABEL </obj>)* </s>`` (:class:`BoxLabelListGrammar`).

Pix2Seq's order: each object's box, then its class. A label-first list makes the model name the
next object before pointing at it; box first, the label is read where the model has just pointed
(the same lookup a region caption makes from a box in its prompt). :func:`vlseq.codec.parse` reads
both orders into the same structure.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .base import (
    LIST,
    TAIL_LABEL,
    X1,
    X2,
    Y1,
    Y2,
    Grammar,
    State,
    new_state,
    saturating_sum,
)
from .layout import TokenTrie, VocabLayout
from .objects import BOX_TOKENS, OBJ_CLOSE_TOKENS, OBJ_OPEN_TOKENS, BoxState, LabelState, ListCounting, ListState

#: Box coordinates still to come in each box phase (the phase names the next one).
_BOX_COORDS_LEFT = {X1: 4, Y1: 3, X2: 2, Y2: 1}


class BoxLabelListGrammar(ListCounting, Grammar):
    """Detection output, box first: ``(<obj> <loc>x4 LABEL </obj>)*`` then ``</s>``.

    ``labels``: the allowed labels as token-id sequences, tokenized as they follow a coordinate
    token (a trie; one may prefix another). Between ``min_objects`` and ``max_objects`` (None:
    unbounded) objects, one box each with ``x2 > x1`` and ``y2 > y1``, no polygons or keypoints
    (text after a box would be ambiguous with a keypoint name).

    States: :class:`~.objects.ListState` between objects; :class:`~.objects.BoxState` with phase
    ``X1`` / ``Y1`` / ``X2`` / ``Y2`` inside the box (``outer``: the objects closed before it);
    :class:`~.objects.LabelState` with phase ``TAIL_LABEL`` in the label after the box.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]], max_objects: int | None = None,
                 min_objects: int = 0) -> None:
        super().__init__(layout)
        self._init_count(max_objects, min_objects)
        self.trie = TokenTrie(labels, layout, what="label", need_word=True)
        self._obj_open_id, self._obj_close_id = layout.obj_open, layout.obj_close
        #: a whole shortest / longest object, <obj> through </obj>
        self._min_object_tokens = OBJ_OPEN_TOKENS + BOX_TOKENS + self.trie.depth[0] + OBJ_CLOSE_TOKENS
        self._max_object_tokens = OBJ_OPEN_TOKENS + BOX_TOKENS + self.trie.height[0] + OBJ_CLOSE_TOKENS

    def _after_open(self, count: int) -> State:
        """State after ``<obj>``: the box's x1 next."""
        return new_state(BoxState, (X1, count, 0, 0, 0, 0))

    def _advance(self, s: State, tok: int) -> State | None:
        ph = s.phase
        if ph == LIST:
            return self._advance_list(s, tok)
        if ph == TAIL_LABEL:
            if tok == self._obj_close_id:
                return ListState(LIST, self._closed(s.outer)) if self.trie.terminal[s.node] else None
            child = self.trie.children[s.node].get(tok)
            return None if child is None else new_state(LabelState, (TAIL_LABEL, s.outer, child))
        k = self._bin_of(tok)
        # x1 and y1 can never be the last bin: x2 > x1, y2 > y1 must stay possible
        if ph == X1:
            return new_state(BoxState, (Y1, s.outer, 0, k, 0, 0)) if 0 <= k < self._last_bin else None
        if ph == Y1:
            return new_state(BoxState, (X2, s.outer, 0, s.x1, k, 0)) if 0 <= k < self._last_bin else None
        if ph == X2:
            return new_state(BoxState, (Y2, s.outer, 0, s.x1, s.y1, k)) if k > s.x1 else None
        if ph == Y2:
            return new_state(LabelState, (TAIL_LABEL, s.outer, 0)) if k > s.y1 else None
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _min_to_finish(self, s: State) -> int:
        if s.phase == LIST:
            return self._min_from_list(s.count)
        after_close = OBJ_CLOSE_TOKENS + self._min_from_list(s.outer + 1)
        if s.phase == TAIL_LABEL:
            return self.trie.depth[s.node] + after_close
        return _BOX_COORDS_LEFT[s.phase] + self.trie.depth[0] + after_close

    def _max_to_finish(self, s: State) -> int:
        if s.phase == LIST:
            return self._max_from_list(s.count)
        after_close = saturating_sum(OBJ_CLOSE_TOKENS, self._max_from_list(self._closed(s.outer)))
        if s.phase == TAIL_LABEL:
            return saturating_sum(self.trie.height[s.node], after_close)
        return saturating_sum(_BOX_COORDS_LEFT[s.phase], self.trie.height[0], after_close)

    def _fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        ph, last = s.phase, self._last_bin
        if ph == LIST:
            self._fill_list(s, remaining, out)
        elif ph == TAIL_LABEL:
            # a label token (1), the rest of its label (the child's depth), </obj> and what must follow
            after_close = OBJ_CLOSE_TOKENS + self._min_from_list(s.outer + 1)
            self.trie.fill_children(s.node, remaining - 1 - after_close, out)
            if self.trie.terminal[s.node]:
                out[self._obj_close_id] = True
        elif ph == X1 or ph == Y1:
            self._allow_bins(out, 0, last - 1)
        elif ph == X2:
            self._allow_bins(out, s.x1 + 1, last)
        elif ph == Y2:
            self._allow_bins(out, s.y1 + 1, last)
        else:
            raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")
