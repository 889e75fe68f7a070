"""VQAv2 questions + annotations -> ``vqa`` Examples.

Questions file: ``{"questions": [{image_id, question, question_id}], "data_subtype": ...}``;
annotations file: ``{"annotations": [{question_id, image_id, question_type, answer_type,
multiple_choice_answer, answers: [{answer, answer_confidence, answer_id}] x 10}]}``.
``answers`` of the Example holds the annotator answers in order (the VQA metric needs all ten).
An annotation may add ``objects``: ``[{"bbox": [x, y, w, h], "label": str}]``, the object(s) the
question is about (the synthetic world writes the one object of a colour, shape or position question,
and the objects a count or existence answer rests on);
they become the Example's ``objects`` (boxes checked against the image like COCO's). Without it the
Example has no objects.
Without an annotations file (test splits) the Examples have no answers.

The image of a question is found, in this order:

1. ``image_template`` (e.g. ``"COCO_{subtype}_{image_id:012d}.jpg"``, relative to ``image_root``),
   fields ``image_id`` and ``subtype`` (the questions file's ``data_subtype``);
2. ``image_table``: the image list of a companion COCO file (synthetic splits: captions.json or
   instances.json next to the questions), which also gives the image size;
3. ``images/{image_id:08d}.png`` under the root (the synthetic world's layout).

Without a size from the table, the size is read from the image header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..example import Example, Object
from ..images import checked_size, resolve_image
from .coco import ImageInfo
from .validate import (
    IdIndex,
    ReadReport,
    RecordGuard,
    clean_text,
    field_of,
    load_json,
    record_id,
    top_list,
    xywh_box,
)

DEFAULT_IMAGE_TEMPLATE = "images/{image_id:08d}.png"


def _answers(ann: dict, g: RecordGuard, rid: Any) -> list[str]:
    answers = field_of(ann, "answers", list, g, rid)
    out = []
    for j, a in enumerate(answers):
        text = field_of(a, "answer", str, g, f"{rid} answers[{j}]")
        out.append(" ".join(text.split()))
    if not out:
        raise g.error(rid, "bad_value", "'answers' is empty")
    return out


def _objects(ann: dict, g: RecordGuard, rid: Any) -> list[tuple[str, list]]:
    """The optional ``objects`` of an annotation as ``(label, [x, y, w, h])``: the types are checked
    here, the boxes against the image once its size is known (:func:`_object_list`)."""
    objs = field_of(ann, "objects", list, g, rid, default=[])
    out = []
    for j, o in enumerate(objs):
        where = f"{rid} objects[{j}]"
        label = clean_text(field_of(o, "label", str, g, where), g, where, "label")
        out.append((label, field_of(o, "bbox", list, g, where)))
    return out


def _object_list(objs: list[tuple[str, list]], width: int, height: int, g: RecordGuard, rid: Any) -> list[Object]:
    return [Object(label=label, box=xywh_box(bbox, width, height, g, f"{rid} objects[{j}]"))
            for j, (label, bbox) in enumerate(objs)]


def read_vqa_annotations(path: str | Path, skip_bad: bool = False, report: ReadReport | None = None) -> dict[Any, dict | None]:
    """``{question_id: {"answers", "image_id", "question_type", "answer_type", "multiple_choice_answer",
    "objects"}}``; ``objects``: ``(label, [x, y, w, h])`` pairs, boxes not yet checked against the image
    (empty without the optional field).

    In skip mode a bad record whose question id could be read maps to ``None`` (so the question
    is known to be dropped, not missing).
    """
    path = Path(path)
    g = RecordGuard(path, skip_bad, report)
    out: dict[Any, dict] = {}
    ids = IdIndex(g, "question")
    for i, ann in enumerate(top_list(load_json(path), "annotations", path)):
        rid = f"annotations[{i}]"
        with g.record(rid):
            rid = record_id(ann, "question_id", g, rid)
            ids.add(rid)
            out[rid] = None
            entry = {
                "answers": _answers(ann, g, rid),
                "image_id": field_of(ann, "image_id", (int, str), g, rid),
                "question_type": field_of(ann, "question_type", str, g, rid, default=""),
                "answer_type": field_of(ann, "answer_type", str, g, rid, default=""),
                "multiple_choice_answer": field_of(ann, "multiple_choice_answer", str, g, rid, default=""),
                "objects": _objects(ann, g, rid),
            }
            out[rid] = entry
    return out


def read_vqa(
    questions_path: str | Path,
    annotations_path: str | Path | None = None,
    image_root: str | Path | None = None,
    image_template: str | None = None,
    image_table: dict[Any, ImageInfo] | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
) -> list[Example]:
    """``vqa`` Examples, one per question (see the module docstring for image resolution)."""
    qpath = Path(questions_path)
    root = Path(image_root) if image_root is not None else qpath.parent
    g = RecordGuard(qpath, skip_bad, report)
    doc = load_json(qpath)
    questions = top_list(doc, "questions", qpath)
    subtype = doc.get("data_subtype", "") if isinstance(doc, dict) else ""
    anns = None
    ag = None
    if annotations_path is not None:
        ag = RecordGuard(annotations_path, skip_bad, g.report)
        anns = read_vqa_annotations(annotations_path, skip_bad, g.report)
    out = []
    ids = IdIndex(g, "question")
    for i, q in enumerate(questions):
        rid = f"questions[{i}]"
        with g.record(rid):
            rid = record_id(q, "question_id", g, rid)
            ids.add(rid)
            img_id = field_of(q, "image_id", (int, str), g, rid)
            text = clean_text(field_of(q, "question", str, g, rid), g, rid, "question")
            if image_template is not None:
                try:
                    name = image_template.format(image_id=img_id, subtype=subtype)
                except (ValueError, KeyError, IndexError) as e:
                    raise g.error(rid, "bad_value", f"image template {image_template!r} does not fit image_id {img_id!r}: {e}") from None
                path, size = resolve_image(root, name), None
            elif image_table is not None:
                if img_id not in image_table:
                    raise g.error(rid, "unknown_ref", f"'image_id' {img_id!r} is not in the companion image list")
                info = image_table[img_id]
                path, size = Path(info.path), (info.width, info.height)
            else:
                if not isinstance(img_id, int):
                    raise g.error(rid, "wrong_type", f"'image_id' must be an integer for {DEFAULT_IMAGE_TEMPLATE}, got {img_id!r}")
                path, size = resolve_image(root, DEFAULT_IMAGE_TEMPLATE.format(image_id=img_id)), None
            if size is None or check_images:
                size = checked_size(path, g, rid, size)
            meta: dict[str, Any] = {"question_id": rid}
            answers: list[str] = []
            objects: list[Object] = []
            if anns is not None and ag is not None:
                if rid not in anns:
                    raise ag.error(rid, "unknown_ref", f"question {rid!r} of {qpath.name} has no annotation")
                a = anns[rid]
                if a is None:
                    continue  # its annotation was bad and is already counted
                if a["image_id"] != img_id:
                    raise g.error(rid, "bad_value", f"question says image {img_id!r}, its annotation says {a['image_id']!r}")
                answers = a["answers"]
                meta.update({k: a[k] for k in ("question_type", "answer_type", "multiple_choice_answer")})
                objects = _object_list(a["objects"], size[0], size[1], ag, rid)
            out.append(
                Example(task="vqa", images=[str(path)], width=size[0], height=size[1], image_id=str(img_id),
                        text=text, answers=answers, objects=objects, source=f"{qpath}#question {rid}",
                        meta=meta)
            )
    if anns is not None:
        unknown = set(anns) - ids.seen
        for qid in sorted(unknown, key=str):
            with ag.record(qid):
                raise ag.error(qid, "unknown_ref", f"annotation for question {qid!r}, which is not in {qpath.name}")
    g.report.kept["vqa"] += len(out)
    return out
