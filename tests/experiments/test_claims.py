"""The unified-vs-single-task benchmark: a debug-sized run end to end (train, evaluate, compare, JSON),
reuse of a finished unified run, and its bookkeeping (samples per task, differences, clear errors).

The experiment is a script, not a package module, so it is loaded from ``experiments/`` by path.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

from helpers import load_script

# A world of a few scenes, written in-process (no worker pool to spawn).
WORLD = {"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0, "workers": 1}
TASKS = ["refexp", "vqa"]


def load() -> ModuleType:
    return load_script("experiments", "claims")


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory) -> tuple[Path, dict, str]:
    """One benchmark run: debug preset, 2 tasks, 2 steps per model, 3 val examples per task."""
    root = tmp_path_factory.mktemp("claims")
    out, report = root / "out", root / "result.json"
    argv = ["--preset", "debug", "--tasks", *TASKS, "--minutes", "0.5", "--threads", "1", "--eval-per-task", "3",
            "--out", str(out), "--json", str(report),
            "--set", f"data.synth={root / 'world'}", "--set", f"data.synth_generate={json.dumps(WORLD)}",
            "--set", "max_steps=2", "--set", "save_every=0", "--set", "warmup_steps=4"]
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert load().main(argv) == 0
    return out, json.loads(report.read_text()), buf.getvalue()


def test_trains_both_sides_and_compares(bench_run) -> None:
    out, res, printed = bench_run
    assert res["tasks"] == TASKS and res["preset"] == "debug"
    uni, single = res["unified"], res["single"]
    # --set max_steps=2 caps every run; the debug batch is 8, so each model saw 16 samples.
    assert uni["steps"] == 2 and uni["samples"] == 16 and sum(uni["samples_per_task"].values()) == 16
    assert set(uni["samples_per_task"]) <= set(TASKS)
    for task in TASKS:
        s = single[task]
        assert s["tasks"] == [task] and s["steps"] == 2 and s["samples_per_task"] == {task: 16}
        # Each single-task model is a run of its own: its own checkpoint, trained on its task only.
        settings = json.loads((out / f"single-{task}" / "final" / "vlseq.json").read_text())
        assert settings["tasks"] == [task]
        assert settings["train_config"]["time_budget_min"] == pytest.approx(0.25)  # M / n
        assert settings["train_config"]["warmup_steps"] == 2  # 1/n of the warmup too
        assert (out / f"single-{task}" / "tokenizer" / "tokenizer.json").exists()
        on_disk = json.loads((out / f"single-{task}" / "eval" / "metrics.json").read_text())
        assert on_disk == s["metrics"] and on_disk[f"{task}/n"] == 3
        assert not any(k.split("/")[0] != task for k in on_disk)
    multi_cfg = json.loads((out / "multi" / "final" / "vlseq.json").read_text())
    assert multi_cfg["tasks"] == sorted(TASKS) and multi_cfg["train_config"]["warmup_steps"] == 4
    assert multi_cfg["train_config"]["time_budget_min"] == pytest.approx(0.5)
    rows = {r["task"]: r for r in res["rows"]}
    assert rows["refexp"]["metric"] == "acc@0.5" and rows["vqa"]["metric"] == "accuracy"
    for task, r in rows.items():
        assert r["unified"] == uni["metrics"][f"{task}/{r['metric']}"]
        assert r["single"] == single[task]["metrics"][f"{task}/{r['metric']}"]
        assert 0.0 <= r["unified"] <= 1.0 and 0.0 <= r["single"] <= 1.0
        assert r["diff"] == pytest.approx(r["unified"] - r["single"])
        assert r["n_eval"] == 3 and r["single_samples"] == 16
    assert "| task | metric | unified | single-task | unified - single |" in printed
    assert "| refexp | acc@0.5 |" in printed and "| vqa | accuracy |" in printed
    assert any("Same total optimiser-step time" in c for c in res["caveats"])
    assert any("fewer than 20 steps" in c for c in res["caveats"])
    assert any("Warmup is scaled" in c for c in res["caveats"]) and res["warmup_steps"] == {"unified": 4, "single": 2}


def test_reuses_a_finished_unified_run(bench_run, tmp_path, capsys) -> None:
    out, first, _ = bench_run
    multi = out / "multi"
    ckpts_before = sorted(p.name for p in (multi / "checkpoints").iterdir())
    report = tmp_path / "reused.json"
    assert load().main(["--multi-run", str(multi), "--tasks", "vqa", "--threads", "1", "--out", str(tmp_path / "o"),
                        "--json", str(report)]) == 0
    res = json.loads(report.read_text())
    assert sorted(p.name for p in (multi / "checkpoints").iterdir()) == ckpts_before  # not trained again
    assert res["unified"]["metrics"]["vqa/accuracy"] == first["unified"]["metrics"]["vqa/accuracy"]
    assert res["unified"]["steps"] == 2 and res["unified"]["samples"] == 16
    assert res["eval_per_task"] == {"vqa": 3}  # the n the unified run was scored on
    # The budget defaults to the time the unified run actually trained, and is still split over the
    # 2 tasks it trained on, though only one is compared.
    minutes = first["unified"]["elapsed_s"] / 60
    assert res["minutes"] == pytest.approx(minutes)
    settings = json.loads((tmp_path / "o" / "single-vqa" / "final" / "vlseq.json").read_text())
    assert settings["train_config"]["time_budget_min"] == pytest.approx(minutes / 2)
    # The single-task config is the reused run's own (its world, model, batch; max_steps=2 included).
    assert settings["train_config"]["data"]["synth"] == str(out.parent / "world")
    assert settings["train_config"]["warmup_steps"] == 2
    # That budget is a few hundredths of a second here, so the run may stop on time after one step.
    assert 1 <= res["single"]["vqa"]["steps"] <= 2
    assert [r["task"] for r in res["rows"]] == ["vqa"]
    assert "| vqa | accuracy |" in capsys.readouterr().out


def test_clear_errors(tmp_path, bench_run) -> None:
    bc = load()
    empty = tmp_path / "run"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"eval/metrics\.json does not exist"):
        bc.main(["--multi-run", str(empty), "--out", str(tmp_path / "o")])
    out, _, _ = bench_run
    with pytest.raises(ValueError, match=r"not trained on task\(s\) \['detect'\]"):
        bc.main(["--multi-run", str(out / "multi"), "--tasks", "detect", "--out", str(tmp_path / "o")])
    with pytest.raises(ValueError, match="unknown task"):
        bc.main(["--preset", "debug", "--tasks", "painting", "--out", str(tmp_path / "o")])
    with pytest.raises(SystemExit):
        bc.main(["--minutes", "0"])


def test_samples_are_read_from_the_mixture_position() -> None:
    bc = load()
    state = {"sources": {"vqa": {"size": 10, "epoch": 2, "pos": 3, "p": 0.5},
                         "refexp@coco": {"size": 5, "epoch": 0, "pos": 4, "p": 0.25},
                         "refexp": {"size": 7, "epoch": 1, "pos": 0, "p": 0.25}}}
    assert bc.samples_from_mixture(state) == {"vqa": 23, "refexp": 11}
    multi = bc.RunResult("unified", "m", ["vqa", "grounded_caption"], 10, 60.0, {"vqa": 30, "grounded_caption": 50},
                         {"vqa/accuracy": 0.6, "grounded_caption/f1_loc": 0.2, "grounded_caption/f1_all": 0.3})
    singles = {"vqa": bc.RunResult("vqa", "s", ["vqa"], 5, 30.0, {"vqa": 40}, {"vqa/accuracy": 0.5}),
               "grounded_caption": bc.RunResult("grounded_caption", "g", ["grounded_caption"], 5, 30.0,
                                                {"grounded_caption": 40}, {"grounded_caption/f1_loc": 0.35})}
    rows = {r["task"]: r for r in bc.comparison_rows(multi, singles)}
    assert rows["vqa"]["diff"] == pytest.approx(0.1) and rows["vqa"]["unified_task_samples"] == 30
    assert rows["grounded_caption"]["metric"] == "f1_loc" and rows["grounded_caption"]["diff"] == pytest.approx(-0.15)
    text = bc.render(multi, singles, ["a caveat"], "header")
    assert "ahead on 1 of 2 tasks" in text and "- a caveat" in text
    # f1_all is scored for the unified model only: shown, with no difference.
    assert "| grounded_caption | f1_all | 0.300 | - | - |" in text
