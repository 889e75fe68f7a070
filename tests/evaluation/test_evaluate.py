"""Evaluation's generation budgets: every target of the synthetic world fits the budget it decodes under,
and the grammar's longest output gives every task of the registry the budget it had when it was
computed by hand."""

from __future__ import annotations

import dataclasses

import numpy as np

from vlseq.data.example import Example
from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render
from vlseq.data.world.stories import story_example
from vlseq.decoding.constrain import grammar_for, keypoint_ids
from vlseq.decoding.generate import max_new_tokens_for
from vlseq.processing import Processor
from vlseq.tasks import Task, get_task, task_names
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
    texts = [t for e in exs for t in (get_task(e.task).prompt(e, BINS), get_task(e.task).target(e, BINS), *e.answers,
                                      *e.options)]
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


def _hand_budget(task: Task, ex: Example, processor: Processor) -> int:
    """The generation budget as it was computed by hand, kind by kind, before the grammar was asked for
    its longest output: the reference that :func:`max_new_tokens_for` keeps."""
    limit = processor.max_target_tokens - 1
    spec = task.grammar(ex)
    if spec.kind == "choice":
        return min(limit, 2 + max(len(processor.tokenizer.encode(l)) for l in spec.labels))
    if spec.kind == "box":
        n = 8 + max(len(processor.tokenizer.label_ids(l)) for l in spec.labels)
        if spec.polygons:
            n += 2 + 2 * spec.max_polygon_points
        n += sum(len(ids) + 2 for ids in keypoint_ids(spec, processor.tokenizer) or ())
        return min(limit, n)
    if spec.kind == "text":  # long text (paragraphs, stories) says its length; other free text had 48
        return min(limit, spec.max_tokens or 48)
    if spec.kind == "image":
        return min(limit, spec.image_tokens + 1)
    return limit


def test_budgets_from_the_grammar_match_the_hand_computed_ones_on_every_task() -> None:
    cfg = WorldConfig(size=64)
    exs = []
    for s in range(10):
        scene = generate_scene(s, cfg)
        exs += examples_for_scene(scene, render(scene), np.random.default_rng(s), cfg, image_id=str(s))
    # the world makes no edits; an edit's budget depends on its task alone
    exs.append(dataclasses.replace(next(e for e in exs if e.task == "generate_image"), task="edit_image"))
    # a story spans several scenes (the writer makes it, not examples_for_scene)
    exs.append(next(made[0] for s in range(20) if (made := story_example(generate_scene(s, cfg), "x.png",
                                                                        np.random.default_rng(s), cfg)) is not None))
    texts = [t for e in exs if e.task not in IMAGE_TASKS
             for t in (get_task(e.task).prompt(e, BINS), get_task(e.task).target(e, BINS), *e.answers, *e.options)]
    tok = VLTokenizer.train(texts, num_bins=BINS, num_image_tokens=16)
    assert {e.task for e in exs} == set(task_names())
    # the target limits of the shipped configs (48 to 256) and this module's
    for limit in (48, 128, 192, 256):
        proc = Processor(tok, 64, BINS, max_target_tokens=limit)
        for e in exs:
            task = get_task(e.task)
            assert max_new_tokens_for(task, e, proc) == _hand_budget(task, e, proc), (e.task, limit)
    # Past every longest output, the one difference: an object list with max_objects, which the hand
    # computation gave the whole limit, gets its longest output (decoding under the grammar is the same).
    proc = Processor(tok, 64, BINS, max_target_tokens=8192)
    for e in exs:
        task, spec = get_task(e.task), get_task(e.task).grammar(e)
        budget = max_new_tokens_for(task, e, proc)
        if spec.kind == "objects" and spec.max_objects is not None:
            assert budget == grammar_for(spec, tok).max_to_finish() < 8191, e.task
        else:
            assert budget == _hand_budget(task, e, proc), e.task
