"""Decoding grammars: small state machines over token ids that keep every output parseable.

A grammar answers two questions about a partial output: which token ids may come next
(:meth:`Grammar.fill_allowed`) and which state a token leads to (:meth:`Grammar.advance`).
A state is a small named tuple of ints (its first field, ``phase``, says which kind), so a decoder
can keep one per row (or per prefix, for beam search) and advance it one token per step. Every
grammar guarantees:

* no dead state: some token is always allowed;
* termination within a budget: each state knows the fewest tokens that still finish the output
  (:meth:`Grammar.min_to_finish`, ``</s>`` included); given the number of tokens still allowed,
  only tokens from which the output can be finished in time are allowed;
* a known longest output: each state knows the most tokens any output finished from it can take
  (:meth:`Grammar.max_to_finish`, ``</s>`` included; ``UNBOUNDED`` for free text or an unbounded
  object list), so a decoder's budget need never exceed it;
* a finished output (up to ``</s>``) parses with zero errors under :func:`vlseq.codec.parse`.

Grammars: :class:`TextGrammar` (plain text), :class:`GroundedTextGrammar` (text with grounded
phrases), :class:`ObjectListGrammar` (detection), :class:`SingleBoxGrammar` (referring
expressions, localisation, segmentation), :class:`ChoiceGrammar` (a closed answer set),
:class:`ImageGrammar` (exactly ``n`` image-code tokens, for image outputs),
:class:`BoxFirstListGrammar` (detection with each object's box before its label),
:class:`PointedAnswerGrammar` (an answer written after the box of the object it is about, or plain
text). The object
grammars optionally add polygons and named keypoints (``name <loc_x><loc_y>``, names from a fixed,
ordered list) after an object's box.

Ids come from a :class:`VocabLayout`, never from constants. Plain Python + numpy, no torch.

Modules (each imports only the ones before it):

* ``layout``: :class:`GrammarError`, :class:`VocabLayout`, :class:`TokenTrie`;
* ``base``: the state and phase constants (``State``, ``UNBOUNDED``, ``DONE_STATE``, ``LIST``, ...),
  the states without objects (``PhaseState``, ``TrieState``, ``ImageState``), the
  :class:`Grammar` base class, :class:`TextGrammar`, :class:`ChoiceGrammar`, :class:`ImageGrammar`;
* ``parts``: an object as a chain of parts: the part interface (``ObjectPart``: one element kind,
  its advance, allowed tokens and fewest / most tokens to finish side by side), ``</obj>``
  (``ClosePart``), and the grammar that dispatches an object's states to its parts
  (``ObjectPartsGrammar``);
* ``labels``, ``boxes``, ``polygons``, ``keypoints``: one part per element kind, with its states
  (``FreeLabelState``, ``LabelState``; ``BoxState``, ``AfterBoxState``; ``PolygonState``,
  ``AfterPolygonState``; ``KeypointState``);
* ``objects``: the label-first objects composed from the parts (``_ObjectGrammar``),
  :class:`GroundedTextGrammar`, :class:`ObjectListGrammar`, :class:`SingleBoxGrammar`, and what an
  object list keeps between its objects (``ListState``, ``ListCounting``);
* ``box_first``: :class:`BoxFirstListGrammar`, the box-first list composed from the same box part;
* ``answer``: :class:`PointedAnswerGrammar`, a box-first answer composed from the same parts.

Everything is re-exported here: import from :mod:`vlseq.codec.grammar`.
"""

from .answer import PointedAnswerGrammar
from .base import (
    AFTER_BOX,
    AFTER_POLY,
    CHOICE,
    DONE,
    DONE_STATE,
    END,
    IMG,
    KP,
    KP_Y,
    LABEL,
    LABEL_AFTER_BOX,
    LIST,
    OBJ_START,
    OBJ_WORDS,
    OUT,
    POLY,
    START,
    UNBOUNDED,
    X1,
    X2,
    Y1,
    Y2,
    ChoiceGrammar,
    Grammar,
    ImageGrammar,
    ImageState,
    PhaseState,
    State,
    TextGrammar,
    TrieState,
)
from .box_first import BoxFirstListGrammar
from .boxes import AfterBoxState, BoxState
from .keypoints import KeypointState
from .labels import FreeLabelState, LabelState
from .layout import GrammarError, TokenTrie, VocabLayout
from .objects import GroundedTextGrammar, ListState, ObjectListGrammar, SingleBoxGrammar
from .objects import _ObjectGrammar as _ObjectGrammar  # the base of the object grammars, for subclassing
from .polygons import AfterPolygonState, PolygonState

__all__ = [
    "GrammarError", "VocabLayout", "TokenTrie", "State", "UNBOUNDED", "DONE_STATE", "Grammar", "TextGrammar",
    "ChoiceGrammar", "ImageGrammar", "GroundedTextGrammar", "ObjectListGrammar", "SingleBoxGrammar",
    "BoxFirstListGrammar", "PointedAnswerGrammar", "DONE", "OUT", "LIST", "END", "START", "CHOICE", "OBJ_START", "OBJ_WORDS", "LABEL", "X1", "Y1", "X2", "Y2",
    "AFTER_BOX", "LABEL_AFTER_BOX", "POLY", "AFTER_POLY", "KP", "KP_Y", "IMG",
    "PhaseState", "TrieState", "ImageState", "ListState", "FreeLabelState", "LabelState", "BoxState", "AfterBoxState",
    "PolygonState", "AfterPolygonState", "KeypointState",
]
