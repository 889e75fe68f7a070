"""``vlseq predict``: run a checkpoint on image files and folders; JSON lines out, drawings optional.

::

    vlseq predict --checkpoint runs/tiny/final --task refexp --text "the red circle" photos/ --out results.jsonl --draw drawn/

One JSON line per image (``{"image": PATH, **Result.to_json()}``; every field in ``docs/predict.md``),
written and flushed as each batch finishes, so an interrupted run keeps what it computed. Masks (segment, instance_segment)
are drawn as translucent filled polygons. Tasks that write an image put it in ``--draw DIR`` as a
PNG (named in the JSON line as ``output_image``)::

    vlseq predict --checkpoint runs/tiny_all/final --task generate_image --text "a red circle and a blue square." --draw out/
    vlseq predict --checkpoint runs/tiny_all/final --task edit_image --text "make the red circle blue." photos/ --draw out/

A folder contributes its image files (by extension, sorted, not recursive). A file that cannot be
read stops the run with an error naming it -- after the lines already written -- or, with
``--skip-bad``, is logged, counted and skipped.

``--results FILE`` also writes the outputs as COCO detections, VQA answers or referring boxes, with
the ids of the input's own annotation file (``--annotations``; :mod:`vlseq.cli.predict_results`)::

    vlseq predict --checkpoint CK --task detect val2017/ --annotations instances_val2017.json --results dets.json
    vlseq predict --checkpoint CK --task vqa val2014/ --annotations v2_OpenEnded_mscoco_val2014_questions.json \
        --image-template "COCO_val2014_{image_id:012d}.jpg" --results answers.json

``--score-threshold`` and ``--top-k`` keep an object list's confident boxes. ``--device auto`` (the
default) runs on CUDA when there is a GPU; ``--dtype bfloat16`` halves the model's memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import warnings
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Sequence

from PIL import Image

from .options import add_device_args
from .paths import output_file
from .predict_results import (
    add_results_args,
    check_results_args,
    prompt_mode,
    read_prompt_examples,
    run_examples,
    write_results_file,
)

log = logging.getLogger(__name__)

#: extensions of the files taken from a folder (case-insensitive)
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}


def image_files(inputs: Sequence[str | Path]) -> list[Path]:
    """Files named directly (any extension) plus the image files of named folders, in order.

    Raises ``FileNotFoundError`` naming a missing input.
    """
    out: list[Path] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            out += sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS)
        elif p.exists():
            out.append(p)
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    return out


def drawing_names(paths: Sequence[Path]) -> list[str]:
    """A distinct PNG file name per input: its stem, with the parent folder (then a number) on clashes."""
    names: list[str] = []
    seen: set[str] = set()
    for p in paths:
        name = f"{p.stem}.png"
        if name in seen:
            name = f"{p.parent.name}_{p.stem}.png"
        k = 1
        base = name[:-4]
        while name in seen:
            name = f"{base}_{k}.png"
            k += 1
        seen.add(name)
        names.append(name)
    return names


def _batches(paths: list[Path], size: int) -> Iterator[list[Path]]:
    for i in range(0, len(paths), size):
        yield paths[i : i + size]


def _story(pipe, paths: list[Path], args: argparse.Namespace, inputs: dict) -> int:
    """A sequence task (``story``): all the input images, in order, make one example; one JSON line out."""
    from ..data.images import load_image

    images = [load_image(p, pipe.max_pixels) for p in paths]
    r = pipe(images, args.task, constrained=inputs["constrained"], num_beams=inputs["num_beams"])
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        out.write(json.dumps({"images": [str(p) for p in paths], "task": args.task, **r.to_json()}) + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"vlseq predict: a {args.task} of {len(paths)} images{f' to {args.out}' if args.out else ''}", file=sys.stderr)
    return 0


def run(pipe, paths: list[Path], task: str, out: IO[str], draw_dir: Path | None = None, batch_size: int = 8,
        skip_bad: bool = False, attention_dir: Path | None = None,
        on_result: Callable[[Path, Any], None] | None = None, **task_inputs) -> dict[str, int]:
    """Predict on ``paths`` in batches, writing one JSON line per image to ``out`` (flushed per batch).

    ``task_inputs`` go to :meth:`vlseq.inference.pipeline.Pipeline.run` (text, categories, options, region).
    ``attention_dir``: also draw, per image, where the pointer head looked for each box coordinate.
    ``on_result(path, result)`` is called for each result (the ``--results`` file collects them).
    Returns ``{"done": n, "skipped": k}``. An unreadable file raises
    :class:`~vlseq.data.readers.validate.DataError` naming it, unless ``skip_bad``.
    """
    from ..data.images import load_image
    from ..data.readers.validate import DataError
    from ..inference.pipeline import check_region

    names = dict(zip(paths, drawing_names(paths)))
    done = skipped = 0
    for d in (draw_dir, attention_dir):
        if d is not None:
            d.mkdir(parents=True, exist_ok=True)
    for chunk in _batches(paths, max(1, batch_size)):
        good: list[tuple[Path, Image.Image]] = []
        failure: Exception | None = None
        for p in chunk:
            try:
                img = load_image(p, pipe.max_pixels)
            except DataError as e:  # names the file: missing, empty, truncated, not an image, too large
                if not skip_bad:
                    failure = e  # raised once the images before it are written
                    break
                skipped += 1
                log.warning("skipped %s: %s", p, e.detail)
                continue
            if task_inputs.get("region") is not None:
                try:
                    check_region(task_inputs["region"], img)
                except ValueError as e:
                    failure = ValueError(f"{p}: {e}")
                    break
            good.append((p, img))
        if good:
            done += _predict_and_write(pipe, good, task, out, draw_dir, names, task_inputs, attention_dir, on_result)
            log.info("%d/%d images", done + skipped, len(paths))
        if failure is not None:
            raise failure
    return {"done": done, "skipped": skipped}


def _predict_and_write(pipe, good: list[tuple[Path, Image.Image]], task: str, out: IO[str], draw_dir: Path | None,
                       names: dict[Path, str], task_inputs: dict, attention_dir: Path | None = None,
                       on_result: Callable[[Path, Any], None] | None = None) -> int:
    """Predict one batch of loaded images, write their JSON lines (flushed) and drawings; returns the count."""
    results = pipe.run([img for _, img in good], task, batch_size=len(good), **task_inputs)
    for (p, img), r in zip(good, results):
        _write(r, {"image": str(p)}, out, draw_dir / names[p] if draw_dir is not None else None, img)
        if on_result is not None:
            on_result(p, r)
        if attention_dir is not None and r.boxes:
            keys = ("text", "categories", "options", "region")
            pipe.attention(img, r, task, **{k: v for k, v in task_inputs.items() if k in keys}).save(attention_dir / names[p])
    out.flush()
    return len(good)


def _write(r, head: dict, out: IO[str], drawing: Path | None, img: Image.Image | None) -> None:
    """One JSON line for result ``r`` (after ``head``), and its drawing -- or its output image -- at ``drawing``."""
    from ..inference.pipeline import task_named

    task = task_named(r.task)
    writes_image = task is not None and task.writes_image
    rec = {**head, **r.to_json()}
    if drawing is not None and (not writes_image or r.output_image is not None):
        r.draw(img).save(drawing)
        if writes_image:
            rec["output_image"] = str(drawing)
    out.write(json.dumps(rec) + "\n")


def generate(pipe, text: str, out: IO[str], draw_dir: Path, task: str = "generate_image") -> None:
    """An image from ``text`` alone (``generate_image``, a task that reads a blank canvas): one JSON line,
    the image as ``draw_dir/generated.png``."""
    draw_dir.mkdir(parents=True, exist_ok=True)
    _write(pipe(None, task, text), {"caption": text}, out, draw_dir / "generated.png", None)
    out.flush()


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlseq predict", description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="*", metavar="IMAGE_OR_FOLDER",
                    help="image files and/or folders of images (none for generate_image)")
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (vlseq train's final/ or best/)")
    ap.add_argument("--task", required=True, help="the task to run (see vlseq.tasks.task_names())")
    ap.add_argument("--text", default=None, help="the prompt text: expression, question, caption, class name, statement")
    ap.add_argument("--categories", nargs="+", default=None,
                    help="detect: the classes, as separate words or comma-separated (default: the checkpoint's); "
                         "name the images before this option, or end its list with --")
    ap.add_argument("--options", nargs="+", default=None, help="classify: the closed answer set (like --categories)")
    ap.add_argument("--choices", nargs="+", default=None,
                    help="multiple_choice / dialog: the candidate answers, each kept whole (quote those with spaces)")
    ap.add_argument("--history", nargs=2, action="append", default=None, metavar=("QUESTION", "ANSWER"),
                    help="dialog: an earlier round (repeat, oldest first)")
    ap.add_argument("--caption", default=None, help="dialog: the image's caption, which the prompt carries")
    ap.add_argument("--region", nargs=4, type=float, default=None, metavar=("X1", "Y1", "X2", "Y2"),
                    help="region_caption: the region, in pixels of each image")
    ap.add_argument("--out", default=None, help="JSON lines output (default: standard output)")
    ap.add_argument("--overwrite", action="store_true", help="replace an existing --out file")
    ap.add_argument("--draw", default=None, metavar="DIR",
                    help="also write one drawn PNG per image here (generate_image / edit_image: the output image)")
    ap.add_argument("--attention", default=None, metavar="DIR",
                    help="draw where the pointer head looked for each box coordinate (DIR/<image>.png)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--skip-bad", action="store_true", help="skip unreadable images (counted and logged) instead of stopping")
    ap.add_argument("--no-grammar", action="store_true", help="decode without the task's grammar")
    ap.add_argument("--beams", type=int, default=1, help="beam width (per-box scores need 1)")
    ap.add_argument("--score-threshold", type=float, default=None, metavar="S",
                    help="keep only boxes scored at least S (0..1; greedy decoding gives the scores)")
    ap.add_argument("--top-k", type=int, default=None, metavar="K", help="keep the K best-scored boxes of each image")
    add_device_args(ap)
    add_results_args(ap)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    if args.out:  # before the checkpoint loads: a wrong path fails in a second, and no result is lost
        output_file(args.out, overwrite=args.overwrite)

    from ..data.readers.validate import DataError
    from ..evaluation.export import CocoIds
    from ..inference.pipeline import check_selection, task_named

    try:  # every option mistake is said before the checkpoint loads
        check_selection(args.score_threshold, args.top_k, args.beams)
        problem = check_results_args(args)
        coco_ids = None
        if not problem and args.results and args.results_format == "coco":
            coco_ids = CocoIds.from_file(args.annotations)
    except (ValueError, FileNotFoundError) as e:
        problem = str(e)
    if problem:
        print(f"vlseq predict: {problem}", file=sys.stderr)
        return 2

    task = task_named(args.task)  # None: the pipeline names the known tasks below
    if task is not None and task.writes_image and not args.draw:
        print(f"vlseq predict: task {args.task} writes images: give --draw DIR for them", file=sys.stderr)
        return 2
    if task is not None and task.image_input == "canvas":
        if args.inputs or not args.text:
            print(f"vlseq predict: {args.task} takes no images, only --text (the caption to draw)", file=sys.stderr)
            return 2
        pipe = _load(args)
        if pipe is None:
            return 2
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
        try:
            generate(pipe, args.text, out, Path(args.draw), args.task)
        except ValueError as e:  # e.g. a checkpoint without an image tokenizer
            print(f"vlseq predict: {e}", file=sys.stderr)
            return 1
        finally:
            if out is not sys.stdout:
                out.close()
        print(f"vlseq predict: 1 image generated to {Path(args.draw) / 'generated.png'}", file=sys.stderr)
        return 0
    # "red circle, blue square" and "circle" "square" both work.
    args.categories = [c for item in args.categories or [] for c in item.split(",") if c.strip()] or None
    args.options = [c for item in args.options or [] for c in item.split(",") if c.strip()] or None
    if prompt_mode(args):
        return _predict_prompts(args)
    try:
        paths = image_files(args.inputs)
    except FileNotFoundError as e:
        print(f"vlseq predict: {e}", file=sys.stderr)
        return 2
    if not paths:
        print(f"vlseq predict: no image files in {' '.join(args.inputs) or '(no inputs given)'}", file=sys.stderr)
        return 2
    pipe = _load(args)
    if pipe is None:
        return 2
    inputs = dict(text=args.text, region=tuple(args.region) if args.region else None, choices=args.choices,
                  history=[tuple(h) for h in args.history or []] or None, caption=args.caption, **_decoding(args))
    if task is not None and task.image_input == "sequence":  # every input image, in the order given, is one story
        return _story(pipe, paths, args, inputs)
    try:  # a missing task input fails here, before any output file is opened
        r = args.region
        probe = Image.new("RGB", (max(8, math.ceil(r[2])), max(8, math.ceil(r[3]))) if r else (8, 8))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pipe.examples([probe], args.task, args.text, args.categories, args.options, inputs["region"],
                          args.choices, inputs["history"], args.caption)
    except (KeyError, ValueError) as e:
        print(f"vlseq predict: {e.args[0] if e.args else e}", file=sys.stderr)
        return 2
    if args.attention and getattr(pipe.model.config, "loc_pointer", "none") == "none":
        print(f"vlseq predict: --attention draws the pointer head's attention; {args.checkpoint} has none "
              "(trained with model.loc_pointer=none)", file=sys.stderr)
        return 2
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    collected: list[tuple[Path, Any]] = []
    try:
        counts = run(pipe, paths, args.task, out, Path(args.draw) if args.draw else None, args.batch_size,
                     args.skip_bad, Path(args.attention) if args.attention else None,
                     on_result=(lambda p, r: collected.append((p, r))) if args.results else None, **inputs)
    except DataError as e:
        print(f"vlseq predict: {e} (use --skip-bad to skip unreadable images)", file=sys.stderr)
        return 1
    except ValueError as e:  # e.g. a --region outside one of the images
        print(f"vlseq predict: {e}", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    where = f" to {args.out}" if args.out else ""
    print(f"vlseq predict: {counts['done']} images predicted{where}, {counts['skipped']} skipped", file=sys.stderr)
    if args.results:
        print(f"vlseq predict: {args.results}: {write_results_file(args, collected, coco_ids).summary()}",
              file=sys.stderr)
    return 0


def _load(args: argparse.Namespace):
    """The pipeline of ``--checkpoint`` on ``--device`` in ``--dtype``; None (the reason printed) when
    the machine lacks the device or does not run the dtype."""
    from ..inference.pipeline import Pipeline

    try:
        return Pipeline.from_pretrained(args.checkpoint, device=args.device, dtype=args.dtype)
    except ValueError as e:
        print(f"vlseq predict: {e}", file=sys.stderr)
        return None


def _decoding(args: argparse.Namespace) -> dict[str, Any]:
    """The pipeline keywords that every input mode takes alike: category and option lists, grammar,
    beams and which boxes to keep."""
    return dict(categories=args.categories, options=args.options, constrained=not args.no_grammar,
                num_beams=args.beams, score_threshold=args.score_threshold, top_k=args.top_k)


def _predict_prompts(args: argparse.Namespace) -> int:
    """Prompts from ``--annotations`` (VQAv2 questions, MDETR expressions or captions), each run on its
    own image: one JSON line per prompt with its ids, and the ``--results`` file."""
    from ..data.readers.validate import DataError

    try:
        examples = read_prompt_examples(args)
    except (DataError, ValueError) as e:
        print(f"vlseq predict: {e}", file=sys.stderr)
        return 1
    if not examples:
        print(f"vlseq predict: {args.annotations} holds no {args.task} examples", file=sys.stderr)
        return 2
    pipe = _load(args)
    if pipe is None:
        return 2
    inputs = _decoding(args)
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    collected: list[tuple[Any, Any]] = []
    try:
        counts = run_examples(pipe, examples, args.task, out, _write, args.batch_size, args.skip_bad,
                              on_result=lambda ex, r: collected.append((ex, r)), **inputs)
    except DataError as e:
        print(f"vlseq predict: {e} (use --skip-bad to skip unreadable images)", file=sys.stderr)
        return 1
    finally:
        if out is not sys.stdout:
            out.close()
    where = f" to {args.out}" if args.out else ""
    print(f"vlseq predict: {counts['done']} {args.task} prompts of {args.annotations} predicted{where}, "
          f"{counts['skipped']} skipped", file=sys.stderr)
    if args.results:
        print(f"vlseq predict: {args.results}: {write_results_file(args, collected).summary()}", file=sys.stderr)
    return 0
