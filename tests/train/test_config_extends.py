"""Config files that compose: ``"extends"`` names a preset or a file, the chain merges key by key,
its mistakes are errors naming the file, each file's datasets stay relative to its own folder, and
the presets share tiny's levers through one block."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from vlseq.train.config import PRESET_DIR, TrainConfig, load_config, merge, preset_names, read_config


def _write(path: Path, d: dict) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d))
    return str(path)


def test_merge_is_deep_for_objects_and_replaces_everything_else() -> None:
    base = {"a": 1, "m": {"x": 1, "v": {"k": 1, "j": 2}}, "l": [1, 2], "w": {"p": 1}}
    over = {"m": {"v": {"k": 5}}, "l": [3], "w": None, "n": {"q": 1}}
    assert merge(base, over) == {"a": 1, "m": {"x": 1, "v": {"k": 5, "j": 2}}, "l": [3], "w": None, "n": {"q": 1}}
    assert base["m"]["v"] == {"k": 1, "j": 2}  # neither argument changes


def test_a_file_states_only_what_differs_from_its_preset(tmp_path) -> None:
    path = _write(tmp_path / "mine.json", {"extends": "tiny", "name": "mine", "lr": 1e-4,
                                           "model": {"d_model": 192, "vision": {"channels": [16, 32, 64]}},
                                           "task_weights": {"detect": 3.0}})
    cfg, tiny = load_config(path).to_dict(), load_config("tiny").to_dict()
    assert cfg["lr"] == 1e-4 and cfg["model"]["d_model"] == 192
    assert cfg["model"]["vision"]["channels"] == (16, 32, 64)  # a list replaces the base's list
    assert cfg["model"]["vision"]["stem_skip"] is True  # ... and the rest of the object merges
    assert cfg["task_weights"] == {**tiny["task_weights"], "detect": 3.0}
    for key in ("lr", "name"):
        cfg.pop(key), tiny.pop(key)
    cfg["model"].pop("d_model"), tiny["model"].pop("d_model")
    cfg["model"]["vision"].pop("channels"), tiny["model"]["vision"].pop("channels")
    cfg.pop("task_weights"), tiny.pop("task_weights")
    assert cfg == tiny
    assert "extends" not in load_config(path).to_dict()  # the resolved whole is what a checkpoint saves


def test_a_chain_of_files_relative_to_each_other_then_overrides(tmp_path) -> None:
    _write(tmp_path / "shared" / "base.json", {"extends": "debug", "lr": 0.01, "batch_size": 4})
    _write(tmp_path / "shared" / "mid.json", {"extends": "base.json", "lr": 0.02})
    top = _write(tmp_path / "runs" / "top.json", {"extends": "../shared/mid.json", "warmup_steps": 1})
    cfg = load_config(top, ["batch_size=2"])
    assert (cfg.lr, cfg.warmup_steps, cfg.batch_size, cfg.name) == (0.02, 1, 2, "debug")
    absolute = _write(tmp_path / "abs.json", {"extends": str(tmp_path / "shared" / "mid.json")})
    assert load_config(absolute).lr == 0.02


def test_each_files_datasets_are_under_its_own_folder(tmp_path) -> None:
    entry = {"name": "mine", "train": {"instances": "ann/train.json", "image_root": "img"}}
    _write(tmp_path / "data" / "base.json", {"extends": "debug", "data": {"synth": None, "datasets": [entry]}})
    inherited = load_config(_write(tmp_path / "runs" / "a.json", {"extends": "../data/base.json", "lr": 0.1}))
    assert inherited.data.datasets[0]["train"]["instances"] == str(tmp_path / "data" / "ann" / "train.json")
    own = load_config(_write(tmp_path / "runs" / "b.json", {"extends": "../data/base.json",
                                                            "data": {"datasets": [entry]}}))
    assert own.data.datasets[0]["train"]["image_root"] == str(tmp_path / "runs" / "img")
    assert own.data.synth is None  # the base's data keys the file does not name stay


@pytest.mark.parametrize("extends, words", [
    ("tinyy", ["'extends': unknown preset 'tinyy'", "presets: all, base, coco, debug"]),
    ("nowhere.json", ["'extends': config file", "nowhere.json does not exist"]),
    (["tiny"], ["'extends' must name a preset or a JSON file, got ['tiny']"]),
])
def test_an_unknown_base_names_the_file(tmp_path, extends, words) -> None:
    path = _write(tmp_path / "mine.json", {"extends": extends})
    with pytest.raises(ValueError) as e:
        load_config(path)
    assert str(e.value).startswith(path) and all(w in str(e.value) for w in words), str(e.value)


def test_a_cycle_is_an_error_naming_the_chain(tmp_path) -> None:
    a = _write(tmp_path / "a.json", {"extends": "b.json"})
    b = _write(tmp_path / "b.json", {"extends": "c.json"})
    _write(tmp_path / "c.json", {"extends": "a.json"})
    with pytest.raises(ValueError, match="'extends' makes a cycle") as e:
        load_config(a)
    assert f"{a} -> {b} -> {tmp_path / 'c.json'} -> {a}" in str(e.value)
    selfish = _write(tmp_path / "self.json", {"extends": "self.json"})
    with pytest.raises(ValueError, match="makes a cycle"):
        load_config(selfish)


def test_extends_and_comment_are_file_keys_only(tmp_path) -> None:
    path = _write(tmp_path / "mine.json", {"extends": "debug", "comment": ["why", "this run"]})
    assert "comment" not in load_config(path).to_dict()
    with pytest.raises(ValueError, match="'comment' must be a string or a list of strings"):
        load_config(_write(tmp_path / "bad.json", {"extends": "debug", "comment": {"a": 1}}))
    with pytest.raises(ValueError, match="read from config files by load_config"):
        TrainConfig.from_dict({"extends": "tiny"})
    with pytest.raises(ValueError, match="unknown model config keys: \\['extends'\\]"):
        load_config(_write(tmp_path / "nested.json", {"extends": "debug", "model": {"extends": "tiny"}}))
    with pytest.raises(ValueError, match="a config file holds one JSON object"):
        load_config(_write(tmp_path / "list.json", []))  # type: ignore[arg-type]


def test_an_old_key_name_in_one_file_merges_with_the_new_name_in_its_base(tmp_path) -> None:
    path = _write(tmp_path / "old.json", {"extends": "tiny", "model": {"image_skip": False}})
    with pytest.warns(FutureWarning, match="model.encoder_skip"):
        cfg = load_config(path)
    assert cfg.model.encoder_skip is False and cfg.model.vision.stem_skip is True


def test_every_preset_resolves_and_the_shared_block_is_not_one() -> None:
    assert "_levers" not in preset_names() and (PRESET_DIR / "_levers.json").is_file()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the presets use current key names only
        for name in preset_names():
            assert load_config(name).name == name


def test_presets_but_debug_and_florence2_take_the_levers_from_one_block() -> None:
    levers = read_config(PRESET_DIR / "_levers.json")
    assert levers["model"]["loc_pointer"] == "cell_offset"
    for name in set(preset_names()) - {"debug", "florence2"}:
        cfg = load_config(name)
        m = cfg.model
        assert (m.loc_pointer, m.encoder_skip, m.vision.stem_skip, m.cell_loss) == (
            "cell_offset", True, True, levers["model"]["cell_loss"]), name
        assert cfg.group_pool in (0, levers["group_pool"]), name  # tiny_all keeps its pool off
    for name in ("debug", "florence2"):
        assert "extends" not in json.loads((PRESET_DIR / f"{name}.json").read_text())


def test_tiny_all_is_tiny_with_more_tasks_and_their_weights() -> None:
    tiny, every = load_config("tiny"), load_config("tiny_all")
    assert every.model == tiny.model and every.lr == tiny.lr and every.time_budget_min == tiny.time_budget_min
    assert {k: every.task_weights[k] for k in tiny.task_weights} == tiny.task_weights
    assert (every.group_pool, every.eval_every) == (0, 0)
