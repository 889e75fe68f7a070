"""Object detection as an object list: ``<obj>label box</obj>`` per object."""

from __future__ import annotations

import random
from typing import Sequence

from ..codec import object_list
from ..codec.markup import escape_markup
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, grounded_target
from .registry import register


def by_position(objects: list) -> list:
    """Test-time order: top to bottom, then left to right (by box top-left corner)."""
    return sorted(objects, key=lambda o: (o.box[1], o.box[0], o.box[3], o.box[2]))


@register
class Detect(Task):
    name = "detect"
    headline = ("map_50", "map", "map_50_agnostic")
    output = "objects"
    needs = ("objects", "options")
    #: upper bound on objects emitted at test time (a grammar limit, not a training one)
    max_objects: int = 50

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(f"detect: {', '.join(ex.options)}")

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        objs = list(ex.objects)
        if rng is None:
            objs = by_position(objs)
        else:  # Pix2Seq: a random order each time the example is seen
            rng.shuffle(objs)
        return grounded_target(object_list([(o.label, o.box) for o in objs]), ex, bins)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("objects", labels=tuple(ex.options), max_objects=self.max_objects)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import coco_map

        gts = [(i, o.label, o.box) for i, ex in enumerate(examples) for o in ex.objects]
        preds = []
        for i, p in enumerate(predictions):
            preds.extend((i, label, box, s) for (label, box), s in zip(p.objects, p.ranking_scores(len(p.objects))))
        cats = sorted({c for ex in examples for c in ex.options} | {g[1] for g in gts})
        r = coco_map(gts, preds, image_ids=range(len(examples)), categories=cats)
        # Class-agnostic AP (every label read as one class): are the boxes right, whatever their label?
        # Apart from mAP it tells a localisation failure from a classification one.
        agn = coco_map([(i, "object", b) for i, _, b in gts], [(i, "object", b, s) for i, _, b, s in preds],
                       image_ids=range(len(examples)), categories=["object"])
        return {"map": r["map"], "map_50": r["map_50"], "map_75": r["map_75"], "map_50_agnostic": agn["map_50"]}
