"""vlseq eval

Prints each task's headline metrics beside its trivial baseline (:mod:`vlseq.evaluation.baselines`).
The baselines' priors (majority answer, mean box, most frequent caption) come from the training
split: ``--baseline-data DIR``, by default the split named ``train/`` beside ``--data``; without
one, from the evaluated examples themselves, which the output says.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Sequence

from ..data.example import Example
from ..evaluation.evaluate import decodable_examples, evaluate_examples, format_metrics
from ..processing import CheckpointSettings, Processor
from ..tasks import get_task

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
    have = [t for t in tasks if t in available_tasks(d)]
    try:
        loaded = load_split(d, tasks=have, skip_bad=True, check_images=False) if have else {}
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


def main(argv: Sequence[str] | None = None) -> int:
    from ..data.readers.split import load_split
    from ..models.io import from_pretrained, load_image_tokenizer

    ap = argparse.ArgumentParser(prog="vlseq eval", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (vlseq train's final/ or best/)")
    ap.add_argument("--data", required=True, help="a split directory in the readers' formats (e.g. data/synth-tiny/val)")
    ap.add_argument("--tasks", nargs="*", default=None, help="tasks to evaluate (default: the checkpoint's)")
    ap.add_argument("--max-per-task", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--no-grammar", action="store_true", help="decode without the grammar (to measure what it buys)")
    ap.add_argument("--skip-bad", action="store_true", help="skip bad records (counted and logged) instead of stopping")
    ap.add_argument("--baseline-data", default=None, metavar="DIR",
                    help="the training split the baselines' priors come from (majority answer, mean box; default: "
                         "the train/ split beside --data if there is one, else the evaluated examples)")
    ap.add_argument("--out", default=None, help="output directory (default: CHECKPOINT/eval-<split>)")
    ap.add_argument("--image-use", type=int, default=0, metavar="N",
                    help="also compare the loss with true vs shuffled images on N examples per task (image_use.json)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model, tok, raw = from_pretrained(args.checkpoint)
    settings = CheckpointSettings.from_dict(raw, f"{args.checkpoint}/vlseq.json")
    tasks = args.tasks or list(settings.tasks)
    processor = Processor.from_settings(tok, settings,
                                        image_tokenizer=load_image_tokenizer(args.checkpoint, tok.num_image_tokens))
    data = load_split(args.data, tasks=tasks, skip_bad=args.skip_bad)
    report = data.report
    data = {t: list(v)[: args.max_per_task] if args.max_per_task else list(v) for t, v in data.items() if v}
    if args.skip_bad:
        data = {t: kept for t, v in data.items() if (kept := decodable_examples(processor, v, report))}
        log.info("%s: %s", args.data, report.summary())
    if not data:
        print(f"vlseq eval: no examples for tasks {tasks} in {args.data}")
        return 1
    out = Path(args.out) if args.out else Path(args.checkpoint) / f"eval-{Path(args.data).name}"
    priors, prior_note = baseline_priors(args.baseline_data, args.data, list(data))
    log.info("%s", prior_note)
    metrics = evaluate_examples(model, processor, data, args.batch_size, out, not args.no_grammar, args.beams,
                                categories=list(settings.categories) or None, baseline_examples=priors)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from ..viz.report import write_report_pages

    decode = processor.bind(get_task("generate_image")).decode_image if processor.image_tokenizer is not None else None
    write_report_pages(out, data, out / "predictions.jsonl", settings.num_bins, decode_image=decode)
    print(format_metrics(metrics))
    print(prior_note)
    if args.image_use:
        from ..evaluation.diagnostics import format_image_use, image_use

        uses = image_use(model, processor, data, n=args.image_use)
        (out / "image_use.json").write_text(json.dumps({t: {"loss": a, "loss_shuffled": b} for t, (a, b) in uses.items()}, indent=2))
        print(format_image_use(uses))
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.jsonl'}, {out / 'index.html'}")
    return 0
