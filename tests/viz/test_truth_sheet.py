"""The one contact sheet: a synthetic world's ``contact_sheet.png`` is the truth sheet of a written split.

The data layer writes data only; the sheet is drawn above it (``vlseq synth``, a training run that
writes its world). The panels themselves are tested with ``vlseq data inspect``
(tests/evaluation/test_data_report.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from vlseq.data.readers.split import load_split
from vlseq.data.synth import SynthOptions, write_world
from vlseq.viz.truth_sheet import GAP, PANEL, PANEL_H, truth_sheet, write_split_sheet, write_world_sheet


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, SynthOptions(train=6, val=4, test=0, test_heldout=0, size=32, seed=1, workers=1, no_progress=True))
    return root


def test_the_data_layer_draws_no_sheet(world: Path) -> None:
    assert (world / "manifest.json").is_file() and not (world / "contact_sheet.png").exists()


def test_world_sheet_is_the_truth_sheet_of_val(world: Path) -> None:
    # The sheet goes into the world's root; removed after, since the world is shared by this module.
    path = write_world_sheet(world, bins=16, per_task=2)
    try:
        assert path == world / "contact_sheet.png"
        expected, panels = truth_sheet(load_split(world / "val", check_images=False), 16, 2)
        got = Image.open(path)
        assert got.size == expected.size == (2 * (PANEL + GAP), len({p.task for p in panels}) * (PANEL_H + GAP))
        assert got.tobytes() == expected.convert(got.mode).tobytes()
    finally:
        path.unlink()


def test_world_sheet_falls_back_to_train_and_needs_a_split(tmp_path: Path) -> None:
    root = tmp_path / "w"
    write_world(root, SynthOptions(train=4, val=0, test=0, test_heldout=0, size=32, workers=1, no_progress=True))
    assert write_world_sheet(root, bins=16, per_task=1) == root / "contact_sheet.png"
    train = load_split(root / "train", check_images=False)
    assert Image.open(root / "contact_sheet.png").size == truth_sheet(train, 16, 1)[0].size
    empty = tmp_path / "empty"
    empty.mkdir()
    assert write_world_sheet(empty, bins=16) is None and not (empty / "contact_sheet.png").exists()


def test_split_sheet_goes_where_it_is_told(world: Path, tmp_path: Path) -> None:
    out = write_split_sheet(world / "train", tmp_path / "sheet.png", bins=16, per_task=1)
    assert out == tmp_path / "sheet.png" and Image.open(out).size[0] == PANEL + GAP
