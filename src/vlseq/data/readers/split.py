"""One split directory -> Examples per task, reading whichever known files are present.

A split dir (``DIR/train/`` of the synthetic world, or a directory you lay out for real data)::

    images/{image_id:08d}.png
    captions.json        COCO captions          -> caption
    instances.json       COCO instances         -> detect, localize, instance_segment
    vqa_questions.json   VQAv2 (+ vqa_annotations.json) -> vqa
    refexp.json          MDETR refcoco style    -> refexp, segment
    grounding.json       MDETR flickr style     -> ground, grounded_caption
    classify.jsonl       native / NLVR2 / SNLI-VE -> classify
    region_captions.jsonl  VG regions           -> region_caption
    edits.jsonl                                 -> edit_image
    keypoints.json       COCO keypoints         -> keypoints
    generations.jsonl    caption -> image       -> generate_image

Paths inside the files are relative to the split dir unless ``image_root`` is given. Images are
checked at load from their headers (exists, decodable header, size equal to the record's); pixels
are decoded later by :func:`~vlseq.data.images.open_image`, which turns a truncated file
into a DataError at use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from .coco import read_coco_captions, read_coco_instances, read_image_table
from .jsonl import read_classify, read_edits, read_generations, read_region_captions
from .mdetr import read_grounding, read_refexp_tasks
from .validate import DataError, ReadReport, RecordGuard, load_json
from .vqa import read_vqa

#: file name -> the tasks it provides.
FILES: dict[str, tuple[str, ...]] = {
    "captions.json": ("caption",),
    "instances.json": ("detect", "localize", "instance_segment"),
    "vqa_questions.json": ("vqa",),
    "refexp.json": ("refexp", "segment"),
    "grounding.json": ("ground", "grounded_caption"),
    "classify.jsonl": ("classify",),
    "region_captions.jsonl": ("region_caption",),
    "edits.jsonl": ("edit_image",),
    "keypoints.json": ("keypoints",),
    "generations.jsonl": ("generate_image",),
}
TASKS: tuple[str, ...] = tuple(t for ts in FILES.values() for t in ts)


class Split(dict):
    """``{task: [Example, ...]}`` with the :class:`ReadReport` of the read as ``.report``."""

    def __init__(self, report: ReadReport) -> None:
        super().__init__()
        self.report = report


def available_tasks(split_dir: str | Path) -> list[str]:
    """The tasks the files present in ``split_dir`` can provide (no file is parsed)."""
    d = Path(split_dir)
    return [t for name, ts in FILES.items() if (d / name).is_file() for t in ts]


def load_split(
    split_dir: str | Path,
    tasks: Iterable[str] | None = None,
    skip_bad: bool = False,
    image_root: str | Path | None = None,
    check_images: bool = True,
    report: ReadReport | None = None,
) -> Split:
    """Examples per task name from the known files in ``split_dir``.

    ``tasks``: the tasks to read (default: every task a present file provides); asking for a task no
    present file provides is a DataError. ``skip_bad``: skip bad records (logged and counted in
    ``result.report``) instead of raising on the first. ``check_images``: header-check every image
    at load (turn off for a quick look at annotations only). Only the files needed are parsed.
    """
    d = Path(split_dir)
    if not d.is_dir():
        raise DataError(d, None, "unreadable_file", "split directory not found")
    have = available_tasks(d)
    if tasks is None:
        want = list(have)
    else:
        want = list(dict.fromkeys(tasks))
        unknown = [t for t in want if t not in TASKS]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; known: {list(TASKS)}")
        missing = [t for t in want if t not in have]
        if missing:
            need = sorted({n for n, ts in FILES.items() if set(ts) & set(missing)})
            raise DataError(d, None, "unreadable_file", f"no file provides task(s) {missing} (expected {need})")
    report = report if report is not None else ReadReport()
    out = Split(report)
    ws = set(want)
    common = dict(skip_bad=skip_bad, report=report)
    root = image_root
    if "caption" in ws:
        out["caption"] = read_coco_captions(d / "captions.json", root, check_images=check_images, **common)
    if ws & {"detect", "localize", "instance_segment"}:
        out.update(read_coco_instances(d / "instances.json", root, tasks=ws & {"detect", "localize", "instance_segment"},
                                       check_images=check_images, **common))
    if "vqa" in ws:
        ann = d / "vqa_annotations.json"
        out["vqa"] = read_vqa(d / "vqa_questions.json", ann if ann.is_file() else None, root,
                              image_table=_companion_images(d, root), check_images=check_images, **common)
    if ws & {"refexp", "segment"}:
        out.update(read_refexp_tasks(d / "refexp.json", root, tasks=ws & {"refexp", "segment"},
                                     check_images=check_images, **common))
    if ws & {"ground", "grounded_caption"}:
        out.update(read_grounding(d / "grounding.json", root, tasks=ws & {"ground", "grounded_caption"},
                                  check_images=check_images, **common))
    if "classify" in ws:
        out["classify"] = read_classify(d / "classify.jsonl", root, **common)
    if "region_caption" in ws:
        out["region_caption"] = read_region_captions(d / "region_captions.jsonl", root, **common)
    if "edit_image" in ws:
        out["edit_image"] = read_edits(d / "edits.jsonl", root, **common)
    if "keypoints" in ws:
        out.update(read_coco_instances(d / "keypoints.json", root, tasks={"keypoints"}, check_images=check_images,
                                       **common))
    if "generate_image" in ws:
        out["generate_image"] = read_generations(d / "generations.jsonl", root, **common)
    # Keep the caller's task order.
    ordered = Split(report)
    for t in want:
        ordered[t] = out.get(t, [])
    return ordered


def _companion_images(d: Path, image_root: str | Path | None):
    """The image table of captions.json or instances.json in ``d`` (for VQA file names and sizes).

    Images are not re-checked here (the VQA reader checks the ones its questions use); a bad image
    record is left out silently, since the companion file's own reader reports it.
    """
    for name in ("captions.json", "instances.json"):
        p = d / name
        if p.is_file():
            g = RecordGuard(p, skip_bad=True, report=ReadReport(), quiet=True)
            table, _ = read_image_table(load_json(p), g, image_root if image_root is not None else d, check_images=False)
            return table
    return None
