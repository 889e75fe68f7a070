"""The story and dialog tasks on literal strings: prompt, target, grammar, parse, metric and baseline.

The story scores need Java (METEOR) and are skipped only where it is absent.
"""

from __future__ import annotations

import shutil

import pytest

from vlseq.codec import parse
from vlseq.data import Example
from vlseq.tasks import Prediction, get_task, headline
from vlseq.tasks.story import STORY_TOKENS, TINY_STORY_ENCODER_TOKENS, repeated_sentence

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs a Java runtime and none is installed")
W = H = 64
B = 64


def story(text: str, images: int = 3) -> Example:
    return Example(task="story", images=[f"{k}.png" for k in range(images)], width=W, height=H, image_id="1",
                   answers=[text])


def round_(question: str, answer: str, options: list[str], history=(), caption: str = "a red circle.") -> Example:
    return Example(task="dialog", images=["x.png"], width=W, height=H, image_id="1", text=question, answers=[answer],
                   options=options, meta={"caption": caption, "history": list(history),
                                          **({"gt_index": options.index(answer)} if answer in options else {})})


def test_story_prompt_target_grammar_and_parse():
    t = get_task("story")
    e = story("a red circle. the circle moved up. a star appeared.")
    assert t.prompt(e, B) == "tell the story of these images."
    assert t.target(e, B) == e.answers[0]
    spec = t.grammar(e)
    assert spec.kind == "text" and spec.max_tokens == STORY_TOKENS >= 84
    p = t.parse(t.target(e, B), e, B)
    assert p.text == e.answers[0] and not p.objects
    assert t.headline == headline("story") == ("cider", "meteor")
    assert TINY_STORY_ENCODER_TOKENS == 5 * 8 * 8 + 7
    assert repeated_sentence("a cat.", 3) == "a cat. a cat. a cat."
    with pytest.raises(ValueError, match="needs a non-empty 'answers'"):
        t.check(Example(task="story", images=["a.png"], width=W, height=H))


@needs_java
def test_story_evaluate_and_baseline_by_hand():
    t = get_task("story")
    exs = [story("a cat. a dog.", 2), story("a cat. a cat. a bird.", 3)]
    exact = t.evaluate(exs, [t.parse(e.answers[0], e, B) for e in exs])
    assert exact["cider"] == pytest.approx(10.0) and exact["meteor"] == pytest.approx(1.0)
    # baseline: the most frequent sentence ("a cat.", 3 times) once per image: "a cat. a cat." and "a cat. a cat. a cat."
    b = t.baseline(exs)
    assert b == t.evaluate(exs, [t.parse("a cat. a cat.", exs[0], B), t.parse("a cat. a cat. a cat.", exs[1], B)])
    assert 0 < b["cider"] < 10 and 0 < b["meteor"] < 1


def test_dialog_prompt_puts_the_question_first_and_the_newest_round_next():
    t = get_task("dialog")
    e = round_("is it red?", "yes", ["no", "yes"], history=[("how many shapes are there?", "1"),
                                                           ["what shape is it?", "circle"]])
    assert t.prompt(e, B) == ("is it red? caption: a red circle. history: what shape is it? circle. "
                              "how many shapes are there? 1.")
    assert t.prompt(round_("is it red?", "yes", ["yes"], caption=""), B) == "is it red?"
    assert t.target(e, B) == "yes" and t.grammar(e).kind == "choice" and t.grammar(e).labels == ("no", "yes")
    assert t.grammar(round_("q?", "a", [])).kind == "text"
    assert t.headline == headline("dialog") == ("mrr", "r@1", "r@5", "r@10", "mean_rank")
    t.check(e)
    bad = round_("q?", "yes", ["no", "yes"])
    bad.meta["gt_index"] = 0
    with pytest.raises(ValueError, match="gt_index 0 does not point at the answer"):
        t.check(bad)
    bad.meta.update(gt_index=1, history=[("only a question",)])
    with pytest.raises(ValueError, match=r"meta\['history'\]\[0\] must be a \(question, answer\) pair"):
        t.check(bad)


def _pred(text: str, scores=()) -> Prediction:
    return Prediction(text, parse(text, W, H, B), scores=list(scores))


def test_dialog_evaluate_by_hand_with_and_without_scores():
    t = get_task("dialog")
    opts = ["yes", "no", "2", "red"]
    exs = [round_("q1?", "yes", opts), round_("q2?", "2", opts), round_("q3?", "red", opts), round_("q4?", "no", opts)]
    preds = [_pred("yes", [-0.1, -2.0, -3.0, -4.0]),  # rank 1
             _pred("no", [-0.5, -0.2, -1.0, -9.0]),  # "2" after "no" and "yes": rank 3
             _pred("Red"),  # no scores, generated the answer (case ignored): rank 1
             _pred("yes")]  # no scores, another candidate: last (4)
    assert t.ranks(exs, preds) == [1, 3, 1, 4]
    r = t.evaluate(exs, preds)
    assert r["mrr"] == pytest.approx((1 + 1 / 3 + 1 + 1 / 4) / 4)
    assert (r["r@1"], r["r@5"], r["r@10"], r["mean_rank"]) == (0.5, 1.0, 1.0, 9 / 4)
    with pytest.raises(ValueError, match="2 predictions for 4 examples"):
        t.evaluate(exs, preds[:2])


def test_dialog_baseline_ranks_by_answer_frequency():
    t = get_task("dialog")
    opts = ["yes", "no", "2", "red"]
    exs = [round_("a?", "yes", opts), round_("b?", "yes", opts), round_("c?", "no", opts), round_("d?", "red", opts)]
    # counts: yes 2, no 1, red 1, 2 0 -> ranks: yes 1, yes 1, no 3 (tied with red, ranked after it), red 3
    r = t.baseline(exs)
    assert r["mrr"] == pytest.approx((1 + 1 + 1 / 3 + 1 / 3) / 4) and r["mean_rank"] == 2.0
    # from a prior where "red" is the most frequent answer
    prior = [round_("x?", "red", opts), round_("y?", "red", opts), round_("z?", "no", opts)]
    assert t.baseline(exs, prior=prior)["r@1"] == 0.25
