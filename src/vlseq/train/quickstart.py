"""``vlseq quickstart``: the main job on the built-in default, end to end on a laptop CPU.

1. write the synthetic world (once; reused after),
2. train the ``tiny`` preset on every task within a fixed wall-clock budget (default 20 min),
3. evaluate every task on the validation split with grammar-constrained decoding,
4. write ``REPORT.md`` (metrics against the goals), a learning-curve PNG and example sheets.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

#: Goals on the synthetic val set (the caption goal is relative: the references' own leave-one-out CIDEr).
GOALS: dict[str, float] = {
    "refexp/acc@0.5": 0.90, "vqa/accuracy": 0.90, "classify/accuracy": 0.95, "detect/map_50": 0.70,
    "grounded_caption/f1_loc": 0.70,
    # identity apart from place: the class of a found object, a class name's box, "what shape is ..."
    "detect/label_given_hit": 0.90, "localize/acc@0.5": 0.80, "vqa/identity/acc@shape": 0.95,
}


def learning_curve(log_path: Path, out_png: Path) -> None:
    """Plot total and per-task training loss against steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    recs = [json.loads(l) for l in log_path.read_text().splitlines() if l.strip()]
    recs = [r for r in recs if "loss" in r]
    if not recs:
        return
    fig, ax = plt.subplots(figsize=(8, 4.5))
    steps = [r["step"] for r in recs]
    ax.plot(steps, [r["loss"] for r in recs], color="black", lw=2, label="total")
    keys = sorted({k for r in recs for k in r if k.startswith("loss/")})
    for k in keys:
        pts = [(r["step"], r[k]) for r in recs if k in r]
        ax.plot([p[0] for p in pts], [p[1] for p in pts], lw=1, label=k[5:])
    ax.set_yscale("log")
    ax.set_xlabel("optimiser step")
    ax.set_ylabel("cross-entropy (per-sample mean)")
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


#: validation curves drawn in the report: (metric key, title)
CURVES = [("refexp/acc@0.5", "refexp Acc@0.5"), ("refexp/mean_iou", "refexp mean IoU"),
          ("localize/acc@0.5", "localize Acc@0.5"), ("detect/map_50", "detect mAP@0.5"),
          ("grounded_caption/f1_loc", "grounded caption F1_loc"), ("vqa/accuracy", "VQA accuracy"),
          ("classify/accuracy", "classify accuracy"), ("caption/cider", "caption CIDEr")]


def eval_records(log_path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(step, metrics)`` of each periodic evaluation in a run's ``log.jsonl``."""
    if not log_path.exists():
        return []
    recs = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    return [(r["step"], r["eval"]) for r in recs if "eval" in r]


def validation_curves(runs: dict[str, Path], out_png: Path) -> bool:
    """Plot the periodic validation metrics (:data:`CURVES`) of one or more runs' ``log.jsonl``
    against the step; False (and no file) when no run has a periodic evaluation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: eval_records(path) for name, path in runs.items()}
    if not any(series.values()):
        return False
    fig, axes = plt.subplots(2, 4, figsize=(16, 7))
    for ax, (key, title) in zip(axes.flat, CURVES):
        for name, recs in series.items():
            pts = [(step, m[key]) for step, m in recs if key in m]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=name)
        ax.set_title(title)
        ax.set_xlabel("optimiser step")
        ax.grid(alpha=0.3)
    if len(series) > 1:
        axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)
    return True


def reference_cider(val_captions: Sequence[Any]) -> float:
    from ..metrics import leave_one_out_cider

    refs = {i: list(ex.answers) for i, ex in enumerate(val_captions) if len(ex.answers) >= 2}
    r = leave_one_out_cider(refs)
    return float(r["cider"] if isinstance(r, dict) else r)


def generalisation(trainer, cfg, metrics: dict[str, Any], n: int) -> list[tuple[str, str, float, float]]:
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


def write_report(out: Path, cfg, summary: dict[str, Any], metrics: dict[str, Any], ref_cider: float | None,
                 general: list[tuple[str, str, float, float]] = (),
                 image_use: dict[str, tuple[float, float]] | None = None,
                 slots: dict[str, dict[str, float]] | None = None, curves: bool = False) -> Path:
    from ..evaluation.diagnostics import format_image_use, format_slot_accuracy
    from ..evaluation.evaluate import format_metrics
    from ..evaluation.identity import format_identity

    goals = dict(GOALS)
    if ref_cider is not None:
        goals["caption/cider"] = ref_cider
    lines = [f"# vlseq quickstart report: preset `{cfg.name}`", "",
             f"Trained {summary['step']} steps in {summary['elapsed_s'] / 60:.1f} min "
             f"(budget {cfg.time_budget_min} min), global batch {cfg.batch_size}, "
             f"image {cfg.model.image_size} px, {cfg.model.num_bins} bins.", "",
             "## Goals", "", "| metric | goal | reached | met |", "|---|---|---|---|"]
    for k, g in goals.items():
        v = metrics.get(k)
        lines.append(f"| {k} | {g:.3f} | {'n/a' if v is None else f'{v:.3f}'} | {'yes' if v is not None and v >= g else 'no'} |")
    if general:
        lines += ["", "## Generalisation (goal: out-of-domain >= 80% of in-domain)", "",
                  "| check | metric | in-domain | out-of-domain | ratio |", "|---|---|---|---|---|"]
        for what, metric, ind, ood in general:
            lines.append(f"| {what} | {metric} | {ind:.3f} | {ood:.3f} | {ood / ind if ind else float('nan'):.2f} |")
    if image_use:
        lines += ["", "## Does the model read the image? (validation loss; shuffled: every example gets "
                  "another example's image; a gap near 0 means the task is answered from the prompt alone)", "",
                  format_image_use(image_use)]
    if slots:
        lines += ["", "## Which box coordinate fails? (teacher-forced accuracy per slot on validation targets)", "",
                  format_slot_accuracy(slots)]
    identity = format_identity(metrics)
    if identity:
        lines += ["", "## Identity (what, apart from where)", "", identity]
    lines += ["", "## All tasks", "", format_metrics(metrics), ""]
    if curves:
        lines += ["## Validation during training", "", "![validation curves](validation_curves.png)", ""]
    lines += ["![learning curve](learning_curve.png)", "", "![examples](eval/sheet.png)", ""]
    path = out / "REPORT.md"
    path.write_text("\n".join(lines))
    return path


