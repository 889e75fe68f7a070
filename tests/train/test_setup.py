"""How a Trainer is put together: the run is resolved without touching the caller's config, the
schedule's end is the trainer's to move, accumulation through Accelerate matches the plain
per-micro-batch arithmetic bit for bit, and losses are read from the device only at log steps."""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from pathlib import Path

import pytest
import torch

from vlseq.models.protocol import VLModel
from vlseq.train.config import load_config
from vlseq.train.loop import CALIBRATION_STEPS, Trainer
from vlseq.train.losses import LossWindow
from vlseq.train.optim import WarmupCosine, build_scheduler, schedule_lr
from vlseq.train.setup import open_accelerator, resolve_run


def _cfg(tmp: Path, synth: Path, *over: str):
    base = [f"out_dir={tmp}", f"data.synth={synth}", "max_steps=4", "save_every=0", "log_every=2", "eval_examples=0",
            'data.synth_generate={"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0}']
    return load_config("debug", base + list(over))


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synth") / "world"


def test_a_trainer_leaves_the_callers_config_as_it_was(tmp_path, synth) -> None:
    cfg = _cfg(tmp_path / "a", synth)
    before, model_cfg = copy.deepcopy(cfg.to_dict()), cfg.model
    trainer = Trainer(cfg, evaluate_at_end=False)
    assert cfg.to_dict() == before and cfg.model is model_cfg and cfg.model.vocab_size == 0
    # the run's own copy has what the tokenizer fixed, and checkpoints record that copy
    assert trainer.cfg is not cfg and trainer.cfg.model.vocab_size == len(trainer.tokenizer) > 0
    assert trainer.cfg.model.loc_offset == trainer.tokenizer.loc_offset
    assert trainer.settings["train_config"] == trainer.cfg.to_dict()
    assert isinstance(trainer.raw_model, VLModel) and trainer.raw_model.config is trainer.cfg.model
    trainer.run()
    assert cfg.to_dict() == before
    # init_from replaces the architecture in the run's copy only
    tuned_cfg = _cfg(tmp_path / "ft", synth, f"init_from={tmp_path / 'a' / 'final'}", "model.d_model=96")
    before = copy.deepcopy(tuned_cfg.to_dict())
    tuned = Trainer(tuned_cfg, evaluate_at_end=False)
    assert tuned_cfg.to_dict() == before and tuned_cfg.model.d_model == 96
    assert tuned.cfg.model.d_model == 64 and tuned.cfg.model == trainer.cfg.model


def test_resolve_run_is_a_frozen_record_of_the_final_config(tmp_path, synth) -> None:
    cfg = _cfg(tmp_path / "r", synth, 'tasks=["vqa", "detect"]')
    setup = resolve_run(cfg, open_accelerator(cfg), tmp_path / "r")
    assert setup.tasks == ("detect", "vqa") and len(setup.stages) == 1 and setup.image_tokenizer is None
    assert setup.cfg.model == cfg.model.with_tokenizer(setup.tokenizer) and cfg.model.vocab_size == 0
    assert setup.cfg.model.vision is not cfg.model.vision  # no mutable part shared with the caller
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.cfg = cfg  # type: ignore[misc]


def test_moving_the_schedules_end_changes_the_lr_only_from_then_on() -> None:
    def lrs(move_at: int | None) -> list[float]:
        groups = [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(2)]  # as build_optimizer's two
        opt = torch.optim.SGD(groups, lr=0.1)
        shape = WarmupCosine(3, 40, 0.05)
        sched = schedule_lr(opt, shape)
        out = []
        for step in range(30):
            if step == move_at:
                shape.set_total(12)
            out.append(sched.get_last_lr())
            opt.step()
            sched.step()
        return out

    fixed, moved = lrs(None), lrs(10)
    # the lr of step 10 was set when step 9 ended: the new end shows from step 11
    assert moved[:11] == fixed[:11] and moved[11] != fixed[11]
    assert all(a == b for a, b in moved[10:])  # one horizon read by every parameter group
    assert moved[11][0] == pytest.approx(0.1 * WarmupCosine(3, 12, 0.05)(11))
    assert all(lr[0] == pytest.approx(0.1 * 0.05) for lr in moved[12:])
    # build_scheduler is the same schedule with a fixed end, and the saved state stays plain values
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    state = build_scheduler(opt, 3, 40, 0.05).state_dict()
    assert state["lr_lambdas"] == [{"warmup": 3, "total": 40, "min_ratio": 0.05}]


def test_the_schedule_is_fitted_to_the_time_budget_once(tmp_path, synth, monkeypatch) -> None:
    trainer = Trainer(_cfg(tmp_path / "t", synth, "max_steps=400", "warmup_steps=5"), evaluate_at_end=False)
    trainer.elapsed = 2.0  # 0.1 s per step over the calibration steps
    trainer.fit_schedule_to_budget(12.0)
    assert trainer.schedule_total == trainer.lr_schedule.total == 120
    trainer.fit_schedule_to_budget(0.5)  # never inside the warmup
    assert trainer.schedule_total == 6
    trainer.fit_schedule_to_budget(1e9)  # never past max_steps
    assert trainer.schedule_total == 400

    calls: list[tuple[int, float]] = []
    monkeypatch.setattr(Trainer, "fit_schedule_to_budget", lambda self, budget: calls.append((self.step, budget)))
    run = tmp_path / "timed"
    Trainer(_cfg(run, synth, f"max_steps={CALIBRATION_STEPS + 2}", "time_budget_min=100"), evaluate_at_end=False).run()
    assert calls == [(CALIBRATION_STEPS, 6000.0)]
    state = json.loads((run / "checkpoints" / f"step_{CALIBRATION_STEPS + 2:07d}" / "trainer_state.json").read_text())
    assert state["schedule_total"] == CALIBRATION_STEPS + 2


def test_accumulation_matches_the_plain_arithmetic_bit_for_bit(tmp_path, synth) -> None:
    """Accelerate's accumulate()/backward() against summing loss / grad_accum by hand, on two
    identical trainers in one process (each keeps its own accumulation count)."""
    a = Trainer(_cfg(tmp_path / "a", synth, "grad_accum=3", "batch_size=4"), evaluate_at_end=False)
    b = Trainer(_cfg(tmp_path / "b", synth, "grad_accum=3", "batch_size=4"), evaluate_at_end=False)
    for _ in range(2):
        got = a.train_step()
        b.accelerator.gradient_accumulation_steps = 1  # backward() as a plain backward
        want = []
        for _ in range(3):
            batch, _sources = b._micro_batch(4)
            with b.accelerator.autocast():
                loss = b.model(**batch)["loss"] / 3
            b.accelerator.backward(loss)
            want.append(float(loss.detach()))
        b.accelerator.clip_grad_norm_(b.model.parameters(), b.cfg.clip_grad)
        b.optimizer.step()
        b.scheduler.step()
        b.optimizer.zero_grad(set_to_none=True)
        assert [float(x) for x in got.micro] == want
    for (name, pa), pb in zip(a.raw_model.state_dict().items(), b.raw_model.state_dict().values()):
        assert torch.equal(pa, pb), name


def test_the_host_reads_losses_only_at_log_steps(tmp_path, synth, monkeypatch) -> None:
    reads: list[int] = []
    trainer = Trainer(_cfg(tmp_path / "h", synth, "max_steps=5", "log_every=2"), evaluate_at_end=False)
    means = LossWindow.means
    monkeypatch.setattr(LossWindow, "means", lambda self: (reads.append(trainer.step), means(self))[1])
    trainer.run()
    assert reads == [2, 4, 5]
    recs = [json.loads(line) for line in (tmp_path / "h" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in recs] == [2, 4, 5] and all(math.isfinite(r["loss"]) for r in recs)


def test_a_run_scored_with_meteor_stops_before_training_without_java(tmp_path, monkeypatch) -> None:
    """Paragraphs and stories are scored with METEOR, which needs Java: a run that would find out at
    its first evaluation (with no checkpoint saved yet) stops before its first step instead."""
    from vlseq.metrics import meteor
    from vlseq.train.setup import check_metrics_can_run

    cfg = load_config("debug", [f"out_dir={tmp_path}", "eval_examples=5"])
    monkeypatch.setattr(meteor, "COMMAND", ("no-such-java-here",) + meteor.COMMAND[1:])
    monkeypatch.setattr(meteor.meteor_missing, "__defaults__", (meteor.COMMAND,))
    with pytest.raises(ValueError, match="paragraph.*METEOR needs a Java runtime.*eval_examples=0"):
        check_metrics_can_run(cfg, ("detect", "paragraph"))
    check_metrics_can_run(cfg, ("detect", "vqa"))  # nothing scored with METEOR: no Java needed
    check_metrics_can_run(dataclasses.replace(cfg, eval_examples=0), ("paragraph",))  # nothing evaluated
