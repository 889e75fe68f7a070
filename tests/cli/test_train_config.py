"""``vlseq train`` and its config: ``--print-config`` shows the resolved whole of a preset or of a file
that extends one, the coco preset trains on COCO as downloaded, a config without data says where
data goes, and a resume with another config stops naming each changed key unless ``--resume-anyway``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import format_fixtures as ff
from vlseq.cli import main

WORLD = ["--train", "10", "--val", "4", "--test", "1", "--test-heldout", "0", "--size", "32", "--workers", "1",
         "--no-progress", "--no-contact-sheet"]
SHORT = ["max_steps=2", "eval_examples=2", "save_every=0", "log_every=1"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("w") / "world"
    assert main(["synth", "--out", str(out), *WORLD]) == 0
    return out


def _printed(capsys, *argv: str) -> dict:
    assert main(["train", *argv, "--print-config"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("preset", ["small", "base", "coco"])
def test_larger_presets_print_with_the_pointer_and_both_skips_on(preset: str, capsys) -> None:
    cfg = _printed(capsys, "--config", preset)
    model = cfg["model"]
    assert model["loc_pointer"] == "cell_offset" and model["encoder_skip"] is True
    assert model["vision"]["stem_skip"] is True and model["cell_loss"] > 0
    assert cfg["name"] == preset and "extends" not in cfg and "comment" not in cfg
    # tiny's CPU-quickstart settings stay with tiny
    assert cfg["time_budget_min"] is None and cfg["threads"] is None and cfg["task_weights"] == {}


def test_print_config_resolves_a_users_file_and_its_overrides(tmp_path, capsys) -> None:
    (tmp_path / "mine.json").write_text(json.dumps({"extends": "tiny", "name": "mine", "out_dir": "runs/mine",
                                                    "model": {"d_model": 192}}))
    cfg = _printed(capsys, "--config", str(tmp_path / "mine.json"), "lr=1e-4")
    tiny = _printed(capsys, "--config", "tiny")
    assert cfg["model"]["d_model"] == 192 and cfg["lr"] == 1e-4 and cfg["name"] == "mine"
    assert {k: v for k, v in cfg["model"].items() if k != "d_model"} == {k: v for k, v in tiny["model"].items()
                                                                          if k != "d_model"}
    assert cfg["task_weights"] == tiny["task_weights"] and "extends" not in cfg


def test_coco_preset_trains_two_steps_on_coco_as_downloaded(world, tmp_path, capsys) -> None:
    root = tmp_path / "coco"
    config = ff.write_dataset_config(root, ff.coco_instances(world, root))
    run = tmp_path / "run"
    # The preset's data, token limits, bins and levers (the pointer's offsets, the cell loss, both
    # skips) as they are; for speed on a shared CPU a narrow model (the preset's 29M parameters took
    # 4-20 s a step here), 64 px images (the 4-stage stride-16 stem then makes a 4x4 grid, which still
    # divides the 384 bins: 96 per cell), a batch of 4 and fp32 (bf16 is for the GPU). No evaluation:
    # random weights write up to the 512-token budget per example, minutes on a CPU.
    fast = ["model.d_model=32", "model.heads=2", "model.ffn_dim=64", "model.encoder_layers=1",
            "model.decoder_layers=1", "model.vision.channels=[8, 8, 16, 16]", "model.image_size=64",
            "batch_size=4", "mixed_precision=no", "threads=2", "eval_examples=0"]
    assert main(["train", "--config", "coco", "--dataset-config", str(config), f"out_dir={run}",
                 "max_steps=2", "save_every=0", "log_every=1", *fast]) == 0
    settings = json.loads((run / "final" / "vlseq.json").read_text())
    assert settings["tasks"] == ["detect", "localize"] and settings["num_bins"] == 384
    assert settings["max_prompt_tokens"] == 256 and settings["max_target_tokens"] == 512
    saved = settings["train_config"]
    assert saved["data"]["synth"] is None and saved["model"]["loc_pointer"] == "cell_offset"
    assert saved["time_budget_min"] is None
    assert not (tmp_path / "data").exists()  # no synthetic world written anywhere
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "loss" in r] == [1, 2]
    logged = {k for r in log for k in r}
    assert "loss/cell" in logged and {"loss/detect", "loss/localize"} & logged  # the cell identity loss is on


def test_a_config_without_data_says_where_it_goes(tmp_path, capsys) -> None:
    # fp32: one process holds one Accelerate state, and the other tests train in fp32
    assert main(["train", "--config", "coco", f"out_dir={tmp_path / 'run'}", "mixed_precision=no"]) == 2
    err = capsys.readouterr().err
    assert "config 'coco' names no training data" in err and "--dataset-config FILE" in err


def test_resume_with_another_config_stops_naming_the_keys(world, tmp_path, capsys) -> None:
    run = tmp_path / "run"
    argv = ["train", "--config", "debug", f"data.synth={world}", f"out_dir={run}", "tasks=[\"vqa\"]",
            "eval_examples=1", "log_every=1", "save_every=0"]
    assert main([*argv, "max_steps=2"]) == 0
    capsys.readouterr()
    # the same run, longer and evaluated more often: resumes (those keys may change)
    assert main([*argv, "max_steps=3", "eval_examples=2"]) == 0
    assert "resumed from" in capsys.readouterr().out
    changed = [*argv, "max_steps=4", "lr=0.001", "model.loc_sigma=1.0"]
    assert main(changed) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("vlseq: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert "2 setting(s) differ" in lines[0] and "lr: 0.003 -> 0.001" in lines[0], lines[0]
    assert "model.loc_sigma: 2.0 -> 1.0" in lines[0] and "--resume-anyway" in lines[0], lines[0]
    assert str(run / "checkpoints" / "step_0000003") in lines[0]
    assert main([*changed, "--resume-anyway"]) == 0
    assert "resumed from" in capsys.readouterr().out
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert max(r["step"] for r in log) == 4
