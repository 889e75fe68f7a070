"""Caption metrics (CIDEr-D, BLEU) and the PTB tokenisation with its pure-Python fallback.

Java is called three times at most (about 0.3 s each); every other test uses the Python
tokenizer.
"""

import math
import shutil
import warnings

import pytest

from vlseq.metrics import caption_scores, leave_one_out_cider, ptb_tokenize_python, ptb_tokenizer, tokenize_sentences

HAS_JAVA = shutil.which("java") is not None

SAMPLE = [
    "A man, riding a horse.",
    "",
    "Don't stop: it's a black-and-white photo (1,000 people) at 5:30pm, $5 & 10%... OK?",
    "The man's hat is on the table; it's brown!",
    "a close-up of a pizza with cheese , tomatoes and basil .",
    "Is this a 'real' photo?  The sign says \"STOP\".",
    "Kids play soccer at 3 p.m. in the U.S. -- dogs' toys [sq] {cu} I'm we're won't",
    "Two people; one is running!! we 'll see it 's ok",
]


def test_python_tokenizer_rules():
    assert ptb_tokenize_python("A man, riding a horse.") == "a man riding a horse"
    assert ptb_tokenize_python("Don't can't it's") == "do n't ca n't it 's"
    assert ptb_tokenize_python("a (red) ball costs $5") == "a -lrb- red -rrb- ball costs $ 5"
    assert ptb_tokenize_python("3.5 black-and-white 1,000 5:30") == "3.5 black-and-white 1,000 5:30"
    assert ptb_tokenize_python('a "quoted" and \'single\' word - ok...') == "a quoted and single word ok"


@pytest.mark.skipif(not HAS_JAVA, reason="needs java")
def test_python_tokenizer_matches_java_ptb():
    java = tokenize_sentences(SAMPLE, backend="java")
    assert java == [ptb_tokenize_python(s) for s in SAMPLE]


def test_fallback_warns_once_when_java_missing(monkeypatch):
    monkeypatch.setattr(ptb_tokenizer.shutil, "which", lambda name: None)
    monkeypatch.setattr(ptb_tokenizer, "_java_ok", None)
    monkeypatch.setattr(ptb_tokenizer, "_warned", False)
    with pytest.warns(RuntimeWarning, match="Java PTBTokenizer unavailable"):
        out = tokenize_sentences(["A dog."], backend="auto")
    assert out == ["a dog"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second call must not warn again
        assert tokenize_sentences(["Two cats!"]) == ["two cats"]
    with pytest.raises(RuntimeError, match="Java PTBTokenizer failed"):
        tokenize_sentences(["x"], backend="java")


@pytest.mark.skipif(not HAS_JAVA, reason="needs java")
def test_identical_candidate_scores_cider_10_bleu_1():
    refs = {1: ["a man riding a horse"] * 3, 2: ["two dogs playing in the snow"] * 3}
    preds = {1: "A man riding a horse.", 2: "Two dogs playing in the snow"}
    out = caption_scores(preds, refs, tokenizer="java")
    assert out["cider"] == pytest.approx(10.0)
    assert out["bleu_4"] == pytest.approx(1.0, abs=1e-6)


def test_cider_corpus_hand_values():
    refs = {1: ["a man riding a horse"] * 3, 2: ["two dogs playing in the snow"] * 3}
    # an empty caption scores 0, a perfect one 10: mean 5
    assert caption_scores({1: "", 2: "two dogs playing in the snow"}, refs, "python")["cider"] == pytest.approx(5.0)
    # one image: every IDF is log(1) - log(1) = 0, so CIDEr is 0 whatever the caption
    assert caption_scores({1: "a man riding a horse"}, {1: refs[1]}, "python")["cider"] == 0.0


def test_bleu_hand_computed():
    out = caption_scores({1: "the cat sat on mat"}, {1: ["the cat sat on the mat"]}, "python")
    # precisions 5/5, 3/4, 2/3, 1/2; brevity penalty exp(1 - 6/5)
    assert out["bleu_1"] == pytest.approx(math.exp(-0.2), rel=1e-6)
    assert out["bleu_4"] == pytest.approx(math.exp(-0.2) * (1 * 3 / 4 * 2 / 3 * 1 / 2) ** 0.25, rel=1e-6)


def test_leave_one_out_cider_toy():
    # image 1: both references identical -> each scores 10 against the other;
    # image 2: disjoint references, shared word "a" has IDF 0 -> 0. Mean over 4 pairs: 5.
    refs = {1: ["a man riding a horse", "a man riding a horse"], 2: ["two dogs playing", "a red car"]}
    out = leave_one_out_cider(refs, tokenizer="python")
    assert out["cider"] == pytest.approx(5.0)
    assert out["n"] == 4
    # 2-word captions have no 3- and 4-grams: an identical pair scores 10 * (1 + 1 + 0 + 0) / 4
    short = leave_one_out_cider({1: ["red ball", "red ball"], 2: ["blue cube", "green cone"]}, "python")
    assert short["cider"] == pytest.approx(2.5)
    # unequal reference counts: every (image, reference) pair counts once
    assert leave_one_out_cider({1: ["x y z w"] * 3, 2: ["p q", "r s"]}, "python")["n"] == 5


def test_caption_errors():
    with pytest.raises(ValueError, match="not in the references"):
        caption_scores({1: "a", 3: "b"}, {1: ["a"]}, "python")
    with pytest.raises(ValueError, match="no prediction"):
        caption_scores({}, {1: ["a"]}, "python")
    with pytest.raises(ValueError, match="at least 2"):
        leave_one_out_cider({1: ["only one"]}, "python")
    with pytest.raises(ValueError, match="list of at least 1"):
        caption_scores({1: "a"}, {1: "a"}, "python")


@pytest.mark.skipif(not HAS_JAVA, reason="needs java")
def test_matches_the_pycocoevalcap_pipeline():
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

    refs = {1: ["A man, riding a horse.", "a person on a horse!"], 2: ["Two dogs playing in the snow", "dogs play in snow"],
            3: ["a red car (parked) on the street", "a car on a road"]}
    preds = {1: "a man riding a horse", 2: "two dogs in snow", 3: "a car"}
    tok = PTBTokenizer()
    try:  # pycocoevalcap's wrapper writes a temp file into its package folder
        gts = tok.tokenize({k: [{"caption": c} for c in v] for k, v in refs.items()})
        res = tok.tokenize({k: [{"caption": c}] for k, c in preds.items()})
    except PermissionError:
        pytest.skip("pycocoevalcap package folder is read-only")
    ours = caption_scores(preds, refs, tokenizer="java")
    assert ours["cider"] == pytest.approx(Cider().compute_score(gts, res)[0])
    assert ours["bleu_4"] == pytest.approx(Bleu(4).compute_score(gts, res, verbose=0)[0][3])
