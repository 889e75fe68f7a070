"""Grammar-constrained generation: one batch of examples in, one parsed Prediction per example out."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from transformers import LogitsProcessor

from ..data.example import Example
from ..processing import Processor
from ..tasks import Prediction, Task
from .boxes import box_scores
from .constrain import generation_budget, grammar_for
from .grammar_processor import GrammarLogitsProcessor


def max_new_tokens_for(task: Task, ex: Example, processor: Processor) -> int:
    """Generation budget: the longest output the example's grammar accepts, never past the target
    limit (see :func:`~vlseq.decoding.constrain.generation_budget`)."""
    return generation_budget(processor.grammar_spec(task, ex), processor.tokenizer, processor.max_target_tokens - 1)


class ChosenTokenProbs(LogitsProcessor):
    """Records the probability each generated token had under the final decoding distribution.

    Put it last in the logits processors (after the grammar), greedy decoding only. Each call
    sees the token chosen at the previous step (``input_ids[:, -1]``) and the distribution it was
    chosen from; :meth:`probs` adds the last step. The numbers are those of generate's
    ``output_scores`` after a softmax, without keeping (steps, batch, vocab) scores in memory, and
    it works for any model whose ``generate`` takes logits processors.
    """

    def __init__(self) -> None:
        self.steps: list[torch.Tensor] = []
        self._prev: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._prev is not None:
            self.steps.append(self._prev.gather(1, input_ids[:, -1:]).squeeze(1))
        self._prev = torch.softmax(scores.float(), dim=-1)
        return scores

    def probs(self, ids: torch.Tensor) -> torch.Tensor | None:
        """(B, T-1) probabilities of ``ids[:, 1:]`` (the returned rows after the start token);
        None when the steps recorded do not line up with the row length."""
        if self._prev is None:
            return None
        last = self._prev.gather(1, ids[:, -1:].to(self._prev.device)).squeeze(1)
        out = torch.stack(self.steps + [last], dim=1)
        return out if out.shape[1] == ids.shape[1] - 1 else None


@torch.no_grad()
def generate_predictions(model, processor: Processor, task: Task, examples: Sequence[Example], constrained: bool = True,
                         num_beams: int = 1, scores: bool = False, seed: int = 0) -> list[Prediction]:
    """Generate and parse one batch: one prediction per example, in the order given.

    With ``scores`` (greedy decoding only), each prediction gets per-box scores
    (:func:`box_scores`): the probabilities under the decoding distribution, i.e. after the
    grammar's mask (:class:`ChosenTokenProbs`), when their count matches the parsed boxes.

    A task that samples its outputs (:attr:`~vlseq.tasks.Task.sampling`, with one beam) draws them
    from ``seed`` on a forked random state: the same call gives the same outputs, and a caller's
    random stream (a training run's) is left where it was.
    """
    model.eval()
    device = next(model.parameters()).device
    chunk = list(examples)
    batch = processor.collate([processor.encode(task, ex, with_target=False) for ex in chunk])
    batch = {k: v.to(device) for k, v in batch.items()}
    budget = max(max_new_tokens_for(task, ex, processor) for ex in chunk)
    procs: list[Any] = []
    if constrained:
        grammars = [grammar_for(processor.grammar_spec(task, ex), processor.tokenizer) for ex in chunk]
        procs = [GrammarLogitsProcessor(grammars, prompt_length=1, max_new_tokens=budget)]
    sampling = dict(task.sampling or {}) if num_beams == 1 else {}
    recorder = ChosenTokenProbs() if scores and num_beams == 1 and not sampling else None
    if recorder is not None:
        procs.append(recorder)
    with torch.random.fork_rng(devices=[], enabled=bool(sampling)):  # greedy decoding draws nothing
        if sampling:
            torch.manual_seed(seed)
        ids = model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"],
                             logits_processor=procs, max_new_tokens=budget, num_beams=num_beams, **sampling)
    probs = recorder.probs(ids) if recorder is not None else None
    rows = probs.tolist() if probs is not None else None
    preds: list[Prediction] = []
    for b, (ex, row) in enumerate(zip(chunk, ids.tolist())):
        pred = task.parse(processor.decode(row[1:]), ex, processor.bins)
        if rows is not None:
            per_box = box_scores(row[1:], rows[b], processor.tokenizer)
            if len(per_box) == len(pred.objects):
                pred.scores = per_box
        preds.append(pred)
    return preds


def predict_examples(model, processor: Processor, task: Task, examples: Sequence[Example], batch_size: int = 32,
                     constrained: bool = True, num_beams: int = 1, scores: bool = False, seed: int = 0) -> list[Prediction]:
    """Generate and parse one prediction per example (rows in the order given), ``batch_size`` at a time.

    ``scores``: add per-box scores where greedy decoding gives them (see :func:`generate_predictions`).
    ``seed``: of a sampling task's draws, batch ``k`` drawing from ``seed + k``.
    """
    preds: list[Prediction] = []
    for k, i in enumerate(range(0, len(examples), batch_size)):
        preds.extend(generate_predictions(model, processor, task, examples[i : i + batch_size], constrained, num_beams,
                                          scores, seed + k))
    return preds
