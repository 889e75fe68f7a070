"""Checkpoints as Hugging Face-style directories; weights only through safetensors.

A directory holds ``config.json`` (the model config), ``model.safetensors``, the tokenizer
(``tokenizer.json`` and friends), ``vlseq.json`` (bins, image size, tasks, ...) and, for a model
that writes images, the VQ image tokenizer in ``image_tokenizer/`` (:func:`load_image_tokenizer`). It is written
into a sibling temporary directory and renamed into place, so a crash mid-write never leaves a
half-written checkpoint under the final name; directories ending in ``.tmp`` are never loaded.
Files are fsynced before the rename, so the rename publishes complete files even after a power
loss. A full disk is reported as :class:`CheckpointWriteError` naming the checkpoint, and the
previous checkpoint under that name (if any) is left as it was. Nothing here unpickles anything.

Test hook: ``VLSEQ_TEST_SLOW_SAVE=SECONDS`` sleeps in the middle of every :func:`save_pretrained`
(after ``config.json``, before the weights), so a test can kill a process mid-write.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import time
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
#: subdirectory of a checkpoint holding its image tokenizer (when it has one)
IMAGE_TOKENIZER_DIR = "image_tokenizer"


#: errno values that mean "the disk (or the quota) is full".
_NO_SPACE = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}


class CheckpointWriteError(OSError):
    """Writing a checkpoint failed for lack of space; ``errno`` is kept, the message names the path."""

    def __str__(self) -> str:
        return str(self.strerror)


def pause_for_crash_tests() -> None:
    """Sleep ``$VLSEQ_TEST_SLOW_SAVE`` seconds when set (a crash-test hook; a no-op otherwise)."""
    delay = os.environ.get("VLSEQ_TEST_SLOW_SAVE")
    if delay:
        time.sleep(float(delay))


def _fsync_tree(d: Path) -> None:
    """Flush every file under ``d`` and the directories themselves to disk."""
    for sub, _, files in os.walk(d):
        for name in files:
            fd = os.open(os.path.join(sub, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(sub))


def _fsync_dir(d: Path) -> None:
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_dir_write(final: Path, write) -> None:
    """Call ``write(tmp_dir)`` then move ``tmp_dir`` to ``final`` (replacing it) with renames only.

    On any failure the temporary directory is removed and ``final`` keeps its previous content; a
    full disk becomes :class:`CheckpointWriteError` ("no space left ... writing checkpoint PATH").
    A process killed mid-write leaves only ``final.<hex>.tmp``, which no loader reads.
    """
    final = Path(final)
    tmp = None
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.mkdir()
        write(tmp)
        _fsync_tree(tmp)
        old = None
        if final.exists():
            old = final.with_name(f"{final.name}.{uuid.uuid4().hex[:8]}.old.tmp")
            os.rename(final, old)
        os.rename(tmp, final)
        _fsync_dir(final.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and e.errno in _NO_SPACE:
            # A nested write (the model part of a training checkpoint) already wrapped it: name the outer path.
            cause = e.__cause__ if isinstance(e, CheckpointWriteError) and isinstance(e.__cause__, OSError) else e
            raise CheckpointWriteError(
                e.errno, f"no space left on device while writing checkpoint {final} ({cause.strerror or cause}); "
                         f"nothing under that name was changed -- free some space and save again") from cause
        raise


def save_pretrained(model: VLSeqModel, tokenizer: VLTokenizer, path: str | Path, settings: dict[str, Any] | None = None,
                    image_tokenizer: Any | None = None) -> Path:
    """Write a complete checkpoint directory atomically; returns its path.

    ``image_tokenizer`` (an :class:`~vlseq.models.image_tokenizer.ImageTokenizer`) is written into
    ``image_tokenizer/`` in the same atomic write, so a checkpoint never lacks the decoder of its
    ``<img_k>`` tokens.
    """
    path = Path(path)

    def write(d: Path) -> None:
        model.config.save(d / CONFIG)
        pause_for_crash_tests()
        save_model(model, str(d / WEIGHTS))
        tokenizer.save_pretrained(d)
        if image_tokenizer is not None:
            image_tokenizer.save_pretrained(d / IMAGE_TOKENIZER_DIR)
        (d / SETTINGS).write_text(json.dumps(settings or {}, indent=2))

    atomic_dir_write(path, write)
    return path


def is_checkpoint(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and not p.name.endswith(".tmp") and all((p / f).exists() for f in (CONFIG, WEIGHTS, SETTINGS))


def load_image_tokenizer(path: str | Path, num_image_tokens: int = 0, device: str = "cpu"):
    """The image tokenizer saved with checkpoint ``path`` (``image_tokenizer/``), or None when it has none.

    ``num_image_tokens``: the checkpoint tokenizer's count of ``<img_k>`` tokens; a ``ValueError``
    names the checkpoint when there are image tokens but no image tokenizer to decode them, or
    when its codebook size differs.
    """
    from .image_tokenizer import ImageTokenizer

    sub = Path(path) / IMAGE_TOKENIZER_DIR
    if not sub.is_dir():
        if num_image_tokens:
            raise ValueError(f"{path}: the tokenizer has {num_image_tokens} image tokens but the checkpoint has no "
                             f"{IMAGE_TOKENIZER_DIR}/ to decode them")
        return None
    it = ImageTokenizer.from_pretrained(sub).to(device)
    if num_image_tokens != it.config.codebook_size:
        raise ValueError(f"{sub}: codebook size {it.config.codebook_size} but the checkpoint's tokenizer has "
                         f"{num_image_tokens} image tokens")
    return it


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
