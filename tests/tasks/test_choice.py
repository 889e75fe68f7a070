"""The multiple_choice task (VCR) on literal examples: both stages' prompts (tags as boxes), targets,
the choice grammar, parsing, Q->A / QA->R / Q->AR and the uniform-guess baseline."""

from __future__ import annotations

import math
import random

import pytest

from vlseq.codec import parse
from vlseq.data import Example, Object
from vlseq.data.tagged import render_plain
from vlseq.tasks import get_task, headline

W = H = 64
B = 64
OBJECTS = [Object("circle", (0.0, 0.0, 16.0, 16.0)), Object("star", (32.0, 32.0, 64.0, 64.0))]
QUESTION = ["what", "color", "is", "the", [0], "?"]
ANSWERS = [["the", [0], "is", c, "."] for c in ("red", "blue", "green", "white")]
RATIONALES = [["the", [0], "is", "left", "of", "the", [1], "."], ["the", [1], "is", "red", "."],
              ["the", [0], "is", "at", "the", "bottom", "."], ["the", [0, 1], "are", "blue", "."]]


def mc(stage: str, qid: str = "q1", label: int = 0, objects: list[Object] | None = None) -> Example:
    choices = ANSWERS if stage == "qa" else RATIONALES
    labels = [o.label for o in OBJECTS]
    options = [render_plain(c, labels) for c in choices]
    meta = {"stage": stage, "qid": qid, "label": label, "question_tokens": QUESTION, "choice_tokens": choices}
    if stage == "qar":
        meta.update(answer_tokens=ANSWERS[0], answer="the circle is red.")
    return Example(task="multiple_choice", images=["x.png"], width=W, height=H, image_id="1",
                   text="what color is the circle?", options=options, answers=[options[label]],
                   objects=list(OBJECTS if objects is None else objects), meta=meta, source=f"vcr.jsonl#{qid}")


def test_prompts_show_tagged_objects_as_boxes():
    t = get_task("multiple_choice")
    qa, qar = mc("qa"), mc("qar")
    assert t.prompt(qa, B) == ("what color is the circle<loc_0><loc_0><loc_16><loc_16>? answers: (a) the circle is red. "
                               "(b) the circle is blue. (c) the circle is green. (d) the circle is white.")
    assert t.prompt(qar, B) == ("what color is the circle<loc_0><loc_0><loc_16><loc_16>? answer: the "
                                "circle<loc_0><loc_0><loc_16><loc_16> is red. rationales: (a) the circle is left of the "
                                "star. (b) the star is red. (c) the circle is at the bottom. (d) the circle and star "
                                "are blue.")
    # without boxes (a VCR record without metadata) the tags are plain labels; without tokens, the plain text
    plain = mc("qa", objects=[])
    plain.meta["object_labels"] = ["circle", "star"]
    assert t.prompt(plain, B).startswith("what color is the circle? answers: (a)")
    bare = mc("qa")
    bare.meta = {}
    assert t.prompt(bare, B).startswith("what color is the circle? answers: (a) the circle is red.")
    # VCR's numbered tags
    numbered = mc("qa", objects=[])
    numbered.meta.update(object_labels=["person", "person"], numbered=True)
    assert t.prompt(numbered, B).startswith("what color is the person 1? answers:")


def test_target_grammar_and_parse():
    t = get_task("multiple_choice")
    qa = mc("qa", label=2)
    assert t.target(qa, B) == "the circle is green." == t.target(qa, B, random.Random(1))
    spec = t.grammar(qa)
    assert spec.kind == "choice" and spec.labels == tuple(qa.options) and len(spec.labels) == 4
    assert t.target(qa, B) in spec.labels
    p = t.parse(t.target(qa, B), qa, B)
    assert p.text == "the circle is green." and not parse(t.target(qa, B), W, H, B).errors
    assert t.headline == headline("multiple_choice") == ("q_ar", "q_a", "qa_r")


def test_check_names_the_record():
    t = get_task("multiple_choice")
    t.check(mc("qa"))
    t.check(mc("qar"))
    bad = mc("qa")
    bad.meta["stage"] = "why"
    with pytest.raises(ValueError, match=r"vcr.jsonl#q1: multiple_choice meta\['stage'\]"):
        t.check(bad)
    off = mc("qa")
    off.answers = ["the circle is purple."]
    with pytest.raises(ValueError, match="is not one of its options"):
        t.check(off)
    lost = mc("qar")
    del lost.meta["answer"], lost.meta["answer_tokens"]
    with pytest.raises(ValueError, match="needs the right answer"):
        t.check(lost)


def test_evaluate_by_hand_and_baseline():
    t = get_task("multiple_choice")
    # q1: both right; q2: answer right, rationale wrong; q3: answer wrong, rationale right
    exs = [mc("qa", "q1"), mc("qar", "q1"), mc("qa", "q2", 1), mc("qar", "q2", 3), mc("qa", "q3", 2), mc("qar", "q3")]
    outs = [exs[0].answers[0], exs[1].answers[0], exs[2].answers[0], exs[3].options[0], exs[4].options[0],
            exs[5].answers[0]]
    preds = [t.parse(o, e, B) for o, e in zip(outs, exs)]
    r = t.evaluate(exs, preds)
    assert r == pytest.approx({"q_ar": 1 / 3, "q_a": 2 / 3, "qa_r": 2 / 3})
    assert t.evaluate(exs, [t.parse(e.answers[0], e, B) for e in exs]) == {"q_ar": 1.0, "q_a": 1.0, "qa_r": 1.0}
    assert t.baseline(exs) == {"q_ar": 0.0625, "q_a": 0.25, "qa_r": 0.25}
    # answer stages only: Q->AR has nothing to count
    only = t.evaluate(exs[::2], preds[::2])
    assert only["q_a"] == pytest.approx(2 / 3) and math.isnan(only["qa_r"]) and math.isnan(only["q_ar"])
    with pytest.raises(ValueError, match="has two 'qa' examples"):
        t.evaluate([exs[0], exs[0]], [preds[0], preds[0]])
