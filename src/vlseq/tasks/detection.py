"""Object detection as an object list: ``<obj>label box</obj>`` per object, or box first (``box_first``)."""

from __future__ import annotations

import random
from typing import Sequence

from ..codec import object_list
from ..codec.markup import escape_markup
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, grounded_target
from .judge import objects_right
from .priors import box_per_category

#: How a training target orders its object list (the ``object_order`` training key).
OBJECT_ORDERS = ("random", "position", "class")
#: The object order a training run writes unless told otherwise: the default of both the training
#: config and the Processor, so a script that builds its own Processor trains as ``vlseq train`` does.
#: ``random`` made greedy decoding list one class again and again (see ``TrainConfig.object_order``).
DEFAULT_OBJECT_ORDER = "position"


def by_position(objects: list) -> list:
    """Test-time order: top to bottom, then left to right (by box top-left corner)."""
    return sorted(objects, key=lambda o: (o.box[1], o.box[0], o.box[3], o.box[2]))


def order_objects(objects: Sequence, categories: Sequence[str], order: str | None = None,
                  rng: random.Random | None = None) -> list:
    """An object list in ``order`` (``None``: ``random``).

    - ``position``: :func:`by_position`, the order evaluation reads;
    - ``random``: a new order each time the example is seen (Pix2Seq), drawn from ``rng``; without
      an ``rng`` (a teacher-forced evaluation target) the ``position`` order;
    - ``class``: by the label's place in ``categories`` (the prompt's list; labels not in it last,
      alphabetically), then by position. The first label then asks only *which listed class is
      present* and each box is the next one of a named class: a label-first sequence's label
      otherwise has to name the shape of the next object in raster order before pointing at it.
    """
    order = order or "random"
    if order not in OBJECT_ORDERS:
        raise ValueError(f"object order must be one of {', '.join(OBJECT_ORDERS)}, got {order!r}")
    if order == "random" and rng is not None:
        objs = list(objects)
        rng.shuffle(objs)
        return objs
    objs = by_position(list(objects))
    if order == "class":
        rank = {c: i for i, c in enumerate(categories)}
        objs.sort(key=lambda o: (rank.get(o.label, len(rank)), "" if o.label in rank else o.label))  # stable
    return objs


class Detect(Task):
    name = "detect"
    headline = ("map_50", "map", "map_50_agnostic")
    output = "objects"
    needs = ("objects", "options")
    files = ("instances.json",)
    baseline_kind = "prior box per category"
    #: upper bound on objects emitted at test time (a grammar limit, not a training one)
    max_objects: int = 50
    box_first_ok = True

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(f"detect: {', '.join(ex.options)}")

    def target(self, ex: Example, bins: int, rng: random.Random | None = None, order: str | None = None,
               box_first: bool = False) -> str:
        objs = order_objects(ex.objects, ex.options, order, rng)
        return grounded_target(object_list([(o.label, o.box) for o in objs]), ex, bins, box_first=box_first)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("objects", labels=tuple(ex.options), max_objects=self.max_objects)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import coco_map, label_errors

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
        out = {"map": r["map"], "map_50": r["map_50"], "map_75": r["map_75"], "map_50_agnostic": agn["map_50"]}
        return out | label_errors(gts, preds)

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The prior box (of ``prior``'s object boxes) once per category the prompt lists."""
        return box_per_category(self, examples, prior, bins)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return objects_right(ex, pred)
