"""Answers written after the box of the object they are about (``point_answers``): the Processor's
targets, its decoding grammar and the parser agree, on the synthetic world's VQA examples through a
trained tokenizer; the answer read back is the plain answer."""

from __future__ import annotations

import pytest

from helpers import world_with_tokenizer
from vlseq.codec import parse
from vlseq.decoding.constrain import generation_budget, grammar_for
from vlseq.processing import Processor
from vlseq.tasks import get_task

BINS = 64


@pytest.fixture(scope="module")
def world():
    return world_with_tokenizer(12, ("vqa", "detect"), BINS)


def test_pointed_targets_fit_their_grammar_and_read_as_the_answer(world) -> None:
    exs, tok = world
    plain = Processor(tok, 64, BINS)
    pointed = Processor(tok, 64, BINS, point_answers=True)
    task = get_task("vqa")
    counts = {"pointed": 0, "plain": 0}
    for e in exs:
        if e.task != "vqa":
            continue
        body = pointed.encode(task, e).target[1:]
        spec = pointed.grammar_spec(task, e)
        assert spec.kind == "text" and spec.box_first
        assert grammar_for(spec, tok).accepts(body)
        read = parse(tok.decode_markup(body), e.width, e.height, BINS)
        plain_body = plain.encode(task, e).target[1:]
        assert not read.errors and read.text == parse(tok.decode_markup(plain_body), e.width, e.height, BINS).text
        assert task.verdict(e, task.parse(tok.decode_markup(body[:-1]), e, BINS))
        if task.referent(e) is None:  # a count or yes/no question: the same plain answer
            assert body == plain_body
            counts["plain"] += 1
        else:  # one object: its box first, then the answer at it
            assert body[0] == tok.special_ids["<obj>"] and tok.loc_offset <= body[1] < tok.loc_offset + BINS
            (_, box), = read.objects
            ref = task.referent(e)
            assert max(abs(a - b) for a, b in zip(box, ref)) <= e.width / BINS
            assert not grammar_for(plain.grammar_spec(task, e), tok).accepts(body)
            counts["pointed"] += 1
    assert counts["pointed"] >= 10 and counts["plain"] >= 10


def test_pointing_leaves_other_tasks_and_the_budget_room(world) -> None:
    exs, tok = world
    pointed = Processor(tok, 64, BINS, point_answers=True)
    det = next(e for e in exs if e.task == "detect")
    assert pointed.encode(get_task("detect"), det).target == Processor(tok, 64, BINS).encode(get_task("detect"), det).target
    assert not pointed.grammar_spec(get_task("detect"), det).box_first
    vqa = next(e for e in exs if e.task == "vqa")
    spec = pointed.grammar_spec(get_task("vqa"), vqa)
    assert generation_budget(spec, tok, 512) == generation_budget(Processor(tok, 64, BINS).grammar_spec(get_task("vqa"), vqa), tok, 512) + 6


def test_a_checkpoints_answer_form_comes_back(world) -> None:
    _, tok = world
    settings = {"image_size": 64, "num_bins": BINS, "max_prompt_tokens": 64, "max_target_tokens": 128,
                "train_config": {"point_answers": True}}
    assert Processor.from_settings(tok, settings).point_answers
    settings["train_config"] = {}  # a checkpoint from before the key
    assert not Processor.from_settings(tok, settings).point_answers


def test_evidence_targets_point_at_what_they_count_or_compare(world) -> None:
    """``point_evidence``: a count or yes/no answer is written after the box and label of each object
    its annotation names (none for a count of 0 or a "no" about something absent); it fits the same
    grammar, and the answer read back is the plain answer, not the labels."""
    exs, tok = world
    plain = Processor(tok, 64, BINS)
    evid = Processor(tok, 64, BINS, point_answers=True, point_evidence=True)
    task = get_task("vqa")
    kinds: dict[str, int] = {}
    for e in exs:
        if e.task != "vqa":
            continue
        body = evid.encode(task, e).target[1:]
        assert grammar_for(evid.grammar_spec(task, e), tok).accepts(body)
        pred = task.parse(tok.decode_markup(body[:-1]), e, BINS)
        assert not pred.parsed.errors and task.verdict(e, pred)
        found = task.evidence(e)
        if task.referent(e) is not None:  # one object asked of: as without evidence
            assert body == Processor(tok, 64, BINS, point_answers=True).encode(task, e).target[1:]
            continue
        qt = e.meta["question_type"]
        assert qt in ("count", "exists", "relation")
        if not found:
            assert body == plain.encode(task, e).target[1:]
            continue
        kinds[qt] = kinds.get(qt, 0) + 1
        assert pred.text == e.answers[0]
        assert [lab for lab, _ in pred.objects] == [lab for lab, _ in found]
        for (_, got), (_, want) in zip(pred.objects, found):
            assert max(abs(a - b) for a, b in zip(got, want)) <= e.width / BINS
        if qt == "count":
            assert len(found) == int(e.answers[0])
        assert len(body) <= generation_budget(evid.grammar_spec(task, e), tok, 512)
    assert set(kinds) == {"count", "exists"}, kinds


def test_an_answer_after_its_evidence_parses_as_the_answer(world) -> None:
    """The answer is the text after the last object; one object and no text after it: its words."""
    exs, tok = world
    task = get_task("vqa")
    e = next(x for x in exs if x.task == "vqa")
    two = "<obj><loc_1><loc_2><loc_9><loc_9> circle</obj><obj><loc_20><loc_20><loc_30><loc_30> star</obj> yes"
    assert task.parse(two, e, BINS).text == "yes"
    assert [lab for lab, _ in task.parse(two, e, BINS).objects] == ["circle", "star"]
    assert task.parse("<obj><loc_1><loc_2><loc_9><loc_9> red</obj>", e, BINS).text == "red"
    assert task.parse("no", e, BINS).text == "no"
    assert task.parse(two, e, BINS).to_json()["text"] == "yes"


def test_a_checkpoints_evidence_form_comes_back(world) -> None:
    _, tok = world
    settings = {"image_size": 64, "num_bins": BINS, "max_prompt_tokens": 64, "max_target_tokens": 128,
                "train_config": {"point_answers": True, "point_evidence": True}}
    assert Processor.from_settings(tok, settings).point_evidence
    settings["train_config"] = {"point_answers": True}
    assert not Processor.from_settings(tok, settings).point_evidence
