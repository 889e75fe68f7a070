"""Phrase grounding Recall@k and grounded-captioning F1 against hand-computed values."""

import pytest

from vlseq.metrics import grounded_caption_f1, head_noun, phrase_grounding_recall

WRONG = (50, 50, 60, 60)


def three_phrases():
    refs = {
        "p1": [(0, 0, 10, 10)],
        "p2": [(0, 0, 10, 10), (20, 0, 30, 10)],  # two GT boxes, union (0, 0, 30, 10)
        "p3": [(0, 0, 10, 10)],
    }
    preds = {
        "p1": [WRONG, (0, 0, 10, 10)],  # right at rank 2
        "p2": [(0, 0, 30, 10), (20, 0, 30, 10)],  # rank 1 = union box, rank 2 = one GT box
        "p3": [WRONG] * 6 + [(1, 1, 10, 10)],  # right at rank 7 (IoU 0.81)
    }
    return preds, refs


def test_recall_at_k_any_and_merged_box():
    preds, refs = three_phrases()
    out = phrase_grounding_recall(preds, refs)
    # any-box: p2's union box has IoU 1/3 with each GT box, its rank-2 box hits
    assert out["any_box_r@1"] == pytest.approx(0 / 3)
    assert out["any_box_r@5"] == pytest.approx(2 / 3)
    assert out["any_box_r@10"] == pytest.approx(3 / 3)
    # merged-box: p2's rank-1 box equals the union of its GT boxes
    assert out["merged_box_r@1"] == pytest.approx(1 / 3)
    assert out["merged_box_r@5"] == pytest.approx(2 / 3)
    assert out["merged_box_r@10"] == pytest.approx(3 / 3)
    assert out["total"] == 3


def test_recall_missing_phrase_is_a_miss_and_per_type():
    preds, refs = three_phrases()
    refs["p4"] = [(0, 0, 5, 5)]
    types = {"p1": "people", "p2": ["people", "animals"], "p3": "animals", "p4": "animals"}
    out = phrase_grounding_recall(preds, refs, ks=(1, -1), phrase_types=types)
    assert out["any_box_r@all"] == pytest.approx(3 / 4)
    assert out["any_box_r@all/people"] == pytest.approx(1.0)
    assert out["any_box_r@all/animals"] == pytest.approx(2 / 3)
    assert out["any_box_r@1/people"] == 0.0


def test_recall_errors():
    with pytest.raises(ValueError, match="not in the references"):
        phrase_grounding_recall({"x": []}, {"p": [(0, 0, 1, 1)]})
    with pytest.raises(ValueError, match="k must be"):
        phrase_grounding_recall({}, {"p": [(0, 0, 1, 1)]}, ks=(0,))


@pytest.mark.parametrize(
    "phrase, noun",
    [("two dogs", "dog"), ("the red circle.", "circle"), ("boxes", "box"), ("puppies", "puppy"),
     ("a glass", "glass"), ("a bus", "bus"), ("A Man", "man")],
)
def test_head_noun(phrase, noun):
    assert head_noun(phrase) == noun


def two_images():
    refs = {
        "img1": [("a man", (0, 0, 10, 10)), ("a horse", (20, 20, 40, 40))],
        "img2": [("two dogs", [(0, 0, 10, 10), (20, 0, 30, 10)]), ("a ball", (50, 50, 60, 60))],
    }
    preds = {
        "img1": [
            ("the man", (0, 0, 10, 9)),  # right word, IoU 0.9
            ("a horse", (60, 60, 80, 80)),  # right word, wrong box
            ("a dog", (0, 0, 5, 5)),  # word not in this image's GT
        ],
        "img2": [
            ("dogs", (20, 0, 30, 10)),  # hits the second GT box of "dogs"
            ("a man", (0, 0, 1, 1)),  # word not in GT; "ball" never predicted
        ],
    }
    return preds, refs


def test_grounded_caption_f1_per_class():
    preds, refs = two_images()
    out = grounded_caption_f1(preds, refs)
    # precision_all per word: man [1, 0], horse [0], dog [0, 1] -> mean(1/2, 0, 1/2)
    assert out["precision_all"] == pytest.approx(1 / 3)
    # recall_all per word: man [1], horse [0], dog [1], ball [0]
    assert out["recall_all"] == pytest.approx(1 / 2)
    assert out["f1_all"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    # loc: only words in both prediction and GT of an image: man [1], horse [0], dog [1]
    assert out["precision_loc"] == pytest.approx(2 / 3)
    assert out["recall_loc"] == pytest.approx(2 / 3)
    assert out["f1_loc"] == pytest.approx(2 / 3)


def test_grounded_caption_f1_micro_and_edge_cases():
    preds, refs = two_images()
    out = grounded_caption_f1(preds, refs, average="micro")
    assert out["precision_all"] == pytest.approx(2 / 5)
    assert out["recall_all"] == pytest.approx(2 / 4)
    assert out["f1_all"] == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    # a phrase without a box is not a grounded word: it changes nothing
    preds["img1"].append(("a cat", []))
    assert grounded_caption_f1(preds, refs, average="micro") == pytest.approx(out)
    # a perfect prediction, and an image without prediction (all its words missed)
    perfect = grounded_caption_f1({"img1": refs["img1"]}, {"img1": refs["img1"]})
    assert perfect["f1_all"] == 1.0 and perfect["f1_loc"] == 1.0
    empty = grounded_caption_f1({}, refs)
    assert empty["f1_all"] == 0.0 and empty["recall_all"] == 0.0
    with pytest.raises(ValueError, match="not in the references"):
        grounded_caption_f1({"img9": []}, refs)
    with pytest.raises(ValueError, match="pair"):
        grounded_caption_f1({"img1": ["man"]}, refs)


def test_a_predicted_phrase_with_no_word_is_a_wrong_word_and_a_reference_one_an_error():
    """A partly trained model can write a phrase of punctuation (``":"``): scored as a false
    positive, not a crash (it once ended a training run at its first evaluation)."""
    refs = {"img1": [("a man", [0, 0, 10, 10])]}
    right = ("the man", [0, 0, 10, 10])
    out = grounded_caption_f1({"img1": [right, (":", [20, 20, 30, 30])]}, refs, average="micro")
    assert out["precision_all"] == pytest.approx(1 / 2) and out["recall_all"] == 1.0
    assert out["f1_loc"] == 1.0  # localisation of the right word is untouched
    with pytest.raises(ValueError, match="references.*has no word"):
        grounded_caption_f1({"img1": [right]}, {"img1": [(":", [0, 0, 10, 10])]})
