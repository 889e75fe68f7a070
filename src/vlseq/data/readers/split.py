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
    region_descriptions.json  Visual Genome -> region_caption (VG ships one file: give each split its own)
    edits.jsonl                                 -> edit_image
    keypoints.json       COCO keypoints         -> keypoints
    generations.jsonl    caption -> image       -> generate_image
    paragraphs_v1.json   Stanford paragraphs    -> paragraph (only the ids of {dirname}_split.json, if present)
    vcr.jsonl            VCR (+ metadata files) -> multiple_choice (VCR's own train.jsonl / val.jsonl renamed)
    story.json           VIST story-in-sequence -> story (VIST's {split}.story-in-sequence.json renamed)
    visdial.json         VisDial v1.0           -> dialog (VisDial's visdial_1.0_{split}.json renamed)

Each file has one reader (:data:`READERS`): the function that turns the file into examples of the
tasks asked of it, and the tasks it can write. Which file feeds which task is declared by the tasks
(``Task.files``); this layer sits below them, so the functions here take that map as ``feeds``
(``{file name: tasks}``, :func:`vlseq.tasks.file_feeds`) from callers that know the tasks, and
without one fall back to what each reader writes (:func:`reader_feeds`, the same map for the
built-in tasks). :func:`register_reader` adds a file kind.

Paths inside the files are relative to the split dir unless ``image_root`` is given. Images are
checked at load from their headers (exists, decodable header, size equal to the record's); pixels
are decoded later by :func:`~vlseq.data.images.open_image`, which turns a truncated file
into a DataError at use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..example import Example
from .coco import read_coco_captions, read_coco_instances, read_image_table
from .jsonl import read_classify, read_edits, read_generations, read_region_captions, read_vg_regions
from .mdetr import read_grounding, read_refexp_tasks
from .paragraphs import read_paragraphs, split_file
from .validate import DataError, ReadReport, RecordGuard, load_json
from .vcr import read_vcr
from .visdial import read_visdial
from .vist import read_vist
from .vqa import read_vqa

#: ``{file name: tasks}``: which tasks each file feeds (``Task.files``, gathered by :func:`vlseq.tasks.file_feeds`).
Feeds = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class ReadContext:
    """What every file of one split is read with."""

    paths: Mapping[str, Path]  # the split's known files: name -> path (a reader may read a companion)
    image_root: str | Path | None
    skip_bad: bool
    report: ReadReport
    check_images: bool
    image_template: str | None
    split: str  # the split's name: the caller's, else the directory's ("" without either)

    @property
    def common(self) -> dict[str, Any]:
        """The keyword arguments every reader takes."""
        return {"skip_bad": self.skip_bad, "report": self.report}


#: ``(path, tasks asked, context) -> {task: examples}``: one file read for the tasks asked of it.
ReadFile = Callable[[Path, frozenset, ReadContext], dict[str, list[Example]]]


@dataclass(frozen=True)
class FileReader:
    """How one kind of split file is read: ``read``, and the tasks whose examples it builds (``writes``,
    in order), each its own way (a detection example holds every object of an image, a localisation
    example one class)."""

    read: ReadFile
    writes: tuple[str, ...]


def _captions(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"caption": read_coco_captions(path, c.image_root, check_images=c.check_images, **c.common)}


def _instances(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return read_coco_instances(path, c.image_root, tasks=set(tasks), check_images=c.check_images, **c.common)


def _vqa(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"vqa": read_vqa(path, c.paths.get("vqa_annotations.json"), c.image_root, c.image_template,
                            image_table=_companion_images(c.paths, c.image_root), check_images=c.check_images,
                            **c.common)}


def _refexp(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return read_refexp_tasks(path, c.image_root, tasks=set(tasks), check_images=c.check_images, **c.common)


def _grounding(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return read_grounding(path, c.image_root, tasks=set(tasks), check_images=c.check_images, **c.common)


def _classify(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"classify": read_classify(path, c.image_root, c.image_template, **c.common)}


def _region_captions(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"region_caption": read_region_captions(path, c.image_root, **c.common)}


def _vg_regions(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    # VG names images by id only; its own layout is {image_id}.jpg (the reader's default template).
    kw = {"image_template": c.image_template} if c.image_template else {}
    return {"region_caption": read_vg_regions(path, c.image_root, **kw, **c.common)}


def _edits(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"edit_image": read_edits(path, c.image_root, **c.common)}


def _generations(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"generate_image": read_generations(path, c.image_root, **c.common)}


def _paragraphs(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    # Stanford ships one paragraphs_v1.json for all splits plus {split}_split.json id lists: a
    # directory holding the list named after it keeps only that split's paragraphs.
    keep = c.split if c.split and split_file(path, c.split).is_file() else None
    return {"paragraph": read_paragraphs(path, c.image_root, split=keep, image_template=c.image_template, **c.common)}


def _vcr(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"multiple_choice": read_vcr(path, c.image_root, check_images=c.check_images, **c.common)}


def _vist(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"story": read_vist(path, c.image_root, c.image_template, **c.common)}


def _visdial(path: Path, tasks: frozenset, c: ReadContext) -> dict[str, list[Example]]:
    return {"dialog": read_visdial(path, c.image_root, c.image_template, **c.common)}


#: file name -> its reader, in the order a split's files are read.
READERS: dict[str, FileReader] = {
    "captions.json": FileReader(_captions, ("caption",)),
    "instances.json": FileReader(_instances, ("detect", "localize", "instance_segment")),
    "vqa_questions.json": FileReader(_vqa, ("vqa",)),
    "refexp.json": FileReader(_refexp, ("refexp", "segment")),
    "grounding.json": FileReader(_grounding, ("ground", "grounded_caption")),
    "classify.jsonl": FileReader(_classify, ("classify",)),
    "region_captions.jsonl": FileReader(_region_captions, ("region_caption",)),
    # Visual Genome's region_descriptions.json as downloaded (every region of every image).
    "region_descriptions.json": FileReader(_vg_regions, ("region_caption",)),
    "edits.jsonl": FileReader(_edits, ("edit_image",)),
    "keypoints.json": FileReader(_instances, ("keypoints",)),
    "generations.jsonl": FileReader(_generations, ("generate_image",)),
    "paragraphs_v1.json": FileReader(_paragraphs, ("paragraph",)),
    # One VCR file per split directory under one name (the split is the directory, as for every file
    # here); VCR ships train.jsonl / val.jsonl, which read_vcr reads under any name.
    "vcr.jsonl": FileReader(_vcr, ("multiple_choice",)),
    # VIST and VisDial name their files after the split; here the split is the directory, as above.
    "story.json": FileReader(_vist, ("story",)),
    "visdial.json": FileReader(_visdial, ("dialog",)),
}
#: companion file -> the file it completes (read with it; it provides no task alone).
COMPANIONS: dict[str, str] = {"vqa_annotations.json": "vqa_questions.json"}


def reader_feeds() -> dict[str, tuple[str, ...]]:
    """``{file name: tasks}`` as the readers write them: the ``feeds`` of a caller that gives none."""
    return {name: r.writes for name, r in READERS.items()}


def feed_tasks(feeds: Feeds | None = None) -> list[str]:
    """Every task ``feeds`` (default: :func:`reader_feeds`) names, in file order, each once."""
    return list(dict.fromkeys(t for ts in (reader_feeds() if feeds is None else feeds).values() for t in ts))


#: The built-in readers' files and tasks, as they were before readers could be added (kept for
#: callers of the old names; :func:`reader_feeds` and :func:`feed_tasks` are current).
FILES: dict[str, tuple[str, ...]] = reader_feeds()
TASKS: tuple[str, ...] = tuple(feed_tasks())


def register_reader(name: str, reader: FileReader) -> None:
    """Teach the split readers a file: ``name`` (e.g. ``"toy.jsonl"``) in a split directory is read by
    ``reader``. The task it feeds declares the file in its ``Task.files``; a ``ValueError`` if ``name``
    is known already."""
    if name in READERS or name in COMPANIONS:
        raise ValueError(f"a reader of {name!r} is registered already")
    READERS[name] = reader


def unregister_reader(name: str) -> None:
    """Forget the reader :func:`register_reader` added for ``name``."""
    del READERS[name]


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
    out = {n: d / n for n in (*READERS, *COMPANIONS) if d is not None and (d / n).is_file()}
    out.update({n: Path(p) for n, p in (files or {}).items()})
    return out


def available_tasks(split_dir: str | Path | None, files: Mapping[str, str | Path] | None = None,
                    feeds: Feeds | None = None) -> list[str]:
    """The tasks the files present in ``split_dir`` (and ``files``, see :func:`split_files`) can provide
    (no file is parsed); ``feeds``: which file feeds which task (default: :func:`reader_feeds`)."""
    have = split_files(split_dir, files)
    feeds = reader_feeds() if feeds is None else feeds
    return list(dict.fromkeys(t for name, ts in feeds.items() if name in have for t in ts))


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
    feeds: Feeds | None = None,
) -> Split:
    """Examples per task name from the known files in ``split_dir``.

    ``tasks``: the tasks to read (default: every task a present file provides); asking for a task no
    present file provides is a DataError. ``skip_bad``: skip bad records (logged and counted in
    ``result.report``) instead of raising on the first. ``check_images``: header-check every image
    at load (turn off for a quick look at annotations only). Only the files needed are parsed.

    ``files``: ``{file name: path}`` read instead of (or without: ``split_dir=None``) the directory's
    (:func:`~vlseq.data.readers.datasets.load_files` names a dataset's files so). A reader reads its
    file as ``paths[name]``, never from ``split_dir`` directly. ``image_template``: the file name of
    an image id, for the files that name images by id (VQA questions, NLVR2, SNLI-VE, paragraphs,
    Visual Genome regions).
    ``split``: the split's name (default: the directory's). ``feeds``: which file feeds which task
    (:func:`vlseq.tasks.file_feeds`; default: what each reader writes, :func:`reader_feeds`).
    """
    d = Path(split_dir) if split_dir is not None else None
    if d is not None and not d.is_dir():
        raise DataError(d, None, "unreadable_file", "split directory not found")
    feeds = reader_feeds() if feeds is None else feeds
    paths = split_files(d, files)
    have = available_tasks(d, files, feeds)
    if tasks is None:
        want = list(have)
    else:
        want = list(dict.fromkeys(tasks))
        known = feed_tasks(feeds)
        unknown = [t for t in want if t not in known]
        if unknown:
            raise ValueError(f"unknown task(s) {unknown}; known: {known}")
        missing = [t for t in want if t not in have]
        if missing:
            need = sorted({n for n, ts in feeds.items() if set(ts) & set(missing)})
            raise DataError(d if d is not None else "the files given", None, "unreadable_file",
                            f"no file provides task(s) {missing} (expected {need})")
    report = report if report is not None else ReadReport()
    context = ReadContext(paths, image_root, skip_bad, report, check_images, image_template,
                          split or (d.name if d is not None else ""))
    read: dict[str, list[Example]] = {}
    for name, ts in feeds.items():
        asked = frozenset(t for t in ts if t in want)
        if not asked or name not in paths:
            continue
        if name not in READERS:
            raise ValueError(f"tasks {sorted(asked)} are fed by {name!r}, which no reader reads (register_reader)")
        for t, exs in READERS[name].read(paths[name], asked, context).items():
            read.setdefault(t, []).extend(exs)  # a task fed by two files gets both
    # Keep the caller's task order.
    ordered = Split(report)
    for t in want:
        ordered[t] = read.get(t, [])
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
