"""Training: the debug preset trains in seconds, checkpoints are atomic, resume is exact,
config overrides are checked, the CLIs run through main(argv)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlseq.train.checkpoint import list_checkpoints
from vlseq.train.config import load_config
from vlseq.train.loop import Trainer


def _cfg(tmp: Path, synth: Path, **kw):
    over = [f"out_dir={tmp}", f"data.synth={synth}", "max_steps=6", "save_every=3", "keep_last=5",
            'data.synth_generate={"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0}', "log_every=2"]
    over += [f"{k}={v}" for k, v in kw.items()]
    return load_config("debug", over)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synth") / "world"


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "final" / "model.safetensors"))


@pytest.mark.parametrize("group", [0, 4])
def test_train_resume_is_exact(tmp_path, synth, group) -> None:
    # group_pool=4: the checkpoint at step 3 is 3 batches into a pool of 4; resuming draws the pool again
    a = tmp_path / "a"
    summary = Trainer(_cfg(a, synth, group_pool=group), evaluate_at_end=False).run()
    assert summary["step"] == 6
    log = (a / "log.jsonl").read_text().splitlines()
    assert len(log) >= 3 and '"loss/' in log[0]
    steps = [int(p.name.split("_")[1]) for p in list_checkpoints(a / "checkpoints")]
    assert steps == [3, 6]
    # Interrupted after step 3: drop what came later, resume, and finish.
    b = tmp_path / "b"
    shutil.copytree(a, b)
    shutil.rmtree(b / "checkpoints" / "step_0000006")
    shutil.rmtree(b / "final")
    (b / "checkpoints" / "step_0000009.abcd1234.tmp").mkdir()  # a partly written checkpoint: ignored
    resumed = Trainer(_cfg(b, synth, group_pool=group), evaluate_at_end=False)
    assert resumed.step == 3
    resumed.run()
    wa, wb = _weights(a), _weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_balanced_and_temperature_sampled_training_resumes_exactly(tmp_path, synth) -> None:
    # the balancer's moving averages are saved with the checkpoint, so a resumed run weighs alike
    kw = {"loss_balance": "inverse_loss", "task_temperature": 2.0}
    a = tmp_path / "a"
    trainer = Trainer(_cfg(a, synth, **kw), evaluate_at_end=False)
    sizes = {s: len(v) for s, v in trainer.train_data.items()}
    weights = trainer.stage_weights()
    for s in sizes:  # each task's weight (1 in debug) times its set's size ** (1 / 2)
        assert weights[s] == pytest.approx(sizes[s] ** 0.5)
    trainer.run()
    assert trainer.balancer is not None and set(trainer.balancer.avg) == set(trainer.tasks)
    b = tmp_path / "b"
    shutil.copytree(a, b)
    shutil.rmtree(b / "checkpoints" / "step_0000006")
    shutil.rmtree(b / "final")
    resumed = Trainer(_cfg(b, synth, **kw), evaluate_at_end=False)
    assert resumed.step == 3 and resumed.balancer is not None and resumed.balancer.avg  # read from step 3
    resumed.run()
    wa, wb = _weights(a), _weights(b)
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_loss_falls_with_ema(tmp_path, synth) -> None:
    run = tmp_path / "r"
    Trainer(_cfg(run, synth, max_steps=30, save_every=0, lr=5e-3, ema_decay=0.9), evaluate_at_end=False).run()
    import json

    recs = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in recs if "loss" in r]
    assert losses[-1] < losses[0] * 0.8
    assert (run / "checkpoints" / "step_0000030" / "ema.safetensors").exists()


def test_overrides_are_checked() -> None:
    cfg = load_config("debug", ["model.d_model=96", "lr=0.01", 'tasks=["vqa"]'])
    assert cfg.model.d_model == 96 and cfg.lr == 0.01 and cfg.tasks == ["vqa"]
    with pytest.raises(ValueError, match="unknown key"):
        load_config("debug", ["model.width=3"])
    with pytest.raises(ValueError, match="unknown preset"):
        load_config("nope")
    with pytest.raises(ValueError, match="'group_pool' must be >= 0"):
        load_config("debug", ["group_pool=-2"])


def test_train_and_eval_cli(tmp_path, synth, capsys) -> None:
    from vlseq.cli import main

    run = tmp_path / "cli"
    assert main(["train", "--config", "debug", f"out_dir={run}", f"data.synth={synth}", "max_steps=2", "save_every=0",
                 'data.synth_generate={"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0}', "eval_examples=2"]) == 0
    assert "| refexp | acc@0.5 |" in capsys.readouterr().out
    out = tmp_path / "ev"
    assert main(["eval", "--checkpoint", str(run / "final"), "--data", str(synth / "val"), "--max-per-task", "3",
                 "--out", str(out), "--image-use", "3"]) == 0
    assert (out / "metrics.json").exists() and (out / "index.html").exists() and (out / "sheet.png").exists()
    import json

    uses = json.loads((out / "image_use.json").read_text())
    assert "detect" in uses and set(uses["detect"]) == {"loss", "loss_shuffled"}
    assert "| task | loss, true images |" in capsys.readouterr().out
    lines = (out / "predictions.jsonl").read_text().splitlines()
    assert len(lines) >= 9 * 3 - 3


def test_train_from_shards_and_resume(tmp_path, synth) -> None:
    from vlseq.cli.shard import main as shard_main

    Trainer(_cfg(tmp_path / "seed", synth, max_steps=1, save_every=0), evaluate_at_end=False)  # makes the world
    shards = tmp_path / "shards"
    assert shard_main(["--data", str(synth / "train"), "--out", str(shards), "--shard-size", "64"]) == 0
    run = tmp_path / "s"
    over = {"data.shards": f'["{shards}"]', "data.loader_workers": 0, "max_steps": 4, "save_every": 2}
    summary = Trainer(_cfg(run, synth, **over), evaluate_at_end=False).run()
    assert summary["step"] == 4
    import json

    state = json.loads((run / "checkpoints" / "step_0000004" / "trainer_state.json").read_text())
    assert state["stream"]["positions"]  # the stream position is checkpointed
    shutil.rmtree(run / "checkpoints" / "step_0000004")
    resumed = Trainer(_cfg(run, synth, **{**over, "max_steps": 5}), evaluate_at_end=False)
    assert resumed.step == 2 and resumed.run()["step"] == 5


def test_compiled_training_saves_plain_weights(tmp_path, synth) -> None:
    """``compile=eager`` goes through torch.compile (the eager backend: no code generation, so it
    runs in seconds); the saved weights carry the plain model's names, loadable without compiling."""
    run = tmp_path / "c"
    trainer = Trainer(_cfg(run, synth, max_steps=2, save_every=0, compile="eager"), evaluate_at_end=False)
    assert trainer.model is not trainer.raw_model  # wrapped by torch.compile
    trainer.run()
    names = set(_weights(run))
    assert names <= set(trainer.raw_model.state_dict()) and not any("_orig_mod" in n for n in names)


def test_a_failing_periodic_evaluation_saves_the_run_before_it_stops(tmp_path, synth, monkeypatch) -> None:
    def broken(self, *a, **kw):
        raise ValueError("predictions[12][0]: something a metric refused")

    monkeypatch.setattr(Trainer, "evaluate", broken)
    run = tmp_path / "r"
    with pytest.raises(RuntimeError, match=r"evaluation at step 2 failed: predictions\[12\]\[0\].*resumes"):
        Trainer(_cfg(run, synth, eval_every=2), evaluate_at_end=False).run()
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step_0000002"]
    monkeypatch.undo()
    assert Trainer(_cfg(run, synth), evaluate_at_end=False).step == 2  # the same command resumes there
