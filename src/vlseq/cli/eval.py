"""vlseq eval

Evaluates a checkpoint on ``--data DIR`` (a split directory, or a folder of them: its ``--split``)
or on the ``--split`` of the dataset entries of ``--dataset-config FILE`` (files named per split as
downloaded; see :mod:`vlseq.data.readers.datasets`), for the checkpoint's tasks that the data
provides (or ``--tasks``).

Prints each task's headline metrics beside its trivial baseline (:mod:`vlseq.evaluation.baselines`).
The baselines' priors (majority answer, mean box, most frequent caption) come from the training
split: ``--baseline-data DIR``, by default the split named ``train/`` beside ``--data`` (the entries'
``train`` split with ``--dataset-config``); without one, from the evaluated examples themselves,
which the output says. Under them, the identity table (:mod:`vlseq.evaluation.identity`): detect labels
given a box hit, localize Acc@0.5 and VQA shape / colour accuracy by object size in grid cells.

The training split is refused (``--split train``, a ``--data`` split named after it or the one this
checkpoint trained on, or a folder whose only split is it) unless ``--allow-train-split``: a number
measured on the data a model learnt overstates it. ``--results FILE --results-format coco|vqa|refs``
also writes the predictions with the input files' own ids (:mod:`vlseq.evaluation.export`).
``--device auto`` (the default) runs on CUDA when there is a GPU; ``--dtype bfloat16`` halves the
model's memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from ..data.example import Example
from ..data.readers.validate import ReadReport
from ..evaluation.evaluate import decodable_examples, evaluate_examples, format_metrics
from ..evaluation.export import RESULT_FORMATS
from ..evaluation.identity import format_identity
from ..processing import CheckpointSettings, Processor
from ..tasks import get_task, task_of
from .options import add_device_args

log = logging.getLogger(__name__)


def baseline_priors(baseline_data: str | None, data_dir: str, tasks: Sequence[str]) -> tuple[dict[str, list[Example]], str]:
    """Training examples per task for the baselines' priors, and a line saying where they came from.

    ``baseline_data``: a split directory; None: the ``train/`` split beside ``data_dir`` when there
    is one (and it is not ``data_dir`` itself). A task the split has no file for takes its priors
    from the evaluated examples. Only annotations are read (no image is opened): priors need
    answers and boxes, not pixels.
    """
    from ..data.readers.split import available_tasks, load_split
    from ..data.readers.validate import DataError
    from ..tasks import file_feeds

    own = "baseline priors: the evaluated examples themselves"
    if baseline_data is None:
        d = Path(data_dir).resolve().parent / "train"
        if d == Path(data_dir).resolve():
            return {}, f"{own} (--data is the train/ split; --baseline-data DIR names another)"
        if not d.is_dir():
            return {}, f"{own} (no train/ split beside {data_dir}; --baseline-data DIR names one)"
    else:
        d = Path(baseline_data)
        if not d.is_dir():
            raise FileNotFoundError(2, "--baseline-data must be a split folder", str(d))
    feeds = file_feeds()
    have = [t for t in tasks if t in available_tasks(d, feeds=feeds)]
    try:
        loaded = load_split(d, tasks=have, skip_bad=True, check_images=False, feeds=feeds) if have else {}
    except DataError as e:
        if baseline_data is not None:
            raise
        # The default split is a guess; an unreadable one must not cost the evaluation.
        return {}, f"{own} ({d} could not be read: {e})"
    priors = {t: list(v) for t, v in loaded.items() if v}
    if not priors:
        return {}, f"{own} ({d} holds none of the tasks {list(tasks)})"
    note = f"baseline priors: {d} ({', '.join(f'{t}: {len(v)} examples' for t, v in priors.items())})"
    missing = [t for t in tasks if t not in priors]
    if missing:
        note += f"; the evaluated examples themselves for {', '.join(missing)}"
    return priors, note


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vlseq eval", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (vlseq train's final/ or best/)")
    data = ap.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", metavar="DIR",
                      help="a split directory in the readers' formats (e.g. data/synth-tiny-mixed/val), or a folder of "
                           "them (its --split is evaluated)")
    data.add_argument("--dataset-config", metavar="FILE",
                      help="a JSON file of data.datasets entries (files named per split as downloaded, relative "
                           "paths under FILE's folder; a training config file works too): their --split is evaluated")
    ap.add_argument("--split", default="val", help="the split of a folder of splits or of --dataset-config (default val)")
    ap.add_argument("--tasks", nargs="*", default=None,
                    help="tasks to evaluate (default: the checkpoint's tasks that the data provides)")
    ap.add_argument("--max-per-task", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--no-grammar", action="store_true", help="decode without the grammar (to measure what it buys)")
    ap.add_argument("--skip-bad", action="store_true", help="skip bad records (counted and logged) instead of stopping")
    ap.add_argument("--baseline-data", default=None, metavar="DIR",
                    help="the training split the baselines' priors come from (majority answer, mean box; default: "
                         "the train/ split beside --data, or the train split of --dataset-config, if there is one; "
                         "else the evaluated examples)")
    ap.add_argument("--out", default=None, help="output directory (default: CHECKPOINT/eval-<split>)")
    ap.add_argument("--image-use", type=int, default=0, metavar="N",
                    help="also compare the loss with true vs shuffled images on N examples per task (image_use.json)")
    ap.add_argument("--slots", type=int, default=0, metavar="N",
                    help="also score each box coordinate slot (x1, y1, x2, y2) teacher-forced on N examples per task "
                         "with boxes (slots.json)")
    ap.add_argument("--allow-train-split", action="store_true",
                    help="evaluate the training split anyway (refused by default: its numbers overstate the model)")
    add_device_args(ap)
    ap.add_argument("--results", default=None, metavar="FILE",
                    help="also write the predictions of --results-format's tasks as a result file, with the data's ids")
    ap.add_argument("--results-format", default=None, choices=RESULT_FORMATS,
                    help="coco (detect, instance_segment; loadable by pycocotools' COCO.loadRes), vqa or refs "
                         "(refexp, segment, ground); needed with --results")
    ap.add_argument("--annotations", default=None, metavar="FILE",
                    help="coco: the COCO file whose image and category ids the results use (default: the "
                         "instances.json the evaluated detect examples were read from)")
    return ap


def training_split_problem(args: argparse.Namespace, train_config: dict[str, Any] | None) -> str | None:
    """Why the data ``args`` name is a training split (None: it is not).

    It is when ``--split`` names the training split (``train``, or the checkpoint's
    ``data.train_split``); when ``--data`` is a split directory so named, or the very split the
    checkpoint trained on (its training config's ``data.synth`` or a dataset entry's ``path``); or when
    ``--data`` holds no split named ``--split`` and its only split is the training one.
    """
    data_cfg = (train_config or {}).get("data") or {}
    train_name = str(data_cfg.get("train_split") or "train")
    names = {"train", train_name}
    if args.split in names:
        where = args.dataset_config or args.data
        return f"--split {args.split} is the training split of {where}"
    if args.dataset_config is not None:
        return None
    d = Path(args.data)
    if (d / args.split).is_dir():
        d = d / args.split
    elif d.is_dir():
        from ..data.readers.split import available_tasks

        splits = sorted(c.name for c in d.iterdir() if c.is_dir() and available_tasks(c))
        if splits and set(splits) <= names and not available_tasks(d):
            return f"{d} holds no {args.split}/ split, only the training split {splits[0]}/"
    if d.name in names:
        return f"{d} is a training split (named {d.name}/)"
    from ..data.readers.datasets import split_dir

    # The training splits the checkpoint's config names (a folder that is one split serves every split).
    entries = [{"path": data_cfg["synth"]}] if isinstance(data_cfg.get("synth"), str) else []
    entries += [e for e in data_cfg.get("datasets") or [] if isinstance(e, dict) and isinstance(e.get("path"), str)]
    trained = [split_dir(e, train_name) for e in entries]
    if d.is_dir() and any(t is not None and t.is_dir() and t.resolve() == d.resolve() for t in trained):
        return f"{d} is the split this checkpoint was trained on (its training config's data)"
    return None


def read_eval_data(args: argparse.Namespace, checkpoint_tasks: Sequence[str]) -> tuple[dict[str, list[Example]], ReadReport, str]:
    """The evaluated examples per source, the read's report, and what they are (for messages and --out).

    Without ``--tasks``: the checkpoint's tasks that the data provides. With it, a split directory
    must provide each task named; dataset entries give those of them that their files provide.
    """
    from ..data.readers.datasets import load_datasets, read_dataset_config
    from ..data.readers.split import available_tasks, load_split
    from ..tasks import file_feeds

    feeds = file_feeds()
    if args.dataset_config is not None:
        entries = read_dataset_config(args.dataset_config)
        report = ReadReport()
        data = load_datasets(entries, args.split, args.tasks or checkpoint_tasks, skip_bad=args.skip_bad,
                             required=False, report=report, feeds=feeds)
        return data, report, f"{Path(args.dataset_config).stem}-{args.split}"
    d = Path(args.data)
    if (d / args.split).is_dir():
        d = d / args.split
    args.data = str(d)  # the split itself: the train/ split beside it gives the baselines' priors
    tasks = list(args.tasks or checkpoint_tasks)  # a missing directory is load_split's error
    if not args.tasks and d.is_dir():
        have = available_tasks(d, feeds=feeds)
        tasks = [t for t in checkpoint_tasks if t in have]
        if not tasks:
            raise ValueError(f"{d} provides tasks {have or 'none (no known file)'}, none of which the checkpoint was "
                             f"trained on ({', '.join(checkpoint_tasks)})")
    split = load_split(d, tasks=tasks, skip_bad=args.skip_bad, feeds=feeds)
    return dict(split), split.report, d.name


def dataset_priors(args: argparse.Namespace, tasks: Sequence[str]) -> tuple[dict[str, list[Example]], str]:
    """Baseline priors of a ``--dataset-config`` evaluation: its entries' training split (annotations only)."""
    from ..data.readers.datasets import load_datasets, read_dataset_config
    from ..data.readers.validate import DataError
    from ..tasks import file_feeds

    own = "baseline priors: the evaluated examples themselves"
    if args.split == "train":
        return {}, f"{own} (--split is the train split; --baseline-data DIR names another)"
    try:
        priors = load_datasets(read_dataset_config(args.dataset_config), "train", tasks, skip_bad=True,
                               required=False, check_images=False, feeds=file_feeds())
    except (DataError, ValueError) as e:  # a guess, as the train/ split beside --data is: it must not cost the evaluation
        return {}, f"{own} (the train split of {args.dataset_config} could not be read: {e})"
    if not priors:
        return {}, f"{own} ({args.dataset_config} names no train split with the tasks {list(tasks)})"
    return priors, (f"baseline priors: the train split of {args.dataset_config} "
                    f"({', '.join(f'{s}: {len(v)} examples' for s, v in priors.items())})")


def _checkpoint_train_config(checkpoint: str) -> dict[str, Any] | None:
    """The training config a checkpoint's ``vlseq.json`` records (None when it records none or cannot
    be read: loading the checkpoint then says what is wrong)."""
    try:
        raw = json.loads((Path(checkpoint) / "vlseq.json").read_text())
    except (OSError, ValueError):
        return None
    return raw.get("train_config") if isinstance(raw, dict) else None


def main(argv: Sequence[str] | None = None) -> int:
    from ..inference.device import place, resolve_device, resolve_dtype
    from ..models.io import from_pretrained, load_image_tokenizer
    from .eval_results import EvalResults

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    problem = None if args.allow_train_split else training_split_problem(args, _checkpoint_train_config(args.checkpoint))
    if problem:
        print(f"vlseq: error: vlseq eval refuses to report on training data: {problem} (numbers on the examples a model "
              "learnt overstate it); pass --allow-train-split to evaluate it anyway", file=sys.stderr)
        return 2
    try:  # option mistakes before the checkpoint loads
        device = resolve_device(args.device)
        dtype = resolve_dtype(args.dtype, device)
        results = EvalResults.from_args(args)
    except ValueError as e:
        print(f"vlseq eval: {e}", file=sys.stderr)
        return 2
    model, tok, raw = from_pretrained(args.checkpoint, device=str(device))
    model = place(model, device, dtype)
    settings = CheckpointSettings.from_dict(raw, f"{args.checkpoint}/vlseq.json")
    processor = Processor.from_settings(tok, settings, image_tokenizer=load_image_tokenizer(
        args.checkpoint, tok.num_image_tokens, str(device)))
    data, report, what = read_eval_data(args, list(settings.tasks))
    data = {t: list(v)[: args.max_per_task] if args.max_per_task else list(v) for t, v in data.items() if v}
    if args.skip_bad:
        data = {t: kept for t, v in data.items() if (kept := decodable_examples(processor, v, report))}
        log.info("%s: %s", args.data or args.dataset_config, report.summary())
    if not data:
        print(f"vlseq eval: no examples for tasks {args.tasks or list(settings.tasks)} in {args.data or args.dataset_config}")
        return 1
    out = Path(args.out) if args.out else Path(args.checkpoint) / f"eval-{what}"
    if args.dataset_config is not None and args.baseline_data is None:
        priors, prior_note = dataset_priors(args, sorted({task_of(s) for s in data}))
    else:
        priors, prior_note = baseline_priors(args.baseline_data, args.data or "", [task_of(s) for s in data])
    log.info("%s", prior_note)
    if results is not None:
        problem = results.check_sources(list(data), args)
        if problem:
            print(f"vlseq eval: {problem}", file=sys.stderr)
            return 2
    metrics = evaluate_examples(model, processor, data, args.batch_size, out, not args.no_grammar, args.beams,
                                categories=list(settings.categories) or None, baseline_examples=priors,
                                on_predictions=results.add if results is not None else None)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from ..viz.report import write_report_pages

    decode = processor.bind(get_task("generate_image")).decode_image if processor.image_tokenizer is not None else None
    write_report_pages(out, data, out / "predictions.jsonl", settings.num_bins, decode_image=decode)
    print(format_metrics(metrics))
    print(prior_note)
    identity = format_identity(metrics)
    if identity:
        print(f"\nIdentity (what, apart from where)\n\n{identity}")
    if args.image_use:
        from ..evaluation.diagnostics import format_image_use, image_use

        uses = image_use(model, processor, data, n=args.image_use)
        (out / "image_use.json").write_text(json.dumps({t: {"loss": a, "loss_shuffled": b} for t, (a, b) in uses.items()}, indent=2))
        print(format_image_use(uses))
    if args.slots:
        from ..evaluation.diagnostics import format_slot_accuracy, slot_accuracy

        slots = slot_accuracy(model, processor, data, n=args.slots)
        (out / "slots.json").write_text(json.dumps(slots, indent=2))
        print(f"\nWhich box coordinate fails?\n\n{format_slot_accuracy(slots)}")
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.jsonl'}, {out / 'index.html'}")
    if results is not None:
        print(f"wrote {args.results}: {results.write().summary()}")
    return 0
