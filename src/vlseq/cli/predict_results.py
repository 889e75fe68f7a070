"""``vlseq predict --results FILE``: outputs as COCO detections, VQA answers or referring boxes.

The ids of a result file come from the input's own annotation file (``--annotations FILE``):

* ``coco`` (detect, instance_segment): the images are the files named on the command line, each
  matched to the COCO file's image record by file name; labels to its categories by name.
* ``vqa`` (a VQAv2 questions file) and ``refs`` (an MDETR-style refexp or grounding file): the file
  also gives the prompts, so each question / expression / caption is run on its image, found as
  ``vlseq eval`` finds it (under the one folder named on the command line, else the file's folder;
  ``--image-template`` for VQAv2's ``COCO_val2014_{image_id:012d}.jpg``). One JSON line per
  question or expression, with its ids.

The pure conversion is :mod:`vlseq.evaluation.export`; this module reads the files, runs the
examples and says what could not be written.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import IO, Any, Callable

from ..data.example import Example
from ..evaluation.export import (
    FORMAT_TASKS,
    RESULT_FORMATS,
    CocoIds,
    ExportReport,
    coco_results,
    format_for,
    read_question_ids,
    ref_ids,
    refs_results,
    vqa_results,
    write_results,
)
from .paths import output_file

log = logging.getLogger(__name__)

#: the split file name whose reader reads a ``--annotations`` file of each prompt-giving task
PROMPT_FILES = {"vqa": "vqa_questions.json", "refexp": "refexp.json", "segment": "refexp.json",
                "ground": "grounding.json"}


def add_results_args(ap: argparse.ArgumentParser) -> None:
    """The result-file options of ``vlseq predict``."""
    ap.add_argument("--results", default=None, metavar="FILE",
                    help="also write the outputs in a result format (--results-format) with the ids of --annotations")
    ap.add_argument("--results-format", default=None, choices=RESULT_FORMATS,
                    help="coco (detect, instance_segment), vqa (vqa) or refs (refexp, segment, ground); "
                         "default: the task's")
    ap.add_argument("--annotations", default=None, metavar="FILE",
                    help="the input's own annotation file: COCO instances (coco: image and category ids), VQAv2 "
                         "questions (vqa) or MDETR refexp / grounding JSON (refs); for vqa and refs it also gives "
                         "the prompts, and the one folder named is where its images are")
    ap.add_argument("--image-template", default=None,
                    help="with --annotations of VQAv2 questions: an image's file name from its id, e.g. "
                         "COCO_val2014_{image_id:012d}.jpg")


def check_results_args(args: argparse.Namespace) -> str | None:
    """What is wrong with the result options (one line), or None; fills ``args.results_format``.

    Runs before the checkpoint loads, so a mistake costs a second and writes nothing.
    """
    if args.results_format is not None and args.results is None:
        return "--results-format needs --results FILE"
    if args.results is None and args.annotations is None:
        return None
    fmt = args.results_format or format_for(args.task)
    if fmt is None or args.task not in FORMAT_TASKS[fmt]:
        kinds = "; ".join(f"{f}: {', '.join(ts)}" for f, ts in FORMAT_TASKS.items())
        return f"task {args.task} has no result format here ({kinds})"
    args.results_format = fmt
    if args.annotations is None:
        return f"--results needs --annotations FILE, the input's own annotation file that gives the {fmt} ids"
    if not Path(args.annotations).is_file():
        return f"--annotations {args.annotations}: no such file"
    if fmt != "coco":
        if args.text is not None:
            return f"with --annotations, {args.task}'s prompts come from {args.annotations}: leave out --text"
        if len(args.inputs) > 1 or (args.inputs and not Path(args.inputs[0]).is_dir()):
            return f"with --annotations, {args.task} takes at most one folder: where the file's images are"
        if args.draw or args.attention:
            return f"--draw and --attention draw image files' outputs, not the prompts of {args.annotations}"
    if args.results is not None:
        output_file(args.results, flag="--results", overwrite=args.overwrite)
    return None


def prompt_mode(args: argparse.Namespace) -> bool:
    """Do the prompts come from ``--annotations`` (vqa, refs), rather than from --text over image files?"""
    return args.annotations is not None and args.results_format in ("vqa", "refs")


def read_prompt_examples(args: argparse.Namespace) -> list[Example]:
    """The examples of ``--annotations`` (questions, expressions, captions) with their images resolved
    (bad records skipped and logged with ``--skip-bad``; else a DataError names the first)."""
    from ..data.readers.split import load_split

    path = Path(args.annotations)
    root = Path(args.inputs[0]) if args.inputs else None
    files = {PROMPT_FILES[args.task]: path}
    for companion in ("captions.json", "instances.json"):  # a split's image table: VQA file names and sizes
        if args.task == "vqa" and (path.parent / companion).is_file() and args.image_template is None:
            files[companion] = path.parent / companion
            break
    split = load_split(None, tasks=[args.task], files=files, image_root=root if root is not None else path.parent,
                       image_template=args.image_template, skip_bad=args.skip_bad)
    if args.skip_bad and split.report.skipped:
        log.info("%s: %s", path, split.report.summary())
    return list(split[args.task])


def example_ids(ex: Example, fmt: str) -> dict[str, Any]:
    """The ids a JSON line of a prompt-mode example carries (before the result)."""
    if fmt == "vqa":
        return {"question_id": ex.meta.get("question_id")}
    return ref_ids(ex)


def run_examples(pipe, examples: list[Example], task: str, out: IO[str], write: Callable, batch_size: int = 8,
                 skip_bad: bool = False, on_result: Callable[[Example, Any], None] | None = None,
                 **task_inputs) -> dict[str, int]:
    """Run each example's own prompt on its image, in batches: one JSON line each (``write(result,
    head, out, image)``, flushed per batch), ``on_result(example, result)`` for the result file.

    Returns ``{"done": n, "skipped": k}``; an image that fails to decode raises its DataError unless
    ``skip_bad`` (then it is logged and counted).
    """
    from ..data.images import load_image
    from ..data.readers.validate import DataError

    inputs = {k: v for k, v in task_inputs.items() if k != "text"}
    done = skipped = 0
    fmt = format_for(task) or ""
    for i in range(0, len(examples), max(1, batch_size)):
        good = []
        for ex in examples[i:i + max(1, batch_size)]:
            try:
                good.append((ex, load_image(ex.images[0], pipe.max_pixels)))
            except DataError as e:
                if not skip_bad:
                    raise
                skipped += 1
                log.warning("skipped %s: %s", ex.source, e.detail)
        if not good:
            continue
        results = pipe.run([img for _, img in good], task, text=[ex.text for ex, _ in good], batch_size=len(good),
                           **inputs)
        for (ex, img), r in zip(good, results):
            write(r, {"image": str(ex.images[0]), **example_ids(ex, fmt)}, out, None, img)
            if on_result is not None:
                on_result(ex, r)
        out.flush()
        done += len(good)
        log.info("%d/%d examples", done + skipped, len(examples))
    return {"done": done, "skipped": skipped}


def write_results_file(args: argparse.Namespace, collected: list[tuple[Any, Any]],
                       coco_ids: CocoIds | None = None) -> ExportReport:
    """Convert the collected ``(image path or example, result)`` pairs and write ``--results``
    (``coco_ids``: the ids of ``--annotations``, read before the run so a bad file fails first)."""
    fmt = args.results_format
    if fmt == "coco":
        ids = coco_ids if coco_ids is not None else CocoIds.from_file(args.annotations)
        records, report = coco_results(((str(p), r.phrases) for p, r in collected), ids, by="path")
    elif fmt == "vqa":
        records, report = vqa_results(((ex.meta.get("question_id"), r.text if r.answer is None else r.answer)
                                       for ex, r in collected),
                                      read_question_ids(args.annotations))
    else:
        records, report = refs_results(((ex, r.phrases) for ex, r in collected), args.task)
    write_results(args.results, records)
    return report
