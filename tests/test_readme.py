"""The README's inference examples run as written: its python blocks that load a checkpoint and
its ``vlseq predict`` lines, with the checkpoint path pointed at a debug checkpoint and the
images they name made in a scratch folder."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from PIL import Image

from helpers import make_checkpoint, scene_image

README = Path(__file__).resolve().parents[1] / "README.md"
#: the checkpoint the README's examples name (what ``make quickstart`` writes)
README_CHECKPOINT = "runs/tiny/final"


def code_blocks(text: str, lang: str) -> list[str]:
    """The bodies of the fenced ``lang`` blocks of a markdown text, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "final", pointer="cell_offset")  # as the tiny preset trains


@pytest.fixture()
def scratch(tmp_path, monkeypatch) -> Path:
    """A working folder with the images the README names: photo.png, other.png, frame1/2.png and photos/."""
    Image.fromarray(scene_image(0, 128)).save(tmp_path / "photo.png")
    for k in (1, 2):
        Image.fromarray(scene_image(20 + k, 64)).save(tmp_path / f"frame{k}.png")
    Image.fromarray(scene_image(1, 96)).resize((160, 96)).save(tmp_path / "other.png")
    (tmp_path / "photos").mkdir()
    for k in range(3):
        Image.fromarray(scene_image(10 + k)).save(tmp_path / "photos" / f"p{k}.png")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_python_examples_run(ckpt, scratch, capsys) -> None:
    blocks = [b for b in code_blocks(README.read_text(), "python") if "from_pretrained(" in b]
    assert blocks, "the README has no python example that loads a checkpoint"
    namespace: dict = {}
    for block in blocks:
        assert README_CHECKPOINT in block
        exec(compile(block.replace(README_CHECKPOINT, str(ckpt)), str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert out.strip(), "the examples print nothing"
    with Image.open(scratch / "refexp.png") as drawn:  # r.draw("photo.png").save("refexp.png")
        assert drawn.size == (384, 384)
    r = namespace["r"]
    assert (r.width, r.height) == (128, 128) and len(r.boxes) == len(r.scores) == 1
    assert [c.width for c in namespace["captions"]] == [128, 160]


def test_predict_lines_run(ckpt, scratch, capsys) -> None:
    from vlseq.cli import main

    lines = [l.split("#")[0].strip() for b in code_blocks(README.read_text(), "bash") for l in b.splitlines()]
    lines = [l for l in lines if l.startswith("vlseq predict") and README_CHECKPOINT in l]
    assert lines, "the README has no vlseq predict example"
    for line in lines:
        argv = shlex.split(line.replace(README_CHECKPOINT, str(ckpt)))[1:]
        assert main(argv) == 0, line
    out = capsys.readouterr().out
    recs = [json.loads(l) for l in (scratch / "results.jsonl").read_text().splitlines()]
    assert [Path(r["image"]).name for r in recs] == ["p0.png", "p1.png", "p2.png"]
    assert sorted(p.name for p in (scratch / "drawn").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert sorted(p.name for p in (scratch / "att").iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert len([l for l in out.splitlines() if l.startswith("{")]) == 3  # the detect line writes to stdout
