"""Helpers and fixtures of the reliability tests: a tiny synthetic world, an uninterrupted reference run,
and helpers to run ``vlseq`` in a subprocess (so it can be killed) and to plant bad records.

Every training run here is the ``debug`` preset on CPU with ``threads=1`` and one tokenizer trained
once per session (HF's WordPiece trainer numbers its ``##x`` alphabet in hash order, different in
every process: see test_rel_determinism.py), so two runs with the same seed and config must agree
bitwise.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

WORLD_ARGS = ["--train", "24", "--val", "8", "--test", "4", "--size", "32", "--seed", "0", "--workers", "1",
              "--no-progress", "--no-contact-sheet"]
MAX_STEPS = 8
TASKS = '["refexp","vqa","detect","caption"]'


def vlseq_env(**extra: str) -> dict[str, str]:
    """The environment of a ``vlseq`` subprocess: one thread, no test hooks unless asked for."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VLSEQ_")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false", **extra)
    return env


def vlseq_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "vlseq.cli", *args]


def run_vlseq(*args: str, timeout: float = 240, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(vlseq_cmd(*args), env=vlseq_env(**env), capture_output=True, text=True, timeout=timeout)


def train_args(out: Path, world: Path, *extra: str) -> list[str]:
    """``vlseq train`` arguments of the crash/determinism runs (one checkpoint per step).

    The tokenizer is the one :func:`world` trained, stored next to it (``WORLD/../tokenizer``).
    """
    return ["train", "--config", "debug", f"out_dir={out}", f"data.synth={world}", f"tokenizer={world.parent / 'tokenizer'}",
            f"max_steps={MAX_STEPS}", "save_every=1", "keep_last=3", "threads=1", "log_every=1", "eval_examples=1",
            f"tasks={TASKS}", *extra]


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run / "final" / "model.safetensors"))


def assert_bitwise_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"{len(differ)} tensors differ, e.g. {differ[:3]}"


def losses(run: Path) -> dict[int, float]:
    """step -> logged training loss (the last record wins when a resumed run logged a step again)."""
    out = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "loss" in rec:
            out[rec["step"]] = rec["loss"]
    return out


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> Path:
    """The synthetic world, written once by ``vlseq synth`` (24 train / 8 val / 4 test scenes, 32 px)."""
    root = tmp_path_factory.mktemp("rel_world") / "world"
    r = run_vlseq("synth", "--out", str(root), *WORLD_ARGS)
    assert r.returncode == 0, r.stderr
    from vlseq.tokenizer import VLTokenizer
    from vlseq.train.config import load_config
    from vlseq.train.data import load_examples
    from vlseq.train.loop import corpus

    cfg = load_config("debug", [f"data.synth={root}", f"tasks={TASKS}"])
    VLTokenizer.train(corpus(load_examples(cfg, "train"), cfg.model.num_bins), cfg.model.num_bins,
                      vocab_size=cfg.tokenizer_vocab).save_pretrained(root.parent / "tokenizer")
    return root


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory, world) -> Path:
    """An uninterrupted debug run (subprocess, CPU, one thread): the bitwise reference."""
    out = tmp_path_factory.mktemp("rel_ref") / "run"
    r = run_vlseq(*train_args(out, world))
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "final" / "model.safetensors").exists()
    return out


# --------------------------------------------------------------------------- bad files


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width x height`` (a decompression-bomb shape)."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)  # IHDR width/height
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


def truncated_png(path: Path, size: int = 32) -> Path:
    """A PNG cut in half: its header (and size) reads fine, its pixels do not decode."""
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path
