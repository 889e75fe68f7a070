"""A text answer that may point first (:class:`PointedAnswerGrammar`): ``<obj> <loc>x4 words </obj> </s>``,
objects and then the answer, ``<obj> <loc>x4 label </obj> <obj> <loc>x4 label </obj> answer </s>``,
or plain ``words </s>``.

An answer about one object ("what shape is the blue object right of the hexagon?") can be written
after that object's box, the way a box-first detection writes a label where it has just pointed: the
model commits to WHICH object before it says WHAT it is. An answer that rests on several objects or
none in particular (a count, yes or no) can first point at each object it rests on, with its label,
and then say the answer: the model finds what it counts or compares before it answers. Plain text
stays allowed for either. :func:`vlseq.codec.parse` reads the pointed forms as grounded phrases
(each object's words at its box) and the answer's words after them.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

import numpy as np

from .base import DONE_STATE, EOS_TOKENS, LIST, OUT, START, UNBOUNDED, PhaseState, State
from .boxes import BOX_TOKENS, BoxPart
from .labels import FreeLabelPart
from .layout import VocabLayout
from .parts import OBJ_CLOSE_TOKENS, OBJ_OPEN_TOKENS, ClosePart, ObjectPartsGrammar


class PointedAnswerGrammar(ObjectPartsGrammar):
    """Plain text; or box-first objects, each holding words, then optionally plain text; then ``</s>``.

    States: ``PhaseState(START)`` before the first token (``<obj>``, a text token or ``</s>`` may
    come); ``PhaseState(OUT)`` in plain text (as :class:`~.base.TextGrammar`; no object after text:
    the objects come first); inside an object the box (:class:`~.boxes.BoxPart`, phases
    ``X1``..``Y2``), then at least one word (:class:`~.labels.FreeLabelPart`), then ``</obj>``;
    ``PhaseState(LIST)`` after ``</obj>``, where the next ``<obj>``, the answer's first word or
    ``</s>`` may come (one object and ``</s>``: the answer is the object's words).
    """

    #: tokens a pointed answer writes besides its words: ``<obj>``, the box, ``</obj>``
    POINTING_TOKENS = OBJ_OPEN_TOKENS + BOX_TOKENS + OBJ_CLOSE_TOKENS

    def __init__(self, layout: VocabLayout) -> None:
        super().__init__(layout)
        self._compose([BoxPart(self), FreeLabelPart(self), ClosePart(self)])

    def initial_state(self) -> State:
        return PhaseState(START)

    # -- the hooks of the object's parts: after ``</obj>``, another object, the answer or ``</s>``
    def _after_close(self, outer: int) -> State:
        return PhaseState(LIST)

    def _min_after_close(self, outer: int) -> int:
        return EOS_TOKENS

    def _max_after_close(self, outer: int) -> int:
        return UNBOUNDED

    def _advance(self, s: State, tok: int) -> State | None:
        phase = s.phase
        if tok == self._eos_id and phase in (START, OUT, LIST):
            return DONE_STATE
        if phase in (START, LIST):
            if tok == self._obj_open_id:
                return self._after_open(0)
            return PhaseState(OUT) if self._text_mask[tok] else None
        if phase == OUT:
            return s if self._text_mask[tok] else None
        return self._advance_object(s, tok)

    def _min_to_finish(self, s: State) -> int:
        if s.phase in (START, OUT, LIST):
            return EOS_TOKENS
        return self._min_to_finish_object(s)

    def _max_to_finish(self, s: State) -> int:
        if s.phase in (START, OUT, LIST):
            return UNBOUNDED  # plain text has no longest form, nor has the object's free words
        return self._max_to_finish_object(s)

    def _fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        phase = s.phase
        if phase in (START, OUT, LIST):
            if remaining >= 1 + EOS_TOKENS:  # a text token, then still room for </s>
                out |= self._text_mask
            if phase in (START, LIST) and remaining >= self._min_with_new_object(0):
                out[self._obj_open_id] = True
            out[self._eos_id] = True
            return
        self._fill_allowed_object(s, remaining, out)
