"""Training curves from a run's log.jsonl: files only where the log has something to draw."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from vlseq.viz.curves import CURVES, eval_records, learning_curve, validation_curves


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
