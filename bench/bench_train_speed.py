"""Training throughput: vlseq vs transformers' Florence-2 and ViT+BART at the same parameter count.

One training step = forward + backward + AdamW step, fp32, random weights, one synthetic batch
reused (same image size, prompt and target lengths, batch and threads for every model). Prints
the median step time of ``--steps`` timed steps after ``--warmup`` untimed ones, samples/s and
the ratio to Florence-2 (goal: vlseq >= 1.5x). See ``_subjects.py`` for how the peers are sized.

    python bench/bench_train_speed.py                        # tiny and 34m configs, batch 8
    python bench/bench_train_speed.py --configs 34m --image-size 224 --steps 20
    python bench/bench_train_speed.py --configs tiny --override model.loc_pointer=none   # one lever off
    python bench/bench_train_speed.py --quick                # a seconds-long smoke run
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import base_parser, config_names, fmt, print_table, ratio, set_threads, synthetic_batch  # noqa: E402
from _subjects import build_subjects, time_training  # noqa: E402

GOAL = 1.5  # vlseq samples/s over Florence-2's


def measure_config(name: str, args: Any) -> list[dict[str, Any]]:
    """One row per model at config ``name``: params, image tokens, median step seconds, samples/s.

    The models take turns step by step, so a change in machine load hits all of them alike.
    """
    subjects = build_subjects(name, args.models, args.image_size, args.seed, overrides=args.override)
    image_size = subjects[0].model.config.image_size
    batch = synthetic_batch(args.batch, image_size, args.prompt_len, args.target_len, args.seed)
    timed = time_training(subjects, batch, args.steps, args.warmup)
    rows = []
    for s in subjects:
        t = timed[s.name]["step_s"]
        rows.append({"config": name, "model": s.name, "params": s.params, "image_size": image_size,
                     "image_tokens": s.image_tokens, "attn": s.attn_impl, "step_s": t,
                     "samples_per_s": args.batch / t, "loss": timed[s.name]["loss"]})
    return rows


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = base_parser(__doc__)
    ap.add_argument("--configs", default="tiny,34m", help="comma-separated: debug, tiny, small, 34m")
    ap.add_argument("--models", default="florence2,vit+bart", help="peers of vlseq: florence2, vit+bart")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--image-size", type=int, default=None, help="default: the preset's")
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--target-len", type=int, default=32)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (median reported)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--override", action="append", default=[], metavar="model.KEY=VALUE",
                    help="change one setting of vlseq's model (repeatable), e.g. model.loc_pointer=none")
    args = ap.parse_args(argv)
    if args.quick:
        args.configs, args.batch, args.prompt_len, args.target_len, args.steps, args.warmup = "tiny", 2, 8, 8, 2, 1
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    threads = set_threads(args.threads)
    print(f"## Training throughput (fwd+bwd+AdamW, fp32, random weights)\n\n"
          f"torch {torch.__version__}, {threads} threads, batch {args.batch}, prompt {args.prompt_len} + target "
          f"{args.target_len} tokens, vocabulary 1,100 for every model (1,000 <loc> tokens; Florence-2's own is 51k), "
          f"median of {args.steps} steps (models taking turns) after {args.warmup} warmup" + (" — QUICK smoke run, not a measurement" if args.quick else ""))
    all_rows = []
    for name in config_names(args.configs):
        rows = measure_config(name, args)
        ref = next((r for r in rows if r["model"] == "florence2"), None)
        table = [[r["model"], fmt(r["params"]), r["image_tokens"], r["attn"], fmt(r["step_s"] * 1e3),
                  fmt(r["samples_per_s"]), ratio(r["samples_per_s"], ref and ref["samples_per_s"])] for r in rows]
        print_table(f"config `{name}`, image {rows[0]['image_size']} px",
                    ["model", "params", "image tokens", "attention", "step ms", "samples/s", "vs florence2"], table)
        if ref:
            got = rows[0]["samples_per_s"] / ref["samples_per_s"]
            print(f"vlseq/florence2 = {got:.2f}x (goal >= {GOAL}x: {'met' if got >= GOAL else 'NOT met'})")
        all_rows += rows
    return all_rows


if __name__ == "__main__":
    main()
