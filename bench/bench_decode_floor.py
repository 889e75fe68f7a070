"""The floor under a batch-1 decode step: the weights it reads, at the machine's own read speed.

At batch 1 every new token multiplies one row vector by each weight matrix of the decoder and the
output head (the cross-attention keys and values are cached, so those matrices are read once per
call, not per token). Each matrix is read from memory once and used for one multiply-add per
weight: the step is bound by reading bytes, not by FLOPs. This counts those bytes and sets them
beside the speed of one matrix-vector product over the same number of bytes (so a model whose
weights fit in cache gets the cache's speed):

* **matrix MB per token**: the bytes of the larger operand of every matrix product (``mm``,
  ``addmm``, ``bmm``) one extra generated token costs, counted with a dispatch mode as the
  difference between two ``generate()`` calls of ``--long`` and ``--short`` new tokens;
* **floor ms per token**: those bytes at the measured matrix-vector read speed (GB/s);
* **measured ms per token**: the whole ``generate()`` call at batch 1 over ``--long`` new tokens
  (vision, encoder and decoder, as ``bench_generate.py`` times it), median of ``--repeats``.

The goal "2x Florence-2 at batch 1" is reachable only when half Florence-2's measured time per
token is above vlseq's floor::

    python bench/bench_decode_floor.py --configs tiny,34m
    python bench/bench_decode_floor.py --quick
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import base_parser, config_names, median, print_table, set_threads, synthetic_batch, time_calls  # noqa: E402
from _subjects import Subject, build_subjects, generator  # noqa: E402

MATMULS = {torch.ops.aten.mm.default, torch.ops.aten.addmm.default, torch.ops.aten.bmm.default}


class MatrixBytes(TorchDispatchMode):
    """Sums the bytes of the larger operand of each matrix product run under it (the weight, at batch 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func in MATMULS:
            a, b = (args[1], args[2]) if func is torch.ops.aten.addmm.default else (args[0], args[1])
            big = a if a.numel() >= b.numel() else b
            self.bytes += big.numel() * big.element_size()
        return func(*args, **(kwargs or {}))


def matrix_bytes(s: Subject, size: int, tokens: int, prompt_len: int, seed: int) -> int:
    """Bytes of weight matrices read by one batch-1 ``generate()`` of ``tokens`` new tokens on ``size`` px images."""
    run = generator(s, synthetic_batch(1, size, prompt_len, 8, seed), tokens)
    with MatrixBytes() as m:
        run()
    return m.bytes


def read_speed(n_bytes: int, repeats: int) -> float:
    """GB/s of one fp32 matrix-vector product over a matrix of about ``n_bytes`` (median of ``repeats``)."""
    cols = 512
    rows = max(1, n_bytes // (4 * cols))
    w, x = torch.randn(rows, cols), torch.randn(1, cols)
    times = []
    for _ in range(repeats + 2):
        t0 = time.perf_counter()
        for _ in range(10):
            torch.nn.functional.linear(x, w)
        times.append((time.perf_counter() - t0) / 10)
    return w.numel() * 4 / median(times[2:]) / 1e9


def measure(name: str, args: Any) -> list[tuple[str, float, float, float, float]]:
    subjects = build_subjects(name, ["florence2"], None, args.seed)
    size = subjects[0].model.config.image_size  # vlseq's: both models take the same images
    rows = []  # per model: (name, bytes per token, GB/s, floor ms, measured ms)
    for s in subjects:
        per_token = (matrix_bytes(s, size, args.long, args.prompt_len, args.seed)
                     - matrix_bytes(s, size, args.short, args.prompt_len, args.seed)) / (args.long - args.short)
        speed = read_speed(int(per_token), args.repeats)
        run = generator(s, synthetic_batch(1, size, args.prompt_len, 8, args.seed), args.long)
        measured_ms = median(time_calls(run, args.repeats, 1)) / args.long * 1e3
        rows.append((s.name, per_token, speed, per_token / speed / 1e6, measured_ms))
    print_table(f"config `{name}`: one batch-1 decode step against the bytes it reads",
                ["model", "matrix MB per token", "read GB/s", "floor ms/token", "measured ms/token", "floor / measured"],
                [[n, f"{b / 1e6:.2f}", f"{g:.1f}", f"{f:.2f}", f"{m:.2f}", f"{f / m:.0%}"] for n, b, g, f, m in rows])
    vl_floor, fl_ms = rows[0][3], rows[1][4]
    verdict = "reachable" if fl_ms / 2 >= vl_floor else "below vlseq's floor: NOT reachable in fp32"
    print(f"2x Florence-2 at batch 1 asks for {fl_ms / 2:.2f} ms/token; vlseq's floor is {vl_floor:.2f} ms/token: {verdict}")
    return rows


def main(argv: list[str] | None = None) -> dict[str, list[tuple[str, float, float, float, float]]]:
    ap = base_parser(__doc__)
    ap.add_argument("--configs", default="tiny,34m", help="comma-separated: debug, tiny, small, 34m")
    ap.add_argument("--long", type=int, default=64, help="new tokens of the timed call")
    ap.add_argument("--short", type=int, default=16, help="new tokens of the second call the bytes are counted on")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    if args.quick:
        args.configs, args.long, args.short, args.prompt_len, args.repeats = "debug", 8, 4, 8, 1
    if args.long <= args.short:
        raise SystemExit(f"--long ({args.long}) must be more than --short ({args.short})")
    threads = set_threads(args.threads)
    print(f"## The floor under a batch-1 decode step (fp32, random weights)\n\ntorch {torch.__version__}, {threads} threads, "
          f"bytes per token from {args.short} and {args.long} new tokens, prompt {args.prompt_len} tokens, "
          f"median of {args.repeats}" + (" — QUICK smoke run, not a measurement" if args.quick else ""))
    return {name: measure(name, args) for name in config_names(args.configs)}


if __name__ == "__main__":
    main()
