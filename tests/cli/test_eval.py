"""``vlseq eval`` prints each metric beside its trivial baseline, with priors from the training split
beside ``--data`` (or ``--baseline-data``), and says when they come from the evaluated examples."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from helpers import BINS, make_checkpoint
from vlseq.cli import main
from vlseq.data.readers.split import load_split
from vlseq.evaluation.baselines import baseline_scores
from vlseq.tasks import get_task

WORLD = ["--train", "6", "--val", "3", "--test", "1", "--test-heldout", "0", "--size", "32", "--workers", "1",
         "--no-progress", "--no-contact-sheet"]
ARGS = ["--tasks", "vqa", "refexp", "--max-per-task", "3", "--batch-size", "8"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("w") / "world"
    assert main(["synth", "--out", str(out), *WORLD]) == 0
    return out


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "debug")


def test_baselines_from_the_train_split_beside_data(world, ckpt, tmp_path, capsys) -> None:
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--out", str(out), *ARGS]) == 0
    printed = capsys.readouterr().out
    assert "| task | metric | value | baseline | parse errors | n |" in printed
    assert "majority answer" in printed and "prior box" in printed
    assert f"baseline priors: {(world / 'train').resolve()}" in printed
    assert "come from the evaluated examples themselves" not in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["vqa/baseline/prior_from_eval"] == 0.0
    # The printed baseline is the training split's majority answer scored on the evaluated examples.
    train = load_split(world / "train", tasks=["vqa"], check_images=False)["vqa"]
    val = load_split(world / "val", tasks=["vqa"])["vqa"][:3]
    assert metrics["vqa/baseline/accuracy"] == pytest.approx(baseline_scores(get_task("vqa"), val, train, BINS)["accuracy"])
    assert {"refexp/baseline/acc@0.5", "refexp/baseline/mean_iou"} <= set(metrics)
    # The identity diagnostic: VQA accuracy per question type (every question counted once), and its table.
    assert sum(v for k, v in metrics.items() if k.startswith("vqa/identity/n@")) == 3
    types = {k.split("@", 1)[1] for k in metrics if k.startswith("vqa/identity/acc@")}
    assert types and types <= {"colour", "shape", "count", "exists", "relation", "position"}
    assert ("Identity (what, apart from where)" in printed) == bool(types & {"colour", "shape"})
    assert (out / "sheet.png").exists()


def test_without_training_data_the_eval_examples_are_the_prior(world, ckpt, tmp_path, capsys) -> None:
    alone = tmp_path / "alone" / "val"
    shutil.copytree(world / "val", alone)
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(alone), "--out", str(out), *ARGS]) == 0
    printed = capsys.readouterr().out
    assert "baseline priors: the evaluated examples themselves (no train/ split beside" in printed
    assert "of refexp, vqa come from the evaluated examples themselves" in printed
    assert json.loads((out / "metrics.json").read_text())["vqa/baseline/prior_from_eval"] == 1.0
    # --baseline-data names a training split explicitly.
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(alone), "--out", str(tmp_path / "e2"),
                 "--baseline-data", str(world / "train"), *ARGS]) == 0
    assert f"baseline priors: {world / 'train'} (vqa: " in capsys.readouterr().out
