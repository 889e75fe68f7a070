"""The box-first object list: ``(<obj> x1 y1 x2 y2 LABEL </obj>)* </s>`` (:class:`BoxFirstListGrammar`).

Pix2Seq's order: each object's box, then its class. A label-first list makes the model name the
next object before pointing at it; box first, the label is read where the model has just pointed
(the same lookup a region caption makes from a box in its prompt). :func:`vlseq.codec.parse` reads
both orders into the same structure.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from typing import Sequence

from .base import LABEL_AFTER_BOX
from .boxes import BoxPart
from .labels import TrieLabelPart
from .layout import VocabLayout
from .objects import ListCounting
from .parts import ClosePart


class BoxFirstListGrammar(ListCounting):
    """Detection output, box first: ``(<obj> <loc>x4 LABEL </obj>)*`` then ``</s>``.

    ``labels``: the allowed labels as token-id sequences, tokenized as they follow a coordinate
    token (a trie; one may prefix another). Between ``min_objects`` and ``max_objects`` (None:
    unbounded) objects, one box each with ``x2 > x1`` and ``y2 > y1``, no polygons or keypoints
    (text after a box would be ambiguous with a keypoint name).

    The object's parts: the box (:class:`~.boxes.BoxPart`, the same box as the label-first objects'),
    the label (:class:`~.labels.TrieLabelPart`), ``</obj>``. States: :class:`~.objects.ListState`
    between objects; :class:`~.boxes.BoxState` with phase ``X1`` / ``Y1`` / ``X2`` / ``Y2`` inside the
    box (``outer``: the objects closed before it); :class:`~.labels.LabelState` with phase
    ``LABEL_AFTER_BOX`` in the label after the box.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]], max_objects: int | None = None,
                 min_objects: int = 0) -> None:
        super().__init__(layout)
        self._init_count(max_objects, min_objects)
        label = TrieLabelPart(self, labels, LABEL_AFTER_BOX)
        self._compose([BoxPart(self), label, ClosePart(self)])
        self.trie = label.trie
