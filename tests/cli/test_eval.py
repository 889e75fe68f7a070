"""``vlseq eval`` prints each metric beside its trivial baseline, with priors from the training split
beside ``--data`` (or ``--baseline-data``), and says when they come from the evaluated examples; it
refuses to report on the training split unless told to, and writes result files with the data's ids."""

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
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--out", str(out), *ARGS,
                 "--slots", "2"]) == 0
    printed = capsys.readouterr().out
    assert "| task | metric | value | baseline | parse errors | n |" in printed
    # --slots: teacher-forced accuracy per box coordinate, for the task with boxes only
    slots = json.loads((out / "slots.json").read_text())
    assert set(slots) == {"refexp"} and slots["refexp"]["n"] == 2 and "| refexp |" in printed
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


# ------------------------------------------------------------------ the training split, result files


def _refused(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refuses to report on training data" in err and err.startswith("vlseq: error:") and "--allow-train-split" in err
    return err


def test_the_training_split_is_refused_unless_allowed(world, ckpt, tmp_path, capsys) -> None:
    small = ["--tasks", "vqa", "--max-per-task", "2", "--batch-size", "8"]
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "train"), *small]) == 2
    assert f"{world / 'train'} is a training split" in _refused(capsys)
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world), "--split", "train", *small]) == 2
    assert "--split train is the training split" in _refused(capsys)
    only = tmp_path / "only"
    only.mkdir()
    (only / "train").symlink_to(world / "train")
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(only), *small]) == 2
    assert f"{only} holds no val/ split, only the training split train/" in _refused(capsys)
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "train"), "--out", str(out),
                 "--allow-train-split", *small]) == 0
    assert json.loads((out / "metrics.json").read_text())["vqa/n"] == 2


def test_the_split_a_checkpoint_trained_on_is_refused(world, tmp_path) -> None:
    import argparse

    from vlseq.cli.eval import training_split_problem

    mine = tmp_path / "mine"  # one folder serving every split, named in the training config
    mine.mkdir()
    args = argparse.Namespace(data=str(mine), split="val", dataset_config=None)
    config = {"data": {"synth": None, "datasets": [{"path": str(mine)}]}}
    assert "is the split this checkpoint was trained on" in training_split_problem(args, config)
    assert training_split_problem(args, {"data": {"synth": str(world.parent), "datasets": []}}) is None
    args = argparse.Namespace(data=None, split="fit", dataset_config="d.json")  # a config's own train split name
    assert "--split fit is the training split of d.json" in training_split_problem(args, {"data": {"train_split": "fit"}})


def test_results_files_of_eval(world, ckpt, tmp_path, capsys) -> None:
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    res = tmp_path / "dets.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--out", str(tmp_path / "e1"),
                 "--tasks", "detect", "--results", str(res), "--results-format", "coco", "--dtype", "bfloat16"]) == 0
    assert f"wrote {res}: " in capsys.readouterr().out
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(world / "val" / "instances.json"))
        ev = COCOeval(gt, gt.loadRes(str(res)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert all(isinstance(float(v), float) for v in ev.stats)
    res = tmp_path / "answers.json"
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--out", str(tmp_path / "e2"),
                 "--tasks", "vqa", "refexp", "--results", str(res), "--results-format", "vqa"]) == 0
    qids = [q["question_id"] for q in json.loads((world / "val" / "vqa_questions.json").read_text())["questions"]]
    assert sorted(r["question_id"] for r in json.loads(res.read_text())) == sorted(qids)
    capsys.readouterr()
    # one source per file, and options that do not fit, are said before the evaluation
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--tasks", "vqa",
                 "--results", str(tmp_path / "r.json"), "--results-format", "coco"]) == 2
    assert "none of the evaluated sources (vqa) is one" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--results", str(res)]) == 2
    assert "--results needs --results-format" in capsys.readouterr().err
    assert main(["eval", "--checkpoint", str(ckpt), "--data", str(world / "val"), "--device", "tpu"]) == 2
    assert "device 'tpu' is not one of" in capsys.readouterr().err
