"""Named keypoints per object: ``<obj>label<loc>x4 name<loc_x><loc_y> name<loc_x><loc_y>...</obj>`` per object.

The keypoint names and their order come from ``ex.meta["keypoint_names"]`` (the synthetic world
sets them), else :data:`DEFAULT_NAMES` (the world's extreme points). An object lists the names it
has, in that order; the grammar allows each name at most once, in order, each followed by exactly
two coordinates. Scored by PCK@0.1 of the GT box's longer side (:func:`vlseq.metrics.pck`) after
matching predicted to GT objects by label and box IoU >= 0.5.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Sequence

from ..codec import object_list
from ..codec.markup import escape_markup
from ..data.example import Example, keypoint_names
from .base import GrammarSpec, Prediction, Task, grounded_target
from .detection import order_objects
from .judge import objects_right


class Keypoints(Task):
    """Every object with its box and named keypoints (a detection list with points)."""

    name = "keypoints"
    headline = ("pck@0.1",)
    output = "objects"
    needs = ("options",)
    # no baseline: a constant keypoint layout has no single meaningful form
    files = ("keypoints.json",)
    frame_coordinates = True
    #: upper bound on objects emitted at test time (a grammar limit, not a training one)
    max_objects: int = 50
    #: PCK threshold as a fraction of the GT box's longer side
    alpha: float = 0.1

    def check(self, ex: Example) -> None:
        super().check(ex)
        names = set(keypoint_names(ex))
        for k, o in enumerate(ex.objects):
            extra = sorted(set(o.keypoints or {}) - names)
            if extra:
                raise ValueError(f"{ex.source or ex.image_id}: object {k} ({o.label!r}) has keypoint(s) {extra} "
                                 f"outside the keypoint names {sorted(names)}")

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(f"keypoints: {', '.join(ex.options)}")

    def target(self, ex: Example, bins: int, rng: random.Random | None = None, order: str | None = None) -> str:
        self.check(ex)
        names = keypoint_names(ex)
        objs = order_objects(ex.objects, ex.options, order, rng)  # keypoints keep the name order
        g = object_list([(o.label, tuple(o.box)) for o in objs])
        g.phrases = [dataclasses.replace(ph, keypoints=tuple((n, tuple(o.keypoints[n])) for n in names
                                                             if o.keypoints and n in o.keypoints))
                     for ph, o in zip(g.phrases, objs)]
        return grounded_target(g, ex, bins)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("objects", labels=tuple(ex.options), max_objects=self.max_objects,
                           keypoints=keypoint_names(ex))

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import match_objects, pck

        preds, refs = {}, {}
        n_gt = n_matched = 0
        for i, (ex, p) in enumerate(zip(examples, predictions)):
            parsed = p.parsed
            pred_objs = [(parsed.phrase_text(ph), ph.boxes[0]) for ph in parsed.phrases]
            match = match_objects(pred_objs, [(o.label, o.box) for o in ex.objects])
            n_gt += len(ex.objects)
            n_matched += len(match)
            for k, o in enumerate(ex.objects):
                if not o.keypoints:
                    continue
                refs[(i, k)] = (o.box, dict(o.keypoints))
                if k in match:
                    preds[(i, k)] = dict(reversed(parsed.phrases[match[k]].keypoints))  # a repeated name: the first counts
        r = pck(preds, refs, alpha=self.alpha)
        # PCK splits into finding the object (label and box) and placing its points: the same
        # score over the matched objects alone says which half a low PCK comes from
        # (NaN when nothing was matched: pck() of no references)
        found = pck(preds, {k: v for k, v in refs.items() if k in preds}, alpha=self.alpha)
        return {f"pck@{self.alpha:g}": float(r["pck"]), "matched": n_matched / n_gt if n_gt else float("nan"),
                f"pck@{self.alpha:g}_given_matched": float(found["pck"])}

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        """As for detection: the objects found by label and box (keypoints are not judged)."""
        return objects_right(ex, pred)
