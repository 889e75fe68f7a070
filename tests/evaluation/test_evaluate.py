"""Evaluation's generation budgets: every target of the synthetic world fits the budget it decodes under."""

from __future__ import annotations

import numpy as np

from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render
from vlseq.decoding.constrain import grammar_for
from vlseq.decoding.generate import max_new_tokens_for
from vlseq.processing import Processor
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer

BINS = 64
IMAGE_TASKS = ("generate_image", "edit_image")  # need an image tokenizer; their budget is the grid


def test_every_world_target_fits_its_budget_and_grammar() -> None:
    cfg = WorldConfig(size=64)
    exs = []
    for s in range(10):
        scene = generate_scene(s, cfg)
        exs += [e for e in examples_for_scene(scene, render(scene), np.random.default_rng(s), cfg, image_id=str(s))
                if e.task not in IMAGE_TASKS]
    texts = [t for e in exs for t in (get_task(e.task).prompt(e, BINS), get_task(e.task).target(e, BINS), *e.answers)]
    tok = VLTokenizer.train(texts, num_bins=BINS)
    proc = Processor(tok, 64, BINS, max_target_tokens=256)
    tasks = set()
    for e in exs:
        task = get_task(e.task)
        spec = task.grammar(e)
        if spec.kind not in ("box", "choice"):
            continue  # open-ended kinds decode up to the target limit
        body = proc.encode(task, e).target[1:]  # the target's ids and </s>
        budget = max_new_tokens_for(task, e, proc)
        g = grammar_for(spec, tok)
        assert g.accepts(body), (e.task, task.target(e, BINS))
        assert len(body) <= budget, (e.task, len(body), budget)
        assert g.min_to_finish(g.initial_state()) <= budget
        tasks.add(e.task)
    assert {"refexp", "localize", "segment", "classify"} <= tasks
