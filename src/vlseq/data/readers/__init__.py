"""Readers for public dataset formats -> :class:`~vlseq.data.Example` lists.

Entry points: :func:`load_split` (a split dir holding any of the known files) and :func:`load_files`
(a dataset entry naming its files per split, as downloaded). Per-format readers
are public too, for real datasets laid out their own way (COCO, VQAv2, MDETR, NLVR2, SNLI-VE,
Visual Genome, Stanford image paragraphs, VCR, VIST, VisDial). Every problem is a :class:`DataError` naming file,
record and what is wrong; ``skip_bad=True`` skips bad records and counts them in a :class:`ReadReport`.
"""

from ..images import DEFAULT_MAX_PIXELS, image_size, open_image
from .coco import read_coco_captions, read_coco_instances
from .datasets import check_entries, file_kinds, load_datasets, load_files, resolve_paths
from .jsonl import read_classify, read_edits, read_generations, read_region_captions, read_vg_regions
from .mdetr import read_grounding, read_refexp
from .paragraphs import read_paragraphs
from .split import (
    FILES,
    READERS,
    TASKS,
    FileReader,
    ReadContext,
    Split,
    available_tasks,
    feed_tasks,
    load_split,
    reader_feeds,
    register_reader,
    unregister_reader,
)
from .validate import BOX_TOLERANCE, PROBLEMS, DataError, ReadReport
from .vcr import read_vcr
from .visdial import read_visdial
from .vist import read_vist
from .vqa import read_vqa

__all__ = [
    "load_split", "available_tasks", "Split", "FILES", "TASKS",
    "READERS", "FileReader", "ReadContext", "register_reader", "unregister_reader", "reader_feeds", "feed_tasks",
    "load_files", "load_datasets", "check_entries", "file_kinds", "resolve_paths",
    "read_coco_captions", "read_coco_instances", "read_vqa", "read_refexp", "read_grounding",
    "read_classify", "read_region_captions", "read_vg_regions", "read_edits", "read_generations",
    "read_paragraphs", "read_vcr", "read_vist", "read_visdial",
    "open_image", "image_size", "DEFAULT_MAX_PIXELS",
    "DataError", "ReadReport", "PROBLEMS", "BOX_TOLERANCE",
]
