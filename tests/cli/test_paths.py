"""Wrong output paths end every verb in one ``vlseq: error:`` line naming the path; nothing is lost."""

from __future__ import annotations

from pathlib import Path

import pytest

from vlseq.cli import main
from vlseq.cli.paths import output_dir, output_file

WORLD = ["--train", "4", "--val", "2", "--test", "2", "--test-heldout", "0", "--size", "32", "--workers", "1",
         "--no-progress", "--no-contact-sheet"]


def test_synth_into_a_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "taken"
    f.write_text("keep me")
    assert main(["synth", "--out", str(f), *WORLD]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("vlseq: error:") and str(f) in err[0] and "file" in err[0]
    assert f.read_text() == "keep me"


def test_synth_refuses_to_overwrite_a_world(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "world"
    assert main(["synth", "--out", str(out), *WORLD]) == 0
    before = (out / "manifest.json").read_bytes()
    capsys.readouterr()
    assert main(["synth", "--out", str(out), *WORLD, "--seed", "3"]) == 2
    err = capsys.readouterr().err
    assert "already holds a synthetic world" in err and "--overwrite" in err and str(out) in err
    assert (out / "manifest.json").read_bytes() == before
    assert main(["synth", "--out", str(out), *WORLD, "--seed", "3", "--overwrite"]) == 0


def test_shard_and_image_tokenizer_check_their_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["shard", "--data", str(tmp_path), "--out", str(f)]) == 2
    assert main(["train-image-tokenizer", "--data", "synth", "--out", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("vlseq: error:") and str(f) in line for line in err)


def test_predict_refuses_an_existing_out_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "results.jsonl"
    f.write_text("earlier results\n")
    assert main(["predict", "--checkpoint", str(tmp_path / "nope"), "--task", "caption", "--out", str(f)]) == 2
    assert "already exists" in capsys.readouterr().err and f.read_text() == "earlier results\n"


def test_output_helpers(tmp_path: Path) -> None:
    assert output_dir(tmp_path / "a" / "b", "m.json", "x") == tmp_path / "a" / "b"
    (tmp_path / "a" / "b" / "m.json").write_text("{}")
    with pytest.raises(FileExistsError):
        output_dir(tmp_path / "a" / "b", "m.json", "x")
    assert output_dir(tmp_path / "a" / "b", "m.json", "x", overwrite=True).is_dir()
    with pytest.raises(IsADirectoryError):
        output_file(tmp_path / "a")
    assert output_file(tmp_path / "new" / "r.jsonl") == tmp_path / "new" / "r.jsonl"
