"""Public datasets as they are downloaded, made tiny from the synthetic world.

Each builder takes a world written by ``vlseq synth`` (its ``train/`` and ``val/`` splits, in the
readers' vlseq layout) and writes the same annotations and pictures under the official file names
and folder layouts of one public dataset, with the ``data.datasets`` entry that reads them (paths
relative to the folder it writes, as a user's entry would be beside the data):

* :func:`vqav2`: ``v2_OpenEnded_mscoco_{train,val}2014_questions.json``,
  ``v2_mscoco_{train,val}2014_annotations.json``, images ``{train,val}2014/COCO_{subset}_{id:012d}.jpg``;
* :func:`coco_instances`: ``annotations/instances_{train,val}2017.json`` + ``{train,val}2017/{id:012d}.jpg``;
* :func:`mdetr_refcoco`: ``mdetr_annotations/final_refcoco_{train,val}.json`` whose images are all in
  COCO's ``train2014/`` (as RefCOCO's are), under a ``coco_path``-style ``coco/train2014/``;
* :func:`id_png_vqa`: a folder of ``{id}.png`` pictures and VQA files of the user's own names, no COCO
  image table: only an ``image_template`` says where a question's picture is.

pytest puts this folder on ``sys.path`` (tests/conftest.py lives here).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Iterable

from PIL import Image

SPLITS = ("train", "val")


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def _dump(path: Path, obj: Any) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return str(path)


def _pictures(world_split: Path, ids: Iterable[int], out_dir: Path, name: Callable[[int], str]) -> None:
    """The world's picture of each image id, saved as ``out_dir/name(id)`` (JPEG for ``.jpg``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for iid in sorted(set(ids)):
        Image.open(world_split / "images" / f"{iid:08d}.png").convert("RGB").save(out_dir / name(iid))


def vqav2(world: Path, root: Path, extra_words: str = "") -> dict[str, Any]:
    """VQAv2 as downloaded; the val entry spells its template with ``{subtype}`` (the questions file's
    ``data_subtype``). ``extra_words``: appended to the first three training questions (words a
    checkpoint's tokenizer never saw)."""
    entry: dict[str, Any] = {"name": "vqav2", "weight": 1.0, "tasks": ["vqa"]}
    for split in SPLITS:
        subset = f"{split}2014"
        questions = _load(world / split / "vqa_questions.json")
        questions["data_subtype"] = subset
        if extra_words and split == "train":
            for q in questions["questions"][:3]:
                q["question"] = f"{q['question']} {extra_words}"
        answers = _load(world / split / "vqa_annotations.json")
        answers["data_subtype"] = subset
        _dump(root / f"v2_OpenEnded_mscoco_{subset}_questions.json", questions)
        _dump(root / f"v2_mscoco_{subset}_annotations.json", answers)
        _pictures(world / split, (q["image_id"] for q in questions["questions"]), root / subset,
                  lambda i, s=subset: f"COCO_{s}_{i:012d}.jpg")
        template = "COCO_train2014_{image_id:012d}.jpg" if split == "train" else "COCO_{subtype}_{image_id:012d}.jpg"
        entry[split] = {"vqa_questions": f"v2_OpenEnded_mscoco_{subset}_questions.json",
                        "vqa_annotations": f"v2_mscoco_{subset}_annotations.json",
                        "image_root": subset, "image_template": template}
    return entry


def coco_instances(world: Path, root: Path) -> dict[str, Any]:
    """COCO 2017 instances: annotation files in ``annotations/``, pictures in a folder per split."""
    entry: dict[str, Any] = {"name": "coco"}
    for split in SPLITS:
        subset = f"{split}2017"
        doc = _load(world / split / "instances.json")
        for im in doc["images"]:
            im["file_name"] = f"{im['id']:012d}.jpg"
        _dump(root / "annotations" / f"instances_{subset}.json", doc)
        _pictures(world / split, (im["id"] for im in doc["images"]), root / subset, lambda i: f"{i:012d}.jpg")
        entry[split] = {"instances": f"annotations/instances_{subset}.json", "image_root": subset}
    return entry


def mdetr_refcoco(world: Path, root: Path) -> dict[str, Any]:
    """MDETR's RefCOCO files; every split's pictures are COCO train2014 ones, in ``coco/train2014``.

    The world's val image ids are offset from its train ids, so both splits share the one folder.
    """
    entry: dict[str, Any] = {"name": "refcoco", "tasks": ["refexp"]}
    for split in SPLITS:
        doc = _load(world / split / "refexp.json")
        for im in doc["images"]:
            im["file_name"] = f"COCO_train2014_{im['original_id']:012d}.jpg"
            im["dataset_name"] = "refcoco"
        _dump(root / "mdetr_annotations" / f"final_refcoco_{split}.json", doc)
        _pictures(world / split, (im["original_id"] for im in doc["images"]), root / "coco" / "train2014",
                  lambda i: f"COCO_train2014_{i:012d}.jpg")
        entry[split] = {"refexp": f"mdetr_annotations/final_refcoco_{split}.json", "image_root": "coco/train2014"}
    return entry


def id_png_vqa(world: Path, root: Path) -> dict[str, Any]:
    """``pics/{id}.png`` and VQA files named ``{split}_questions.json`` / ``{split}_answers.json``:
    no COCO image table anywhere, so the entry's ``image_template`` is the only way to the pictures."""
    entry: dict[str, Any] = {"name": "mine"}
    for split in SPLITS:
        questions = _load(world / split / "vqa_questions.json")
        _dump(root / f"{split}_questions.json", questions)
        (root / f"{split}_answers.json").write_text((world / split / "vqa_annotations.json").read_text())
        _pictures(world / split, (q["image_id"] for q in questions["questions"]), root / "pics", lambda i: f"{i}.png")
        entry[split] = {"vqa_questions": f"{split}_questions.json", "vqa_annotations": f"{split}_answers.json",
                        "image_root": "pics", "image_template": "{image_id}.png"}
    return entry


def write_dataset_config(root: Path, *entries: dict[str, Any]) -> Path:
    """``root/datasets.json`` holding ``entries`` (their relative paths are under ``root``)."""
    return Path(_dump(root / "datasets.json", list(entries)))


def absolute(entry: dict[str, Any], root: Path) -> dict[str, Any]:
    """``entry`` with its relative paths under ``root`` (for a ``data.datasets=[...]`` override)."""
    out = dict(entry)
    for split in SPLITS:
        if split in out:
            out[split] = {k: v if k == "image_template" else str(root / v) for k, v in out[split].items()}
    return out
