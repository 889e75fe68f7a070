"""The paragraph task on literal strings: prompt, target, grammar, parse, metric and baseline.

The scoring tests need Java (METEOR) and are skipped only where it is absent; they share one
METEOR process.
"""

from __future__ import annotations

import random
import shutil

import pytest

from vlseq.codec import Phrase, parse
from vlseq.data import Example
from vlseq.tasks import get_task, headline
from vlseq.tasks.paragraph import PARAGRAPH_TOKENS, grounded_paragraph, most_frequent_sentence, sentences

needs_java = pytest.mark.skipif(shutil.which("java") is None, reason="METEOR needs a Java runtime and none is installed")
W = H = 64
B = 64


def ex(paragraph: str, **kw) -> Example:
    return Example(task="paragraph", images=["x.png"], width=W, height=H, image_id="1", answers=[paragraph], **kw)


def test_prompt_target_grammar_and_parse():
    t = get_task("paragraph")
    e = ex("the image shows two shapes. a red circle is left of a blue star.")
    assert t.prompt(e, B) == "describe the image in detail."
    assert t.target(e, B) == e.answers[0] == t.target(e, B, random.Random(3))
    spec = t.grammar(e)
    assert spec.kind == "text" and spec.max_tokens == PARAGRAPH_TOKENS >= 100
    p = t.parse(t.target(e, B), e, B)
    assert p.text == e.answers[0] and not p.objects and not p.parsed.errors
    assert t.headline == headline("paragraph") == ("cider", "meteor")
    # markup spelled in a reference stays text
    odd = ex("a <obj> sign<loc_1> on a wall.")
    assert not parse(t.target(odd, B), W, H, B).phrases
    t.check(e)
    with pytest.raises(ValueError, match="needs a non-empty 'answers'"):
        t.check(Example(task="paragraph", images=["x.png"], width=W, height=H, source="p.json#image 7"))


def test_grounded_variant_of_the_same_paragraph():
    text = "there is a red circle. a red circle is above a blue star."
    e = ex(text, phrases=[Phrase(9, 21, ((4.0, 4.0, 20.0, 20.0),)), Phrase(23, 35, ((4.0, 4.0, 20.0, 20.0),)),
                          Phrase(45, 56, ((30.0, 40.0, 50.0, 60.0),))])
    seq = grounded_paragraph(e, B)
    assert seq.startswith("there is <obj>a red circle<loc_4><loc_4><loc_20><loc_20></obj>.")
    back = parse(seq, W, H, B)
    assert back.text == text and [back.phrase_text(p) for p in back.phrases] == ["a red circle", "a red circle",
                                                                                 "a blue star"]
    assert grounded_paragraph(ex(text), B) == text  # no phrases: the plain paragraph


def test_sentences_and_most_frequent_sentence():
    assert sentences(" a red circle.  two shapes!\nwhy? ") == ["a red circle.", "two shapes!", "why?"]
    paras = ["a red circle. Two  shapes.", "a blue star. two shapes.", "a red circle. two shapes. a cross."]
    assert most_frequent_sentence(paras) == "Two  shapes."  # 3 times, case and spacing ignored; first form kept
    assert most_frequent_sentence(["b. a.", "a. b."]) == "b."  # a tie: the first seen
    assert most_frequent_sentence([]) is None


@needs_java
def test_evaluate_and_baseline_by_hand():
    t = get_task("paragraph")
    exs = [ex("two red circles here."), ex("two red circles here."), ex("a blue star on the left.")]
    exact = [t.parse(t.target(e, B), e, B) for e in exs]
    r = t.evaluate(exs, exact)
    assert set(r) == {"cider", "meteor", "bleu4"}
    assert r["cider"] == pytest.approx(10.0) and r["meteor"] == pytest.approx(1.0) and r["bleu4"] == pytest.approx(1.0)
    # baseline: the most frequent sentence ("two red circles here.") for every image -> CIDEr 10, 10, 0
    b = t.baseline(exs)
    assert b["cider"] == pytest.approx(20 / 3) and 0 < b["meteor"] < 1
    assert b == t.evaluate(exs, [t.parse("two red circles here.", e, B) for e in exs])
    # from a prior (the training split): its most frequent sentence, scored on the examples
    prior = [ex("a blue star on the left. a cross."), ex("a blue star on the left.")]
    assert t.baseline(exs, prior=prior)["cider"] == pytest.approx(10 / 3)
    with pytest.raises(ValueError, match="no reference sentence"):
        t.baseline(exs, prior=[ex("   ")])


@needs_java
def test_evaluation_baseline_takes_its_sentence_from_the_training_examples():
    # the evaluation's baseline row used the evaluated examples even when the run had its training split
    from vlseq.evaluation.baselines import baseline_scores

    t = get_task("paragraph")
    exs = [ex("two red circles here."), ex("two red circles here."), ex("a blue star on the left.")]
    prior = [ex("a blue star on the left. a cross."), ex("a blue star on the left.")]
    s = baseline_scores(t, exs, prior, B)
    assert s["cider"] == pytest.approx(10 / 3) and s["prior_from_eval"] == 0.0 and s["prior_n"] == 2
    s = baseline_scores(t, exs, None, B)
    assert s["cider"] == pytest.approx(20 / 3) and s["prior_from_eval"] == 1.0 and s["prior_n"] == 3
