"""Trivial baselines: what each task scores when the output ignores the image.

A metric means little without what chance gives: 0.6 VQA accuracy is strong when the majority
answer scores 0.2 and nothing at all when it scores 0.6. Each task defines its own baseline
(:meth:`~vlseq.tasks.Task.baseline`, built from :mod:`vlseq.tasks.priors`): one fixed output per
example, built as a sequence in the task's own format, read back by the task's own parser (so its
boxes are quantised to the model's bins like a model's) and scored by the task's own
:meth:`~vlseq.tasks.Task.evaluate`; a baseline number is therefore comparable with the model's
by construction. This module asks the task, and adds the closed-set chance level and where the
prior came from.

=====================  =============================================================================
task                   baseline output
=====================  =============================================================================
vqa                    the majority answer of the prior examples
classify               the majority class; also the expected score of a uniform choice among the
                       example's options (``chance_<metric>``), the closed-set chance level
caption,               the most frequent caption of the prior examples' references
region_caption
grounded_caption       the most frequent caption, its phrases grounded at the prior box
refexp, localize,      the prior box (the mean of the prior examples' boxes in coordinates normalised
segment                by the image size, scaled to each image); ``segment`` takes the box as polygon
ground                 the prior box for every phrase of the caption
detect,                the prior box once per category the prompt lists (the box as polygon for
instance_segment       ``instance_segment``)
keypoints, images      none: a constant keypoint layout or image has no single meaningful form
paragraph, story       the most frequent sentence of the prior's references (once per image: story)
multiple_choice        the expected score of a uniform random choice
dialog                 the candidates ranked by how often each is the right answer in the prior
=====================  =============================================================================

The *prior examples* are the training examples of the task when the caller has them, else the
evaluated examples themselves (the baseline then knows the eval answers' distribution, a slightly
optimistic prior, and says so: ``prior_from_eval`` = 1).
"""

from __future__ import annotations

import logging
from typing import Sequence

from ..codec import GroundedText
from ..data.example import Example
from ..tasks import Task
from ..tasks.priors import NormBox, most_common, prior_box, read_back, rectangle, scaled

log = logging.getLogger(__name__)


def chance_scores(task: Task, examples: Sequence[Example], bins: int) -> dict[str, float]:
    """The expected metrics of a uniform random choice among each example's closed output set.

    Scored option by option and example by example with the task's own metric, then averaged: the
    exact expectation for a metric that is a mean over examples (accuracy). Empty for a task whose
    output is not a closed set.
    """
    totals: dict[str, float] = {}
    n = 0
    for ex in examples:
        labels = task.grammar(ex).labels
        if task.grammar(ex).kind != "choice" or not labels:
            return {}
        for label in labels:
            for k, v in task.evaluate([ex], [read_back(task, ex, GroundedText(label), bins)]).items():
                totals[k] = totals.get(k, 0.0) + v / len(labels)
        n += 1
    return {k: v / n for k, v in totals.items()} if n else {}


def baseline_scores(task: Task, examples: Sequence[Example], prior: Sequence[Example] | None,
                    bins: int) -> dict[str, float]:
    """The baseline metrics of ``task`` on ``examples`` (:meth:`Task.baseline`), keyed like :meth:`Task.evaluate`'s.

    ``prior``: the examples the baseline's answer or box is taken from (the training split); None
    or empty: ``examples`` themselves, recorded as ``prior_from_eval`` = 1. Adds ``chance_<metric>``
    for a closed-set output and ``prior_n`` (the examples the prior came from). Empty when the task
    has no meaningful baseline or the prior holds nothing to build one from; a metric that cannot
    score the baseline (a ``ValueError``) is logged and leaves it out, never a made-up number.
    """
    if not examples:
        return {}
    from_eval = not prior
    base = list(examples) if from_eval else list(prior)  # type: ignore[arg-type]
    out: dict[str, float] = {}
    try:
        try:
            scores = task.baseline(examples, base, bins)
        except NotImplementedError:  # a task without a baseline
            scores = {}
        if scores:
            out.update(scores)
            out.update(prior_from_eval=float(from_eval), prior_n=float(len(base)))
        out.update({f"chance_{k}": v for k, v in chance_scores(task, examples, bins).items()})
    except ValueError as e:
        log.warning("%s: no baseline (%s)", task.name, e)
        return {}
    return out


def baseline_kind(task_name: str) -> str:
    """What the baseline of ``task_name`` writes, as a results table names it (``baseline`` for a task
    that names none or is not registered)."""
    from ..tasks import get_task, task_names

    kind = get_task(task_name).baseline_kind if task_name in task_names() else None
    return kind or "baseline"


__all__ = ["NormBox", "baseline_kind", "baseline_scores", "chance_scores", "most_common", "prior_box", "rectangle",
           "scaled"]
