"""vlseq quickstart"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Sequence

from ..train.quickstart import generalisation, learning_curve, reference_cider, validation_curves, write_report


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlseq quickstart", description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--minutes", type=float, default=None, help="training budget (default: the preset's, 20 for tiny)")
    ap.add_argument("--eval-per-task", type=int, default=300)
    ap.add_argument("--out", default=None, help="run directory (default: the preset's out_dir)")
    ap.add_argument("overrides", nargs="*", help="dotted key=value config overrides")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from ..evaluation.diagnostics import image_use, slot_accuracy
    from ..evaluation.evaluate import evaluate_examples, format_metrics
    from ..train.config import load_config
    from ..train.loop import Trainer
    from ..viz.report import write_report_pages

    overrides = list(args.overrides)
    if args.minutes is not None:
        overrides.append(f"time_budget_min={args.minutes}")
    if args.out:
        overrides.append(f"out_dir={args.out}")
    cfg = load_config(args.preset, overrides)
    out = Path(cfg.out_dir)
    trainer = Trainer(cfg, resume=True, evaluate_at_end=False)
    cfg = trainer.cfg  # the run's resolved config (a checkpoint's model config under init_from)
    summary = trainer.run()
    val = trainer.val_examples()
    val = {s: exs[: args.eval_per_task] for s, exs in val.items()}
    eval_dir = out / "eval"
    if (eval_dir / "predictions.jsonl").exists():
        (eval_dir / "predictions.jsonl").unlink()
    metrics = evaluate_examples(trainer.eval_model(), trainer.processor, val, out_dir=eval_dir,
                                baseline_examples=trainer.train_data)  # priors from training, not from val
    (eval_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_report_pages(eval_dir, val, eval_dir / "predictions.jsonl", cfg.model.num_bins)
    learning_curve(out / "log.jsonl", out / "learning_curve.png")
    ref = reference_cider(val["caption"]) if "caption" in val else None
    general = generalisation(trainer, cfg, metrics, args.eval_per_task)
    uses = image_use(trainer.eval_model(), trainer.processor, val, n=64)
    slots = slot_accuracy(trainer.eval_model(), trainer.processor, val, n=64)
    curves = validation_curves({cfg.name: out / "log.jsonl"}, out / "validation_curves.png")
    report = write_report(out, cfg, summary, metrics, ref, general, uses, slots, curves)
    print(format_metrics(metrics))
    print(f"\nreport: {report}\ncheckpoint: {summary['final']}")
    return 0
