"""``vlseq codec-demo`` runs, shows each part of the format, and its results are the codec's."""

from __future__ import annotations

import re

import pytest

from vlseq import cli
from vlseq.cli import codec_demo
from vlseq.codec import demo
from vlseq.codec.coords import quantize_box


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


@pytest.mark.parametrize("w, h, bins", [(640.0, 480.0, 1000), (100.0, 50.0, 64), (33.0, 701.0, 10)])
def test_sections_round_trip(w: float, h: float, bins: int, capsys: pytest.CaptureFixture[str]) -> None:
    g = demo.grounded_caption_demo(w, h, bins)
    assert g.errors == []
    assert [g.phrase_text(p) for p in g.phrases] == ["white plate", "apples"]
    assert [len(p.boxes) for p in g.phrases] == [1, 2]

    o = demo.object_list_demo(w, h, bins)
    assert o.errors == [] and o.text == "cat traffic light"
    assert len(o.polygons) == 1 and len(o.polygons[0][1]) == 3

    region = (0.30 * w, 0.25 * h, 0.80 * w, 0.75 * h)
    back = demo.region_prompt_demo(w, h, bins)
    assert quantize_box(back, w, h, bins) == quantize_box(region, w, h, bins)
    assert max(abs(a - b) for a, b in zip(back, region)) <= max(w, h) / (2 * bins) + 1e-9

    m = demo.malformed_demo(w, h, bins)
    assert m.text == "a dog chases the ball near a tree"
    assert [m.phrase_text(p) for p in m.phrases] == ["dog"]
    # coordinate outside <obj>; partial box + its phrase; box without words; x2 <= x1 + unclosed <obj>
    assert len(m.errors) == 6, m.errors
    capsys.readouterr()


@pytest.mark.parametrize("argv", [["--bins", "4"], ["--width", "0"], ["--height", "-3"]])
def test_bad_arguments_exit_with_usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        codec_demo.main(argv)
    assert exc.value.code == 2
    assert "vlseq codec-demo" in capsys.readouterr().err
