"""``vlseq data inspect`` through the dispatcher: a split, a folder of splits, a config, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import make_checkpoint
from vlseq.cli import main
from vlseq.data.readers import load_split
from vlseq.data.synth import SynthOptions, write_world
from vlseq.tokenizer import VLTokenizer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, SynthOptions(train=24, val=8, test=4, test_heldout=0, size=32, seed=0, workers=1,
                                   no_progress=True))
    return root


def test_a_split_prints_the_report(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", str(world / "train")]) == 0
    out = capsys.readouterr().out
    split = load_split(world / "train")
    assert out.startswith(f"# Data inspection: `{world / 'train'}`")
    for task, exs in split.items():
        assert f"| {task} | {len(exs)} |" in out
    assert "tokenizer: trained on this split's own prompts and targets" in out
    assert "64 coordinate bins" in out and "| targets > 128 |" in out
    assert "majority answer baseline (accuracy): always" in out
    assert "majority class baseline (accuracy): always" in out
    assert "### Boxes" in out and "### Caption length (words)" in out and "### Warnings" in out


def test_a_folder_of_splits_and_out(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "report"
    assert main(["data", "inspect", str(world), "--out", str(out_dir), "--per-task", "1", "--bins", "32"]) == 0
    out = capsys.readouterr().out
    for name in ("train", "val", "test", "caption_only_eval"):
        assert f"## {name} (`{world / name}`)" in out
        assert (out_dir / f"contact_sheet_{name}.png").is_file()
    assert "32 coordinate bins" in out
    assert (out_dir / "report.md").read_text() in out
    assert out.rstrip().endswith(f"wrote {out_dir / 'report.md'} and 4 contact sheet(s) to {out_dir}")
    # a second run does not silently replace the report
    assert main(["data", "inspect", str(world / "val"), "--out", str(out_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_a_config_sets_grid_limits_and_tasks(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"data": {"synth": str(world), "synth_generate": {}}, "model": {"num_bins": 32},
                               "tasks": ["detect", "vqa"], "max_target_tokens": 20}))
    assert main(["data", "inspect", str(cfg), "max_prompt_tokens=10"]) == 0
    out = capsys.readouterr().out
    assert "## synth/train" in out and "## synth/caption_only_eval" in out
    assert "32 coordinate bins" in out and "| targets > 20 |" in out and "| prompts > 10 |" in out
    train = out.split("## synth/val")[0]
    assert f"| detect | {len(load_split(world / 'train')['detect'])} |" in train
    assert "| caption |" not in train  # the config does not train captioning
    assert "targets are longer than 20 tokens" in train  # detect lists every object: more than 20
    assert "tasks of the config no file here provides: detect, vqa" in out  # caption_only_eval


def test_a_given_tokenizer_is_used(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tok_dir = tmp_path / "tok"
    VLTokenizer.train(["a red circle", "what colour is it?"], 64).save_pretrained(tok_dir)
    assert main(["data", "inspect", str(world / "val"), "--tokenizer", str(tok_dir)]) == 0
    assert f"tokenizer: {tok_dir} (" in capsys.readouterr().out
    assert main(["data", "inspect", str(world / "val"), "--tokenizer", str(tok_dir), "--bins", "32"]) == 2
    assert "has 64 coordinate bins, not 32" in capsys.readouterr().err


def test_a_checkpoint_gives_grid_and_limits(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = make_checkpoint(tmp_path / "ckpt")  # 32 bins, max_target_tokens 32
    assert main(["data", "inspect", str(world / "val"), "--tokenizer", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert f"tokenizer: {ckpt} (" in out and "32 coordinate bins" in out and "| targets > 32 |" in out


def test_bad_input_is_one_error_line(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vlseq: error: {tmp_path / 'missing'}: no such directory, config file or preset")
    assert len(err.splitlines()) == 1

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "images").symlink_to(world / "val" / "images")
    recs = [json.loads(line) for line in (world / "val" / "classify.jsonl").read_text().splitlines()]
    recs[2].pop("label")
    (bad / "classify.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["data", "inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vlseq: error: {bad / 'classify.jsonl'}: record ") and len(err.splitlines()) == 1

    assert main(["data", "inspect", str(bad), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert f"| classify | {len(recs) - 1} |" in captured.out
    assert "skipped 1 bad records: missing_key 1" in captured.out
    assert "vlseq: skipped 1 bad records" in captured.err


def test_a_data_file_or_overrides_of_a_directory_are_refused(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", str(world / "train" / "captions.json")]) == 2
    assert "is a data file: pass the split directory holding it" in capsys.readouterr().err
    assert main(["data", "inspect", str(world / "train"), "model.num_bins=32"]) == 2
    assert "overrides apply to a training config" in capsys.readouterr().err
