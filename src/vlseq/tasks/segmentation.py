"""Segmentation as polygons (Pix2Seq-v2 style): referring ``segment`` and ``instance_segment``.

Targets::

    segment           <obj>the red circle<loc>x4<poly><loc_x><loc_y>...</poly></obj>
    instance_segment  <obj>circle<loc>x4<poly>...</poly></obj><obj>square<loc>x4<poly>...</poly></obj>...

A target polygon is the object's (largest) polygon cut to at most ``max_points`` vertices by
Douglas-Peucker (:func:`vlseq.data.polygon.simplify_to_budget`), so a target's length is bounded;
vertices that fall in the same coordinate bins as their predecessor are merged. Its coordinates
are in the frame of the object's box (:func:`vlseq.codec.coords.box_frame`): a triangle's apex is
``<loc_32><loc_0>`` at every place and size, so the model learns an outline once per shape, not
once per place (on the synthetic world, image-frame polygons scored mask mIoU 0.30 where the
predicted box alone scored 0.51). Evaluation
rasterises the predicted polygons (pycocotools): mask mIoU / cIoU for ``segment``, COCO mask AP
for ``instance_segment`` (:mod:`vlseq.metrics.masks`).
"""

from __future__ import annotations

import random
from typing import Sequence

from ..codec import GroundedText, Phrase, object_frame, object_list, quantize_in_frame
from ..codec.coords import Box, Point
from ..codec.markup import escape_markup
from ..data.example import Example, Object
from ..data.polygon import simplify_to_budget
from .base import GrammarSpec, Prediction, Task, grounded_target
from .detection import order_objects
from .judge import box_right, objects_right
from .priors import box_per_category, one_box

#: Default vertex budget of a target polygon.
DEFAULT_MAX_POINTS = 12


def object_polygons(o: Object) -> list[list[Point]]:
    """Every polygon part of an object (``attributes["polygons"]`` when the reader kept them all)."""
    parts = o.attributes.get("polygons")
    if parts:
        return [list(p) for p in parts]
    return [list(o.polygon)] if o.polygon else []


def target_polygon(simple: Sequence[Point], frame: Box, bins: int) -> tuple[Point, ...]:
    """A simplified polygon with consecutive vertices in the same bins of ``frame`` merged.

    The merge keeps the first vertex of each run; the last vertex goes too when it shares the
    first vertex's bins (the polygon is closed). When fewer than 3 vertices remain, the polygon is
    kept as it is (a degenerate outline: 3 points in 1-2 bins still parse).
    """
    bins_of = [quantize_in_frame(p, frame, bins) for p in simple]
    keep = [i for i in range(len(simple)) if i == 0 or bins_of[i] != bins_of[i - 1]]
    if len(keep) > 1 and bins_of[keep[-1]] == bins_of[0]:
        keep.pop()
    chosen = [simple[i] for i in keep] if len(keep) >= 3 else simple
    return tuple((float(x), float(y)) for x, y in chosen)


def target_box_and_polygon(o: Object, ex: Example, bins: int, max_points: int) -> tuple[tuple[float, ...], tuple[Point, ...]]:
    """An object's target polygon and a box that encloses it.

    The polygon is written in the box's frame, which holds only points inside the box. A box
    measured on the rendered pixels can lie up to a pixel inside the geometric outline (a star's
    tips), so the target box is the union of the object's box and its polygon's extent; clamping
    the polygon into the box instead cost 6 points of mask IoU on the synthetic world's small objects.
    """
    simple = simplify_to_budget(o.polygon, max_points)  # type: ignore[arg-type]
    xs, ys = [x for x, _ in simple], [y for _, y in simple]
    x1, y1, x2, y2 = o.box
    box = (min(x1, *xs), min(y1, *ys), max(x2, *xs), max(y2, *ys))
    return box, target_polygon(simple, object_frame(box, ex.width, ex.height, bins), bins)


def _check_polygons(task: Task, ex: Example) -> None:
    for k, o in enumerate(ex.objects):
        if not o.polygon or len(o.polygon) < 3:
            raise ValueError(f"{ex.source or ex.image_id}: task {task.name!r} needs a polygon (>= 3 points) "
                             f"for every object; object {k} ({o.label!r}) has {len(o.polygon or [])} points")


class _PolygonTask(Task):
    """What both segmentation tasks share: a polygon budget and the polygon check of an example."""

    frame_coordinates = True

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS) -> None:
        if max_points < 3:
            raise ValueError(f"max_points must be >= 3, got {max_points}")
        self.max_points = max_points

    def check(self, ex: Example) -> None:
        super().check(ex)
        _check_polygons(self, ex)


class Segment(_PolygonTask):
    """Referring segmentation: expression -> ``<obj>expression box <poly>...</poly></obj>``.

    The first referred object is the target (RefCOCO refers to one object); evaluation compares
    the predicted mask with the union of every referred object's mask.
    """

    name = "segment"
    headline = ("miou", "box_acc@0.5")
    output = "box"
    needs = ("text", "objects")
    files = ("refexp.json",)
    baseline_kind = "prior box"

    def prompt(self, ex: Example, bins: int) -> str:
        return f"segment: {escape_markup(ex.text)}"

    def label(self, ex: Example) -> str:
        return " ".join(ex.text.split())

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        self.check(ex)
        o, label = ex.objects[0], self.label(ex)
        box, poly = target_box_and_polygon(o, ex, bins, self.max_points)
        return grounded_target(GroundedText(label, [Phrase(0, len(label), (box,), (poly,))]), ex, bins)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("box", labels=(self.label(ex),), polygons=True, max_polygon_points=self.max_points,
                           require_polygon=True)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import rec_accuracy, segmentation_iou

        preds, refs, sizes = {}, {}, {}
        for i, (ex, p) in enumerate(zip(examples, predictions)):
            phrases = p.parsed.phrases
            preds[i] = [list(poly) for poly in phrases[0].polygons] if phrases else []
            refs[i] = [part for o in ex.objects for part in object_polygons(o)]
            sizes[i] = (ex.width, ex.height)
        r = segmentation_iou(preds, refs, sizes)
        box = rec_accuracy({i: (p.objects[0][1] if p.objects else None) for i, p in enumerate(predictions)},
                           {i: [o.box for o in ex.objects] for i, ex in enumerate(examples)})
        return {"miou": r["miou"], "ciou": r["ciou"], "prec@0.5": r["prec@0.5"], "box_acc@0.5": box["accuracy"],
                "box_mean_iou": box["mean_iou"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The prior box for every expression, the box itself as its polygon (the grammar asks for one)."""
        return one_box(self, examples, prior, bins, polygon=True)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return box_right(ex, pred)


class InstanceSegment(_PolygonTask):
    """Instance segmentation: ``<obj>label box <poly>...</poly></obj>`` for every object."""

    name = "instance_segment"
    headline = ("mask_map", "mask_map_50")
    output = "objects"
    needs = ("options",)
    files = ("instances.json",)
    baseline_kind = "prior box per category"
    #: upper bound on objects emitted at test time (a grammar limit, not a training one)
    max_objects: int = 50

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(f"segment all: {', '.join(ex.options)}")

    def target(self, ex: Example, bins: int, rng: random.Random | None = None, order: str | None = None) -> str:
        self.check(ex)
        objs = order_objects(ex.objects, ex.options, order, rng)
        items = [(o.label, *target_box_and_polygon(o, ex, bins, self.max_points)) for o in objs]
        return grounded_target(object_list(items), ex, bins)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("objects", labels=tuple(ex.options), max_objects=self.max_objects, polygons=True,
                           max_polygon_points=self.max_points, require_polygon=True)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import coco_map, coco_mask_map

        gts = [(i, o.label, object_polygons(o)) for i, ex in enumerate(examples) for o in ex.objects]
        preds, box_preds = [], []
        for i, p in enumerate(predictions):
            for ph, s in zip(p.parsed.phrases, p.ranking_scores(len(p.parsed.phrases))):
                label = p.parsed.phrase_text(ph)
                preds.append((i, label, [list(poly) for poly in ph.polygons[:1]], s))
                box_preds.append((i, label, ph.boxes[0], s))
        cats = sorted({c for ex in examples for c in ex.options} | {g[1] for g in gts} | {q[1] for q in preds})
        sizes = {i: (ex.width, ex.height) for i, ex in enumerate(examples)}
        m = coco_mask_map(gts, preds, sizes, categories=cats)
        b = coco_map([(i, o.label, o.box) for i, ex in enumerate(examples) for o in ex.objects], box_preds,
                     image_ids=range(len(examples)), categories=cats)
        return {"mask_map": m["map"], "mask_map_50": m["map_50"], "mask_map_75": m["map_75"], "box_map": b["map"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The prior box once per listed category, the box itself as its polygon."""
        return box_per_category(self, examples, prior, bins, polygon=True)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return objects_right(ex, pred)
