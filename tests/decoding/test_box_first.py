"""Detection written box first (``box_first``): the Processor's targets, its decoding grammar and the
parser agree, on the synthetic world's detection examples through a trained tokenizer."""

from __future__ import annotations

import pytest

from helpers import world_with_tokenizer
from vlseq.codec import parse
from vlseq.decoding.constrain import grammar_for
from vlseq.processing import Processor
from vlseq.tasks import get_task

BINS = 64


@pytest.fixture(scope="module")
def world():
    return world_with_tokenizer(12, ("detect", "instance_segment"), BINS)


def test_box_first_targets_fit_their_grammar_and_read_as_label_first(world) -> None:
    exs, tok = world
    first = Processor(tok, 64, BINS, max_target_tokens=256, object_order="position")
    last = Processor(tok, 64, BINS, max_target_tokens=256, object_order="position", box_first=True)
    n = 0
    for e in exs:
        if e.task != "detect":
            continue
        task = get_task(e.task)
        body = last.encode(task, e).target[1:]
        assert body[0] == tok.special_ids["<obj>"] and tok.loc_offset <= body[1] < tok.loc_offset + BINS
        assert grammar_for(last.grammar_spec(task, e), tok).accepts(body)
        assert not grammar_for(first.grammar_spec(task, e), tok).accepts(body)
        read_last = parse(tok.decode_markup(body), e.width, e.height, BINS)
        read_first = parse(tok.decode_markup(first.encode(task, e).target[1:]), e.width, e.height, BINS)
        assert read_last == read_first and not read_last.errors and len(read_last.objects) == len(e.objects)
        n += 1
    assert n >= 10


def test_label_last_leaves_tasks_with_polygons_label_first(world) -> None:
    exs, tok = world
    proc = Processor(tok, 64, BINS, max_target_tokens=256, box_first=True)
    e = next(e for e in exs if e.task == "instance_segment")
    task = get_task(e.task)
    spec = proc.grammar_spec(task, e)
    assert not spec.box_first and spec.polygons
    body = proc.encode(task, e).target[1:]
    assert tok.loc_offset > body[1] or body[1] >= tok.loc_offset + BINS  # a label token after <obj>
    assert grammar_for(spec, tok).accepts(body)


def test_a_checkpoints_label_position_comes_back(world) -> None:
    _, tok = world
    settings = {"image_size": 64, "num_bins": BINS, "max_prompt_tokens": 64, "max_target_tokens": 128,
                "train_config": {"box_first": True, "object_order": "position"}}
    assert Processor.from_settings(tok, settings).box_first
    settings["train_config"] = {"label_last": True, "object_order": "position"}  # the key's name before 0.2
    assert Processor.from_settings(tok, settings).box_first
    settings["train_config"] = {"object_order": "position"}  # a checkpoint from before the key
    assert not Processor.from_settings(tok, settings).box_first
