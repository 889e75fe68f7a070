"""How well vlseq uses this machine: matmul peak, training FLOP/s as a fraction of it, peak memory.

1. fp32 matmul peak: GFLOP/s of ``torch.mm`` on square ``n x n`` matrices, best of ``--repeats``.
2. Model FLOP utilisation: FLOPs of one forward + backward counted by
   ``torch.utils.flop_counter.FlopCounterMode`` (matmuls, convolutions and attention; CPU SDPA is
   registered here because torch only counts the GPU kernels), divided by the median time of a
   full training step (forward, backward, AdamW) and by fwd+bwd alone; goal >= 50% of the peak.
3. Peak resident memory (``VmHWM``, else ``ru_maxrss``) of training (2 steps at the preset's
   batch size) and of inference (``generate()`` of 64 tokens at ``--infer-batch``), each in a fresh subprocess so one
   measurement's peak never leaks into the next. "after imports" is the resident memory before the
   model is built; when "peak" equals "import peak" the run never rose above importing's own peak.

    python bench/bench_efficiency.py                        # peak at 2048/4096; tiny, small, 34m; memory of debug, tiny, small
    python bench/bench_efficiency.py --configs tiny --memory-presets tiny
    python bench/bench_efficiency.py --quick                # a seconds-long smoke run
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    CONFIGS,
    base_parser,
    config_names,
    fmt,
    matmul_gflops,
    median,
    model_config,
    print_table,
    set_threads,
    synthetic_batch,
    time_calls,
)
from _subjects import VLSeqSubject, count_flops, train_step_fn  # noqa: E402
from vlseq.train.config import load_config  # noqa: E402

GOAL = 0.5  # achieved training FLOP/s over the matmul peak


def preset_batch(name: str) -> int:
    return load_config(CONFIGS[name][0]).batch_size


def utilisation(name: str, args: Any, peak: float) -> tuple[list[Any], dict[str, int]]:
    batch_size = args.batch or preset_batch(name)
    torch.manual_seed(args.seed)
    s = VLSeqSubject(model_config(name))
    batch = synthetic_batch(batch_size, s.model.config.image_size, args.prompt_len, args.target_len, args.seed)
    inputs = s.train_inputs(batch)
    flops, per = count_flops(s, inputs)
    step = train_step_fn(s, inputs)
    t_step = median(time_calls(step, args.steps, args.warmup))
    t_fb = median(time_calls(lambda: s.loss(inputs).backward(), args.steps, 1))
    s.model.zero_grad(set_to_none=True)
    frac = flops / t_step / 1e9 / peak
    row = [name, fmt(s.params), batch_size, fmt(flops / 1e9), fmt(t_step * 1e3), fmt(flops / t_step / 1e9),
           f"{100 * frac:.0f}%", f"{100 * flops / t_fb / 1e9 / peak:.0f}%", "met" if frac >= GOAL else "NOT met"]
    return row, per


# --------------------------------------------------------------------------- peak memory


def _proc_status_kib(field: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def current_rss_kib() -> int:
    """Resident memory now (falls back to the peak so far where ``/proc`` is missing)."""
    now = _proc_status_kib("VmRSS")
    return now if now is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_rss_kib() -> int:
    """This process's peak resident memory.

    ``VmHWM`` first: Linux keeps ``ru_maxrss`` across fork + exec, so a child's ``ru_maxrss``
    starts at its parent's peak, while ``VmHWM`` belongs to the new process image.
    """
    hwm = _proc_status_kib("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def rss_child(mode: str, name: str, args: Any) -> dict[str, Any]:
    """Runs inside the fresh subprocess: build, run ``mode`` (train / infer), report peak RSS."""
    base = current_rss_kib()
    import_peak = peak_rss_kib()
    torch.manual_seed(args.seed)
    s = VLSeqSubject(model_config(name))
    size = s.model.config.image_size
    if mode == "train":
        b = synthetic_batch(args.batch or preset_batch(name), size, args.prompt_len, args.target_len, args.seed)
        step = train_step_fn(s, s.train_inputs(b))
        for _ in range(2):  # AdamW allocates its state in the first step
            step()
    else:
        b = synthetic_batch(args.infer_batch, size, args.prompt_len, 8, args.seed)
        s.model.eval()
        with torch.no_grad():
            s.generate(b, args.new_tokens)
    peak = peak_rss_kib()
    return {"mode": mode, "config": name, "batch": b.size, "params": s.params, "baseline_kib": base,
            "import_peak_kib": import_peak, "peak_kib": peak}


def measure_rss(mode: str, name: str, args: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--rss-child", mode, name, "--threads", str(args.threads),
           "--prompt-len", str(args.prompt_len), "--target-len", str(args.target_len),
           "--infer-batch", str(args.infer_batch), "--new-tokens", str(args.new_tokens), "--seed", str(args.seed)]
    if args.batch:
        cmd += ["--batch", str(args.batch)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"memory measurement {mode} {name} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = base_parser(__doc__)
    ap.add_argument("--sizes", default="2048,4096", help="matmul sizes for the peak")
    ap.add_argument("--repeats", type=int, default=5, help="matmuls per size (best counts)")
    ap.add_argument("--configs", default="tiny,small,34m", help="configs whose training FLOP/s is measured")
    ap.add_argument("--batch", type=int, default=0, help="training batch (default: the preset's batch_size)")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--target-len", type=int, default=32)
    ap.add_argument("--steps", type=int, default=5, help="timed training steps (median reported)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--memory-presets", default="debug,tiny,small", help="presets whose peak RSS is measured")
    ap.add_argument("--infer-batch", type=int, default=8)
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--rss-child", nargs=2, metavar=("MODE", "CONFIG"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    if args.rss_child:
        mode, name = args.rss_child
        if mode not in ("train", "infer"):
            raise ValueError(f"--rss-child mode must be train or infer, got {mode!r}")
        print(json.dumps(rss_child(mode, name, args)))
        return {}
    if args.quick:
        args.sizes, args.repeats, args.configs, args.batch = "256,512", 2, "tiny", 2
        args.prompt_len, args.target_len, args.steps, args.warmup = 8, 8, 1, 1
        args.memory_presets, args.infer_batch, args.new_tokens = "debug", 2, 8
    print(f"## Efficiency (fp32)\n\ntorch {torch.__version__}, {torch.get_num_threads()} threads, prompt {args.prompt_len} "
          f"+ target {args.target_len} tokens" + (" — QUICK smoke run, not a measurement" if args.quick else ""))
    # Memory first, while this process is still small (a child may inherit its parent's ru_maxrss);
    # two children at a time: each has its own peak, and the imports dominate their run time.
    jobs = [(mode, name) for name in config_names(args.memory_presets) for mode in ("train", "infer")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        mem = list(pool.map(lambda job: measure_rss(job[0], job[1], args), jobs))
    sizes = [int(n) for n in args.sizes.split(",")]
    peaks = {n: matmul_gflops(n, args.repeats) for n in sizes}
    peak = max(peaks.values())
    print_table("fp32 matmul peak (torch.mm)", ["n", "GFLOP/s"], [[n, fmt(g)] for n, g in peaks.items()])
    rows, parts = [], []
    for name in config_names(args.configs):
        row, per = utilisation(name, args, peak)
        rows.append(row)
        total = sum(per.values())
        parts.append([name] + [f"{100 * v / total:.0f}%" for v in per.values()])
    print_table(f"vlseq training FLOP/s vs the {fmt(peak)} GFLOP/s peak (FLOPs by FlopCounterMode)",
                ["config", "params", "batch", "GFLOP/step (fwd+bwd)", "step ms", "GFLOP/s", "of peak",
                 "of peak, fwd+bwd only", f"goal >= {GOAL:.0%}"], rows)
    print_table("where the forward FLOPs are", ["config", "vision", "encoder", "decoder", "output head", "other"], parts)
    print_table("peak resident memory (fresh process each; MiB)",
                ["preset", "mode", "batch", "params", "after imports", "import peak", "peak", "peak - after imports"],
                [[r["config"], r["mode"], r["batch"], fmt(r["params"]), fmt(r["baseline_kib"] / 1024),
                  fmt(r["import_peak_kib"] / 1024),
                  fmt(r["peak_kib"] / 1024), fmt((r["peak_kib"] - r["baseline_kib"]) / 1024)] for r in mem])
    return {"peak_gflops": peaks, "utilisation": rows, "memory": mem}


if __name__ == "__main__":
    main()
