"""Write :class:`~vlseq.data.example.Example` records in the public formats the readers load.

One split directory holds::

    images/{image_id:08d}.png   scenes, edited targets and pair images alike
    captions.json               COCO captions 2017
    instances.json              COCO instances 2017 (bbox xywh, area = mask area, polygon segmentation)
    vqa_questions.json          VQAv2 questions      (task_type "Open-Ended", data_type "synthetic")
    vqa_annotations.json        VQAv2 annotations    (10 answers per question); a question about one
                                object, and a count or yes/no question about objects of the image,
                                adds ``objects`` [{"bbox" xywh, "label"}] (readers of VQAv2 ignore it;
                                :func:`~vlseq.data.readers.vqa.read_vqa` reads it back)
    refexp.json                 MDETR final_refcoco style: one image record per expression
    grounding.json              MDETR final_flickr_separateGT style: one image record per caption
    classify.jsonl              {"id","images","sentence","label","options","kind"}; image paths relative
                                to the split directory
    region_captions.jsonl       Visual Genome region style {"id","image","x","y","width","height","phrase"}
    edits.jsonl                 {"id","input_image","edited_image","edit_prompt","edit_kind","requirements"?}
    keypoints.json              COCO person-keypoints style: instances whose annotations carry
                                ``keypoints`` [x, y, v]*K (v = 2 visible, 0 not labelled) and
                                ``num_keypoints``; every category lists the K ``keypoints`` names
    generations.jsonl           {"id","image","image_id","caption","requirements"?}: text-to-image
                                pairs; ``requirements`` = [{"label","colour","shape","count"}] of what
                                the image shows (for render-and-check evaluation)
    paragraphs_v1.json          Stanford image paragraphs: [{"image_id", "url", "paragraph"}]; ``url`` is
                                the image path relative to the split directory
    {split}_split.json          Stanford paragraphs' split list: the image ids of paragraphs_v1.json
    vcr.jsonl                   VCR records (both stages of a question in one line) and, per image,
                                vcr_metadata/{image_id:08d}.json with the boxes (see writers_vcr.py)
    story.json                  VIST story-in-sequence: one sentence per image of each story
                                (see writers_story_dialog.py)
    visdial.json                VisDial v1.0: caption + rounds with 100-candidate answer options
    manifest.json               counts per file and whatever the caller adds (seed, size, world config)

COCO ``file_name`` is the bare file name under ``images/``. Conversion (:func:`example_records`) is
a pure function of one example, so worker processes can run it; :class:`SplitWriter` only assigns
the running ids and writes the files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
from PIL import Image

from .example import Example
from .writers_story_dialog import dialog_part, story_record, write_visdial, write_vist
from .writers_vcr import VcrCollector, vcr_part

INFO = {"description": "vlseq synthetic world", "version": "1.0", "year": 2024, "contributor": "vlseq",
        "date_created": "synthetic"}
LICENSES = [{"id": 1, "name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}]
GROUNDING_CATEGORIES = [{"id": 1, "name": "object", "supercategory": "object"}]

#: record kind -> file it goes to
FILES = {
    "caption": "captions.json", "instance": "instances.json", "vqa": "vqa_questions.json",
    "refexp": "refexp.json", "grounding": "grounding.json", "classify": "classify.jsonl",
    "region": "region_captions.jsonl", "edit": "edits.jsonl", "keypoint": "keypoints.json",
    "generation": "generations.jsonl", "paragraph": "paragraphs_v1.json", "vcr": "vcr.jsonl",
    "story": "story.json", "visdial": "visdial.json",
}


def image_file(image_id: int) -> str:
    return f"{image_id:08d}.png"


def image_path(image_id: int) -> str:
    """Path of an image relative to the split directory."""
    return f"images/{image_file(image_id)}"


def save_png(image: np.ndarray, path: str | Path) -> None:
    """Save an ``(H, W, 3)`` uint8 array; fast compression (the files are small anyway)."""
    Image.fromarray(image).save(path, compress_level=1)


def xywh(box: Iterable[float]) -> list[float]:
    x1, y1, x2, y2 = box
    return [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]


def _segmentation(polygon) -> list[list[float]]:
    return [[float(v) for p in polygon for v in p]] if polygon and len(polygon) >= 3 else []


def _area(obj) -> float:
    if "area" in obj.attributes:
        return float(obj.attributes["area"])
    x, y, w, h = xywh(obj.box)
    return w * h


def _image_id(ex: Example) -> int:
    try:
        return int(ex.image_id)
    except ValueError:
        raise ValueError(f"{ex.source or ex.task}: image_id {ex.image_id!r} is not an integer; the writers need int ids") from None


def example_records(ex: Example, categories: Mapping[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """``(kind, record)`` pairs (ids not yet assigned) that represent one example on disk.

    ``segment``, ``localize`` and ``instance_segment`` examples yield nothing: refexp.json and
    instances.json hold them.
    """
    iid = _image_id(ex)
    t = ex.task
    if t == "caption":
        return [("caption", {"image_id": iid, "caption": c}) for c in ex.answers]
    if t == "vqa":
        rec = {"image_id": iid, "question": ex.text, "question_type": ex.meta.get("question_type", ""),
               "answer_type": ex.meta.get("answer_type", "other"), "answers": list(ex.answers)}
        if ex.objects:
            rec["objects"] = [{"bbox": xywh(o.box), "label": o.label} for o in ex.objects]
        return [("vqa", rec)]
    if t == "detect":
        out = []
        for o in ex.objects:
            if o.label not in categories:
                raise ValueError(f"{ex.source}: detection label {o.label!r} is not a category {sorted(categories)}")
            out.append(("instance", {"image_id": iid, "category_id": categories[o.label], "bbox": xywh(o.box),
                                     "area": _area(o), "iscrowd": 0, "segmentation": _segmentation(o.polygon)}))
        return out
    if t == "refexp":
        o = ex.objects[0]
        spans = [list(s) for s in ex.meta.get("tokens_positive", [(0, len(ex.text))])]
        return [("refexp", {"original_id": iid, "file_name": Path(str(ex.images[0])).name, "caption": ex.text,
                            "width": ex.width, "height": ex.height, "bbox": xywh(o.box), "area": _area(o),
                            "category_id": categories[o.label], "tokens_positive": spans,
                            "segmentation": _segmentation(o.polygon)})]
    if t in ("ground", "grounded_caption"):
        text = ex.text if t == "ground" else ex.answers[0]
        phrases = [{"span": [p.start, p.end], "boxes": [xywh(b) for b in p.boxes]} for p in ex.phrases]
        return [("grounding", {"original_img_id": iid, "file_name": Path(str(ex.images[0])).name, "caption": text,
                               "width": ex.width, "height": ex.height, "phrases": phrases})]
    if t == "classify":
        return [("classify", {"images": [str(i) for i in ex.images], "sentence": ex.text, "label": ex.answers[0],
                              "options": list(ex.options), "kind": ex.meta.get("kind", "entailment")})]
    if t == "region_caption":
        x, y, w, h = xywh(ex.region)  # type: ignore[arg-type]
        return [("region", {"image": str(ex.images[0]), "image_id": iid, "x": x, "y": y, "width": w, "height": h,
                            "phrase": a}) for a in ex.answers]
    if t == "edit_image":
        req = {"requirements": ex.meta["requirements"]} if "requirements" in ex.meta else {}
        return [("edit", {"input_image": str(ex.images[0]), "edited_image": str(ex.target_image),
                          "edit_prompt": ex.text, "edit_kind": ex.meta.get("edit", ""), **req})]
    if t == "generate_image":
        req = {"requirements": ex.meta["requirements"]} if "requirements" in ex.meta else {}
        return [("generation", {"image": str(ex.target_image), "image_id": iid, "caption": ex.text, **req})]
    if t == "keypoints":
        return [_keypoint_record(ex, o, iid, categories) for o in ex.objects]
    if t == "paragraph":
        return [("paragraph", {"image_id": iid, "url": str(ex.images[0]), "paragraph": ex.answers[0]})]
    if t == "multiple_choice":
        return [("vcr", vcr_part(ex, iid))]
    if t == "story":
        return [("story", story_record(ex, iid))]
    if t == "dialog":
        return [("visdial", dialog_part(ex, iid))]
    if t in ("segment", "localize", "instance_segment"):
        return []
    raise ValueError(f"{ex.source}: no file format for task {t!r}")


def _keypoint_record(ex: Example, o, iid: int, categories: Mapping[str, int]) -> tuple[str, dict[str, Any]]:
    """A COCO keypoints annotation (ids not yet assigned); a name the object lacks is ``0, 0, 0``."""
    from .example import keypoint_names

    if o.label not in categories:
        raise ValueError(f"{ex.source}: keypoints label {o.label!r} is not a category {sorted(categories)}")
    names = keypoint_names(ex)
    kps = o.keypoints or {}
    flat = [v for n in names for v in ((float(kps[n][0]), float(kps[n][1]), 2) if n in kps else (0.0, 0.0, 0))]
    return ("keypoint", {"image_id": iid, "category_id": categories[o.label], "bbox": xywh(o.box), "area": _area(o),
                         "iscrowd": 0, "segmentation": _segmentation(o.polygon), "keypoints": flat,
                         "num_keypoints": sum(1 for n in names if n in kps), "keypoint_names": list(names)})


class SplitWriter:
    """Collects records of one split, assigns running ids, writes every file on :meth:`close`."""

    def __init__(self, split_dir: str | Path, split: str, categories: list[str]) -> None:
        self.dir = Path(split_dir)
        (self.dir / "images").mkdir(parents=True, exist_ok=True)
        self.split = split
        self.categories = [{"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(categories)]
        self.images: dict[int, dict] = {}
        self.records: dict[str, list[dict]] = {k: [] for k in FILES}
        self._seen_grounding: set[tuple[int, str]] = set()
        self.vcr = VcrCollector()  # a VCR record merges the two stage examples of a question

    @property
    def category_ids(self) -> dict[str, int]:
        return {c["name"]: c["id"] for c in self.categories}

    def add_image(self, image_id: int, width: int, height: int) -> None:
        self.images[image_id] = {"id": image_id, "file_name": image_file(image_id), "width": width, "height": height}

    def add(self, kind: str, record: dict) -> None:
        if kind not in self.records:
            raise ValueError(f"unknown record kind {kind!r}; known: {sorted(self.records)}")
        if kind == "grounding":  # ground and grounded_caption share their records
            key = (record["original_img_id"], record["caption"])
            if key in self._seen_grounding:
                return
            self._seen_grounding.add(key)
        if kind == "vcr":
            self.vcr.add(record)
            return
        self.records[kind].append(record)

    def add_examples(self, examples: Iterable[Example]) -> None:
        for ex in examples:
            for kind, rec in example_records(ex, self.category_ids):
                self.add(kind, rec)

    # ------------------------------------------------------------------ file builders

    def _coco_images(self, ids: Iterable[int]) -> list[dict]:
        return [self.images[i] for i in sorted(set(ids)) if i in self.images]

    def _captions(self) -> dict:
        recs = self.records["caption"]
        anns = [{"id": k + 1, "image_id": r["image_id"], "caption": r["caption"]} for k, r in enumerate(recs)]
        return {"info": INFO, "licenses": LICENSES, "images": self._coco_images(r["image_id"] for r in recs),
                "annotations": anns}

    def _instances(self) -> dict:
        recs = self.records["instance"]
        anns = [dict(r, id=k + 1) for k, r in enumerate(recs)]
        return {"info": INFO, "licenses": LICENSES, "images": self._coco_images(r["image_id"] for r in recs),
                "annotations": anns, "categories": self.categories}

    def _keypoints(self) -> dict:
        """keypoints.json: COCO keypoints; one name list for the file (every category lists it)."""
        recs = self.records["keypoint"]
        names = recs[0]["keypoint_names"] if recs else []
        for r in recs:
            if r["keypoint_names"] != names:
                raise ValueError(f"keypoints.json of split {self.split!r}: image {r['image_id']} names keypoints "
                                 f"{r['keypoint_names']}, another {names}; one file holds one name list")
        anns = [{k: v for k, v in r.items() if k != "keypoint_names"} | {"id": k + 1} for k, r in enumerate(recs)]
        cats = [dict(c, keypoints=list(names), skeleton=[]) for c in self.categories]
        return {"info": INFO, "licenses": LICENSES, "images": self._coco_images(r["image_id"] for r in recs),
                "annotations": anns, "categories": cats}

    def _vqa(self) -> tuple[dict, dict]:
        qs, anns = [], []
        for k, r in enumerate(self.records["vqa"]):
            qid = k + 1
            qs.append({"image_id": r["image_id"], "question": r["question"], "question_id": qid})
            counts: dict[str, int] = {}
            for a in r["answers"]:
                counts[a] = counts.get(a, 0) + 1
            anns.append({"question_id": qid, "image_id": r["image_id"], "question_type": r["question_type"],
                         "answer_type": r["answer_type"], "multiple_choice_answer": max(counts, key=counts.get),
                         "answers": [{"answer": a, "answer_confidence": "yes", "answer_id": j + 1}
                                     for j, a in enumerate(r["answers"])],
                         **({"objects": r["objects"]} if r.get("objects") else {})})
        head = {"info": INFO, "data_type": "synthetic", "data_subtype": self.split}
        return ({**head, "task_type": "Open-Ended", "license": LICENSES[0], "questions": qs},
                {**head, "license": LICENSES[0], "annotations": anns})

    def _refexp(self) -> dict:
        images, anns, per_scene = [], [], {}
        for k, r in enumerate(self.records["refexp"]):
            rid = k + 1
            sid = per_scene[r["original_id"]] = per_scene.get(r["original_id"], -1) + 1
            images.append({"id": rid, "file_name": r["file_name"], "height": r["height"], "width": r["width"],
                           "caption": r["caption"], "dataset_name": "synthetic", "original_id": r["original_id"],
                           "tokens_negative": [], "sentence_id": sid})
            anns.append({"id": rid, "image_id": rid, "bbox": r["bbox"], "area": r["area"], "iscrowd": 0,
                         "category_id": r["category_id"], "tokens_positive": r["tokens_positive"],
                         "segmentation": r["segmentation"]})
        return {"info": INFO, "licenses": LICENSES, "images": images, "annotations": anns,
                "categories": self.categories}

    def _grounding(self) -> dict:
        images, anns = [], []
        for k, r in enumerate(self.records["grounding"]):
            rid = k + 1
            images.append({"id": rid, "file_name": r["file_name"], "height": r["height"], "width": r["width"],
                           "caption": r["caption"], "dataset_name": "synthetic",
                           "tokens_positive_eval": [[p["span"]] for p in r["phrases"]],
                           "original_img_id": r["original_img_id"]})
            for pid, p in enumerate(r["phrases"]):
                for b in p["boxes"]:
                    anns.append({"id": len(anns) + 1, "image_id": rid, "bbox": b, "area": b[2] * b[3], "iscrowd": 0,
                                 "category_id": 1, "tokens_positive": [p["span"]], "phrase_ids": pid})
        return {"info": INFO, "licenses": LICENSES, "images": images, "annotations": anns,
                "categories": GROUNDING_CATEGORIES}

    def close(self, manifest: Mapping[str, Any] | None = None, only: Iterable[str] | None = None) -> dict[str, int]:
        """Write the files (all, or the kinds in ``only``) and ``manifest.json``; return counts per file."""
        kinds = set(FILES if only is None else only)
        counts: dict[str, int] = {}
        if "caption" in kinds:
            counts["captions.json"] = _dump(self.dir / "captions.json", self._captions())
        if "instance" in kinds:
            counts["instances.json"] = _dump(self.dir / "instances.json", self._instances())
        if "vqa" in kinds:
            q, a = self._vqa()
            counts["vqa_questions.json"] = _dump(self.dir / "vqa_questions.json", q, "questions")
            counts["vqa_annotations.json"] = _dump(self.dir / "vqa_annotations.json", a)
        if "keypoint" in kinds:
            counts["keypoints.json"] = _dump(self.dir / "keypoints.json", self._keypoints())
        if "refexp" in kinds:
            counts["refexp.json"] = _dump(self.dir / "refexp.json", self._refexp(), "images")
        if "grounding" in kinds:
            counts["grounding.json"] = _dump(self.dir / "grounding.json", self._grounding(), "images")
        if "paragraph" in kinds and self.records["paragraph"]:
            recs = self.records["paragraph"]
            counts["paragraphs_v1.json"] = _dump_list(self.dir / "paragraphs_v1.json", recs)
            _dump_list(self.dir / f"{self.split}_split.json", [r["image_id"] for r in recs])
        if "vcr" in kinds and len(self.vcr):
            counts["vcr.jsonl"] = self.vcr.write(self.dir)
        if "story" in kinds and self.records["story"]:
            counts["story.json"] = write_vist(self.dir / "story.json", self.records["story"])
        if "visdial" in kinds and self.records["visdial"]:
            counts["visdial.json"] = write_visdial(self.dir / "visdial.json", self.records["visdial"], self.split)
        for kind, name in (("classify", "classify.jsonl"), ("region", "region_captions.jsonl"), ("edit", "edits.jsonl"),
                           ("generation", "generations.jsonl")):
            if kind in kinds:
                counts[name] = _dump_lines(self.dir / name, self.records[kind])
        counts["images"] = len(list((self.dir / "images").glob("*.png")))
        _dump(self.dir / "manifest.json", {"split": self.split, "counts": counts, **(manifest or {})})
        return counts


def _dump(path: Path, obj: dict, count_key: str = "annotations") -> int:
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
    return len(obj.get(count_key, []))


def _dump_list(path: Path, items: list) -> int:
    with open(path, "w") as f:
        json.dump(items, f, separators=(",", ":"))
    return len(items)


def _dump_lines(path: Path, records: list[dict]) -> int:
    with open(path, "w") as f:
        for k, r in enumerate(records):
            f.write(json.dumps({"id": k + 1, **r}, separators=(",", ":")) + "\n")
    return len(records)
