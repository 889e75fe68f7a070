"""Where one training step's time goes: vision, encoder, decoder, head, loss, optimiser and data.

    python bench/bench_step_profile.py                          # tiny on the synthetic world, batch 64
    python bench/bench_step_profile.py --preset small --batch 16 --steps 4
    python bench/bench_step_profile.py --quick                  # a seconds-long smoke run
    python bench/bench_step_profile.py --override model.loc_pointer_at=coords

A real run's batches (its world, tokenizer, length grouping and augmentation; ``--data`` defaults
to the preset's world, written first if it is missing) go through the preset's model. Each part's
wall time is taken with hooks: forward from the module's pre-hook to its hook, backward from the
arrival of its output's gradient to the completion of its input's (the pixels require grad for the
profile so the stem's backward has an end; that adds the first conv's input gradient, under 1% of
the stem). ``loss`` is
the rest of the forward (the balanced loss, the cell loss, masks and embeddings) and of the backward.
FLOPs come from ``torch.utils.flop_counter.FlopCounterMode``: each part's forward, and the whole
step's forward + backward. The last column divides FLOPs by time: against the fp32 matmul peak
measured in the same run it shows which parts are compute-bound and which are overhead.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import CPU_SDPA_FLOPS, base_parser, matmul_gflops, print_table, set_threads  # noqa: E402
from vlseq.train.config import load_config  # noqa: E402
from vlseq.train.loop import Trainer  # noqa: E402


def parts_of(model: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """The model's parts by name (the VLSeqModel layout; ``proj`` holds the image projection)."""
    lm = model.lm
    return {"vision": model.vision, "proj": model.proj, "encoder": lm.get_encoder(),
            "decoder": lm.get_decoder(), "head": lm.lm_head}


def _tensor_needing_grad(*objs: Any) -> torch.Tensor | None:
    """The first tensor that requires grad among ``objs`` (tensors, tuples, dicts, model outputs)."""
    for obj in objs:
        if isinstance(obj, torch.Tensor):
            if obj.requires_grad:
                return obj
        elif isinstance(obj, dict):  # transformers' ModelOutput is a dict too
            found = _tensor_needing_grad(*obj.values())
            if found is not None:
                return found
        elif isinstance(obj, (tuple, list)):
            found = _tensor_needing_grad(*obj)
            if found is not None:
                return found
    return None


class PartTimer:
    """Forward and backward wall time per part (CPU: the calls are synchronous).

    Forward: the module's pre-hook to its hook. Backward: from the moment the gradient of the
    part's output arrives to the moment the gradient of its input is complete (tensor hooks; the
    module backward hooks need a tensor output, and BART's stacks return model outputs).
    """

    def __init__(self, parts: dict[str, torch.nn.Module]) -> None:
        self.fwd: dict[str, float] = defaultdict(float)
        self.bwd: dict[str, float] = defaultdict(float)
        self._t0: dict[tuple[str, str], float] = {}
        self.handles = []
        for name, mod in parts.items():
            self.handles += [mod.register_forward_pre_hook(lambda m, a, kw, n=name: self._pre(n, a, kw), with_kwargs=True),
                             mod.register_forward_hook(lambda m, a, out, n=name: self._post(n, out))]

    def _pre(self, name: str, args: tuple, kwargs: dict) -> None:
        self._t0[(name, "f")] = time.perf_counter()
        x = _tensor_needing_grad(args, kwargs)
        if x is not None:  # its gradient completes when this part's backward is done
            x.register_hook(lambda g, n=name: self._stop(n, "b", self.bwd))

    def _post(self, name: str, out: Any) -> None:
        self._stop(name, "f", self.fwd)
        y = _tensor_needing_grad(out)
        if y is not None:  # its gradient arriving starts this part's backward
            y.register_hook(lambda g, n=name: self._start(n, "b"))

    def _start(self, name: str, kind: str) -> None:
        self._t0[(name, kind)] = time.perf_counter()

    def _stop(self, name: str, kind: str, into: dict[str, float]) -> None:
        t0 = self._t0.pop((name, kind), None)
        if t0 is not None:
            into[name] += time.perf_counter() - t0

    def reset(self) -> None:
        self.fwd.clear()
        self.bwd.clear()
        self._t0.clear()

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def profile(trainer: Trainer, steps: int, warmup: int) -> tuple[dict[str, list[float]], dict[str, float], int]:
    """Per part, the seconds of each timed step; the FLOPs of one step per part; the batch's target length."""
    model, opt = trainer.raw_model, trainer.optimizer
    model.train()
    parts = parts_of(model)
    timer = PartTimer(parts)
    times: dict[str, list[float]] = defaultdict(list)
    length = 0
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        batch, _ = trainer._micro_batch(trainer.cfg.batch_size)
        t_data = time.perf_counter() - t0
        batch["pixel_values"].requires_grad_(True)
        length = max(length, batch["decoder_input_ids"].shape[1])
        timer.reset()
        t1 = time.perf_counter()
        out = model(**batch)
        t2 = time.perf_counter()
        out["loss"].backward()
        t3 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t4 = time.perf_counter()
        if i < warmup:
            continue
        for name in parts:
            times[f"{name} fwd"].append(timer.fwd[name])
            times[f"{name} bwd"].append(timer.bwd[name])
        times["loss and rest fwd"].append((t2 - t1) - sum(timer.fwd.values()))
        times["loss and rest bwd"].append((t3 - t2) - sum(timer.bwd.values()))
        times["optimiser"].append(t4 - t3)
        times["data (draw, encode, collate)"].append(t_data)
        times["step"].append(t4 - t0)
    timer.close()
    flops = flops_by_part(model, trainer, parts)
    return times, flops, length


def flops_by_part(model: torch.nn.Module, trainer: Trainer, parts: dict[str, torch.nn.Module]) -> dict[str, float]:
    """Forward FLOPs per part, and ``all``: the whole step's forward + backward.

    Per part the forward alone: FlopCounterMode attributes backward FLOPs to modules through hooks
    that let a tied weight's gradient count under two parents (the parts then sum past the total).
    """
    batch, _ = trainer._micro_batch(trainer.cfg.batch_size)
    fwd = FlopCounterMode(display=False, depth=None, custom_mapping=CPU_SDPA_FLOPS)
    with fwd:
        loss = model(**batch)["loss"]
    bwd = FlopCounterMode(display=False, depth=None, custom_mapping=CPU_SDPA_FLOPS)
    with bwd:
        loss.backward()
    model.zero_grad(set_to_none=True)
    by_module = {k: sum(v.values()) for k, v in fwd.get_flop_counts().items()}
    # FlopCounterMode names modules by their path under the root ("VLSeqModel.lm.model.encoder")
    paths = {mod: name for name, mod in model.named_modules()}
    root = type(model).__name__
    out = {name: float(by_module.get(f"{root}.{paths[mod]}", 0)) for name, mod in parts.items()}
    out["forward"] = float(by_module.get("Global", 0))
    out["all"] = float(fwd.get_total_flops() + bwd.get_total_flops())
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = base_parser(__doc__)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=None, help="default: the preset's")
    ap.add_argument("--steps", type=int, default=6, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--data", default=None, help="a synthetic world folder (default: the preset's)")
    ap.add_argument("--override", action="append", default=[], help="a training config override, KEY=VALUE")
    args = ap.parse_args(argv)
    threads = set_threads(args.threads)
    out = tempfile.mkdtemp(prefix="vlseq-profile-")
    overrides = [f"out_dir={out}", "eval_every=0", "save_every=0", f"seed={args.seed}"]
    if args.quick:
        args.preset, args.steps, args.warmup = "debug", 2, 1
        overrides.append(f"data.synth={out}/world")
    if args.batch:
        overrides.append(f"batch_size={args.batch}")
    if args.data:
        overrides.append(f"data.synth={args.data}")
    cfg = load_config(args.preset, overrides + args.override)
    trainer = Trainer(cfg, resume=False, evaluate_at_end=False)
    times, flops, length = profile(trainer, args.steps, args.warmup)
    peak = matmul_gflops(1024, 3)
    step = statistics.median(times["step"])
    rows = []
    for key, ts in times.items():
        t = statistics.median(ts)
        part = key.rsplit(" ", 1)[0]
        gflop = flops.get(part, 0.0) / 1e9 if key.endswith(" fwd") else None
        rows.append([key, f"{t * 1000:.1f}", f"{100 * t / step:.0f}%" if key != "step" else "100%",
                     f"{gflop:.2f}" if gflop else "", f"{gflop / t:.0f}" if gflop and t > 0 else ""])
    rows.append(["forward, all parts", "", "", f"{flops['forward'] / 1e9:.2f}", ""])
    rows.append(["forward + backward", "", "", f"{flops['all'] / 1e9:.2f}",
                 f"{flops['all'] / 1e9 / (step - statistics.median(times['data (draw, encode, collate)'])):.0f}"]) 
    print_table(f"{cfg.name} training step, batch {cfg.batch_size}, targets up to {length} tokens, "
                f"{threads} threads, median of {args.steps} (fp32 matmul peak here: {peak:.0f} GFLOP/s)",
                ["part", "ms", "of step", "GFLOP", "GFLOP/s"], rows)
    return {"times": {k: statistics.median(v) for k, v in times.items()}, "flops": flops, "peak": peak}


if __name__ == "__main__":
    main()
