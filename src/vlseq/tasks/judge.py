"""How one prediction is judged right or wrong on an example sheet: the rules :meth:`Task.verdict` uses.

A sheet marks each panel right (green) or wrong (red) by a rule a person can check at a glance;
it is for display, never a metric (the metric is :meth:`Task.evaluate`). The rules, by output:

* one box (refexp, localize, segment): the predicted box has IoU >= 0.5 with a true box;
* one of a closed set (classify, multiple_choice): the option equals the answer (case and spaces ignored);
* an object list (detect, instance_segment, keypoints): at IoU >= 0.5 with the same label, at least
  half of the true objects are found and at least half of the predicted objects are true;
* free text (captions, paragraphs, stories, dialog answers): the overlap F1 of content words (lower
  case, punctuation and :data:`FUNCTION_WORDS` dropped) with the closest reference is at least 0.5;
* vqa and ground have rules of their own (on :class:`~vlseq.tasks.text.VQA` and
  :class:`~vlseq.tasks.grounding.Ground`); image outputs have none.
"""

from __future__ import annotations

import re
from typing import Sequence

from ..codec.text import fold_text
from ..data.example import Example
from .base import Prediction

#: IoU at which a box counts as right
IOU_RIGHT = 0.5
#: content-word F1 at which a text counts as right
TEXT_RIGHT = 0.5
#: words that carry no content: without them a caption of one article ("a") would overlap every reference
FUNCTION_WORDS = frozenset({"a", "an", "the", "of", "and", "is", "are", "there", "in", "on", "at", "to", "with"})

_WORD = re.compile(r"[a-z0-9']+")


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two xyxy boxes."""
    from ..metrics import box_iou

    return float(box_iou([tuple(a)], [tuple(b)])[0, 0])


def best_iou(box: Sequence[float], truth: Sequence[Sequence[float]]) -> float:
    """The highest IoU of ``box`` with any of ``truth`` (0 without any)."""
    return max((iou(box, t) for t in truth), default=0.0)


def _words(s: str) -> list[str]:
    return [w for w in _WORD.findall(s.lower()) if w not in FUNCTION_WORDS]


def word_f1(pred: str, ref: str) -> float:
    """F1 of the two bags of content words (lower case, punctuation and :data:`FUNCTION_WORDS` dropped)."""
    p, r = _words(pred), _words(ref)
    if not p or not r:
        return float(p == r)
    common = sum(min(p.count(w), r.count(w)) for w in set(p))
    if common == 0:
        return 0.0
    prec, rec = common / len(p), common / len(r)
    return 2 * prec * rec / (prec + rec)


def box_right(ex: Example, pred: Prediction) -> bool:
    """The first predicted box has IoU >= :data:`IOU_RIGHT` with one of the example's object boxes."""
    truth = [o.box for o in ex.objects]
    return bool(pred.objects and truth) and best_iou(pred.objects[0][1], truth) >= IOU_RIGHT


def choice_right(ex: Example, pred: Prediction) -> bool:
    """The chosen option is the answer, case and spacing ignored."""
    return fold_text(pred.text) == fold_text(ex.answers[0])


def objects_right(ex: Example, pred: Prediction) -> bool:
    """Half of the true objects found and half of the predicted ones true (same label, IoU >= 0.5);
    an example without objects is right when nothing is predicted."""
    from ..metrics import match_objects

    truth = [(o.label, o.box) for o in ex.objects]
    found = match_objects(pred.objects, truth, IOU_RIGHT)
    if not truth or not pred.objects:
        return not truth and not pred.objects
    return len(found) >= len(truth) / 2 and len(found) >= len(pred.objects) / 2


def text_right(ex: Example, pred: Prediction) -> bool:
    """Content-word F1 with the closest reference (``answers``, else ``text``) >= :data:`TEXT_RIGHT`."""
    refs = ex.answers or [ex.text]
    return max(word_f1(pred.text, r) for r in refs) >= TEXT_RIGHT


__all__ = ["FUNCTION_WORDS", "IOU_RIGHT", "TEXT_RIGHT", "best_iou", "box_right", "choice_right", "iou",
           "objects_right", "text_right", "word_f1"]
