"""A text answer that may point first: ``<obj> <loc>x4 words </obj> </s>`` or plain ``words </s>``
(:class:`PointedAnswerGrammar`).

An answer about one object ("what shape is the blue object right of the hexagon?") can be written
after that object's box, the way a box-first detection writes a label where it has just pointed: the
model commits to WHICH object before it says WHAT it is. An answer about no single object (a count,
yes or no) stays plain text. :func:`vlseq.codec.parse` reads the pointed form as the text of the
answer plus one grounded phrase (the answer at its box).

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

import numpy as np

from .base import DONE_STATE, END, EOS_TOKENS, OUT, START, UNBOUNDED, PhaseState, State
from .boxes import BOX_TOKENS, BoxPart
from .labels import FreeLabelPart
from .layout import VocabLayout
from .parts import OBJ_CLOSE_TOKENS, OBJ_OPEN_TOKENS, ClosePart, EndsAfterObject, ObjectPartsGrammar


class PointedAnswerGrammar(EndsAfterObject, ObjectPartsGrammar):
    """Plain text, or one box-first object holding the answer's words, then ``</s>``.

    States: ``PhaseState(START)`` before the first token (``<obj>``, a text token or ``</s>`` may
    come); ``PhaseState(OUT)`` in plain text (as :class:`~.base.TextGrammar`); inside the object the
    box (:class:`~.boxes.BoxPart`, phases ``X1``..``Y2``), then at least one word
    (:class:`~.labels.FreeLabelPart`), then ``</obj>``; ``PhaseState(END)`` after ``</obj>``, where only
    ``</s>`` may come (nothing after the pointed answer: one object, one answer).
    """

    #: tokens a pointed answer writes besides its words: ``<obj>``, the box, ``</obj>``
    POINTING_TOKENS = OBJ_OPEN_TOKENS + BOX_TOKENS + OBJ_CLOSE_TOKENS

    def __init__(self, layout: VocabLayout) -> None:
        super().__init__(layout)
        self._compose([BoxPart(self), FreeLabelPart(self), ClosePart(self)])

    def initial_state(self) -> State:
        return PhaseState(START)

    def _advance(self, s: State, tok: int) -> State | None:
        phase = s.phase
        if tok == self._eos_id and phase in (START, OUT, END):
            return DONE_STATE
        if phase == START:
            if tok == self._obj_open_id:
                return self._after_open(0)
            return PhaseState(OUT) if self._text_mask[tok] else None
        if phase == OUT:
            return s if self._text_mask[tok] else None
        if phase == END:
            return None
        return self._advance_object(s, tok)

    def _min_to_finish(self, s: State) -> int:
        if s.phase in (START, OUT, END):
            return EOS_TOKENS
        return self._min_to_finish_object(s)

    def _max_to_finish(self, s: State) -> int:
        if s.phase in (START, OUT):
            return UNBOUNDED  # plain text has no longest form, nor has the object's free words
        if s.phase == END:
            return EOS_TOKENS
        return self._max_to_finish_object(s)

    def _fill_allowed(self, s: State, remaining: int, out: np.ndarray) -> None:
        phase = s.phase
        if phase in (START, OUT, END):
            if phase != END and remaining >= 1 + EOS_TOKENS:  # a text token, then still room for </s>
                out |= self._text_mask
            if phase == START and remaining >= self._min_with_new_object(0):
                out[self._obj_open_id] = True
            out[self._eos_id] = True
            return
        self._fill_allowed_object(s, remaining, out)
