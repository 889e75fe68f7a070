"""MDETR-style grounding JSON -> ``refexp``, ``ground`` and ``grounded_caption`` Examples.

The files (``final_refcoco_*.json``, ``final_flickr_separateGT_*.json``, ``final_mixed_train.json``)
use the COCO layout with one twist: each *image record* is one caption or expression::

    images:      [{id, file_name, height, width, caption, dataset_name?, original_id?,
                   tokens_negative?, sentence_id?, tokens_positive_eval?}]
    annotations: [{id, image_id, bbox [x, y, w, h], area, iscrowd, category_id?,
                   tokens_positive [[start, end], ...], segmentation?}]

``tokens_positive`` are character spans into the record's caption. Captions are
whitespace-normalised and every span is re-mapped onto the normalised text.

* refexp: ``text`` = the expression, ``objects`` = the referred box(es), ``phrases`` = one phrase
  spanning the whole expression with those boxes (refexp's target); the
  annotated ``tokens_positive`` spans are kept in ``meta["tokens_positive"]``.
* segment: the same, for the records whose every referred object has a polygon ``segmentation``
  (records without one yield no segment example).
* ground: ``text`` = the caption, one phrase per distinct span; annotations naming the same span
  form one phrase with several boxes; an annotation naming several spans adds its box to each.
* grounded_caption: ``answers = [caption]`` and the same phrases over it.

A record with a bad annotation is dropped whole in skip mode (its phrases would be incomplete).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ...codec.coords import Box
from ...codec.markup import Phrase
from ..example import Example, Object
from .coco import ImageInfo, read_image_table
from .validate import (
    DataError,
    IdIndex,
    ReadReport,
    RecordGuard,
    field_of,
    load_json,
    normalize_text,
    polygon_area,
    polygons,
    record_id,
    spans,
    top_list,
    xywh_box,
)


@dataclass
class _Record:
    info: ImageInfo
    raw: dict
    text: str = ""
    objects: list[Object] = field(default_factory=list)
    spans: list[list[tuple[int, int]]] = field(default_factory=list)  # per object, over ``text``


def _categories(doc: Any, g: RecordGuard) -> dict[Any, str]:
    cats: dict[Any, str] = {}
    if not isinstance(doc, dict) or "categories" not in doc:
        return cats
    for i, c in enumerate(top_list(doc, "categories", g.file)):
        strict = RecordGuard(g.file)
        with strict.record(f"categories[{i}]"):
            cid = record_id(c, "id", strict, f"categories[{i}]")
            cats[cid] = " ".join(field_of(c, "name", str, strict, cid).split())
    return cats


def _read(
    path: Path, image_root: Path | None, skip_bad: bool, report: ReadReport | None, check_images: bool
) -> tuple[list[_Record], RecordGuard]:
    """Every good record with its normalised caption, objects and spans, in file order."""
    root = image_root if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    cats = _categories(doc, g)
    images, records = read_image_table(doc, g, root, check_images, extra=("caption",))
    recs: dict[Any, _Record] = {}
    raw_text: dict[Any, str] = {}
    for rid, info in images.items():
        with g.record(rid):
            caption = field_of(records[rid], "caption", str, g, rid)
            text, _ = normalize_text(caption)
            if not text:
                raise g.error(rid, "bad_value", "'caption' is empty")
            recs[rid] = _Record(info, records[rid], text)
            raw_text[rid] = caption
    bad: set = set()
    ann_ids = IdIndex(g, "annotation")
    for i, ann in enumerate(top_list(doc, "annotations", path)):
        rid = f"annotations[{i}]"
        img = None
        try:
            with RecordGuard(path).record(rid):
                rid = record_id(ann, "id", g, rid)
                ann_ids.add(rid)
                img = field_of(ann, "image_id", (int, str), g, rid)
                if img not in records:
                    raise g.error(rid, "unknown_ref", f"'image_id' {img!r} points to no image record in the file")
                if img not in recs:
                    continue  # the record itself was bad and is already counted
                rec = recs[img]
                box = xywh_box(field_of(ann, "bbox", list, g, rid), rec.info.width, rec.info.height, g, rid)
                sp = spans(field_of(ann, "tokens_positive", list, g, rid, default=[]), raw_text[img], g, rid)
                _, mapped = normalize_text(raw_text[img], sp)
                if any(s == e for s, e in mapped):
                    raise g.error(rid, "bad_span", "a 'tokens_positive' span covers only whitespace")
                cat = ann.get("category_id")
                if cats and cat is not None and cat not in cats:
                    raise g.error(rid, "unknown_ref", f"'category_id' {cat!r} points to no category in the file")
                polys = polygons(ann.get("segmentation"), rec.info.width, rec.info.height, g, rid)
                obj = Object(
                    label=cats.get(cat, "") if cats else "",
                    box=box,
                    polygon=max(polys, key=polygon_area) if polys else None,
                    # every part too, as instances.json keeps them (a mask metric needs the whole mask)
                    attributes={"id": rid, "category_id": cat, **({"polygons": polys} if len(polys) > 1 else {}),
                                # Flickr30k Entities' phrase id, kept for result files (vlseq.evaluation.export)
                                **({"phrase_ids": ann["phrase_ids"]} if "phrase_ids" in ann else {})},
                )
                rec.objects.append(obj)
                rec.spans.append(mapped)
        except DataError as e:
            g.handle(e)
            if img is not None:
                bad.add(img)
    return [r for k, r in recs.items() if k not in bad], g


def _image_id(raw: dict, rid: Any) -> str:
    # refcoco files name the source image "original_id", flickr files "original_img_id"
    return str(raw.get("original_id", raw.get("original_img_id", rid)))


def _meta(r: _Record) -> dict:
    keep = ("dataset_name", "sentence_id", "original_id", "original_img_id", "tokens_negative")
    meta = {k: r.raw[k] for k in keep if k in r.raw}
    meta["record_id"] = r.info.id
    return meta


def read_refexp(
    path: str | Path,
    image_root: str | Path | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
) -> list[Example]:
    """``refexp`` Examples, one per expression record that has at least one referred box."""
    return read_refexp_tasks(path, image_root, ("refexp",), skip_bad, report, check_images)["refexp"]


def read_refexp_tasks(
    path: str | Path,
    image_root: str | Path | None = None,
    tasks: Iterable[str] = ("refexp", "segment"),
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
) -> dict[str, list[Example]]:
    """``{"refexp": [...], "segment": [...]}`` (those asked for) from one read of the file."""
    path = Path(path)
    tasks = set(tasks) & {"refexp", "segment"}
    recs, g = _read(path, Path(image_root) if image_root else None, skip_bad, report, check_images)
    out: dict[str, list[Example]] = {t: [] for t in tasks}
    for r in recs:
        with g.record(r.info.id):
            if not r.objects:
                raise g.error(r.info.id, "bad_value", "the expression has no annotated (referred) box")
            objects = [Object(o.label or r.text, o.box, o.polygon, attributes=o.attributes) for o in r.objects]
            meta = _meta(r)
            meta["tokens_positive"] = [[list(sp) for sp in s] for s in r.spans]  # per object, over text
            for task in sorted(tasks):
                if task == "segment" and any(o.polygon is None for o in objects):
                    continue
                out[task].append(
                    Example(task=task, images=[r.info.path], width=r.info.width, height=r.info.height,
                            image_id=_image_id(r.raw, r.info.id), text=r.text, objects=list(objects),
                            phrases=[Phrase(0, len(r.text), tuple(o.box for o in objects))],
                            source=f"{path}#image record {r.info.id}", meta=dict(meta))
                )
    for t, exs in out.items():
        g.report.kept[t] += len(exs)
    return out


def grounded_phrases(objects: list[Object], spans_per_object: list[list[tuple[int, int]]]) -> list[Phrase]:
    """One :class:`Phrase` per distinct span, with the (deduplicated) boxes of every object naming it."""
    boxes: dict[tuple[int, int], list[Box]] = {}
    for obj, sps in zip(objects, spans_per_object):
        for sp in sps:
            lst = boxes.setdefault(sp, [])
            if obj.box not in lst:
                lst.append(obj.box)
    return [Phrase(s, e, tuple(b)) for (s, e), b in sorted(boxes.items())]


def read_grounding(
    path: str | Path,
    image_root: str | Path | None = None,
    tasks: Iterable[str] = ("ground", "grounded_caption"),
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
) -> dict[str, list[Example]]:
    """``{"ground": [...], "grounded_caption": [...]}`` (those asked for); records with no box are left out."""
    path = Path(path)
    tasks = set(tasks) & {"ground", "grounded_caption"}
    recs, g = _read(path, Path(image_root) if image_root else None, skip_bad, report, check_images)
    out: dict[str, list[Example]] = {t: [] for t in tasks}
    for r in recs:
        with g.record(r.info.id):
            phrases = grounded_phrases(r.objects, r.spans)
            if not phrases:
                continue  # nothing grounded: not a grounding example (captions alone come from captions files)
            meta = _meta(r)
            pids = _phrase_ids(r.objects, r.spans, phrases)
            if pids is not None:
                meta["phrase_ids"] = pids  # per phrase of ``phrases``
            if "tokens_positive_eval" in r.raw:
                meta["tokens_positive_eval"] = _map_eval_spans(r.raw, g, r.info.id)
            base = dict(images=[r.info.path], width=r.info.width, height=r.info.height,
                        image_id=_image_id(r.raw, r.info.id), phrases=phrases,
                        source=f"{path}#image record {r.info.id}", meta=meta)
            if "ground" in out:
                out["ground"].append(Example(task="ground", text=r.text, **base))
            if "grounded_caption" in out:
                out["grounded_caption"].append(Example(task="grounded_caption", answers=[r.text], **dict(base, meta=dict(meta), phrases=list(phrases))))
    for t, exs in out.items():
        g.report.kept[t] += len(exs)
    return out


def _phrase_ids(objects: list[Object], spans_per_object: list[list[tuple[int, int]]],
                phrases: list[Phrase]) -> list[Any] | None:
    """The ``phrase_ids`` of the annotations naming each phrase's span (one id, or a list where they
    differ; None for a phrase without one), or None when the file gives no annotation one."""
    if not any("phrase_ids" in o.attributes for o in objects):
        return None
    per_span: dict[tuple[int, int], list[Any]] = {}
    for obj, sps in zip(objects, spans_per_object):
        pid = obj.attributes.get("phrase_ids")
        for sp in sps:
            found = per_span.setdefault(sp, [])
            if pid is not None and pid not in found:
                found.append(pid)
    ids = [per_span.get((p.start, p.end), []) for p in phrases]
    return [i[0] if len(i) == 1 else (i or None) for i in ids]


def _map_eval_spans(raw: dict, g: RecordGuard, rid: Any) -> list[list[list[int]]]:
    """``tokens_positive_eval`` (spans per evaluated phrase) re-mapped onto the normalised caption."""
    caption = raw["caption"]
    value = raw["tokens_positive_eval"]
    if not isinstance(value, list):
        return []
    out = []
    for group in value:
        sp = spans(group, caption, g, rid, key="tokens_positive_eval")
        out.append([list(s) for s in normalize_text(caption, sp)[1]])
    return out
