"""``vlseq codec-demo`` runs and shows each part of the format (the data behind it: tests/codec/test_demo.py)."""

from __future__ import annotations

import re

import pytest

from vlseq import cli
from vlseq.cli import codec_demo


def test_main_prints_every_section(capsys: pytest.CaptureFixture[str]) -> None:
    assert codec_demo.main([]) == 0
    out = capsys.readouterr().out
    for title in ("grounded caption", "object list with a polygon", "region prompt", "malformed sequence"):
        assert f"== {title}" in out
    assert "<obj>white plate<loc_" in out
    assert "<poly><loc_" in out
    assert "describe <loc_300><loc_250><loc_800><loc_750>" in out
    # Clean sections report zero errors; the malformed one reports its count and one line per error.
    counts = [int(n) for n in re.findall(r"errors\s+: (\d+)", out)]
    assert counts[:2] == [0, 0] and counts[2] > 0
    assert out.count("\n    - ") == counts[2]


def test_cli_dispatches_codec_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["codec-demo", "--bins", "64", "--width", "100", "--height", "50"]) == 0
    assert "100 x 50 image, 64 coordinate bins" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--bins", "4"], ["--width", "0"], ["--height", "-3"]])
def test_bad_arguments_exit_with_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        codec_demo.main(argv)
    assert exc.value.code == 2
    assert "vlseq codec-demo" in capsys.readouterr().err
