"""``vlseq quickstart``: the main job on the built-in default, end to end on a laptop CPU.

1. write the synthetic world (once; reused after),
2. train the ``tiny`` preset on every task within a fixed wall-clock budget (default 20 min),
3. evaluate every task on the validation split with grammar-constrained decoding,
4. write ``REPORT.md`` (metrics against the goals, :mod:`vlseq.evaluation.quickstart_report`), the
   learning and validation curves (:mod:`vlseq.viz.curves`) and example sheets.

This module runs the model (training, evaluation, the diagnostics); what the report says and how
the curves look live in the modules named above. ``vlseq quickstart`` (:mod:`vlseq.cli.quickstart`)
parses the arguments and prints the outcome.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..evaluation.quickstart_report import GeneralisationRow, reference_cider, write_report
from ..viz.curves import learning_curve, validation_curves


@dataclass(frozen=True)
class QuickstartResult:
    """What a quickstart run leaves: its validation metrics, the report and the final checkpoint."""

    metrics: dict[str, Any]
    report: Path
    final: str


def generalisation(trainer: Any, cfg: Any, metrics: dict[str, Any], n: int) -> list[GeneralisationRow]:
    """Out-of-domain vs in-domain: refexp on held-out colour+shape pairs (``test_heldout``) and
    grounded captioning on the caption-only training images (``caption_only_eval``: images that
    had captions but no boxes in training). Rows: (what, metric, in-domain, out-of-domain)."""
    from ..data.readers.split import load_split
    from ..evaluation.evaluate import evaluate_examples

    rows = []
    root = Path(cfg.data.synth) if cfg.data.synth else None
    checks = [("refexp", "acc@0.5", "test_heldout", "refexp on held-out attribute pairs"),
              ("grounded_caption", "f1_loc", "caption_only_eval", "grounded captions on caption-only images")]
    for task, metric, split, what in checks:
        if root is None or not (root / split).is_dir() or f"{task}/{metric}" not in metrics:
            continue
        exs = load_split(root / split, tasks=[task]).get(task, [])[:n]
        if not exs:
            continue
        m = evaluate_examples(trainer.eval_model(), trainer.processor, {task: exs}, baselines=False)
        rows.append((what, metric, float(metrics[f"{task}/{metric}"]), float(m[f"{task}/{metric}"])))
    return rows


def run_quickstart(preset: str = "tiny", overrides: Sequence[str] = (), minutes: float | None = None,
                   out: str | None = None, eval_per_task: int = 300, resume_anyway: bool = False) -> QuickstartResult:
    """Train ``preset`` (resuming a run already in its output directory), evaluate the first
    ``eval_per_task`` validation examples of every task, and write the report into the run directory.

    ``minutes`` and ``out`` override the preset's ``time_budget_min`` and ``out_dir``; ``overrides``
    are dotted ``key=value`` config overrides, applied before them. A run already in the output
    directory with another config stops, naming the keys that differ, unless ``resume_anyway``.
    """
    # The heavy imports (torch, the model) wait until a run starts, so the CLI's --help stays quick.
    from ..evaluation.diagnostics import image_use, slot_accuracy
    from ..evaluation.evaluate import evaluate_examples
    from ..viz.report import write_report_pages
    from .config import load_config
    from .loop import Trainer

    overrides = list(overrides)
    if minutes is not None:
        overrides.append(f"time_budget_min={minutes}")
    if out:
        overrides.append(f"out_dir={out}")
    cfg = load_config(preset, overrides)
    run_dir = Path(cfg.out_dir)
    trainer = Trainer(cfg, resume=True, evaluate_at_end=False, resume_anyway=resume_anyway)
    cfg = trainer.cfg  # the run's resolved config (a checkpoint's model config under init_from)
    summary = trainer.run()
    val = trainer.val_examples()
    val = {s: exs[:eval_per_task] for s, exs in val.items()}
    eval_dir = run_dir / "eval"
    if (eval_dir / "predictions.jsonl").exists():
        (eval_dir / "predictions.jsonl").unlink()
    metrics = evaluate_examples(trainer.eval_model(), trainer.processor, val, out_dir=eval_dir,
                                baseline_examples=trainer.train_data)  # priors from training, not from val
    (eval_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    write_report_pages(eval_dir, val, eval_dir / "predictions.jsonl", cfg.model.num_bins)
    learning_curve(run_dir / "log.jsonl", run_dir / "learning_curve.png")
    ref = reference_cider(val["caption"]) if "caption" in val else None
    general = generalisation(trainer, cfg, metrics, eval_per_task)
    uses = image_use(trainer.eval_model(), trainer.processor, val, n=64)
    slots = slot_accuracy(trainer.eval_model(), trainer.processor, val, n=eval_per_task)  # 64 boxes: +-0.05 a slot
    curves = validation_curves({cfg.name: run_dir / "log.jsonl"}, run_dir / "validation_curves.png")
    report = write_report(run_dir, cfg, summary, metrics, ref, general, uses, slots, curves)
    return QuickstartResult(metrics, report, summary["final"])
