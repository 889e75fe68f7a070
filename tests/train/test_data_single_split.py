"""A dataset whose validation split is its training split (``--data DIR`` of one split) makes a
run say so, in one warning line, as it reads its training data; a real validation split does not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from vlseq.data.synth import SynthOptions, write_world
from vlseq.train.config import load_config
from vlseq.train.data import load_examples, use_datasets, validation_on_training_data


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, SynthOptions(train=6, val=3, test=0, test_heldout=0, size=32, seed=0, workers=1,
                                   no_progress=True))
    return root


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "vlseq.train.data"]


def test_one_split_warns_once_as_training_reads_it(world: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = use_datasets(load_config("debug"), [{"path": str(world / "train")}])  # what `--data DIR/train` makes
    assert validation_on_training_data(cfg) == [f"dataset 'train' ({world / 'train'})"]
    with caplog.at_level(logging.WARNING, logger="vlseq.train.data"):
        assert load_examples(cfg, "train")
        load_examples(cfg, "val")  # the end of the run reads it again: no second line
    (line,) = _warnings(caplog)
    assert line.startswith(f"validation reads the training data of dataset 'train' ({world / 'train'})")
    assert "measure fitting, not held-out accuracy" in line and "'val' split (a val/ folder beside train/" in line
    assert "\n" not in line


def test_a_folder_of_splits_or_own_files_per_split_do_not(world: Path, caplog: pytest.LogCaptureFixture) -> None:
    cfg = use_datasets(load_config("debug"), [{"path": str(world)}])
    assert validation_on_training_data(cfg) == []
    with caplog.at_level(logging.WARNING, logger="vlseq.train.data"):
        load_examples(cfg, "train")
    assert _warnings(caplog) == []
    caps = {s: {"captions": str(world / s / "captions.json"), "image_root": str(world / s)} for s in ("train", "val")}
    named = use_datasets(load_config("debug"), [{"name": "own", **caps}])
    assert validation_on_training_data(named) == []
    same = use_datasets(load_config("debug"), [{"name": "same", "train": caps["train"], "val": caps["train"]}])
    assert validation_on_training_data(same) == ["dataset 'same'"]
