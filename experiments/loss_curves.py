"""Compare runs by each task's training loss against the step (for screens that evaluate only at
their end, so have no validation curves).

    python experiments/loss_curves.py --out docs/img/x.png D=runs/scrT-D X=runs/scrT-X [--tasks vqa detect]

Each run is ``NAME=DIR`` with ``DIR/log.jsonl`` the trainer's log; the figure has one panel per task
(:func:`vlseq.viz.curves.loss_curves`), and the script prints each run's mean loss per task over its
last 10% of logged steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vlseq.viz.curves import loss_curves, loss_records


def tail_means(log: Path, frac: float = 0.1) -> dict[str, float]:
    """Each task's mean training loss over the last ``frac`` of the run's loss records."""
    recs = loss_records(log)
    tail = recs[int(len(recs) * (1 - frac)):]
    keys = sorted({k for r in tail for k in r if k.startswith("loss/")})
    return {k[5:]: sum(r[k] for r in tail if k in r) / sum(k in r for r in tail) for k in keys}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="NAME=DIR, DIR holding the run's log.jsonl")
    ap.add_argument("--out", type=Path, required=True, help="the PNG to write")
    ap.add_argument("--tasks", nargs="*", help="tasks to draw (default: every task logged)")
    ap.add_argument("--window", type=int, default=10, help="log records in each point's trailing mean")
    args = ap.parse_args(argv)
    runs = {}
    for spec in args.runs:
        name, sep, path = spec.partition("=")
        if not sep or not (Path(path) / "log.jsonl").exists():
            ap.error(f"{spec!r}: expected NAME=DIR with DIR/log.jsonl")
        runs[name] = Path(path) / "log.jsonl"
    if not loss_curves(runs, args.out, args.tasks, args.window):
        ap.error("no run logged a task loss")
    means = {name: tail_means(log) for name, log in runs.items()}
    tasks = sorted({t for m in means.values() for t in m})
    print("| task loss, last 10% of steps | " + " | ".join(runs) + " |")
    print("|---|" + "---:|" * len(runs))
    for t in tasks:
        print(f"| {t} | " + " | ".join(f"{means[n][t]:.3f}" if t in means[n] else "" for n in runs) + " |")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
