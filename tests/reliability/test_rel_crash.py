"""Crash safety: SIGKILL at a random step, SIGKILL in the middle of a checkpoint write, a full disk.

A killed run, started again with the same command, resumes from its last complete checkpoint and
ends with weights bitwise equal to an uninterrupted run (CPU, one thread). A half-written
checkpoint (``*.tmp``) is never loaded. A full disk gives one clear error and keeps the previous
checkpoint loadable.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from rel_helpers import (
    MAX_STEPS,
    assert_bitwise_equal,
    final_weights,
    losses,
    run_vlseq,
    train_args,
    vlseq_cmd,
    vlseq_env,
)

from vlseq.models.io import CheckpointWriteError, from_pretrained, is_checkpoint
from vlseq.train.checkpoint import list_checkpoints

POLL_S = 0.003


def _seed() -> int:
    """A fresh seed per run, printed so a failure can be replayed with VLSEQ_REL_SEED."""
    seed = int(os.environ.get("VLSEQ_REL_SEED", int.from_bytes(os.urandom(4), "little")))
    print(f"crash test seed {seed} (replay: VLSEQ_REL_SEED={seed})")
    return seed


def _start(out: Path, world: Path, **env: str) -> tuple[subprocess.Popen, Path]:
    out.mkdir(parents=True)
    errf = out.parent / f"{out.name}.stderr"
    proc = subprocess.Popen(vlseq_cmd(*train_args(out, world)), env=vlseq_env(**env), stdout=subprocess.DEVNULL,
                            stderr=errf.open("w"))
    return proc, errf


def _kill_when(proc: subprocess.Popen, ready, timeout: float = 180) -> None:
    """SIGKILL ``proc`` as soon as ``ready()`` holds; fail if it ends or times out first."""
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, "the run ended before the kill point"
        assert time.time() < deadline, "timed out waiting for the kill point"
        time.sleep(POLL_S)
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL


def _steps(ckpt_dir: Path) -> list[int]:
    return [int(p.name.split("_")[1]) for p in list_checkpoints(ckpt_dir)]


@pytest.mark.slow
def test_sigkill_at_random_step_then_resume_is_bitwise_exact(tmp_path, world, reference_run):
    kill_step = random.Random(_seed()).randint(2, MAX_STEPS - 2)
    out = tmp_path / "run"
    proc, _ = _start(out, world)
    _kill_when(proc, lambda: (out / "checkpoints" / f"step_{kill_step:07d}").is_dir())
    assert not (out / "final").exists()
    done = _steps(out / "checkpoints")
    assert done and kill_step <= done[-1] < MAX_STEPS, done
    print(f"killed with SIGKILL after step {done[-1]} (target {kill_step})")

    r = run_vlseq(*train_args(out, world))  # the same command again: resumes by itself
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"resumed from {out / 'checkpoints' / f'step_{done[-1]:07d}'}" in r.stdout
    assert_bitwise_equal(final_weights(out), final_weights(reference_run))
    # the curve after the resume is the reference's, step for step
    ref, got = losses(reference_run), losses(out)
    assert ref == got


@pytest.mark.slow
def test_sigkill_during_checkpoint_write_is_never_loaded(tmp_path, world, reference_run, caplog):
    kill_step = random.Random(_seed() + 1).randint(2, MAX_STEPS - 3)
    out = tmp_path / "run"
    ckpts = out / "checkpoints"
    # The hook sleeps after config.json, before the weights, in every save: kill inside step k's.
    proc, _ = _start(out, world, VLSEQ_TEST_SLOW_SAVE="0.4")
    _kill_when(proc, lambda: any(ckpts.glob(f"step_{kill_step:07d}.*.tmp/model.*.tmp/config.json")))
    partial = [p for p in ckpts.iterdir() if p.name.endswith(".tmp")]
    print(f"killed with SIGKILL inside the write of step {kill_step}: left {[p.name for p in partial]}")
    assert len(partial) == 1 and not (partial[0] / "trainer_state.json").exists()
    with caplog.at_level(logging.WARNING, logger="vlseq.train.checkpoint"):
        assert _steps(ckpts)[-1] == kill_step - 1
    assert f"ignoring partly written checkpoint {partial[0]}" in caplog.text
    assert not is_checkpoint(partial[0])
    with pytest.raises(ValueError, match="not a complete vlseq checkpoint"):
        from_pretrained(partial[0])

    r = run_vlseq(*train_args(out, world))
    assert r.returncode == 0, r.stderr[-3000:]
    assert "ignoring partly written checkpoint" in r.stderr
    assert f"resumed from {ckpts / f'step_{kill_step - 1:07d}'}" in r.stdout
    assert_bitwise_equal(final_weights(out), final_weights(reference_run))
    assert not list(ckpts.glob("*.tmp")), "the leftover of the killed write is cleaned after the next save"


# --------------------------------------------------------------------------- full disk


def _tiny_model():
    from vlseq.models.config import ModelConfig, VisionConfig
    from vlseq.models.vlseq_model import VLSeqModel
    from vlseq.tokenizer import VLTokenizer

    tok = VLTokenizer.train(["a red circle", "how many shapes?", "two"] * 5, num_bins=16)
    cfg = ModelConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64,
                      image_size=32, num_bins=16, max_positions=64, vision=VisionConfig(channels=(8, 16, 32)))
    torch.manual_seed(0)
    return VLSeqModel(cfg), tok


def _no_space(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


SETTINGS = {"num_bins": 16, "image_size": 32, "tasks": ["vqa"], "max_prompt_tokens": 16, "max_target_tokens": 16}


def test_full_disk_keeps_previous_release_checkpoint(tmp_path, monkeypatch):
    from vlseq.models import io

    model, tok = _tiny_model()
    path = tmp_path / "final"
    io.save_pretrained(model, tok, path, SETTINGS)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    monkeypatch.setattr(io, "save_model", _no_space)
    with pytest.raises(CheckpointWriteError) as e:
        io.save_pretrained(model, tok, path, SETTINGS)
    msg = str(e.value)
    assert str(path) in msg and "no space left" in msg.lower() and e.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"], "no temporary directory left behind"
    loaded, _, settings = from_pretrained(path)
    assert settings == SETTINGS
    for k, v in loaded.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_full_disk_during_training_is_one_clear_cli_error(tmp_path, world, monkeypatch, capsys):
    """``vlseq train`` whose second checkpoint hits a full disk: exit 2, one line, step 1 intact."""
    from vlseq.cli import main
    from vlseq.train import checkpoint

    real_save_file, calls = checkpoint.save_file, []

    def save_file_then_full(*args, **kwargs):  # the RNG file of the 2nd checkpoint cannot be written
        calls.append(1)
        if len(calls) == 2:
            _no_space()
        return real_save_file(*args, **kwargs)

    monkeypatch.setattr(checkpoint, "save_file", save_file_then_full)
    out = tmp_path / "run"
    rc = main(["train", "--config", "debug", f"out_dir={out}", f"data.synth={world}", "max_steps=3", "save_every=1",
               'tasks=["vqa"]', "eval_examples=1"])
    err = capsys.readouterr().err
    assert rc == 2
    line = [l for l in err.splitlines() if l.startswith("vlseq: error:")]
    assert len(line) == 1, err[-2000:]
    assert str(out / "checkpoints" / "step_0000002") in line[0] and "no space left" in line[0].lower()
    assert "Traceback" not in err
    ckpts = out / "checkpoints"
    assert _steps(ckpts) == [1] and not list(ckpts.glob("*.tmp"))
    model, _, _ = from_pretrained(ckpts / "step_0000001" / "model")
    assert sum(p.numel() for p in model.parameters()) > 0
