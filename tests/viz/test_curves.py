"""Training curves from a run's log.jsonl: files only where the log has something to draw."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from vlseq.viz.curves import CURVES, eval_records, learning_curve, loss_curves, loss_records, smooth, validation_curves


def _log(path: Path, records: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n\n")
    return path


def test_learning_curve(tmp_path: Path) -> None:
    log = _log(tmp_path / "log.jsonl", [{"step": s, "loss": 3.0 / s, "loss/vqa": 2.0 / s} for s in range(1, 6)])
    learning_curve(log, tmp_path / "lc.png")
    assert Image.open(tmp_path / "lc.png").size == (880, 495)  # 8 x 4.5 in at 110 dpi
    learning_curve(_log(tmp_path / "empty.jsonl", [{"step": 1, "eval": {}}]), tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_eval_records_and_validation_curves(tmp_path: Path) -> None:
    key = CURVES[0][0]
    a = _log(tmp_path / "a.jsonl", [{"step": 1, "loss": 1.0}, {"step": 2, "eval": {key: 0.5}}, {"step": 4, "eval": {key: 0.7}}])
    assert eval_records(a) == [(2, {key: 0.5}), (4, {key: 0.7})]
    assert eval_records(tmp_path / "missing.jsonl") == []
    assert validation_curves({"a": a, "b": tmp_path / "missing.jsonl"}, tmp_path / "vc.png")
    assert Image.open(tmp_path / "vc.png").size == (1440, 630)  # 16 x 7 in at 90 dpi
    assert not validation_curves({"b": tmp_path / "missing.jsonl"}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()


def test_smooth_is_a_trailing_mean() -> None:
    assert smooth([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert smooth([], 3) == []


def test_loss_curves(tmp_path: Path) -> None:
    a = _log(tmp_path / "a.jsonl", [{"step": s, "loss": 1.0, "loss/vqa": 2.0 / s, "loss/detect": 1.0} for s in range(1, 9)]
             + [{"step": 9, "eval": {}}])
    b = _log(tmp_path / "b.jsonl", [{"step": s, "loss": 1.0, "loss/vqa": 1.0 / s} for s in range(1, 9)])
    assert [r["step"] for r in loss_records(a)] == list(range(1, 9))
    assert loss_curves({"a": a, "b": b}, tmp_path / "lc.png")
    assert Image.open(tmp_path / "lc.png").size == (640, 240)  # two panels of 4 x 3 in at 80 dpi
    assert loss_curves({"a": a}, tmp_path / "one.png", tasks=["vqa", "keypoints"])  # unlogged tasks left out
    assert Image.open(tmp_path / "one.png").size == (320, 240)
    assert not loss_curves({"b": tmp_path / "missing.jsonl"}, tmp_path / "none.png")
    assert not (tmp_path / "none.png").exists()
