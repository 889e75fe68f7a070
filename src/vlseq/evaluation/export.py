"""Predictions in the result formats other tools read: COCO detections, VQA answers, referring boxes.

Pure functions over parsed outputs and the input's own annotation file; no model. ``vlseq predict``
and ``vlseq eval`` write them with ``--results FILE --results-format coco|vqa|refs``.

* ``coco`` (detect, instance_segment): ``[{image_id, category_id, bbox [x, y, w, h], score}]`` (plus
  ``segmentation`` as RLE where the output has a polygon), which ``pycocotools``' ``COCO.loadRes``
  loads against the same annotation file. Image ids and category ids are the file's own: images are
  matched by id (evaluation) or by file name (prediction on image files), labels by category name
  (case and spacing folded). A detection whose label is no category of the file, or an image the
  file does not list, cannot be written; both are counted in the :class:`ExportReport`, never
  dropped silently.
* ``vqa``: ``[{question_id, answer}]``, one per question, the ids of the VQAv2 questions file.
* ``refs`` (refexp, segment, ground): refexp and segment write one record per expression,
  ``{image_id, record_id, sentence_id?, dataset_name?, expression, bbox [x, y, w, h], score}``;
  ground one per predicted phrase, ``{image_id, record_id, sentence_id?, phrase, span, phrase_id?,
  boxes [[x, y, w, h], ...], scores}``. The ids are those the MDETR-style reader keeps
  (``image_id``: the source image, ``original_id`` / ``original_img_id``; ``record_id``: the
  expression's record; ``phrase_id``: Flickr30k Entities' ``phrase_ids`` of the annotations that
  name the phrase's span, where the file gives them). MDETR files carry no RefCOCO ``ref_id``.

Scores: the decoder's per-box score (:func:`vlseq.decoding.boxes.box_scores`: the label's
probability times the mean probability of the box's four coordinate tokens, as Pix2Seq ranks
detections). Beam search gives none; then the boxes of one output are ranked by sequence order,
exactly as the detection metric ranks them (:meth:`vlseq.tasks.Prediction.ranking_scores`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol, Sequence

from ..codec.coords import Box, Point
from ..codec.text import fold_text
from ..data.example import Example
from ..tasks import Prediction

#: result format -> the tasks whose outputs it holds
FORMAT_TASKS: dict[str, tuple[str, ...]] = {"coco": ("detect", "instance_segment"), "vqa": ("vqa",),
                                            "refs": ("refexp", "segment", "ground")}
RESULT_FORMATS = tuple(FORMAT_TASKS)


class PhraseLike(Protocol):
    """What the exporters read of an output phrase (:class:`vlseq.inference.pipeline.GroundedPhrase`
    and :class:`ExportPhrase` both have it)."""

    text: str
    span: tuple[int, int]
    boxes: list[Box]
    polygons: list[list[Point]]
    scores: list[float]


@dataclass
class ExportPhrase:
    """One phrase of a parsed prediction with its boxes (pixel xyxy) and their scores."""

    text: str
    span: tuple[int, int]
    boxes: list[Box]
    polygons: list[list[Point]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


@dataclass
class ExportReport:
    """What an export wrote and what it could not: unknown labels, inputs without an id, ids without a result."""

    format: str
    written: int = 0
    unknown_labels: Counter = field(default_factory=Counter)  # label -> detections not written
    unmatched: list[str] = field(default_factory=list)  # inputs the annotation file has no id for
    missing: list[Any] = field(default_factory=list)  # ids of the file that got no result
    without_box: list[str] = field(default_factory=list)  # expressions whose output had no box

    def summary(self) -> str:
        """One line: the count written, then each kind of loss with examples."""
        parts = [f"{self.written} {self.format} results"]
        if self.unknown_labels:
            shown = ", ".join(f"{k!r} x{n}" for k, n in self.unknown_labels.most_common(5))
            parts.append(f"{sum(self.unknown_labels.values())} detections not written: their labels are no category of "
                         f"the annotation file ({shown}{', ...' if len(self.unknown_labels) > 5 else ''})")
        for items, what in ((self.unmatched, "inputs not in the annotation file"),
                            (self.missing, "ids of the annotation file without a result"),
                            (self.without_box, "expressions whose output has no box")):
            if items:
                shown = ", ".join(str(x) for x in items[:3])
                parts.append(f"{len(items)} {what} ({shown}{', ...' if len(items) > 3 else ''})")
        return "; ".join(parts)


def format_for(task: str) -> str | None:
    """The result format that holds ``task``'s outputs (None: no format does)."""
    return next((f for f, tasks in FORMAT_TASKS.items() if task in tasks), None)


def prediction_phrases(pred: Prediction) -> list[ExportPhrase]:
    """The phrases of a parsed prediction, its per-box scores spread over them in order (none when
    decoding gave none for every box)."""
    p = pred.parsed
    n = sum(len(ph.boxes) for ph in p.phrases)
    scores = list(pred.scores) if len(pred.scores) == n else []
    out, k = [], 0
    for ph in p.phrases:
        m = len(ph.boxes)
        out.append(ExportPhrase(p.phrase_text(ph), (ph.start, ph.end), [tuple(map(float, b)) for b in ph.boxes],
                                [[(float(x), float(y)) for x, y in poly] for poly in ph.polygons],
                                [float(s) for s in scores[k:k + m]]))
        k += m
    return out


def box_scores_of(phrases: Sequence[PhraseLike]) -> list[float]:
    """One score per box of ``phrases`` in order: their own, or -- where some box has none (beam
    search) -- sequence order, as :meth:`vlseq.tasks.Prediction.ranking_scores` ranks them."""
    own = [float(s) for ph in phrases for s in ph.scores]
    n = sum(len(ph.boxes) for ph in phrases)
    return own if len(own) == n else [1.0 - k / max(n, 1) * 1e-3 for k in range(n)]


def xywh(box: Sequence[float]) -> list[float]:
    """A pixel xyxy box as COCO's ``[x, y, width, height]`` (rounded to 0.01 px)."""
    x1, y1, x2, y2 = (float(v) for v in box)
    return [round(x1, 2), round(y1, 2), round(x2 - x1, 2), round(y2 - y1, 2)]


def write_results(path: str | Path, records: list[dict]) -> None:
    """The records as one JSON array (the form ``COCO.loadRes`` and the VQA evaluation read)."""
    Path(path).write_text(json.dumps(records) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------ COCO


def _load(path: str | Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such annotation file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"{path}: not a JSON annotation file ({e})") from None


@dataclass
class CocoIds:
    """The ids of a COCO-layout annotation file: images by id and by file name, categories by name."""

    path: str
    images: dict[str, Any]  # str(id) -> the file's id, as typed there
    sizes: dict[str, tuple[int, int]]  # str(id) -> (width, height)
    files: dict[str, list[tuple[str, Any]]]  # file base name -> [(file_name, id)]
    categories: dict[str, Any]  # folded name -> category id

    @classmethod
    def from_file(cls, path: str | Path) -> "CocoIds":
        """Read ``path`` (a COCO instances file); ``ValueError`` naming the file and record that is wrong."""
        doc = _load(path)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
            raise ValueError(f"{path}: not a COCO annotation file (no 'images' list)")
        if not isinstance(doc.get("categories"), list) or not doc["categories"]:
            raise ValueError(f"{path}: no 'categories' list, so no category ids for COCO results")
        images, sizes, files = {}, {}, {}
        for i, rec in enumerate(doc["images"]):
            if not isinstance(rec, dict) or not isinstance(rec.get("id"), (int, str)):
                raise ValueError(f"{path}: images[{i}] has no integer or string 'id'")
            key = str(rec["id"])
            images[key] = rec["id"]
            if isinstance(rec.get("width"), int) and isinstance(rec.get("height"), int):
                sizes[key] = (rec["width"], rec["height"])
            if isinstance(rec.get("file_name"), str):
                files.setdefault(Path(rec["file_name"]).name, []).append((rec["file_name"], rec["id"]))
        cats = {}
        for i, c in enumerate(doc["categories"]):
            if not isinstance(c, dict) or not isinstance(c.get("name"), str) or "id" not in c:
                raise ValueError(f"{path}: categories[{i}] needs an 'id' and a 'name'")
            cats.setdefault(fold_text(c["name"]), c["id"])
        return cls(str(path), images, sizes, files, cats)

    def image_for_id(self, key: str) -> Any | None:
        """The file's image id whose text is ``key`` (an Example's ``image_id``); None if there is none."""
        return self.images.get(str(key))

    def image_for_path(self, path: str | Path) -> Any | None:
        """The id of the image record whose ``file_name`` names ``path``: the one record with its base
        name, or among several (one name in two folders) the one whose ``file_name`` ends the path."""
        found = self.files.get(Path(path).name, [])
        if len(found) == 1:
            return found[0][1]
        tail = [i for name, i in found if Path(path).as_posix().endswith("/" + name.lstrip("/"))]
        return tail[0] if len(tail) == 1 else None

    def category_id(self, label: str) -> Any | None:
        return self.categories.get(fold_text(label))


def _rle(polygon: Sequence[Point], size: tuple[int, int]) -> dict[str, Any]:
    """A polygon as COCO's compressed RLE of an image ``(width, height)``, JSON-ready."""
    from pycocotools import mask as mask_utils

    w, h = size
    rle = mask_utils.merge(mask_utils.frPyObjects([[float(v) for pt in polygon for v in pt]], h, w))
    return {"size": [int(s) for s in rle["size"]], "counts": rle["counts"].decode("ascii")}


def coco_results(items: Iterable[tuple[str, Sequence[PhraseLike]]], ids: CocoIds, by: str = "id",
                 report: ExportReport | None = None) -> tuple[list[dict], ExportReport]:
    """COCO detection results of ``(image, phrases)`` pairs, and what could not be written.

    ``by``: ``"id"`` (the image is an Example's ``image_id``) or ``"path"`` (an image file, matched
    by file name, :meth:`CocoIds.image_for_path`). Each box of a phrase is one detection, labelled
    with the phrase's text; a phrase's polygons (as many as its boxes) add ``segmentation``.
    """
    if by not in ("id", "path"):
        raise ValueError(f"by must be 'id' or 'path', got {by!r}")
    report = report or ExportReport("coco")
    out: list[dict] = []
    for image, phrases in items:
        img = ids.image_for_id(image) if by == "id" else ids.image_for_path(image)
        if img is None:
            report.unmatched.append(str(image))
            continue
        scores = iter(box_scores_of(phrases))
        for ph in phrases:
            cat = ids.category_id(ph.text)
            polys = ph.polygons if len(ph.polygons) == len(ph.boxes) else [None] * len(ph.boxes)
            for box, poly in zip(ph.boxes, polys):
                score = next(scores)
                if cat is None:
                    report.unknown_labels[ph.text] += 1
                    continue
                rec = {"image_id": img, "category_id": cat, "bbox": xywh(box), "score": round(score, 6)}
                size = ids.sizes.get(str(img))
                if poly is not None and len(poly) >= 3 and size is not None:
                    rec["segmentation"] = _rle(poly, size)
                out.append(rec)
    report.written += len(out)
    return out, report


# ------------------------------------------------------------------------------------------ VQA


def read_question_ids(path: str | Path) -> list[Any]:
    """The question ids of a VQAv2 questions file, in file order; ``ValueError`` naming what is wrong."""
    doc = _load(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("questions"), list):
        raise ValueError(f"{path}: not a VQAv2 questions file (no 'questions' list)")
    out = []
    for i, q in enumerate(doc["questions"]):
        if not isinstance(q, dict) or not isinstance(q.get("question_id"), (int, str)):
            raise ValueError(f"{path}: questions[{i}] has no integer or string 'question_id'")
        out.append(q["question_id"])
    return out


def vqa_results(answers: Iterable[tuple[Any, str]], question_ids: Sequence[Any] | None = None
                ) -> tuple[list[dict], ExportReport]:
    """``[{question_id, answer}]`` of ``(question id, answer)`` pairs, in the order given.

    With ``question_ids`` (the questions file's): an id the file lacks is reported (``unmatched``)
    and left out, and the file's ids without an answer are reported (``missing``). An id answered
    twice is a ``ValueError``: the VQA evaluation reads one answer per question.
    """
    report = ExportReport("vqa")
    known = None if question_ids is None else {str(q): q for q in question_ids}
    out, seen = [], set()
    for qid, answer in answers:
        if str(qid) in seen:
            raise ValueError(f"question {qid!r} is answered twice; the VQA evaluation reads one answer per question")
        seen.add(str(qid))
        if known is not None and str(qid) not in known:
            report.unmatched.append(str(qid))
            continue
        out.append({"question_id": known[str(qid)] if known is not None else qid, "answer": str(answer)})
    if question_ids is not None:
        report.missing = [q for q in question_ids if str(q) not in seen]
    report.written = len(out)
    return out, report


# ------------------------------------------------------------------------------------------ refs


def ref_ids(ex: Example) -> dict[str, Any]:
    """The ids an MDETR-style reader keeps on an expression / caption Example: ``image_id`` (the
    source image, as the file types it), ``record_id``, and ``sentence_id`` / ``dataset_name`` where
    the file gives them."""
    m = ex.meta
    image = m.get("original_id", m.get("original_img_id", ex.image_id))
    out: dict[str, Any] = {"image_id": image, "record_id": m.get("record_id", ex.image_id)}
    for key in ("sentence_id", "dataset_name"):
        if key in m:
            out[key] = m[key]
    return out


def refs_results(items: Iterable[tuple[Example, Sequence[PhraseLike]]], task: str) -> tuple[list[dict], ExportReport]:
    """Referring (refexp, segment: one record per expression, its best-scored box) or grounding
    (ground: one record per predicted phrase) results of ``(example, phrases)`` pairs."""
    if task not in FORMAT_TASKS["refs"]:
        raise ValueError(f"refs results hold {', '.join(FORMAT_TASKS['refs'])} outputs, not {task!r}")
    report = ExportReport("refs")
    out = []
    for ex, phrases in items:
        ids = ref_ids(ex)
        scores = box_scores_of(phrases)
        boxes = [b for ph in phrases for b in ph.boxes]
        if task != "ground":
            if not boxes:
                report.without_box.append(ex.source or str(ids["record_id"]))
                continue
            best = max(range(len(boxes)), key=lambda k: scores[k])  # the first of equals: sequence order
            out.append({**ids, "expression": ex.text, "bbox": xywh(boxes[best]), "score": round(scores[best], 6)})
            continue
        by_span = dict(zip([(p.start, p.end) for p in ex.phrases], ex.meta.get("phrase_ids") or []))
        k = 0
        for ph in phrases:
            n = len(ph.boxes)
            rec = {**ids, "phrase": ph.text, "span": list(ph.span)}
            if tuple(ph.span) in by_span:
                rec["phrase_id"] = by_span[tuple(ph.span)]
            out.append({**rec, "boxes": [xywh(b) for b in ph.boxes], "scores": [round(s, 6) for s in scores[k:k + n]]})
            k += n
    report.written = len(out)
    return out, report
