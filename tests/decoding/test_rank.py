"""candidate_loglikelihoods on a tiny random model: batched scores equal each candidate's
teacher-forced log-likelihood computed one by one, with or without the shared encoder pass."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import SIZE, make_checkpoint
from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render
from vlseq.decoding.rank import candidate_loglikelihoods
from vlseq.models.io import from_pretrained
from vlseq.processing import Processor
from vlseq.tasks import get_task


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    path = make_checkpoint(tmp_path_factory.mktemp("rank_ckpt"))
    model, tok, settings = from_pretrained(path)
    return model, Processor.from_settings(tok, settings)


def _rounds() -> list:
    cfg = WorldConfig(size=SIZE, max_objects=3)
    scene = generate_scene(5, cfg)
    return examples_for_scene(scene, render(scene), np.random.default_rng(5), cfg, tasks=["dialog"], image_id="5")[:2]


def one_by_one(model, processor, task, ex) -> list[float]:
    """Each candidate as the example's answer, encoded and scored alone by the model's plain forward."""
    out = []
    for option in ex.options:
        e = type(ex)(**{**ex.__dict__, "answers": [option]})
        batch = processor.collate([processor.encode(task, e)])
        with torch.no_grad():
            logits = model(**{k: v for k, v in batch.items() if k != "sample_weight"})["logits"]
        out.append(-F.cross_entropy(logits[0].float(), batch["labels"][0], ignore_index=-100, reduction="sum").item())
    return out


class Plain(torch.nn.Module):
    """The model behind the bare VLModel interface (no encoder access): the repeated-inputs path."""

    def __init__(self, model) -> None:
        super().__init__()
        self.inner = model

    def forward(self, **kw):
        return self.inner(**kw)


def test_batched_scores_equal_one_by_one(loaded):
    model, processor = loaded
    task = get_task("dialog")
    exs = _rounds()
    assert exs and all(len(e.options) > 7 for e in exs)
    model.train()  # scoring runs in eval mode and gives the mode back
    got = candidate_loglikelihoods(model, processor, task, exs, batch_size=7)
    assert model.training
    model.eval()
    for ex, scores in zip(exs, got):
        assert len(scores) == len(ex.options)
        assert scores == pytest.approx(one_by_one(model, processor, task, ex), abs=1e-4)
    plain = candidate_loglikelihoods(Plain(model), processor, task, exs, batch_size=5)
    assert all(p == pytest.approx(g, abs=1e-4) for p, g in zip(plain, got))
    # the scores rank: the task reads them from Prediction.scores
    from vlseq.tasks import Prediction

    preds = [Prediction("", task.parse("", e, processor.bins).parsed, scores=s) for e, s in zip(exs, got)]
    assert all(1 <= r <= len(e.options) for r, e in zip(task.ranks(exs, preds), exs))
    with pytest.raises(ValueError, match="batch_size"):
        candidate_loglikelihoods(model, processor, task, exs, batch_size=0)


def test_evaluation_ranks_a_dialog_round_by_its_candidates(loaded):
    """evaluate_examples scores every candidate (Task.ranks_options) and reports the ranking metrics."""
    from vlseq.evaluation.evaluate import evaluate_examples

    model, processor = loaded
    exs = _rounds()
    metrics = evaluate_examples(model, processor, {"dialog": exs}, baselines=False)
    assert {"dialog/mrr", "dialog/r@1", "dialog/r@10", "dialog/mean_rank"} <= set(metrics)
    ranks_possible = max(len(e.options) for e in exs)
    assert 0.0 < metrics["dialog/mrr"] <= 1.0 and 1.0 <= metrics["dialog/mean_rank"] <= ranks_possible
