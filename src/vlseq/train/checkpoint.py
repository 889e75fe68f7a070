"""Training checkpoints: atomic directories that resume a run exactly.

``out/checkpoints/step_0000500/`` holds the model checkpoint (see :mod:`vlseq.models.io`), plus
``trainer_state.json`` (step, sampler position, python RNG, schedule length), ``optimizer.pt`` and
``scheduler.pt`` (tensors and plain values only: loaded with ``weights_only=True``),
``rng.safetensors`` (torch and numpy RNG states) and ``ema.safetensors`` when EMA is on.
A crash while writing leaves only a ``*.tmp`` directory, which is never loaded (a warning names
it) and is removed after the next complete save. A full disk raises
:class:`~vlseq.models.io.CheckpointWriteError` naming the checkpoint; earlier checkpoints stay intact.

A resume first compares the run's config with the one its checkpoint was saved with
(:func:`check_resume`): a changed setting stops it, naming the key, unless resumed anyway.
"""

from __future__ import annotations

import json
import logging
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, load_model, save_file, save_model

from ..models.io import SETTINGS, atomic_dir_write, is_checkpoint, save_pretrained
from .config import TrainConfig, resume_changes

log = logging.getLogger(__name__)
STEP_RE = re.compile(r"step_(\d+)$")
#: changed settings named in full by a resume error; more are counted
SHOWN_CHANGES = 20


class ResumeMismatch(ValueError):
    """The config a run would resume with differs from the one its checkpoint was saved with."""


def _rng_state() -> tuple[dict[str, torch.Tensor], Any]:
    np_state = np.random.get_state()
    tensors = {"torch": torch.get_rng_state(), "numpy_keys": torch.from_numpy(np_state[1].astype(np.int64))}
    return tensors, {"numpy": [np_state[0], int(np_state[2]), int(np_state[3]), float(np_state[4])],
                     "python": py_state_to_json(random.getstate())}


def py_state_to_json(state: tuple) -> list:
    """``random.getstate()``'s tuple as JSON can hold it (its inner tuple as a list)."""
    return [state[0], list(state[1]), state[2]]


def py_state_from_json(state: list) -> tuple:
    """The inverse of :func:`py_state_to_json`: a state ``random.setstate`` takes."""
    return (state[0], tuple(state[1]), state[2])


def save_checkpoint(path: Path, model, tokenizer, settings: dict, optimizer, scheduler, ema, trainer_state: dict,
                    image_tokenizer=None) -> None:
    """Write one resumable training checkpoint directory atomically (``image_tokenizer``: see
    :func:`~vlseq.models.io.save_pretrained`)."""

    def write(d: Path) -> None:
        # The model part is written with the same code as a released checkpoint.
        inner = d / "model"
        save_pretrained(model, tokenizer, inner, settings, image_tokenizer)
        torch.save(optimizer.state_dict(), d / "optimizer.pt")
        torch.save(scheduler.state_dict(), d / "scheduler.pt")
        tensors, extra = _rng_state()
        save_file(tensors, str(d / "rng.safetensors"))
        if ema is not None:
            save_model(ema.module, str(d / "ema.safetensors"))
            torch.save({"n_averaged": ema.n_averaged}, d / "ema_state.pt")
        (d / "trainer_state.json").write_text(json.dumps({**trainer_state, "rng": extra}, indent=2))

    atomic_dir_write(path, write)


def list_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoints, oldest first; partial (``.tmp``) ones are reported and ignored."""
    if not ckpt_dir.is_dir():
        return []
    out = []
    for p in ckpt_dir.iterdir():
        if p.name.endswith(".tmp"):
            log.warning("ignoring partly written checkpoint %s", p)
            continue
        m = STEP_RE.search(p.name)
        if m and (p / "trainer_state.json").exists() and is_checkpoint(p / "model"):
            out.append((int(m.group(1)), p))
        elif m:
            log.warning("ignoring incomplete checkpoint %s", p)
    return [p for _, p in sorted(out)]


def load_checkpoint(path: Path, model, optimizer, scheduler, ema) -> dict:
    """Restore model, optimiser, scheduler, EMA and RNG states; return the trainer state."""
    missing, unexpected = load_model(model, str(path / "model" / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise ValueError(f"{path}: checkpoint weights do not match the model (missing {list(missing)[:3]}, unexpected {list(unexpected)[:3]})")
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    if ema is not None and (path / "ema.safetensors").exists():
        load_model(ema.module, str(path / "ema.safetensors"))
        ema.n_averaged.copy_(torch.load(path / "ema_state.pt", weights_only=True)["n_averaged"])
    state = json.loads((path / "trainer_state.json").read_text())
    tensors = load_file(str(path / "rng.safetensors"))
    torch.set_rng_state(tensors["torch"])
    n = state["rng"]["numpy"]
    np.random.set_state((n[0], tensors["numpy_keys"].numpy().astype(np.uint32), n[1], n[2], n[3]))
    random.setstate(py_state_from_json(state["rng"]["python"]))
    return state


def prune(ckpt_dir: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` checkpoints, and leftovers of killed writes.

    Called by the only writer right after a save completed, so any ``*.tmp`` directory still there
    belongs to a process that died mid-write and is safe to remove.
    """
    for p in list_checkpoints(ckpt_dir)[:-keep_last] if keep_last > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
    for p in ckpt_dir.glob("*.tmp") if ckpt_dir.is_dir() else []:
        log.info("removing the leftover of an interrupted checkpoint write: %s", p)
        shutil.rmtree(p, ignore_errors=True)


def check_resume(path: Path, cfg: TrainConfig, anyway: bool = False) -> list[str]:
    """Compare ``cfg``, the resolved config of a run about to resume from checkpoint ``path``, with
    the config the checkpoint was saved with, and return the changes (``"dotted.key: old -> new"``;
    the keys of :data:`~vlseq.train.config.RESUME_FREE_KEYS` are never among them).

    A change would continue the run's weights, optimiser and data position under other settings, a
    run no config describes (a changed architecture fails later anyway, on the weights). Raises
    :class:`ResumeMismatch` naming every change, unless ``anyway``: then they are logged.
    """
    try:
        saved = json.loads((path / "model" / SETTINGS).read_text()).get("train_config")
    except (OSError, ValueError, AttributeError):
        saved = None
    if not isinstance(saved, dict):
        log.warning("%s: no training config saved with it; resuming without comparing configs", path)
        return []
    changes = resume_changes(saved, cfg)
    if not changes:
        return []
    listed = "; ".join(changes[:SHOWN_CHANGES])
    if len(changes) > SHOWN_CHANGES:
        listed += f"; and {len(changes) - SHOWN_CHANGES} more"
    if anyway:
        log.warning("resuming %s with %d changed setting(s) (saved -> given): %s", path, len(changes), listed)
        return changes
    raise ResumeMismatch(
        f"{path}: the run in this out_dir was saved with another config; {len(changes)} setting(s) differ "
        f"(saved -> given): {listed}. Give the saved config, use a new out_dir, start afresh with --no-resume, "
        "or continue with the changes: --resume-anyway (train(..., resume_anyway=True))")
