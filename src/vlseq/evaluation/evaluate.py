"""Evaluation: batched grammar-constrained generation, parsing, and each task's standard metric.

``vlseq eval --checkpoint DIR --data SPLIT_DIR [--tasks ...] [--out DIR]`` writes
``predictions.jsonl`` (appended as batches finish, so nothing computed is lost),
``metrics.json`` and an HTML page + PNG sheet of examples with predicted and true boxes.
Image-output tasks also get the render-and-check scores and the image tokenizer's
reconstruction PSNR (:mod:`vlseq.evaluation.render_check`).

Detect, localize and VQA sources also get the identity diagnostic (:mod:`vlseq.evaluation.identity`):
what an object is apart from where it is, by object size in grid cells, class and question type, as
``source/identity/<metric>``.

Every source also gets its trivial baseline (:mod:`vlseq.evaluation.baselines`), scored by the same
metric, as ``source/baseline/<metric>``: a number always comes with what chance gives.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from ..data.example import Example
from ..decoding.generate import predict_examples
from ..decoding.rank import candidate_loglikelihoods
from ..processing import Processor
from ..tasks import Prediction, get_task, headline, task_of
from .baselines import baseline_kind, baseline_scores
from .identity import identity_scores, model_grid

log = logging.getLogger(__name__)


def evaluate_examples(model, processor: Processor, examples: dict[str, Sequence[Example]], batch_size: int = 32,
                      out_dir: Path | None = None, constrained: bool = True, num_beams: int = 1,
                      categories: Sequence[str] | None = None, baselines: bool = True,
                      baseline_examples: dict[str, Sequence[Example]] | None = None,
                      on_predictions: Callable[[str, Sequence[Example], list[Prediction]], None] | None = None
                      ) -> dict[str, Any]:
    """Metrics per source (``task`` or ``task@dataset``), flattened as ``source/metric``.

    With ``baselines``, each source's trivial baseline (:func:`~vlseq.evaluation.baselines.baseline_scores`)
    is added as ``source/baseline/<metric>``; its priors (majority answer, mean box, ...) come from
    ``baseline_examples`` (the training examples, keyed by source or task), else from the evaluated
    examples themselves (then ``source/baseline/prior_from_eval`` is 1).

    With ``out_dir``, predictions are appended to ``out_dir/predictions.jsonl`` per task as
    they are computed. Image-output tasks (``processor`` holds the image tokenizer) add
    :func:`vlseq.evaluation.render_check.image_metrics`: render-and-check by the checker of the
    examples' world (trained once and cached beside the world's training split); ``categories``
    (the checkpoint's) serve only its optional model-as-judge checks.

    ``on_predictions(source, examples, predictions)`` is called with each source's predictions as
    soon as they are made (``vlseq eval --results`` writes them in a result format).
    """
    metrics: dict[str, Any] = {}
    pred_file = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        pred_file = (out_dir / "predictions.jsonl").open("a")
    try:
        for source, exs in examples.items():
            if not exs:
                continue
            task = processor.bind(get_task(task_of(source)))
            t0 = time.time()
            # Boxes get per-box scores: mAP ranks an object list by them, and result files
            # (vlseq eval --results) carry them for referring and grounding boxes too.
            preds = predict_examples(model, processor, task, exs, batch_size, constrained, num_beams,
                                     scores=num_beams == 1 and (task.writes_objects or task.output in ("box", "grounded")))
            if task.ranks_options:  # one log-likelihood per candidate, in batched forward passes
                for p, s in zip(preds, candidate_loglikelihoods(model, processor, task, exs, batch_size)):
                    p.scores = s
            if on_predictions is not None:
                on_predictions(source, exs, preds)
            if pred_file is not None:
                for ex, p in zip(exs, preds):
                    pred_file.write(json.dumps({"source": source, "image_id": ex.image_id, "prompt": task.prompt(ex, processor.bins),
                                                **p.to_json()}) + "\n")
                pred_file.flush()
            scores = task.evaluate(exs, preds)
            scores.update(identity_scores(task.name, exs, preds, model_grid(model)))
            if task.writes_image:
                from .render_check import image_metrics

                scores.update(image_metrics(model, processor, task, exs, preds, categories, batch_size))  # type: ignore[arg-type]
            n_err = sum(1 for p in preds if p.parsed.errors)
            scores["parse_error_rate"] = n_err / max(1, len(preds))
            scores["seconds"] = time.time() - t0  # the model's cost; the baseline's is not counted
            scores["n"] = len(preds)
            if baselines:
                prior = _prior_examples(source, baseline_examples)
                scores.update({f"baseline/{k}": v for k, v in baseline_scores(task, exs, prior, processor.bins).items()})
            for k, v in scores.items():
                metrics[f"{source}/{k}"] = v
            log.info("%s: %s", source, {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()
                                        if not k.startswith("identity/")})  # the identity table is format_identity's
    finally:
        if pred_file is not None:
            pred_file.close()
    return metrics


def _prior_examples(source: str, baseline_examples: dict[str, Sequence[Example]] | None) -> Sequence[Example] | None:
    """The prior examples of ``source``: its own entry, else its task's (a ``task@dataset`` source
    falls back to the task's training examples); None when there are none."""
    if not baseline_examples:
        return None
    return baseline_examples.get(source) or baseline_examples.get(task_of(source)) or None


def decodable_examples(processor: Processor, examples: Sequence[Example], report) -> list[Example]:
    """The examples whose images decode; each other one is logged and counted in ``report`` (a ReadReport).

    A truncated image passes the readers' header check and fails only at pixel decode, so skip mode
    decodes up front (the processor caches the pixels for generation).
    """
    from ..data.readers.validate import DataError, RecordGuard

    kept = []
    for ex in examples:
        try:
            for ref in ex.images:
                processor.image_array(ref)
        except DataError as e:
            RecordGuard(e.file, skip_bad=True, report=report).handle(
                DataError(e.file, ex.source or ex.image_id or None, e.problem, e.detail))
            continue
        kept.append(ex)
    return kept


def _sources(metrics: dict[str, Any]) -> list[str]:
    """The evaluated sources of a metrics dict: those with an example count ``source/n`` (a metric
    key may hold further slashes, e.g. ``vqa/accuracy/yes/no``), else each key's first part."""
    found = {k[: -len("/n")] for k in metrics if k.endswith("/n") and "/baseline/" not in k}
    return sorted(found or {k.split("/", 1)[0] for k in metrics})


def _baseline_cell(metrics: dict[str, Any], source: str, metric: str) -> str:
    """``0.412 majority answer`` (+ the closed-set chance level), or ``n/a`` where there is no baseline."""
    v = metrics.get(f"{source}/baseline/{metric}")
    chance = metrics.get(f"{source}/baseline/chance_{metric}")
    if v is None and chance is None:
        return "n/a"
    parts = [] if v is None else [f"{v:.3f} {baseline_kind(task_of(source))}"]
    if chance is not None:
        parts.append(f"{chance:.3f} chance")
    return "; ".join(parts)


def format_metrics(metrics: dict[str, Any]) -> str:
    """A markdown table: one row per source and headline metric, with the task's trivial baseline
    (:mod:`vlseq.evaluation.baselines`; ``n/a`` where none is meaningful), the parse-error rate and
    the example count. A note under the table names the sources whose baseline priors came from
    the evaluated examples themselves."""
    lines = ["| task | metric | value | baseline | parse errors | n |", "|---|---|---|---|---|---|"]
    from_eval = []
    for s in _sources(metrics):
        for m in headline(s):
            v = metrics.get(f"{s}/{m}")
            if v is not None:
                lines.append(f"| {s} | {m} | {v:.3f} | {_baseline_cell(metrics, s, m)} | "
                             f"{metrics.get(f'{s}/parse_error_rate', 0):.3f} | {metrics.get(f'{s}/n', '')} |")
        if metrics.get(f"{s}/baseline/prior_from_eval"):
            from_eval.append(s)
    if from_eval:
        lines += ["", f"Baseline priors (majority answer, mean box, ...) of {', '.join(from_eval)} come from the "
                      "evaluated examples themselves: no training data was at hand."]
    return "\n".join(lines)
