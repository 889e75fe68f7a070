"""The quickstart's ``REPORT.md``: its metrics against the goals, and the diagnostics beside them.

Sections, in order: what was trained, the goals table (:data:`GOALS`, plus the caption goal when the
references' own CIDEr is known, and the :data:`FAMILY_GOALS` of the families the run evaluated), the generalisation checks, whether the model reads the image, the
per-slot accuracy of box coordinates, identity apart from place, every task's metrics, and links to
the curves (:mod:`vlseq.viz.curves`) and the example sheet. The numbers come in already computed
(:mod:`vlseq.train.quickstart` runs the model); this module only compares and writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from ..metrics import leave_one_out_cider
from .diagnostics import format_image_use, format_slot_accuracy
from .evaluate import format_metrics
from .identity import format_identity

#: Goals on the synthetic val set (the caption goal is relative: the references' own leave-one-out CIDEr).
GOALS: dict[str, float] = {
    "refexp/acc@0.5": 0.90, "vqa/accuracy": 0.90, "classify/accuracy": 0.95, "detect/map_50": 0.70,
    "grounded_caption/f1_loc": 0.70,
    # identity apart from place: the class of a found object, a class name's box, "what shape is ..."
    "detect/label_given_hit": 0.90, "localize/acc@0.5": 0.80, "vqa/identity/acc@shape": 0.95,
}

#: Goals of the output families beyond boxes and text (the ``all`` preset), in the report only
#: where the run evaluated them: polygons, keypoints, and generated images passing the checker.
FAMILY_GOALS: dict[str, float] = {
    "segment/miou": 0.60, "instance_segment/mask_map_50": 0.40, "keypoints/pck@0.1": 0.60,
    "generate_image/check_all": 0.50,
}

#: a generalisation row: (what was checked, metric, in-domain value, out-of-domain value)
GeneralisationRow = tuple[str, str, float, float]


def reference_cider(val_captions: Sequence[Any]) -> float:
    """Leave-one-out CIDEr of the references themselves (examples with at least two answers): the
    caption goal, since no model can be expected to agree with the references more than they agree
    with each other."""
    refs = {i: list(ex.answers) for i, ex in enumerate(val_captions) if len(ex.answers) >= 2}
    r = leave_one_out_cider(refs)
    return float(r["cider"] if isinstance(r, dict) else r)


def write_report(out: Path, cfg: Any, summary: Mapping[str, Any], metrics: Mapping[str, Any],
                 ref_cider: float | None, general: Sequence[GeneralisationRow] = (),
                 image_use: Mapping[str, tuple[float, float]] | None = None,
                 slots: Mapping[str, Mapping[str, float]] | None = None, curves: bool = False) -> Path:
    """Write ``out/REPORT.md`` and return its path.

    ``cfg``: the run's resolved training config (its name, time budget, batch size, image size and
    bins are quoted); ``summary``: the trainer's run summary (``step``, ``elapsed_s``);
    ``ref_cider``: :func:`reference_cider`, or None without captions; ``general``,
    ``image_use``, ``slots``: the optional sections (empty: left out); ``curves``: link
    ``validation_curves.png`` (written only when the run evaluated periodically).
    """
    goals = dict(GOALS)
    # Steps per minute beside the metrics: the quickstart is step-bound, so two runs' metrics are
    # comparable only with their step counts (a machine's speed moves both).
    minutes = summary["elapsed_s"] / 60
    budget = f"{cfg.time_budget_min:g} min" if cfg.time_budget_min else f"{cfg.max_steps} steps"
    if ref_cider is not None:
        goals["caption/cider"] = ref_cider
    goals.update({k: g for k, g in FAMILY_GOALS.items() if k in metrics})
    lines = [f"# vlseq quickstart report: preset `{cfg.name}`", "",
             f"Trained {summary['step']} steps in {minutes:.1f} min ({summary['step'] / max(minutes, 1e-9):.1f} steps/min; "
             f"budget {budget}), global batch {cfg.batch_size}, "
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
