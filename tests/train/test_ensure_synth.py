"""A training run writes its synthetic world once, from the config's ``data.synth_generate``, and
draws the world's contact sheet unless the config says ``no_contact_sheet``."""

from __future__ import annotations

import json
import warnings

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


def test_a_world_written_with_other_options_is_used_with_a_warning(tmp_path, recwarn) -> None:
    """A world on disk is used as written (data.synth may name a world written by hand), but a config
    whose world options differ says how, instead of training on the old world unsaid."""
    root = tmp_path / "w"
    gen = {"train": 2, "val": 2, "test": 0, "test_heldout": 0, "size": 32, "seed": 1, "workers": 1,
           "no_progress": True, "no_contact_sheet": True}
    ensure_synth(root, gen)
    ensure_synth(root, {**gen, "train": 5})  # split sizes are not part of the world's look
    ensure_synth(root, None)
    assert not recwarn.list
    written = (root / "manifest.json").read_text()
    with pytest.warns(UserWarning, match=r"scale: None -> \[0.1, 0.4\].*scale_frac: None -> 0.5.*used as written"):
        ensure_synth(root, {**gen, "scale": [0.1, 0.4], "scale_frac": 0.5})
    with pytest.warns(UserWarning, match=r"seed: 1 -> 2"):
        ensure_synth(root, {**gen, "seed": 2})
    assert (root / "manifest.json").read_text() == written


def test_a_manifest_from_before_an_option_reads_it_as_off(tmp_path) -> None:
    root = tmp_path / "w"
    gen = {"train": 2, "val": 2, "test": 0, "test_heldout": 0, "size": 32, "seed": 1, "workers": 1,
           "no_progress": True, "no_contact_sheet": True}
    ensure_synth(root, gen)
    m = json.loads((root / "manifest.json").read_text())
    del m["world"]["scale_frac"], m["world"]["superlatives"]
    (root / "manifest.json").write_text(json.dumps(m))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ensure_synth(root, gen)
    with pytest.warns(UserWarning, match="superlatives: None -> 1.0"):
        ensure_synth(root, {**gen, "superlatives": 1.0})
