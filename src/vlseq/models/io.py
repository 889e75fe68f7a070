"""Checkpoints as Hugging Face-style directories; weights only through safetensors.

A directory holds ``config.json`` (the model config), ``model.safetensors``, the tokenizer
(``tokenizer.json`` and friends) and ``vlseq.json`` (bins, image size, tasks, ...). It is written
into a sibling temporary directory and renamed into place, so a crash mid-write never leaves a
half-written checkpoint under the final name; directories ending in ``.tmp`` are never loaded.
Nothing here unpickles anything.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

from safetensors.torch import load_model, save_model

from ..tokenizer import VLTokenizer
from .config import ModelConfig
from .factory import build_model
from .vlseq_model import VLSeqModel

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
SETTINGS = "vlseq.json"


def atomic_dir_write(final: Path, write) -> None:
    """Call ``write(tmp_dir)`` then move ``tmp_dir`` to ``final`` (replacing it) with renames only."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.mkdir()
    try:
        write(tmp)
        old = None
        if final.exists():
            old = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.old.tmp")
            os.rename(final, old)
        os.rename(tmp, final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def save_pretrained(model: VLSeqModel, tokenizer: VLTokenizer, path: str | Path, settings: dict[str, Any] | None = None) -> Path:
    """Write a complete checkpoint directory atomically; returns its path."""
    path = Path(path)

    def write(d: Path) -> None:
        model.config.save(d / CONFIG)
        save_model(model, str(d / WEIGHTS))
        tokenizer.save_pretrained(d)
        (d / SETTINGS).write_text(json.dumps(settings or {}, indent=2))

    atomic_dir_write(path, write)
    return path


def is_checkpoint(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and not p.name.endswith(".tmp") and all((p / f).exists() for f in (CONFIG, WEIGHTS, SETTINGS))


def from_pretrained(path: str | Path, device: str = "cpu") -> tuple[VLSeqModel, VLTokenizer, dict[str, Any]]:
    """Load ``(model, tokenizer, settings)`` from a checkpoint directory."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"checkpoint directory {path} does not exist")
    missing = [f for f in (CONFIG, WEIGHTS, SETTINGS) if not (path / f).exists()]
    if missing or path.name.endswith(".tmp"):
        raise ValueError(f"{path} is not a complete vlseq checkpoint (missing: {', '.join(missing) or 'it is a temporary directory'})")
    cfg = ModelConfig.load(path / CONFIG)
    # The weights come from the checkpoint: don't re-read pretrained sources named in the config.
    cfg.vision.pretrained = None
    cfg.lm_pretrained = None
    model = build_model(cfg)
    missing_keys, unexpected = load_model(model, str(path / WEIGHTS), strict=False, device=device)
    if missing_keys or unexpected:
        raise ValueError(f"{path / WEIGHTS}: weights do not match the config (missing {list(missing_keys)[:5]}, unexpected {list(unexpected)[:5]})")
    tokenizer = VLTokenizer.from_pretrained(path)
    settings = json.loads((path / SETTINGS).read_text())
    model.eval()
    return model, tokenizer, settings
