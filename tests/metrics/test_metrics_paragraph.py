"""Paragraph metrics: METEOR through pycocoevalcap's jar (same numbers, clear failures) and
paragraph_scores (CIDEr-D, METEOR, BLEU) on hand-checked cases.

The tests that score start one METEOR JVM for the whole session (about 17 s on a loaded 2-core
machine) and one more for pycocoevalcap's own wrapper; they are skipped only where Java is absent.
The failure tests run everywhere.
"""

from __future__ import annotations

import shutil

import pytest

from vlseq.metrics import MeteorError, MeteorScorer, paragraph_scores
from vlseq.metrics import meteor as meteor_mod

HAS_JAVA = shutil.which("java") is not None
needs_java = pytest.mark.skipif(not HAS_JAVA, reason="METEOR needs a Java runtime and none is installed")

REFS = {1: ["a large red circle is to the left of a small blue star"],
        2: ["two green squares sit at the top of the image", "there are two green squares at the top"],
        3: ["the background is striped and a white cross is in the center"]}
PREDS = {1: "a large red circle is left of a blue star", 2: "two squares at the top", 3: "a purple hexagon"}


@needs_java
def test_meteor_matches_pycocoevalcap_and_hand_values():
    from pycocoevalcap.meteor.meteor import Meteor

    ours, per = meteor_mod.meteor_tokenized(REFS, PREDS)
    theirs_scorer = Meteor()
    theirs, theirs_per = theirs_scorer.compute_score(REFS, {k: [v] for k, v in PREDS.items()})
    assert ours == pytest.approx(theirs, abs=1e-12)
    assert [per[k] for k in REFS] == pytest.approx(theirs_per, abs=1e-12)
    # hand values: a candidate equal to its reference scores 1, one sharing no word (or empty) scores 0,
    # and the corpus score of identical candidates is 1
    same, per = meteor_mod.meteor_tokenized({1: ["a red circle"], 2: ["two blue stars"]},
                                            {1: "a red circle", 2: "two blue stars"})
    assert same == pytest.approx(1.0) and per == pytest.approx({1: 1.0, 2: 1.0})
    none, per = meteor_mod.meteor_tokenized({1: ["a red circle"], 2: ["two blue stars"]}, {1: "zebra", 2: ""})
    assert none == 0.0 and per == {1: 0.0, 2: 0.0}
    # protocol characters in the data do not break the exchange
    odd, _ = meteor_mod.meteor_tokenized({1: ["a ||| red\ncircle"]}, {1: "a red circle"})
    assert odd == pytest.approx(1.0)


@needs_java
def test_paragraph_scores_hand_computed():
    refs = {1: ["two red circles here."], 2: ["two red circles here."], 3: ["a blue star on the left."]}
    exact = paragraph_scores({k: v[0] for k, v in refs.items()}, refs, tokenizer="python")
    # every candidate equals its reference: CIDEr-D 10 per image (cosine 1 at n = 1..4, no length
    # penalty), BLEU-4 1 and METEOR 1
    assert exact["cider"] == pytest.approx(10.0) and exact["bleu_4"] == pytest.approx(1.0, abs=1e-6)
    assert exact["meteor"] == pytest.approx(1.0)
    # the first paragraph for all three: 10, 10 and 0 (no shared n-gram with image 3)
    same = paragraph_scores({k: refs[1][0] for k in refs}, refs, tokenizer="python")
    assert same["cider"] == pytest.approx(20 / 3)
    assert 0.0 < same["meteor"] < 1.0 and set(same) == {"cider", "meteor", "bleu_1", "bleu_2", "bleu_3", "bleu_4"}
    with pytest.raises(ValueError, match="no prediction"):
        paragraph_scores({1: "x"}, refs, tokenizer="python")
    with pytest.raises(ValueError, match="must be a list"):
        paragraph_scores({1: "x"}, {1: "a paragraph, not a list"}, tokenizer="python")


def test_missing_java_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(meteor_mod.shutil, "which", lambda name: None)
    with pytest.raises(MeteorError, match="METEOR needs a Java runtime: no 'java' executable on PATH"):
        MeteorScorer()
    # the shared scorer (what paragraph_scores uses) says the same instead of returning a number
    monkeypatch.setattr(meteor_mod, "_shared", None)
    with pytest.raises(MeteorError, match="needs a Java runtime"):
        paragraph_scores({1: "a red circle"}, {1: ["a red circle"]}, tokenizer="python")


def test_a_process_that_hangs_or_answers_nonsense_is_an_error():
    # a stand-in that never answers: the timeout kills it and the error says so
    with MeteorScorer(timeout=1.0, command=("sleep", "30")) as s:
        with pytest.raises(MeteorError, match=r"no answer within 1 s"):
            s.score({1: ["a b"]}, {1: "a b"})
        with pytest.raises(MeteorError, match="not running"):  # a dead process stays an error, not a hang
            s.score({1: ["a b"]}, {1: "a b"})
    # a stand-in that answers every line with "y": answers that are not scores
    with MeteorScorer(timeout=10.0, command=("yes",)) as s:
        with pytest.raises(MeteorError, match="not scores"):
            s.score({1: ["a b"]}, {1: "a b"})
    # one that answers one line per request (an echo) leaves the corpus score unanswered: a timeout
    with MeteorScorer(timeout=1.0, command=("cat",)) as s:
        with pytest.raises(MeteorError, match="computing the corpus score: no answer within 1 s"):
            s.score({1: ["a b"]}, {1: "a b"})


@needs_java
def test_a_jar_that_fails_to_start_reports_its_stderr():
    with MeteorScorer(timeout=60.0, command=("java", "-jar", "no-such-meteor.jar")) as s:
        with pytest.raises(MeteorError) as e:
            s.score({1: ["a b"]}, {1: "a b"})
    msg = str(e.value)
    assert "exited with status" in msg and "no-such-meteor.jar" in msg and "stderr ends" in msg
