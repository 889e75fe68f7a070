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
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Sequence

from ..data.example import Example
from ..data.readers.validate import ReadReport
from ..evaluation.evaluate import decodable_examples, evaluate_examples, format_metrics
from ..evaluation.identity import format_identity
from ..processing import CheckpointSettings, Processor
from ..tasks import get_task, task_of

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
                      help="a split directory in the readers' formats (e.g. data/synth-tiny/val), or a folder of "
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
    return ap


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


def main(argv: Sequence[str] | None = None) -> int:
    from ..models.io import from_pretrained, load_image_tokenizer

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model, tok, raw = from_pretrained(args.checkpoint)
    settings = CheckpointSettings.from_dict(raw, f"{args.checkpoint}/vlseq.json")
    processor = Processor.from_settings(tok, settings,
                                        image_tokenizer=load_image_tokenizer(args.checkpoint, tok.num_image_tokens))
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
    metrics = evaluate_examples(model, processor, data, args.batch_size, out, not args.no_grammar, args.beams,
                                categories=list(settings.categories) or None, baseline_examples=priors)
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
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.jsonl'}, {out / 'index.html'}")
    return 0
