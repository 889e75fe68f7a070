"""Training curves of a run, drawn from its ``log.jsonl``: the training loss and the periodic validation.

The log is the trainer's: one JSON record per line, ``{"step", "loss", "loss/<source>", ...}`` for
training steps and ``{"step", "eval": {metric: value}}`` for each periodic evaluation. The PNGs go
into the quickstart report (``learning_curve.png``, ``validation_curves.png``) and
``experiments/screen.py`` compares runs with them. matplotlib is imported only when a curve is drawn,
so importing this module stays light.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

#: validation curves drawn in the report: (metric key, title)
CURVES: list[tuple[str, str]] = [
    ("refexp/acc@0.5", "refexp Acc@0.5"), ("refexp/mean_iou", "refexp mean IoU"),
    ("localize/acc@0.5", "localize Acc@0.5"), ("detect/map_50", "detect mAP@0.5"),
    ("grounded_caption/f1_loc", "grounded caption F1_loc"), ("vqa/accuracy", "VQA accuracy"),
    ("classify/accuracy", "classify accuracy"), ("caption/cider", "caption CIDEr"),
]


def learning_curve(log_path: Path, out_png: Path) -> None:
    """Plot total and per-task training loss against steps (no file when the log has no loss)."""
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, even where a display exists
    import matplotlib.pyplot as plt

    recs = [r for r in _records(log_path) if "loss" in r]
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


def eval_records(log_path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``(step, metrics)`` of each periodic evaluation in a run's ``log.jsonl``."""
    if not log_path.exists():
        return []
    return [(r["step"], r["eval"]) for r in _records(log_path) if "eval" in r]


def _records(log_path: Path) -> list[dict[str, Any]]:
    """Every record of a ``log.jsonl``, blank lines skipped."""
    return [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]


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
    return _finish(fig, axes, len(series) > 1, out_png, dpi=90)


def _finish(fig: Any, axes: Any, legend: bool, out_png: Path, dpi: int) -> bool:
    """Legend on the first panel (when several runs share the panels), lay out, write, close."""
    import matplotlib.pyplot as plt

    if legend:
        axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=dpi)
    plt.close(fig)
    return True


def loss_records(log_path: Path) -> list[dict[str, Any]]:
    """The training-step records (those with a ``loss``) of a run's ``log.jsonl``; [] without one."""
    if not log_path.exists():
        return []
    return [r for r in _records(log_path) if "loss" in r]


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing mean over up to ``window`` values (the first points average what there is)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def loss_curves(runs: dict[str, Path], out_png: Path, tasks: list[str] | None = None, window: int = 10) -> bool:
    """Each task's training loss (``loss/<task>``, a trailing mean of ``window`` log records) for
    one or more runs, one panel per task, against the step: the curves of a screen that evaluates
    only at its end. ``tasks`` default to every task any run logged. False (and no file) when no
    run logged a task loss."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {name: loss_records(path) for name, path in runs.items()}
    logged = sorted({k[5:] for recs in series.values() for r in recs for k in r if k.startswith("loss/")})
    tasks = [t for t in (tasks or logged) if t in logged]
    if not tasks:
        return False
    cols = min(4, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        for name, recs in series.items():
            pts = [(r["step"], r[f"loss/{task}"]) for r in recs if f"loss/{task}" in r]
            if pts:
                ax.plot([p[0] for p in pts], smooth([p[1] for p in pts], window), lw=1.2, label=name)
        ax.set_title(task, fontsize=10)
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("optimiser step")
    return _finish(fig, axes, len(series) > 1, out_png, dpi=80)
