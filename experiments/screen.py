"""Screen training levers: train one run per variant from the same seed, then plot validation curves.

    python experiments/screen.py --out runs/screen --steps 500 --eval-every 250 --eval-examples 60 \\
        --variant base= --variant pointer=model.loc_pointer=cell [--preset tiny] [--plot-only]

Each variant is ``NAME=KEY=VALUE;KEY=VALUE...`` (the training config's own overrides, ``;``-separated
because values may hold commas). Runs go through ``vlseq train`` in a fresh process each, in order
(never side by side: they would share the two cores and halve each other's steps). A run that
already finished is not retrained. The plot (``OUT/curves.png``) shows the box tasks' mean IoU and
Acc@0.5, detection mAP@0.5, VQA and classify accuracy against the optimiser step; ``OUT/table.md``
holds the last evaluation of each run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from vlseq.viz.curves import CURVES, eval_records, validation_curves


def table(runs: dict[str, Path]) -> str:
    keys = [k for k, _ in CURVES]
    lines = ["| variant | step | " + " | ".join(keys) + " |", "|---|---:|" + "---:|" * len(keys)]
    for name, run in runs.items():
        ev = eval_records(run / "log.jsonl")
        if ev:
            step, e = ev[-1]
            lines.append(f"| {name} | {step} | " + " | ".join(f"{e.get(k, float('nan')):.3f}" for k in keys) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="runs/screen")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=None, help="a time budget instead of a step count")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--eval-examples", type=int, default=60)
    ap.add_argument("--variant", action="append", default=[], help="NAME=KEY=VALUE;KEY=VALUE...")
    ap.add_argument("--plot-only", action="store_true")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, Path] = {}
    for spec in args.variant:
        name, _, rest = spec.partition("=")
        run = out / name
        runs[name] = run
        if args.plot_only or (run / "final").exists():
            continue
        budget = [f"time_budget_min={args.minutes}", "max_steps=100000"] if args.minutes else [f"max_steps={args.steps}", "time_budget_min=null"]
        cmd = [sys.executable, "-m", "vlseq.cli", "train", "--config", args.preset, f"out_dir={run}", *budget,
               f"eval_every={args.eval_every}", f"eval_examples={args.eval_examples}", "save_every=0",
               *[kv for kv in rest.split(";") if kv]]
        print(" ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    validation_curves({name: run / "log.jsonl" for name, run in runs.items()}, out / "curves.png")
    (out / "table.md").write_text(table(runs) + "\n")
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
