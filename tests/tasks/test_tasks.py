"""Tasks on literal strings: prompts, targets, grammars, parsing and scoring, without a model."""

from __future__ import annotations

import random

import pytest

from vlseq.codec import Phrase, parse
from vlseq.data import Example, Object
from vlseq.tasks import Prediction, get_task, task_names

W = H = 64
B = 64


def ex(task: str, **kw) -> Example:
    return Example(task=task, images=["x.png"], width=W, height=H, image_id="1", **kw)


def pred(task: str, seq: str, e: Example) -> Prediction:
    return get_task(task).parse(seq, e, B)


def test_registry_lists_every_task() -> None:
    assert task_names() == sorted(["caption", "vqa", "classify", "refexp", "ground", "grounded_caption", "detect",
                                   "localize", "region_caption", "segment", "instance_segment", "keypoints",
                                   "generate_image", "edit_image", "paragraph", "multiple_choice", "story",
                                   "dialog"])
    with pytest.raises(KeyError, match="unknown task"):
        get_task("nope")


def test_detect_target_random_order_at_train_position_order_at_test() -> None:
    e = ex("detect", objects=[Object("star", (40, 40, 60, 60)), Object("circle", (2, 3, 20, 21))], options=["circle", "star"])
    t = get_task("detect")
    assert t.prompt(e, B) == "detect: circle, star"
    assert t.target(e, B).startswith("<obj>circle<loc_2><loc_3><loc_20><loc_21></obj>")
    orders = {t.target(e, B, random.Random(s)).split("<loc")[0] for s in range(20)}
    assert orders == {"<obj>circle", "<obj>star"}
    spec = t.grammar(e)
    assert spec.kind == "objects" and spec.labels == ("circle", "star")
    p = pred("detect", t.target(e, B), e)
    assert [o[0] for o in p.objects] == ["circle", "star"]
    assert t.evaluate([e], [p])["map_50"] == pytest.approx(1.0)
    # the right boxes under swapped labels: no class AP, full class-agnostic AP (a classification failure)
    swapped = pred("detect", "<obj>star<loc_2><loc_3><loc_20><loc_21></obj><obj>circle<loc_40><loc_40><loc_60><loc_60></obj>", e)
    r = t.evaluate([e], [swapped])
    assert r["map_50"] == pytest.approx(0.0) and r["map_50_agnostic"] == pytest.approx(1.0)


def test_refexp_target_and_accuracy() -> None:
    e = ex("refexp", text="the  red circle", objects=[Object("circle", (10, 10, 30, 30))])
    t = get_task("refexp")
    assert t.target(e, B) == "<obj>the red circle<loc_10><loc_10><loc_30><loc_30></obj>"
    assert t.grammar(e).labels == ("the red circle",)
    hit = pred("refexp", "<obj> the red circle <loc_11> <loc_10> <loc_30> <loc_31> </obj>", e)
    miss = pred("refexp", "<obj>the red circle<loc_40><loc_40><loc_60><loc_60></obj>", e)
    assert t.evaluate([e, e], [hit, miss])["acc@0.5"] == 0.5
    assert t.evaluate([e], [pred("refexp", "garbage", e)])["acc@0.5"] == 0.0


def test_ground_recall_matches_phrases_by_text() -> None:
    text = "a red circle above a blue star"
    e = ex("ground", text=text, phrases=[Phrase(2, 12, ((10, 10, 30, 30),)), Phrase(21, 30, ((10, 40, 30, 60),))])
    t = get_task("ground")
    target = t.target(e, B)
    assert parse(target, W, H, B).text == text
    r = t.evaluate([e], [pred("ground", target, e)])
    assert r["recall@1"] == 1.0
    half = "a <obj>red circle<loc_10><loc_10><loc_30><loc_30></obj> above a blue star"
    assert t.evaluate([e], [pred("ground", half, e)])["recall@1"] == 0.5


def test_vqa_majority_target_and_accuracy() -> None:
    e = ex("vqa", text="how many circles?", answers=["2"] * 7 + ["two"] * 3, meta={"answer_type": "number"})
    t = get_task("vqa")
    assert t.target(e, B) == "2" and t.prompt(e, B) == "how many circles?"
    assert t.evaluate([e], [pred("vqa", "2", e)])["accuracy"] == pytest.approx(1.0)
    assert t.grammar(e).kind == "text"


def test_classify_options_in_prompt_and_choice_grammar() -> None:
    e = ex("classify", text="there is a red star", answers=["yes"], options=["yes", "no"])
    t = get_task("classify")
    assert t.prompt(e, B) == "there is a red star options: yes, no"
    assert t.grammar(e).kind == "choice" and t.grammar(e).labels == ("yes", "no")
    assert t.evaluate([e, e], [pred("classify", "yes", e), pred("classify", "no", e)])["accuracy"] == 0.5


def test_region_caption_prompt_carries_the_region() -> None:
    e = ex("region_caption", region=(8, 8, 24, 40), answers=["a small red circle"])
    assert get_task("region_caption").prompt(e, B) == "describe <loc_8><loc_8><loc_24><loc_40>"


def test_localize_one_box_of_the_class() -> None:
    e = ex("localize", text="star", objects=[Object("star", (0, 0, 10, 10)), Object("star", (30, 30, 50, 50))])
    t = get_task("localize")
    assert t.prompt(e, B) == "locate: star"
    second = pred("localize", "<obj>star<loc_30><loc_30><loc_50><loc_50></obj>", e)
    assert t.evaluate([e], [second])["acc@0.5"] == 1.0


def test_grounded_caption_scores() -> None:
    cap = "a red circle left of a blue star"
    e = ex("grounded_caption", answers=[cap], phrases=[Phrase(2, 12, ((10, 10, 30, 30),)), Phrase(23, 32, ((40, 10, 60, 30),))])
    t = get_task("grounded_caption")
    target = t.target(e, B)
    r = t.evaluate([e, e], [pred("grounded_caption", target, e)] * 2)
    assert r["f1_all"] == pytest.approx(1.0) and r["f1_loc"] == pytest.approx(1.0)


def test_check_names_the_record() -> None:
    e = ex("vqa", text="", answers=[])
    e.source = "vqa_questions.json:42"
    with pytest.raises(ValueError, match="vqa_questions.json:42"):
        get_task("vqa").check(e)
