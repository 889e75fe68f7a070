"""Render-and-check bookkeeping: which requirements pass, given what detection and VQA answer."""

from __future__ import annotations

import numpy as np
import pytest

import vlseq.evaluation.render_check
from vlseq.codec import parse
from vlseq.evaluation.render_check import check_images, colour_question
from vlseq.tasks import Prediction

RED2 = {"label": "circle", "colour": "red", "shape": "circle", "count": 2}
BLUE = {"label": "square", "colour": "blue", "shape": "square", "count": 1}


def _pred(seq: str) -> Prediction:
    return Prediction(seq, parse(seq, 32, 32, 32))


def test_colour_question_is_the_worlds_exists_question() -> None:
    assert colour_question(RED2) == "is there a red circle?"
    assert colour_question({**BLUE, "colour": "orange"}) == "is there an orange square?"


def test_checks_count_objects_counts_and_colours(monkeypatch) -> None:
    box = "<loc_1><loc_1><loc_9><loc_9>"
    detections = {  # image id -> what "detect" finds
        "0": f"<obj>circle{box}</obj><obj>circle{box}</obj><obj>square{box}</obj>",  # all there
        "1": f"<obj>circle{box}</obj>",  # one circle too few, no square
    }
    answers = {"is there a red circle?": "yes", "is there a blue square?": "no"}

    def fake_predict(model, processor, task, examples, batch_size=32, *a, **kw):
        if task.name == "detect":
            assert all(ex.options == ["circle", "square"] for ex in examples)
            return [_pred(detections[ex.image_id]) for ex in examples]
        return [_pred(answers[ex.text]) for ex in examples]

    monkeypatch.setattr(vlseq.evaluation.render_check, "predict_examples", fake_predict)
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    r = check_images(None, None, [img, img, None], [[RED2, BLUE], [RED2, BLUE], [RED2]], ["circle", "square"])
    # requirements: image 0 -> circle ok/count ok/colour yes, square ok/count ok/colour no;
    # image 1 -> circle ok/count wrong/yes, square missing/wrong/no; image 2 (no valid output) -> all fail
    assert r["objects"] == pytest.approx(3 / 5) and r["counts"] == pytest.approx(2 / 5)
    assert r["colours"] == pytest.approx(2 / 5) and r["all"] == 0.0
    answers["is there a blue square?"] = "yes"
    r = check_images(None, None, [img], [[RED2, BLUE]], ["circle", "square"])
    assert r == {"objects": 1.0, "counts": 1.0, "colours": 1.0, "all": 1.0}
    with pytest.raises(ValueError, match="2 images but 1 requirement"):
        check_images(None, None, [img, img], [[RED2]], ["circle"])
