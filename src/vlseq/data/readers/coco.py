"""COCO 2017 captions and instances files -> caption, detect and localize Examples.

* ``captions_*.json``: ``images [{id, file_name, width, height}]``, ``annotations [{id, image_id,
  caption}]`` -> one ``caption`` Example per image with every reference caption in ``answers``.
* ``instances_*.json``: annotations ``{id, image_id, category_id, bbox [x, y, w, h], area, iscrowd,
  segmentation}``, ``categories [{id, name, supercategory}]`` ->

  - ``detect``: one Example per image, every non-crowd object (label = category name, pixel xyxy
    box, largest polygon part), ``options`` = the full category list in id order. Crowd regions
    are kept in ``meta["crowd_boxes"]`` (evaluation ignores detections on them).
  - ``localize``: one Example per (image, category present), ``text`` = the category name,
    ``objects`` = that category's boxes.
  - ``instance_segment``: as ``detect``, for the images whose every non-crowd object has a polygon
    segmentation (an image with an RLE-only or unsegmented object yields none: its target would
    miss a mask).
  - ``keypoints`` (a COCO person-keypoints style file: each category lists its ``keypoints``
    names, each annotation ``keypoints`` ``[x, y, v] * K``): as ``detect``, every object with its
    labelled points (``v > 0``) as ``Object.keypoints``; ``meta["keypoint_names"]`` = the names.

An image whose record or any annotation is bad is dropped whole in skip mode (a detection target
missing one object would teach the model to miss it); a bad caption only drops that caption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..example import Example, Object
from ..images import checked_size, resolve_image
from .validate import (
    BOX_TOLERANCE,
    DataError,
    IdIndex,
    ReadReport,
    RecordGuard,
    clean_text,
    field_of,
    image_dims,
    load_json,
    polygon_area,
    polygons,
    record_id,
    top_list,
    xywh_box,
)


@dataclass
class ImageInfo:
    """One COCO image record: resolved path and the record's size."""

    id: Any
    path: str
    width: int
    height: int
    file_name: str


def read_image_table(
    doc: Any, g: RecordGuard, root: str | Path, check_images: bool = True, extra: Iterable[str] = ()
) -> tuple[dict[Any, ImageInfo], dict[Any, dict]]:
    """The ``images`` list of a COCO-layout document, checked, keyed by id.

    Returns ``(good, records)``: ``good`` holds the records that passed; ``records`` every record
    with a unique id (so annotations of a skipped image are recognised, not reported as orphans).
    ``extra`` names keys whose presence is required too (e.g. ``caption`` for MDETR files).
    """
    good: dict[Any, ImageInfo] = {}
    records: dict[Any, dict] = {}
    ids = IdIndex(g, "image")
    for i, rec in enumerate(top_list(doc, "images", g.file)):
        rid = f"images[{i}]"
        with g.record(rid):
            rid = record_id(rec, "id", g, rid)
            ids.add(rid)
            records[rid] = rec
            name = field_of(rec, "file_name", str, g, rid)
            w, h = image_dims(rec, g, rid)
            for key in extra:
                field_of(rec, key, object, g, rid)
            path = resolve_image(root, name)
            if check_images:
                checked_size(path, g, rid, (w, h))
            good[rid] = ImageInfo(rid, str(path), w, h, name)
    return good, records


def _ref(rec: dict, key: str, table: dict, g: RecordGuard, rid: Any, what: str) -> Any:
    ref = field_of(rec, key, (int, str), g, rid)
    if ref not in table:
        raise g.error(rid, "unknown_ref", f"{key!r} {ref!r} points to no {what} in the file")
    return ref


def read_coco_captions(
    path: str | Path,
    image_root: str | Path | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
) -> list[Example]:
    """``caption`` Examples (one per image with at least one caption) from a COCO captions file."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    images, records = read_image_table(doc, g, root, check_images)
    caps: dict[Any, list[tuple[Any, str]]] = {}
    ann_ids = IdIndex(g, "annotation")
    for i, ann in enumerate(top_list(doc, "annotations", path)):
        rid = f"annotations[{i}]"
        with g.record(rid):
            rid = record_id(ann, "id", g, rid)
            ann_ids.add(rid)
            img = _ref(ann, "image_id", records, g, rid, "image")
            text = clean_text(field_of(ann, "caption", str, g, rid), g, rid, "caption")
            caps.setdefault(img, []).append((rid, text))
    out = []
    for img_id, info in images.items():
        if img_id not in caps:
            continue
        out.append(
            Example(
                task="caption",
                images=[info.path],
                width=info.width,
                height=info.height,
                image_id=str(img_id),
                answers=[t for _, t in caps[img_id]],
                source=f"{path}#image {img_id}",
                meta={"caption_ids": [a for a, _ in caps[img_id]]},
            )
        )
    g.report.kept["caption"] += len(out)
    return out


def read_categories(doc: Any, g: RecordGuard) -> dict[Any, str]:
    """``{category id: name}`` from ``categories`` (a duplicate id or a bad record is file-level)."""
    cats: dict[Any, str] = {}
    for i, c in enumerate(top_list(doc, "categories", g.file)):
        # A bad category would silently change the label set of every image: never skip it.
        strict = RecordGuard(g.file, skip_bad=False)
        rid = f"categories[{i}]"
        with strict.record(rid):
            rid = record_id(c, "id", strict, rid)
            if rid in cats:
                raise strict.error(rid, "duplicate_id", f"duplicate category id {rid!r}")
            cats[rid] = clean_text(field_of(c, "name", str, strict, rid), strict, rid, "name")
    return cats


def read_keypoint_names(doc: Any, g: RecordGuard) -> dict[Any, list[str]]:
    """``{category id: keypoint names}`` of the categories that list ``keypoints`` (COCO keypoints files)."""
    out: dict[Any, list[str]] = {}
    for i, c in enumerate(top_list(doc, "categories", g.file)):
        strict = RecordGuard(g.file, skip_bad=False)  # as read_categories: a bad category is file-level
        rid = f"categories[{i}]"
        with strict.record(rid):
            rid = record_id(c, "id", strict, rid)
            names = field_of(c, "keypoints", list, strict, rid, default=None)
            if names is None:
                continue
            if not names or not all(isinstance(n, str) and n.strip() for n in names) or len(set(names)) != len(names):
                raise strict.error(rid, "bad_value", f"'keypoints' must list distinct non-empty names, got {names!r:.80}")
            out[rid] = [" ".join(n.split()) for n in names]
    return out


def keypoints_of(ann: dict, names: list[str], info: ImageInfo, g: RecordGuard, rid: Any) -> dict[str, tuple[float, float]]:
    """``{name: (x, y)}`` of the labelled points (``v > 0``) of a COCO ``keypoints`` list ``[x, y, v] * K``."""
    flat = field_of(ann, "keypoints", list, g, rid)
    if len(flat) != 3 * len(names):
        raise g.error(rid, "bad_value", f"'keypoints' must hold 3 numbers (x, y, v) for each of the category's "
                                        f"{len(names)} names, got {len(flat)} numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in flat):
        raise g.error(rid, "wrong_type", "'keypoints' must hold finite numbers")
    out = {}
    for k, name in enumerate(names):
        x, y, v = flat[3 * k : 3 * k + 3]
        if v not in (0, 1, 2):
            raise g.error(rid, "bad_value", f"keypoint {name!r}: visibility must be 0, 1 or 2, got {v!r}")
        if v == 0:
            continue
        t = BOX_TOLERANCE
        if not (-t <= x <= info.width + t and -t <= y <= info.height + t):
            raise g.error(rid, "bad_box", f"keypoint {name!r} ({x}, {y}) lies outside the {info.width}x{info.height} image")
        out[name] = (min(max(float(x), 0.0), info.width), min(max(float(y), 0.0), info.height))
    return out


def instance_object(ann: dict, info: ImageInfo, cats: dict[Any, str], g: RecordGuard, rid: Any,
                    keypoint_names: dict[Any, list[str]] | None = None) -> tuple[Object, bool]:
    """``(Object, is_crowd)`` of one COCO instance annotation, checked against its image.

    With ``keypoint_names`` (``{category id: names}``), an annotation of such a category must carry
    ``keypoints``; they become ``Object.keypoints``.
    """
    cat = _ref(ann, "category_id", cats, g, rid, "category")
    box = xywh_box(field_of(ann, "bbox", list, g, rid), info.width, info.height, g, rid)
    crowd = field_of(ann, "iscrowd", (int, bool), g, rid, default=0)
    if crowd not in (0, 1, True, False):
        raise g.error(rid, "bad_value", f"'iscrowd' must be 0 or 1, got {crowd!r}")
    polys = polygons(ann.get("segmentation"), info.width, info.height, g, rid)
    attrs: dict[str, Any] = {"id": rid, "category_id": cat}
    if len(polys) > 1:
        attrs["polygons"] = polys  # Object.polygon holds the largest part; all parts kept here
    largest = max(polys, key=polygon_area) if polys else None
    kps = keypoints_of(ann, keypoint_names[cat], info, g, rid) if keypoint_names and cat in keypoint_names else None
    return Object(label=cats[cat], box=box, polygon=largest, keypoints=kps, attributes=attrs), bool(crowd)


def read_coco_instances(
    path: str | Path,
    image_root: str | Path | None = None,
    tasks: Iterable[str] = ("detect", "localize"),
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
) -> dict[str, list[Example]]:
    """``{"detect": [...], "localize": [...], "instance_segment": [...], "keypoints": [...]}`` (those asked
    for) from a COCO instances file (``keypoints``: a COCO keypoints file)."""
    path = Path(path)
    tasks = set(tasks)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    cats = read_categories(doc, g)
    names = [cats[k] for k in sorted(cats, key=lambda k: (isinstance(k, str), k))]
    kp_names = read_keypoint_names(doc, g) if "keypoints" in tasks else {}
    if "keypoints" in tasks and not kp_names:
        raise DataError(path, None, "missing_key", "task 'keypoints' needs categories that list their 'keypoints' names "
                                                   "(a COCO keypoints file)")
    images, records = read_image_table(doc, g, root, check_images)
    objs: dict[Any, list[Object]] = {k: [] for k in images}
    crowd: dict[Any, list] = {k: [] for k in images}
    bad_images: set = set()
    ann_ids = IdIndex(g, "annotation")
    for i, ann in enumerate(top_list(doc, "annotations", path)):
        rid = f"annotations[{i}]"
        img = None
        try:
            with RecordGuard(path).record(rid):  # strict inner guard: decide here what to drop
                rid = record_id(ann, "id", g, rid)
                ann_ids.add(rid)
                img = _ref(ann, "image_id", records, g, rid, "image")
                if img not in images:
                    continue  # its image record was bad and is already counted
                obj, is_crowd = instance_object(ann, images[img], cats, g, rid, kp_names)
                (crowd if is_crowd else objs)[img].append(obj.box if is_crowd else obj)
        except DataError as e:
            g.handle(e)
            if img is not None:
                bad_images.add(img)
    out: dict[str, list[Example]] = {t: [] for t in tasks & {"detect", "localize", "instance_segment", "keypoints"}}
    for img_id, info in images.items():
        if img_id in bad_images:
            continue
        base = dict(images=[info.path], width=info.width, height=info.height, image_id=str(img_id))
        for task in ("detect", "instance_segment"):
            if task not in out or (task == "instance_segment" and any(o.polygon is None for o in objs[img_id])):
                continue
            out[task].append(
                Example(task=task, objects=list(objs[img_id]), options=list(names),
                        source=f"{path}#image {img_id}", meta={"crowd_boxes": list(crowd[img_id])}, **base)
            )
        if "keypoints" in out and objs[img_id]:
            kp = keypoints_example(objs[img_id], kp_names, names, crowd[img_id], f"{path}#image {img_id}", base, g)
            if kp is not None:
                out["keypoints"].append(kp)
        if "localize" in out:
            by_cat: dict[str, list[Object]] = {}
            for o in objs[img_id]:
                by_cat.setdefault(o.label, []).append(o)
            for name in sorted(by_cat, key=names.index):
                out["localize"].append(
                    Example(task="localize", text=name, objects=by_cat[name],
                            source=f"{path}#image {img_id}/{name}", **base)
                )
    for t, exs in out.items():
        g.report.kept[t] += len(exs)
    return out


def keypoints_example(objs: list[Object], kp_names: dict[Any, list[str]], names: list[str], crowd: list, source: str,
                      base: dict[str, Any], g: RecordGuard) -> Example | None:
    """The ``keypoints`` Example of one image: its objects of categories with keypoint names (None if none).

    One example has one name list (the task's order and grammar): objects whose categories name
    different keypoints are a record error.
    """
    with_kps = [o for o in objs if o.attributes["category_id"] in kp_names]
    if not with_kps:
        return None
    lists = {tuple(kp_names[o.attributes["category_id"]]) for o in with_kps}
    if len(lists) > 1:
        rid = source.rsplit("#", 1)[-1]
        with g.record(rid):
            raise g.error(rid, "bad_value", f"the objects of one image name different keypoints {sorted(lists)}")
        return None
    return Example(task="keypoints", objects=with_kps, options=list(names), source=source,
                   meta={"keypoint_names": list(lists.pop()), "crowd_boxes": list(crowd)}, **base)
