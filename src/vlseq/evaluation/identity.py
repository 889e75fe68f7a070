"""The identity diagnostic in an evaluation: what an object is, apart from where it is.

:func:`identity_scores` turns a task's examples and predictions into the plain inputs of
:mod:`vlseq.metrics.identity` and returns its scores under ``identity/`` (``evaluate_examples`` prefixes
the source): ``detect/identity/label_given_hit@4-16``, ``localize/identity/acc@1-4``,
``vqa/identity/acc@shape``, ... :func:`format_identity` draws them as one table by object size (the
``Identity (what, apart from where)`` section of ``vlseq eval``'s output and the quickstart report).

Sizes are in cells of the model's feature grid (``VLSeqModel.grid``, ``(rows, cols)``): an example's
image is stretched to the model's square input, so a cell is ``(width / cols, height / rows)`` of the
example's pixels. A model without a ``grid`` (Florence-2) gets no size split.

VQA is split by question type and, for the examples that carry the one object their question is
about (:meth:`vlseq.tasks.text.VQA.referent`: their only ``objects`` entry, unless the answer is a
count or yes/no), by that object's size: the synthetic world's colour, shape and position questions
carry it (also on disk: the optional ``objects`` of its VQAv2 annotations, which
:func:`~vlseq.data.readers.vqa.read_vqa` reads back); count, exists and relation questions (a count's
or existence's ``objects`` are the evidence its answer rests on), and plain VQAv2 files, are split by type only.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from ..data.example import Example
from ..metrics.identity import (
    BUCKETS,
    SIZE_BUCKETS,
    detection_identity,
    evidence_identity,
    grid_cell,
    localization_identity,
    vqa_identity,
)
from ..tasks import get_task, task_of
from ..tasks.base import Prediction

#: The tasks with an identity diagnostic.
IDENTITY_TASKS = ("detect", "localize", "vqa")
#: The VQA question types the table shows (the synthetic world's families; ``color`` spelled either way).
TABLE_QUESTION_TYPES = (("shape", ("shape",)), ("colour", ("colour", "color")))


def model_grid(model: Any) -> tuple[int, int] | None:
    """The ``(rows, cols)`` feature grid of a model (``VLSeqModel.grid``); None when it has none."""
    grid = getattr(model, "grid", None)
    if isinstance(grid, (tuple, list)) and len(grid) == 2 and all(isinstance(v, int) and v > 0 for v in grid):
        return int(grid[0]), int(grid[1])
    return None


def question_type(ex: Example) -> str:
    """A VQA example's question type: ``meta["question_type"]`` (the synthetic world's family, VQAv2's
    question type), else ``meta["answer_type"]``, else ``unknown``."""
    return str(ex.meta.get("question_type") or ex.meta.get("answer_type") or "unknown")


def identity_scores(task: str, examples: Sequence[Example], predictions: Sequence[Prediction],
                    grid: tuple[int, int] | None) -> dict[str, float]:
    """The identity scores of one source's examples, keyed ``identity/<metric>``; empty for a task
    outside :data:`IDENTITY_TASKS`. ``grid``: the model's ``(rows, cols)`` feature grid; None: no size split."""
    name = task_of(task)
    if name not in IDENTITY_TASKS or not examples:
        return {}
    cells = None if grid is None else {i: grid_cell(ex.width, ex.height, grid) for i, ex in enumerate(examples)}
    if name == "detect":
        gts = [(i, o.label, o.box) for i, ex in enumerate(examples) for o in ex.objects]
        preds = [(i, label, box, s) for i, p in enumerate(predictions)
                 for (label, box), s in zip(p.objects, p.ranking_scores(len(p.objects)))]
        r = detection_identity(gts, preds, cells)
    elif name == "localize":
        r = localization_identity({i: (p.objects[0][1] if p.objects else None) for i, p in enumerate(predictions)},
                                  {i: [o.box for o in ex.objects] for i, ex in enumerate(examples)},
                                  {i: " ".join(ex.text.split()) for i, ex in enumerate(examples)}, cells)
    else:
        vqa = get_task("vqa")
        answers = {i: p.text for i, p in enumerate(predictions)}
        refs = {i: list(ex.answers) for i, ex in enumerate(examples)}
        types = {i: question_type(ex) for i, ex in enumerate(examples)}
        boxes = {i: b for i, ex in enumerate(examples) if (b := vqa.referent(ex)) is not None}
        # a pointed answer (point_answers) is one object: the box it was written at (an answer
        # written after its evidence is about no single object: only the asked-of questions count)
        pointed = {i: p.objects[0][1] for i, p in enumerate(predictions) if len(p.objects) == 1 and i in boxes}
        r = vqa_identity(answers, refs, types, boxes or None, cells, answer_boxes=pointed or None)
        # an answer written after its evidence (point_evidence): did it point at what it rests on?
        evidence = {i: vqa.evidence(ex) for i, ex in enumerate(examples)}
        if any(evidence.values()) and any(p.objects for i, p in enumerate(predictions) if evidence[i]):
            r.update(evidence_identity(answers, refs, types, evidence,
                                       {i: p.objects for i, p in enumerate(predictions) if evidence[i]}))
    return {f"identity/{k}": v for k, v in r.items()}


def _cell(v: Any, n: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "n/a"
    return f"{v:.3f}" if n is None else f"{v:.3f} ({int(n)})"


def _sources(metrics: dict[str, Any], task: str) -> list[str]:
    return sorted({k.split("/identity/", 1)[0] for k in metrics
                   if "/identity/" in k and task_of(k.split("/identity/", 1)[0]) == task})


def format_identity(metrics: dict[str, Any], lowest: int = 3) -> str:
    """A markdown table of the identity scores in ``metrics`` (``source/identity/...`` keys), one row per
    object-size bucket and one for all sizes, one column per detect source (label given a box hit),
    localize source (Acc@0.5) and VQA source and question type (``shape``, ``colour``); each value
    with its count in parentheses. Under it, the ``lowest`` classes per detect and localize source and
    what the numbers mean. Empty when ``metrics`` holds no identity score."""
    cols: list[tuple[str, str, dict[str, tuple[str, str]], tuple[str, str]]] = []
    for s in _sources(metrics, "detect"):
        cols.append((f"{s} label given hit", s,
                     {b: (f"label_given_hit@{b}", f"hits@{b}") for b in BUCKETS},
                     (f"{s}/identity/label_given_hit", f"{s}/identity/hits")))
    for s in _sources(metrics, "localize"):
        cols.append((f"{s} Acc@0.5", s, {b: (f"acc@{b}", f"n@{b}") for b in BUCKETS},
                     (f"{s}/acc@0.5", f"{s}/n")))
    for s in _sources(metrics, "vqa"):
        for shown, spellings in TABLE_QUESTION_TYPES:
            qt = next((t for t in spellings if f"{s}/identity/acc@{t}" in metrics), None)
            if qt is not None:
                cols.append((f"{s} {shown}", s, {b: (f"acc@{qt}@{b}", f"n@{qt}@{b}") for b in BUCKETS},
                             (f"{s}/identity/acc@{qt}", f"{s}/identity/n@{qt}")))
    if not cols:
        return ""
    lines = ["| object size | " + " | ".join(c[0] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    sized = False
    for b, _, shown in SIZE_BUCKETS:
        row = []
        for _, s, keys, _ in cols:
            v, n = (metrics.get(f"{s}/identity/{k}") for k in keys[b])
            sized |= v is not None
            row.append(_cell(v, n))
        lines.append(f"| {shown} | " + " | ".join(row) + " |")
    lines.append("| all | " + " | ".join(_cell(metrics.get(v), metrics.get(n)) for *_, (v, n) in cols) + " |")
    weak = []
    for s in _sources(metrics, "detect") + _sources(metrics, "localize"):
        pre = f"{s}/identity/per_class/"
        scores = sorted((v, k[len(pre):]) for k, v in metrics.items()
                        if k.startswith(pre) and isinstance(v, (int, float)) and not math.isnan(v))
        if scores:
            weak.append(f"{s}: " + ", ".join(f"{c} {v:.3f}" for v, c in scores[:lowest]))
    if weak:
        lines += ["", "Lowest classes: " + "; ".join(weak) + "."]
    pointing = []
    for s in _sources(metrics, "vqa"):
        for shown, spellings in TABLE_QUESTION_TYPES:
            qt = next((t for t in spellings if f"{s}/identity/point_hit@{t}" in metrics), None)
            if qt is not None:
                hit, right = (metrics[f"{s}/identity/{k}@{qt}"] for k in ("point_hit", "acc_given_point"))
                pointing.append(f"{s} {shown}: found {hit:.3f}, then right {right:.3f} "
                                f"({metrics[f'{s}/identity/hits@{qt}']:.0f})")
    if pointing:
        lines += ["", "Pointed answers (the answer's box has IoU >= 0.5 with the object asked about, then the answer "
                  "is right): " + "; ".join(pointing) + "."]
    evidence = []
    for s in _sources(metrics, "vqa"):
        pre = f"{s}/identity/evidence_found@"
        for qt in sorted(k[len(pre):] for k in metrics if k.startswith(pre)):
            found, right, n = (metrics[f"{s}/identity/{k}@{qt}"] for k in ("evidence_found", "acc_given_evidence",
                                                                          "evidence_n"))
            evidence.append(f"{s} {qt}: found {found:.3f}, then right {_cell(right, None)} ({n:.0f})")
    if evidence:
        lines += ["", "Answers after their evidence (the objects pointed at first are the ones the answer rests on, "
                  "then the answer is right): " + "; ".join(evidence) + "."]
    note = ("Object size: the box's area in cells of the model's feature grid (an 8x8 grid over a 64 px image: "
            "8 px cells); (n): the hits, queries or questions behind a value. Detect: of the predictions whose box "
            "hits an object (IoU >= 0.5, whatever the label), the share labelled as that object, by its size. "
            "Localize: Acc@0.5 by the size of the class's largest instance.")
    if any(c[1] in _sources(metrics, "vqa") for c in cols):
        note += " VQA: accuracy per question type; split by size only where an example names its question's object."
    if not sized:
        note += " No size split: the model has no feature grid."
    return "\n".join(lines + ["", note])
