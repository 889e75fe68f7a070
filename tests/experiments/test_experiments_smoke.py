"""Smoke runs of the experiments (seconds each): they run end to end and write well-formed rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers import load_script


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def load(name: str):
    return load_script("experiments", name)


def test_image_use_quick(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    assert load("image_use").main(["--quick", "--threads", "1", "--json", str(out), "--variant", "default=",
                                         "--variant", "old=init_std=0.02,vision.blocks=1"]) == 0
    rows = json.loads(out.read_text())
    assert [(r["variant"], r["step"]) for r in rows] == [("default", 2), ("default", 4), ("old", 2), ("old", 4)]
    assert all(r["gap"] == r["val_loss_shuffled"] - r["val_loss"] for r in rows)


def test_stem_probe_quick(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    assert load("stem_probe").main(["--quick", "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 6 and all(0.0 <= r["accuracy"] <= 1.0 and 0.0 < r["prior"] < 1.0 for r in rows)
