"""Config keys renamed in 0.2 are read for one release: a config file, an override or a saved
checkpoint's config that uses an old name trains the same model, with one warning naming the new key."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from vlseq.models.config import ModelConfig
from vlseq.train.config import ALL_RENAMED_KEYS, TrainConfig, load_config

#: old override -> the same setting under its new name
OLD_AND_NEW = [
    ("model.image_skip=false", "model.encoder_skip=false"),
    ("model.vision.skip=false", "model.vision.stem_skip=false"),
    ("model.loc_pointer=offset", "model.loc_pointer=cell_offset"),
    ("group_by_length=4", "group_pool=4"),
    ("label_last=true", "box_first=true"),
    ('schedule=[{"until_step": 2, "tasks": ["refexp"]}, {}]', 'stages=[{"until_step": 2, "tasks": ["refexp"]}, {}]'),
]


@pytest.mark.parametrize("old,new", OLD_AND_NEW)
def test_an_old_override_gives_the_new_setting_with_a_warning_naming_it(old: str, new: str) -> None:
    with pytest.warns(FutureWarning, match=new.split("=")[0].split(".")[-1]):
        got = load_config("tiny", [old])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new name warns of nothing
        want = load_config("tiny", [new])
    assert got.to_dict() == want.to_dict()


def test_an_old_config_file_and_an_old_model_config_load(tmp_path: Path) -> None:
    d = load_config("tiny").to_dict()
    d["model"]["image_skip"] = d["model"].pop("encoder_skip")
    d["model"]["vision"]["skip"] = d["model"]["vision"].pop("stem_skip")
    d["model"]["loc_pointer"] = "offset"
    (tmp_path / "old.json").write_text(json.dumps(d))
    with pytest.warns(FutureWarning) as caught:
        cfg = load_config(str(tmp_path / "old.json"))
    assert cfg.to_dict() == load_config("tiny").to_dict()
    said = " ".join(str(w.message) for w in caught)
    assert "model.encoder_skip" in said and "model.vision.stem_skip" in said and "cell_offset" in said
    with pytest.warns(FutureWarning) as caught:  # a checkpoint's own model config.json
        assert ModelConfig.from_dict(d["model"]) == cfg.model
    assert len(caught) == 3


def test_both_names_at_once_are_refused() -> None:
    d = load_config("tiny").to_dict()
    d["model"]["image_skip"] = True
    with pytest.raises(ValueError, match="both 'model.image_skip' and its new name 'model.encoder_skip'"):
        with pytest.warns(FutureWarning):
            TrainConfig.from_dict(d)


def test_every_renamed_key_names_a_current_key() -> None:
    full = load_config("tiny").to_dict()
    for old, new in ALL_RENAMED_KEYS.items():
        node = full
        for part in new.split("."):
            assert part in node, f"{old} -> {new}: no such key"
            node = node[part]
