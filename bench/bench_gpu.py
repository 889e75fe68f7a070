"""One-GPU benchmark: vlseq's ``base`` preset vs a Florence-2-base-sized transformers model, bf16.

Prepared to run once on a machine with one NVIDIA GPU, offline: both models are built from config
with random weights (nothing is downloaded), with the same image size, prompt and target lengths,
batch and vocabulary (``_common.VOCAB``). Florence-2 is transformers' native
``Florence2ForConditionalGeneration`` with Florence-2-base's DaViT and language model
(:func:`_subjects.florence2_base_config`). Forward and backward run under ``torch.autocast``
(bfloat16, fp32 weights, as the trainer's ``mixed_precision=bf16``), attention through SDPA.

1. bf16 matmul peak: best TFLOP/s of one ``torch.mm`` at each ``--peak-sizes``.
2. Training: samples/s of a full step (forward, backward, AdamW), the two models taking turns;
   ratio vlseq / Florence-2.
3. Model FLOP utilisation: FLOPs of one forward + backward counted by ``FlopCounterMode`` (as
   ``bench_efficiency.py`` counts them) over the median step time, as a fraction of the peak.
4. Generation: tokens/s of greedy decoding with the KV cache, exactly ``--new-tokens`` new tokens,
   at each of ``--batches``; ratio vlseq / Florence-2.
5. ``--compile``: the training step with ``torch.compile``'d forward + backward; the first call
   (compilation plus one step) is timed on its own, then samples/s as in 2.

Prints markdown tables and a summary; ``--json PATH`` writes every number, rewritten after each
part so a run stopped early still leaves what it measured.

    python bench/bench_gpu.py --json gpu.json                 # the measurement (one GPU)
    python bench/bench_gpu.py --json gpu.json --compile       # plus torch.compile'd training
    python bench/bench_gpu.py --tiny --device cpu             # seconds-long smoke run on CPU
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    VOCAB,
    base_parser,
    config_names,
    fmt,
    matmul_gflops,
    median,
    print_table,
    ratio,
    set_threads,
    synchronize,
    synthetic_batch,
    time_calls,
    time_interleaved,
)
from _subjects import Subject, build_subjects, count_flops, generator, time_training, train_flops, train_step_fn  # noqa: E402

AMP = {"bf16": torch.bfloat16, "fp32": None}


def parse_args(argv: list[str] | None) -> Any:
    ap = base_parser(__doc__)
    ap.add_argument("--tiny", dest="quick", action="store_true", help="same as --quick: tiny preset, few steps")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    ap.add_argument("--config", default="base", help="vlseq model config (default base)")
    ap.add_argument("--florence2", default="base", choices=("base", "matched"),
                    help="Florence-2's size: its base architecture, or a vision tower matched to vlseq's parameters")
    ap.add_argument("--amp", default="bf16", choices=tuple(AMP), help="autocast dtype (default bf16)")
    ap.add_argument("--image-size", type=int, default=None, help="default: the preset's (base: 384)")
    ap.add_argument("--batch", type=int, default=64, help="training batch")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--target-len", type=int, default=32)
    ap.add_argument("--steps", type=int, default=20, help="timed training steps (median reported)")
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--batches", default="1,8,32", help="generation batch sizes")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5, help="timed generate() calls per batch size")
    ap.add_argument("--peak-sizes", default="4096,8192,16384", help="matmul sizes for the peak")
    ap.add_argument("--peak-repeats", type=int, default=10)
    ap.add_argument("--compile", action="store_true", help="also time torch.compile'd training steps")
    ap.add_argument("--compile-backend", default="inductor")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args(argv)
    if args.quick:
        args.config, args.florence2, args.batch, args.prompt_len, args.target_len = "tiny", "matched", 2, 8, 8
        args.steps, args.warmup, args.batches, args.new_tokens, args.repeats = 2, 1, "1,2", 8, 1
        args.peak_sizes, args.peak_repeats = "256", 2
    config_names(args.config)  # fails early on an unknown name
    args.batches = [int(b) for b in args.batches.split(",")]
    args.peak_sizes = [int(n) for n in args.peak_sizes.split(",")]
    return args


def device_info(device: torch.device) -> dict[str, Any]:
    """What the numbers were measured on."""
    import transformers

    info: dict[str, Any] = {"torch": torch.__version__, "transformers": transformers.__version__,
                            "python": platform.python_version(), "device": str(device)}
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        info.update(gpu=p.name, capability=f"{p.major}.{p.minor}", memory_gib=round(p.total_memory / 2**30, 1),
                    cuda=torch.version.cuda)
    else:
        info.update(cpu=platform.processor() or platform.machine(), threads=torch.get_num_threads())
    return info


def build(args: Any, device: torch.device) -> list[Subject]:
    """vlseq and Florence-2 on ``device``; both must run their attention through SDPA."""
    subjects = build_subjects(args.config, ["florence2"], args.image_size, args.seed, florence2=args.florence2)
    for s in subjects:
        s.model.to(device)
        if s.attn_impl != "sdpa":
            raise RuntimeError(f"{s.name}: transformers chose {s.attn_impl!r} attention, not sdpa")
    return subjects


def measure_training(subjects: list[Subject], args: Any, device: torch.device) -> list[dict[str, Any]]:
    """Median step seconds and samples/s per model, steps taking turns; loss must stay finite."""
    size = subjects[0].model.config.image_size
    batch = synthetic_batch(args.batch, size, args.prompt_len, args.target_len, args.seed).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    timed = time_training(subjects, batch, args.steps, args.warmup, AMP[args.amp])
    rows = []
    for s in subjects:
        t = timed[s.name]["step_s"]
        rows.append({"model": s.name, "params": s.params, "image_size": size, "image_tokens": s.image_tokens,
                     "attn": s.attn_impl, "batch": args.batch, "step_s": t, "samples_per_s": args.batch / t,
                     "loss": timed[s.name]["loss"]})
    return rows


def measure_flops(subjects: list[Subject], train: list[dict[str, Any]], args: Any, device: torch.device,
                  peak_gflops: float) -> list[dict[str, Any]]:
    """Counted FLOPs of fwd+bwd per model over its median step time, against the matmul peak.

    vlseq's count also splits its forward by part (vision, encoder, decoder, head), as
    ``bench_efficiency.py`` reports it.
    """
    size = subjects[0].model.config.image_size
    batch = synthetic_batch(args.batch, size, args.prompt_len, args.target_len, args.seed).to(device)
    rows = []
    for s, t in zip(subjects, train):
        inputs = s.train_inputs(batch)
        if s.name == "vlseq":
            flops, parts = count_flops(s, inputs, AMP[args.amp])
        else:
            flops, parts = train_flops(s, inputs, AMP[args.amp]), {}
        achieved = flops / t["step_s"] / 1e9
        rows.append({"model": s.name, "gflop_per_step": flops / 1e9, "gflop_per_sample": flops / 1e9 / args.batch,
                     "achieved_gflops": achieved, "of_peak": achieved / peak_gflops, "forward_parts": parts})
    return rows


def measure_generation(subjects: list[Subject], args: Any, device: torch.device) -> list[dict[str, Any]]:
    """tokens/s per model and batch size, calls taking turns."""
    size = subjects[0].model.config.image_size
    rows = []
    for b in args.batches:
        batch = synthetic_batch(b, size, args.prompt_len, 8, args.seed).to(device)
        times = time_interleaved({s.name: generator(s, batch, args.new_tokens, amp=AMP[args.amp]) for s in subjects},
                                 args.repeats, 1, device)
        for s in subjects:
            t = median(times[s.name])
            rows.append({"model": s.name, "batch": b, "s": t, "tok_per_s": b * args.new_tokens / t})
    return rows


def measure_compiled(subjects: list[Subject], args: Any, device: torch.device,
                     flops: list[dict[str, Any]], peak_gflops: float) -> list[dict[str, Any]]:
    """Per model: the first compiled step's seconds (compilation included), then samples/s.

    A model that fails to compile is reported with its error instead of ending the run: the other
    parts' numbers are worth keeping.
    """
    size = subjects[0].model.config.image_size
    batch = synthetic_batch(args.batch, size, args.prompt_len, args.target_len, args.seed).to(device)
    rows = []
    for s, f in zip(subjects, flops):
        torch._dynamo.reset()  # each model compiles from a clean cache, so its compile time is its own
        row: dict[str, Any] = {"model": s.name, "backend": args.compile_backend}
        try:
            loss_fn = torch.compile(s.loss, backend=args.compile_backend)
            step = train_step_fn(s, s.train_inputs(batch), AMP[args.amp], loss_fn=loss_fn)
            synchronize(device)
            t0 = time.perf_counter()
            step()
            synchronize(device)
            row["first_step_s"] = time.perf_counter() - t0
            t = median(time_calls(step, args.steps, args.warmup, device))
            row.update(step_s=t, samples_per_s=args.batch / t,
                       of_peak=f["gflop_per_step"] / t / peak_gflops)
        except Exception as e:  # noqa: BLE001 -- any compiler failure is a result to report
            first = (str(e).splitlines() or [""])[0]
            row["error"] = f"{type(e).__name__}: {first[:300]}"
        rows.append(row)
    return rows


def summary(res: dict[str, Any]) -> list[list[Any]]:
    """One row per measure: vlseq, Florence-2, vlseq / Florence-2."""
    def pair(rows: list[dict[str, Any]], key: str, **where: Any) -> tuple[Any, Any]:
        got = {r["model"]: r.get(key) for r in rows if all(r.get(k) == v for k, v in where.items())}
        return got.get("vlseq"), got.get("florence2")

    out = []
    a, b = pair(res["train"], "samples_per_s")
    out.append([f"training samples/s (batch {res['args']['batch']})", fmt(a), fmt(b), ratio(a, b)])
    a, b = pair(res["flops"], "gflop_per_sample")
    out.append(["GFLOP per sample (fwd+bwd)", fmt(a), fmt(b), ratio(a, b)])
    a, b = pair(res["flops"], "achieved_gflops")
    out.append(["achieved TFLOP/s (training)", fmt(a and a / 1e3), fmt(b and b / 1e3), ratio(a, b)])
    a, b = pair(res["flops"], "of_peak")
    out.append([f"of the {res['amp']} matmul peak", f"{100 * a:.1f}%", f"{100 * b:.1f}%", ratio(a, b)])
    for n in res["args"]["batches"]:
        a, b = pair(res["generate"], "tok_per_s", batch=n)
        out.append([f"generation tokens/s, batch {n}", fmt(a), fmt(b), ratio(a, b)])
    if res.get("compile"):
        a, b = pair(res["compile"], "samples_per_s")
        out.append(["compiled training samples/s", fmt(a), fmt(b), ratio(a, b)])
        a, b = pair(res["compile"], "first_step_s")
        out.append(["compile + first step (s)", fmt(a), fmt(b), ratio(a, b)])
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here; for a smoke run on CPU use --tiny --device cpu")
    threads = set_threads(args.threads)
    start = time.perf_counter()
    res: dict[str, Any] = {"info": device_info(device), "amp": args.amp,
                           "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}

    def save() -> None:
        res["wall_s"] = time.perf_counter() - start
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(res, indent=2) + "\n")

    where = res["info"].get("gpu") or f"CPU, {threads} thread{'s' if threads > 1 else ''}"
    print(f"## GPU benchmark: vlseq `{args.config}` vs Florence-2 ({args.florence2}), {args.amp} autocast\n\n"
          f"{where}, torch {torch.__version__}, batch {args.batch}, prompt {args.prompt_len} + target "
          f"{args.target_len} tokens, vocabulary {VOCAB:,} for both, random weights, SDPA attention"
          + (" — TINY smoke run, not a measurement" if args.quick else ""), flush=True)

    dtype = AMP[args.amp] or torch.float32
    res["peak_gflops"] = {n: matmul_gflops(n, args.peak_repeats, dtype, device) for n in args.peak_sizes}
    peak = max(res["peak_gflops"].values())
    print_table(f"{args.amp} matmul peak (torch.mm)", ["n", "TFLOP/s"],
                [[n, fmt(g / 1e3)] for n, g in res["peak_gflops"].items()])
    save()

    subjects = build(args, device)
    res["train"] = measure_training(subjects, args, device)
    if device.type == "cuda":
        res["train_peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    print_table(f"training (fwd+bwd+AdamW), image {res['train'][0]['image_size']} px, median of {args.steps} steps",
                ["model", "params", "image tokens", "attention", "step ms", "samples/s"],
                [[r["model"], fmt(r["params"]), r["image_tokens"], r["attn"], fmt(r["step_s"] * 1e3),
                  fmt(r["samples_per_s"])] for r in res["train"]])
    save()

    res["flops"] = measure_flops(subjects, res["train"], args, device, peak)
    print_table(f"training FLOP/s vs the {fmt(peak / 1e3)} TFLOP/s peak (FLOPs by FlopCounterMode)",
                ["model", "GFLOP/step (fwd+bwd)", "TFLOP/s", "of peak"],
                [[r["model"], fmt(r["gflop_per_step"]), fmt(r["achieved_gflops"] / 1e3), f"{100 * r['of_peak']:.1f}%"]
                 for r in res["flops"]])
    parts = res["flops"][0]["forward_parts"]
    total = sum(parts.values()) or 1
    print_table("where vlseq's forward FLOPs are", list(parts), [[f"{100 * v / total:.0f}%" for v in parts.values()]])
    save()

    res["generate"] = measure_generation(subjects, args, device)
    print_table(f"generation: tokens/s, {args.new_tokens} new tokens, greedy, KV cache, median of {args.repeats}",
                ["batch", "vlseq", "florence2", "vlseq/florence2"],
                [[b] + [fmt(r["tok_per_s"]) for r in res["generate"] if r["batch"] == b]
                 + [ratio(*[r["tok_per_s"] for r in res["generate"] if r["batch"] == b])] for b in args.batches])
    save()

    if args.compile:
        res["compile"] = measure_compiled(subjects, args, device, res["flops"], peak)
        print_table(f"torch.compile ({args.compile_backend}) training step",
                    ["model", "compile + first step s", "step ms", "samples/s", "of peak", "error"],
                    [[r["model"], fmt(r.get("first_step_s")), fmt(r.get("step_s") and r["step_s"] * 1e3),
                      fmt(r.get("samples_per_s")), f"{100 * r['of_peak']:.1f}%" if "of_peak" in r else "-",
                      r.get("error", "")] for r in res["compile"]])
        save()

    print_table("summary", ["measure", "vlseq", "florence2", "vlseq/florence2"], summary(res))
    save()
    print(f"wall time {res['wall_s']:.0f} s" + (f"; results in {args.json}" if args.json else ""))
    return res


if __name__ == "__main__":
    main()
