"""Render-and-check: the model-as-judge bookkeeping (which requirements pass, given what detection
and VQA answer), and image_metrics wired to an independent checker."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import vlseq.evaluation.render_check
from vlseq.codec import parse
from vlseq.data.example import Example
from vlseq.evaluation.render_check import CHECK_KEYS, SELF_CHECK_KEYS, check_images, colour_question, image_metrics
from vlseq.models.checker import Checker, CheckerConfig
from vlseq.tasks import Prediction
from vlseq.tasks.image import GenerateImage

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


class _Tokenizer:
    """An image tokenizer stand-in: 16 px images, one code per image (its grey level / 10), and a
    round trip that darkens by 10 (so the reconstruction is not the truth)."""

    config = SimpleNamespace(image_size=16)

    def encode_arrays(self, images: np.ndarray) -> np.ndarray:
        return np.asarray(images)[:, :1, 0, 0] // 10

    def decode_to_arrays(self, codes) -> np.ndarray:
        return np.stack([np.full((16, 16, 3), max(int(c[0]) * 10 - 10, 0), dtype=np.uint8) for c in codes])


class _Checker(Checker):
    """A checker that reads an image's grey level as its inventory: 100 = what RED2 + BLUE ask for."""

    def count(self, images, batch_size: int = 256) -> np.ndarray:
        out = np.zeros((len(images), 3, 3), dtype=np.int64)
        for n, im in zip(out, images):
            if int(im.mean()) == 100:
                n[0, 0], n[2, 1] = 2, 1
        return out


def test_image_metrics_judge_outputs_truth_and_round_trip_with_the_checker(monkeypatch) -> None:
    monkeypatch.setattr(vlseq.evaluation.render_check, "heldout_psnr", lambda it, images: (30.0, 1.0))
    tok = _Tokenizer()
    task = GenerateImage()
    task.num_codes, task.decode_image = 1, lambda codes: np.full((16, 16, 3), int(codes[0]) * 10, dtype=np.uint8)
    truth = np.full((16, 16, 3), 100, dtype=np.uint8)
    exs = [Example(task="generate_image", images=[truth], width=16, height=16, text="a red circle.",
                   target_image=truth, meta={"requirements": [RED2, BLUE]}) for _ in range(3)]
    preds = [_pred("<img_10>"), _pred("<img_3>"), _pred("<img_10><img_10>")]  # right, wrong, not a full grid
    checker = _Checker(CheckerConfig(("red", "green", "blue"), ("circle", "square", "triangle"), image_size=16,
                                     window=8, crop=8))
    out = image_metrics(None, SimpleNamespace(image_tokenizer=tok), task, exs, preds, checker=checker)
    assert set(CHECK_KEYS) <= set(out) and out["recon_psnr"] == 30.0
    assert out["check_all"] == pytest.approx(1 / 3) and out["check_exact"] == pytest.approx(1 / 3)
    assert out["check_counts"] == pytest.approx(2 / 6)
    assert out["check_all_truth"] == 1.0 and out["check_all_recon"] == 0.0  # the round trip darkened it
    assert not any(k.startswith("selfcheck_") for k in out)
    # no checker: no check_* keys (examples from no synthetic world)
    bare = image_metrics(None, SimpleNamespace(image_tokenizer=tok), task, exs, preds)
    assert set(bare) == {"recon_psnr"}
    assert set(SELF_CHECK_KEYS).isdisjoint(bare)
