"""The resume guard: which settings a resumed run may change, and how a change is named."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from vlseq.train.checkpoint import ResumeMismatch, check_resume
from vlseq.train.config import RESUME_FREE_KEYS, TrainConfig, load_config, resume_changes


def _saved(cfg: TrainConfig) -> dict:
    """``cfg`` as a checkpoint's ``vlseq.json`` holds it (through JSON)."""
    return json.loads(json.dumps(cfg.to_dict()))


def test_the_same_config_changes_nothing() -> None:
    cfg = load_config("tiny")
    assert resume_changes(_saved(cfg), cfg) == []  # tuples (vision.channels) and lists read alike


def test_changes_are_named_by_dotted_path_old_to_new() -> None:
    saved = _saved(load_config("tiny"))
    cfg = load_config("tiny", ["lr=0.0005", "model.vision.stem_skip=false", 'task_weights={"detect": 3}',
                               "data.synth=null"])
    assert resume_changes(saved, cfg) == [
        "data.synth: \"data/synth-tiny-mixed\" -> null",
        "lr: 0.001 -> 0.0005",
        "model.vision.stem_skip: true -> false",
        "task_weights.caption: 0.75 -> (absent)",
        "task_weights.classify: 1.0 -> (absent)",
        "task_weights.detect: 2.0 -> 3",
        "task_weights.ground: 1.0 -> (absent)",
        "task_weights.grounded_caption: 1.5 -> (absent)",
        "task_weights.localize: 0.75 -> (absent)",
        "task_weights.refexp: 1.5 -> (absent)",
        "task_weights.region_caption: 0.5 -> (absent)",
        "task_weights.vqa: 1.5 -> (absent)",
    ]


def test_where_how_long_how_watched_and_how_fast_may_change() -> None:
    saved = _saved(load_config("tiny"))
    free = ["out_dir=elsewhere", "max_steps=5", "time_budget_min=null", "log_every=1", "eval_every=7",
            "eval_examples=3", "save_every=9", "keep_last=1", "threads=8", "data.loader_workers=0",
            "data.image_cache_mb=0"]
    assert {item.split("=")[0] for item in free} == set(RESUME_FREE_KEYS)
    assert resume_changes(saved, load_config("tiny", free)) == []


def test_an_older_checkpoints_config_is_read_as_a_config_file_is() -> None:
    cfg = load_config("tiny")
    saved = _saved(cfg)
    saved["model"]["image_skip"] = saved["model"].pop("encoder_skip")  # a key renamed since
    saved["group_by_length"] = saved.pop("group_pool")
    del saved["data"]["shuffle_buffer"]  # a key added since (at its default)
    assert resume_changes(saved, cfg) == []
    saved["from_the_future"] = 1  # a key this version does not know: compared as written
    assert resume_changes(saved, cfg) == ["from_the_future: 1 -> (absent)"]


def _checkpoint(tmp: Path, cfg: TrainConfig | None) -> Path:
    path = tmp / "checkpoints" / "step_0000004"
    (path / "model").mkdir(parents=True)
    settings = {"num_bins": 64} if cfg is None else {"num_bins": 64, "train_config": _saved(cfg)}
    (path / "model" / "vlseq.json").write_text(json.dumps(settings))
    return path


def test_check_resume_stops_or_logs(tmp_path, caplog) -> None:
    path = _checkpoint(tmp_path, load_config("tiny"))
    assert check_resume(path, load_config("tiny", ["max_steps=7"])) == []
    changed = load_config("tiny", ["model.d_model=192"])
    with pytest.raises(ResumeMismatch) as e:
        check_resume(path, changed)
    msg = str(e.value)
    assert msg.startswith(f"{path}: ") and "1 setting(s) differ (saved -> given): model.d_model: 128 -> 192" in msg
    assert "--resume-anyway" in msg and "--no-resume" in msg and isinstance(e.value, ValueError)
    with caplog.at_level(logging.WARNING, logger="vlseq.train.checkpoint"):
        assert check_resume(path, changed, anyway=True) == ["model.d_model: 128 -> 192"]
    assert "model.d_model: 128 -> 192" in caplog.text


def test_a_long_list_of_changes_is_cut(tmp_path) -> None:
    path = _checkpoint(tmp_path, load_config("tiny"))
    weights = json.dumps({f"t{i}": 1 for i in range(30)})
    with pytest.raises(ResumeMismatch, match=r"39 setting\(s\) differ.*; and 19 more\. "):
        check_resume(path, load_config("tiny", [f"task_weights={weights}"]))


def test_a_checkpoint_without_a_saved_config_resumes_with_a_warning(tmp_path, caplog) -> None:
    path = _checkpoint(tmp_path, None)
    with caplog.at_level(logging.WARNING, logger="vlseq.train.checkpoint"):
        assert check_resume(path, load_config("tiny", ["lr=1"])) == []
    assert "no training config saved with it" in caplog.text
