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
    paragraphs_v1.json   Stanford paragraphs    -> paragraph (only the ids of {dirname}_split.json, if present)
    vcr.jsonl            VCR (+ metadata files) -> multiple_choice (VCR's own train.jsonl / val.jsonl renamed)
    story.json           VIST story-in-sequence -> story (VIST's {split}.story-in-sequence.json renamed)
    visdial.json         VisDial v1.0           -> dialog (VisDial's visdial_1.0_{split}.json renamed)

Paths inside the files are relative to the split dir unless ``image_root`` is given. Images are
checked at load from their headers (exists, decodable header, size equal to the record's); pixels
are decoded later by :func:`~vlseq.data.images.open_image`, which turns a truncated file
into a DataError at use.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping

from .coco import read_coco_captions, read_coco_instances, read_image_table
from .jsonl import read_classify, read_edits, read_generations, read_region_captions
from .mdetr import read_grounding, read_refexp_tasks
from .paragraphs import read_paragraphs, split_file
from .validate import DataError, ReadReport, RecordGuard, load_json
from .vcr import read_vcr
from .visdial import read_visdial
from .vist import read_vist
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
    "paragraphs_v1.json": ("paragraph",),
    # One VCR file per split directory under one name (the split is the directory, as for every file
    # here); VCR ships train.jsonl / val.jsonl, which read_vcr reads under any name.
    "vcr.jsonl": ("multiple_choice",),
    # VIST and VisDial name their files after the split; here the split is the directory, as above.
    "story.json": ("story",),
    "visdial.json": ("dialog",),
}
TASKS: tuple[str, ...] = tuple(t for ts in FILES.values() for t in ts)
#: companion file -> the file it completes (read with it; it provides no task alone).
COMPANIONS: dict[str, str] = {"vqa_annotations.json": "vqa_questions.json"}


class Split(dict):
    """``{task: [Example, ...]}`` with the :class:`ReadReport` of the read as ``.report``."""

    def __init__(self, report: ReadReport) -> None:
        super().__init__()
        self.report = report


def split_files(split_dir: str | Path | None, files: Mapping[str, str | Path] | None = None) -> dict[str, Path]:
    """``{file name: path}`` of a split's known files: those present in ``split_dir`` (None: no
    directory), then ``files`` (file name -> path: files named by reference, e.g. as downloaded;
    they replace the directory's)."""
    d = Path(split_dir) if split_dir is not None else None
    out = {n: d / n for n in (*FILES, *COMPANIONS) if d is not None and (d / n).is_file()}
    out.update({n: Path(p) for n, p in (files or {}).items()})
    return out


def available_tasks(split_dir: str | Path | None, files: Mapping[str, str | Path] | None = None) -> list[str]:
    """The tasks the files present in ``split_dir`` (and ``files``, see :func:`split_files`) can provide
    (no file is parsed)."""
    have = split_files(split_dir, files)
    return [t for name, ts in FILES.items() if name in have for t in ts]


def load_split(
    split_dir: str | Path | None,
    tasks: Iterable[str] | None = None,
    skip_bad: bool = False,
    image_root: str | Path | None = None,
    check_images: bool = True,
    report: ReadReport | None = None,
    files: Mapping[str, str | Path] | None = None,
    image_template: str | None = None,
    split: str | None = None,
) -> Split:
    """Examples per task name from the known files in ``split_dir``.

    ``tasks``: the tasks to read (default: every task a present file provides); asking for a task no
    present file provides is a DataError. ``skip_bad``: skip bad records (logged and counted in
    ``result.report``) instead of raising on the first. ``check_images``: header-check every image
    at load (turn off for a quick look at annotations only). Only the files needed are parsed.

    ``files``: ``{file name: path}`` read instead of (or without: ``split_dir=None``) the directory's
    (:func:`~vlseq.data.readers.datasets.load_files` names a dataset's files so). A branch below
    reads its file as ``paths[name]``, never from ``split_dir`` directly. ``image_template``: the
    file name of an image id, for the files that name images by id (VQA questions, NLVR2, SNLI-VE,
    paragraphs). ``split``: the split's name (default: the directory's).
    """
    d = Path(split_dir) if split_dir is not None else None
    if d is not None and not d.is_dir():
        raise DataError(d, None, "unreadable_file", "split directory not found")
    paths = split_files(d, files)
    have = available_tasks(d, files)
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
            raise DataError(d if d is not None else "the files given", None, "unreadable_file",
                            f"no file provides task(s) {missing} (expected {need})")
    report = report if report is not None else ReadReport()
    out = Split(report)
    ws = set(want)
    common = dict(skip_bad=skip_bad, report=report)
    root = image_root
    if "caption" in ws:
        out["caption"] = read_coco_captions(paths["captions.json"], root, check_images=check_images, **common)
    if ws & {"detect", "localize", "instance_segment"}:
        out.update(read_coco_instances(paths["instances.json"], root, tasks=ws & {"detect", "localize", "instance_segment"},
                                       check_images=check_images, **common))
    if "vqa" in ws:
        out["vqa"] = read_vqa(paths["vqa_questions.json"], paths.get("vqa_annotations.json"), root, image_template,
                              image_table=_companion_images(paths, root), check_images=check_images, **common)
    if ws & {"refexp", "segment"}:
        out.update(read_refexp_tasks(paths["refexp.json"], root, tasks=ws & {"refexp", "segment"},
                                     check_images=check_images, **common))
    if ws & {"ground", "grounded_caption"}:
        out.update(read_grounding(paths["grounding.json"], root, tasks=ws & {"ground", "grounded_caption"},
                                  check_images=check_images, **common))
    if "classify" in ws:
        out["classify"] = read_classify(paths["classify.jsonl"], root, image_template, **common)
    if "region_caption" in ws:
        out["region_caption"] = read_region_captions(paths["region_captions.jsonl"], root, **common)
    if "edit_image" in ws:
        out["edit_image"] = read_edits(paths["edits.jsonl"], root, **common)
    if "keypoints" in ws:
        out.update(read_coco_instances(paths["keypoints.json"], root, tasks={"keypoints"}, check_images=check_images,
                                       **common))
    if "generate_image" in ws:
        out["generate_image"] = read_generations(paths["generations.jsonl"], root, **common)
    if "paragraph" in ws:
        # Stanford ships one paragraphs_v1.json for all splits plus {split}_split.json id lists: a
        # directory holding the list named after it keeps only that split's paragraphs.
        para = paths["paragraphs_v1.json"]
        name = split or (d.name if d is not None else "")
        out["paragraph"] = read_paragraphs(para, root, split=name if name and split_file(para, name).is_file() else None,
                                           image_template=image_template, **common)
    if "multiple_choice" in ws:
        out["multiple_choice"] = read_vcr(paths["vcr.jsonl"], root, check_images=check_images, **common)
    if "story" in ws:
        out["story"] = read_vist(paths["story.json"], root, image_template, **common)
    if "dialog" in ws:
        out["dialog"] = read_visdial(paths["visdial.json"], root, image_template, **common)
    # Keep the caller's task order.
    ordered = Split(report)
    for t in want:
        ordered[t] = out.get(t, [])
    return ordered


def _companion_images(paths: Mapping[str, Path], image_root: str | Path | None):
    """The image table of the split's captions.json or instances.json (for VQA file names and sizes).

    Images are not re-checked here (the VQA reader checks the ones its questions use); a bad image
    record is left out silently, since the companion file's own reader reports it.
    """
    for name in ("captions.json", "instances.json"):
        p = paths.get(name)
        if p is not None and p.is_file():
            g = RecordGuard(p, skip_bad=True, report=ReadReport(), quiet=True)
            table, _ = read_image_table(load_json(p), g, image_root if image_root is not None else p.parent, check_images=False)
            return table
    return None
