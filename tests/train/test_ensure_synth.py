"""A training run writes its synthetic world once, from the config's ``data.synth_generate``, and
draws the world's contact sheet unless the config says ``no_contact_sheet``."""

from __future__ import annotations

import json

import pytest

from vlseq.train.data import ensure_synth


def test_writes_the_world_and_its_sheet_once(tmp_path) -> None:
    root = tmp_path / "w"
    gen = {"train": 4, "val": 2, "test": 0, "test_heldout": 0, "size": 32, "seed": 1, "workers": 1,
           "no_progress": True, "shapes": ["circle", "square"]}  # lists as JSON gives them
    ensure_synth(root, gen, bins=16)
    assert json.loads((root / "manifest.json").read_text())["world"]["shapes"] == ["circle", "square"]
    sheet = root / "contact_sheet.png"
    assert sheet.stat().st_size > 1000
    sheet.unlink()
    ensure_synth(root, gen, bins=16)  # a complete world is left as it is
    assert not sheet.exists()


def test_no_contact_sheet_key(tmp_path) -> None:
    root = tmp_path / "w"
    ensure_synth(root, {"train": 2, "val": 2, "test": 0, "test_heldout": 0, "size": 32, "workers": 1,
                        "no_progress": True, "no_contact_sheet": True})
    assert (root / "manifest.json").is_file() and not (root / "contact_sheet.png").exists()


def test_no_world_and_nothing_to_generate_is_an_error(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="vlseq synth --out"):
        ensure_synth(tmp_path / "missing", None)
