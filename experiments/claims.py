"""Unified multi-task model vs one single-task model per task, at the same total training compute.

    python experiments/claims.py [--preset tiny] [--minutes 20] [--tasks refexp vqa ...]
                                 [--multi-run runs/tiny] [--eval-per-task 300] [--out runs/bench-claims]
                                 [--json PATH] [--threads N] [--steps N] [--set key=value ...]
    python experiments/claims.py --quick          # a seconds-long smoke run (debug preset, 2 tasks)

The seed's claim is that one model trained on every task does better than specialists. With a
budget of M minutes of optimiser-step time and n tasks this trains

* the unified model: every task, M minutes (``OUT/multi``) -- or reuses a finished run given by
  ``--multi-run DIR`` (e.g. the quickstart's ``runs/tiny``: metrics in ``DIR/eval/metrics.json``,
  its config, step count and samples per task from its checkpoint); and
* one model per task: the same preset and batch, ``tasks=[task]``, M / n minutes each
  (``OUT/single-TASK``) and 1/n of the warmup steps, so both sides spend the same share of their
  steps warming up (``--same-warmup``: the preset's warmup for every run),

evaluates each single-task model on the first N validation examples of its task (the N the
unified evaluation used) and prints, per task, the headline metric of both, their difference and
the training samples each saw. Runs resume from their checkpoints, so an interrupted benchmark
can be rerun with the same arguments. ``--steps N`` matches optimiser steps instead of time
(unified N steps, each single-task model N / n), which a busy shared machine cannot skew.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # the shared bench helpers (_common)

from _common import fmt, markdown_table  # noqa: E402
from vlseq.evaluation.evaluate import evaluate_examples  # noqa: E402
from vlseq.tasks import (  # noqa: E402
    get_task,
    task_names,
    task_of,  # noqa: E402
)
from vlseq.train.checkpoint import list_checkpoints  # noqa: E402
from vlseq.train.config import TrainConfig, load_config  # noqa: E402
from vlseq.train.data import load_examples  # noqa: E402

log = logging.getLogger("claims")

#: The one metric per task the comparison is read on: each task's primary (first headline) metric.
PRIMARY: dict[str, str] = {t: get_task(t).headline[0] for t in task_names() if get_task(t).headline}

#: Examples and world of ``--quick`` (seconds on one core).
QUICK_WORLD = {"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0, "workers": 1}
QUICK_STEPS = 4
QUICK_TASKS = ["refexp", "vqa"]


@dataclass
class RunResult:
    """What one training run did and scored.

    ``samples_per_task``: training examples drawn per task (exact, from the mixture's position);
    ``metrics``: ``task/metric`` as :func:`vlseq.evaluation.evaluate.evaluate_examples` writes them.
    """

    label: str
    run_dir: str
    tasks: list[str]
    steps: int
    elapsed_s: float
    samples_per_task: dict[str, int]
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def samples(self) -> int:
        return sum(self.samples_per_task.values())

    @property
    def samples_per_s(self) -> float | None:
        return self.samples / self.elapsed_s if self.elapsed_s > 0 else None

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "samples": self.samples, "samples_per_s": self.samples_per_s}


# --------------------------------------------------------------------------- runs


def samples_from_mixture(state: dict[str, Any]) -> dict[str, int]:
    """Examples drawn per task from a :class:`MixtureSampler` state: ``epoch * size + pos`` per source."""
    out: dict[str, int] = {}
    for name, s in state["sources"].items():
        task = task_of(name)
        out[task] = out.get(task, 0) + int(s["epoch"]) * int(s["size"]) + int(s["pos"])
    return out


def run_config(base: str, overrides: Sequence[str], *, out_dir: Path, tasks: Sequence[str], minutes: float | None,
               steps: int | None, threads: int | None, warmup: int | None = None) -> TrainConfig:
    """The config of one run: ``base`` (preset name or JSON file) + the user's overrides + ours (ours win)."""
    ours = [f"out_dir={out_dir}", f"tasks={json.dumps(list(tasks))}"]
    if warmup is not None:
        ours.append(f"warmup_steps={warmup}")
    if steps is not None:
        ours += [f"max_steps={steps}", "time_budget_min=null"]
    else:
        ours.append(f"time_budget_min={minutes}")
    if threads is not None:
        ours.append(f"threads={threads}")
    return load_config(base, list(overrides) + ours)


def train_and_evaluate(label: str, cfg: TrainConfig, n_per_task: dict[str, int]) -> RunResult:
    """Train (resuming when ``cfg.out_dir`` holds a checkpoint), then evaluate on the first N val examples
    of each task; the metrics also go to ``out_dir/eval/metrics.json`` (the quickstart's layout)."""
    from vlseq.train.loop import Trainer

    trainer = Trainer(cfg, resume=True, evaluate_at_end=False)
    summary = trainer.run()
    val = load_examples(cfg, cfg.data.val_split)
    missing = [t for t in cfg.tasks if t not in val]
    if missing:
        raise ValueError(f"{cfg.data.synth}/{cfg.data.val_split}: no validation examples for task(s) {missing}")
    val = {s: exs[: n_per_task[task_of(s)]] for s, exs in val.items() if task_of(s) in n_per_task}
    metrics = evaluate_examples(trainer.eval_model(), trainer.processor, val)
    eval_dir = Path(cfg.out_dir) / "eval"
    eval_dir.mkdir(parents=True, exist_ok=True)
    (eval_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return RunResult(label, str(cfg.out_dir), list(cfg.tasks), int(summary["step"]), float(summary["elapsed_s"]),
                     samples_from_mixture(trainer.mixture.state_dict()), metrics)


def read_multi_run(run_dir: Path) -> tuple[RunResult, dict[str, Any]]:
    """A finished unified run: its result (metrics from ``eval/metrics.json``, step, time and samples from
    the last checkpoint) and its recorded training config (a ``TrainConfig`` dict)."""
    metrics_file = run_dir / "eval" / "metrics.json"
    if not metrics_file.is_file():
        raise ValueError(f"{metrics_file} does not exist: --multi-run needs an evaluated run "
                         f"(vlseq quickstart, or vlseq eval --out {run_dir / 'eval'})")
    try:
        metrics = json.loads(metrics_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{metrics_file}: not valid JSON ({e})") from None
    ckpts = list_checkpoints(run_dir / "checkpoints")
    if not ckpts:
        raise ValueError(f"{run_dir / 'checkpoints'}: no complete checkpoint to read the step count and samples from")
    state = json.loads((ckpts[-1] / "trainer_state.json").read_text())
    settings_file = run_dir / "final" / "vlseq.json"
    if not settings_file.is_file():
        settings_file = ckpts[-1] / "model" / "vlseq.json"
    settings = json.loads(settings_file.read_text())
    if "train_config" not in settings:
        raise ValueError(f"{settings_file}: no 'train_config' recorded, so the single-task runs cannot copy its setup")
    recorded = settings["train_config"]
    result = RunResult("unified", str(run_dir), sorted(samples_from_mixture(state["mixture"])), int(state["step"]),
                       float(state["elapsed"]), samples_from_mixture(state["mixture"]), metrics)
    return result, recorded


def check_multi_run(multi: RunResult, tasks: Sequence[str]) -> None:
    """Every compared task must be one the reused unified run trained on and was scored on."""
    metrics_file = Path(multi.run_dir) / "eval" / "metrics.json"
    absent = [t for t in tasks if t not in multi.tasks]
    if absent:
        raise ValueError(f"{multi.run_dir} was not trained on task(s) {absent} (its tasks: {multi.tasks})")
    for t in tasks:
        key = f"{t}/{PRIMARY[t]}"
        if key not in multi.metrics:
            raise ValueError(f"{metrics_file}: no {key!r} (the unified run was not evaluated on task {t!r})")


# --------------------------------------------------------------------------- report


def comparison_rows(multi: RunResult, singles: dict[str, RunResult]) -> list[dict[str, Any]]:
    """One row per task: its primary metric for both models, unified - single, and samples seen."""
    rows = []
    for task, single in singles.items():
        m = PRIMARY[task]
        u, s = multi.metrics.get(f"{task}/{m}"), single.metrics.get(f"{task}/{m}")
        rows.append({"task": task, "metric": m, "unified": u, "single": s,
                     "diff": None if u is None or s is None else u - s,
                     "n_eval": single.metrics.get(f"{task}/n"),
                     "unified_task_samples": multi.samples_per_task.get(task, 0), "unified_samples": multi.samples,
                     "single_samples": single.samples})
    return rows


def detail_rows(multi: RunResult, singles: dict[str, RunResult]) -> list[list[Any]]:
    """Every headline metric (and the parse-error rate) of both models, task by task."""
    out = []
    for task, single in singles.items():
        for m in list(get_task(task).headline) + ["parse_error_rate"]:
            u, s = multi.metrics.get(f"{task}/{m}"), single.metrics.get(f"{task}/{m}")
            if u is None and s is None:
                continue
            out.append([task, m, _num(u), _num(s), _signed(u - s) if u is not None and s is not None else "-"])
    return out


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def _signed(x: float) -> str:
    return f"{x:+.3f}"


def caveats(multi: RunResult, singles: dict[str, RunResult], minutes: float, steps: int | None, warmup: int,
            single_warmup: int, reused: bool = False) -> list[str]:
    """What to keep in mind when reading the table (measured where it can be).

    The budget is split over the tasks the unified model trained on (``multi.tasks``), which may be
    more than the tasks compared here.
    """
    n = len(multi.tasks)
    if steps is not None:
        budget = (f"Same total optimiser steps: the unified model took {multi.steps:,} steps on all {n} tasks; "
                  f"each single-task model about 1/{n} of that, all on its own task.")
    else:
        budget = (f"Same total optimiser-step time: the unified model trained {fmt(minutes)} min on all {n} tasks, "
                  f"each single-task model {fmt(minutes / n)} min on its own task only ({n} models, the same total). "
                  f"So each single-task model takes about 1/{n} of the steps, all on its task, while the unified "
                  f"model shares its steps among the tasks by the mixture weights ('unified: task samples'). "
                  f"Time counts optimiser steps only, not evaluation or checkpointing.")
    if single_warmup == warmup:
        warm = (f"Warmup is fixed in steps ({warmup} for every run), so the short single-task runs spend a larger "
                f"share of their steps warming up.")
    else:
        warm = (f"Warmup is scaled with the budget ({warmup} steps unified, {single_warmup} per single-task model) "
                f"so both sides spend the same share of their steps warming up (--same-warmup turns this off).")
    out = [budget, warm,
           f"The {n} single-task models (one per task) hold {n}x the parameters of the unified one between them, "
           f"and each trains its own tokenizer on its own task's corpus."]
    rates = [r.samples_per_s for r in singles.values() if r.samples_per_s]
    if steps is None and multi.samples_per_s and rates:
        mean = sum(rates) / len(rates)
        if abs(mean - multi.samples_per_s) / multi.samples_per_s > 0.15:
            out.append(f"The machine ran at different speeds for the two sides ({fmt(multi.samples_per_s)} samples/s "
                       f"unified vs {fmt(mean)} single-task on average): time-matched compute was not sample-matched; "
                       f"compare the samples columns, or rerun with --steps.")
    if reused and steps is None and abs(minutes * 60 - multi.elapsed_s) > 0.05 * minutes * 60:
        out.append(f"The reused unified run trained {fmt(multi.elapsed_s / 60)} min, not the {fmt(minutes)} min "
                   f"budget given: the two sides did not get the same compute.")
    if reused and steps is not None and steps != multi.steps:
        out.append(f"The reused unified run took {multi.steps:,} steps, not the {steps:,} given: the two sides did "
                   f"not get the same compute.")
    short = [t for t, r in singles.items() if r.steps < 20]
    if short:
        out.append(f"Single-task run(s) {short} took fewer than 20 steps: a smoke run, not a measurement.")
    return out


def render(multi: RunResult, singles: dict[str, RunResult], notes: Sequence[str], header: str) -> str:
    rows = comparison_rows(multi, singles)
    table = markdown_table(
        ["task", "metric", "unified", "single-task", "unified - single", "n eval", "unified: task samples / all",
         "single-task samples"],
        [[r["task"], r["metric"], _num(r["unified"]), _num(r["single"]),
          _signed(r["diff"]) if r["diff"] is not None else "-", fmt(r["n_eval"]) if r["n_eval"] is not None else "-",
          f"{r['unified_task_samples']:,} / {r['unified_samples']:,}", f"{r['single_samples']:,}"] for r in rows])
    runs = markdown_table(
        ["run", "tasks", "steps", "train min", "samples", "samples/s", "dir"],
        [[r.label, len(r.tasks), fmt(r.steps), fmt(r.elapsed_s / 60), fmt(r.samples),
          fmt(r.samples_per_s), r.run_dir] for r in [multi, *singles.values()]])
    detail = markdown_table(["task", "metric", "unified", "single-task", "unified - single"],
                            detail_rows(multi, singles))
    wins = sum(1 for r in rows if r["diff"] is not None and r["diff"] > 0)
    lines = ["## Unified vs single-task at the same training compute", "", header, "", table, "",
             f"The unified model is ahead on {wins} of {len(rows)} tasks (by the metric above).", "",
             "### All headline metrics", "", detail, "", "### Runs", "", runs, "", "### Caveats", ""]
    lines += [f"- {c}" for c in notes]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default=None, help="preset or config JSON (default: the --multi-run's recorded "
                                                    "config, else tiny; debug with --quick)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="total training budget M (default: the --multi-run's measured training time, else 20)")
    ap.add_argument("--steps", type=int, default=None, help="match optimiser steps instead of time: unified N, "
                                                             "each single-task model N / n (rounded up)")
    ap.add_argument("--tasks", nargs="+", default=None, help="tasks to compare (default: the preset's)")
    ap.add_argument("--multi-run", default=None,
                    help="reuse this evaluated unified run directory instead of training one")
    ap.add_argument("--eval-per-task", type=int, default=None,
                    help="validation examples per task (default 300; with --multi-run, the n it was evaluated on)")
    ap.add_argument("--out", default=None,
                    help="where the runs go (default runs/bench-claims; a temp dir with --quick)")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--threads", type=int, default=None, help="torch threads per run (default: the preset's)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for every run (repeatable), e.g. --set warmup_steps=50")
    ap.add_argument("--same-warmup", action="store_true",
                    help="give the single-task runs the preset's warmup_steps too (default: warmup_steps / n)")
    ap.add_argument("--quick", action="store_true", help="debug preset, 2 tasks, a few steps: a seconds-long smoke run")
    args = ap.parse_args(argv)
    if args.minutes is not None and not args.minutes > 0:
        ap.error(f"--minutes must be > 0, got {args.minutes}")
    if args.steps is not None and args.steps < 1:
        ap.error(f"--steps must be >= 1, got {args.steps}")
    if args.eval_per_task is not None and args.eval_per_task < 1:
        ap.error(f"--eval-per-task must be >= 1, got {args.eval_per_task}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    out = Path(args.out or (tempfile.mkdtemp(prefix="bench-claims-") if args.quick else "runs/bench-claims"))
    out.mkdir(parents=True, exist_ok=True)
    overrides = list(args.overrides)

    multi: RunResult | None = None
    if args.multi_run:
        multi, recorded = read_multi_run(Path(args.multi_run))
        # The single-task runs start from the reused run's own config: same world, model and batch.
        base = str(out / "multi_run_config.json")
        Path(base).write_text(json.dumps(recorded, indent=2))
        if args.preset and args.preset != recorded.get("name"):
            log.warning("--preset %s given, but %s was trained with %r: the single-task runs copy the run's config",
                        args.preset, args.multi_run, recorded.get("name"))
    else:
        base = args.preset or ("debug" if args.quick else "tiny")
        if args.quick:
            # A tiny world of its own (generated on first use) and a handful of steps per run.
            overrides = [f"data.synth={out / 'synth'}", f"data.synth_generate={json.dumps(QUICK_WORLD)}",
                         "save_every=0", "warmup_steps=1"] + overrides
            if args.steps is None and args.minutes is None:
                args.steps = QUICK_STEPS
    probe = load_config(base, overrides)
    tasks = list(args.tasks or (QUICK_TASKS if args.quick and multi is None else probe.tasks))
    unknown = [t for t in tasks if t not in PRIMARY]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown}; known: {', '.join(PRIMARY)}")
    if multi is not None:
        check_multi_run(multi, tasks)

    minutes = args.minutes
    if minutes is None:
        minutes = multi.elapsed_s / 60 if multi is not None else 20.0
    # The budget is shared by the tasks the unified model trains on: with a reused run that may be
    # more than the tasks compared here, and each specialist still gets only its 1/n share.
    n = len(multi.tasks) if multi is not None else len(tasks)
    default_n = args.eval_per_task or (4 if args.quick else 300)
    if multi is not None:
        # Exactly the examples the unified model was scored on: the first n of each task's val split.
        n_per_task = {t: int(multi.metrics.get(f"{t}/n", default_n)) for t in tasks}
    else:
        n_per_task = {t: default_n for t in tasks}

    t0 = time.time()
    if multi is None:
        cfg = run_config(base, overrides, out_dir=out / "multi", tasks=tasks, minutes=minutes, steps=args.steps,
                         threads=args.threads)
        print(f"claims: training the unified model on {n} tasks ({_budget(args.steps, minutes)}) "
              f"in {cfg.out_dir}", flush=True)
        multi = train_and_evaluate("unified", cfg, n_per_task)
    singles: dict[str, RunResult] = {}
    per_steps = math.ceil(args.steps / n) if args.steps is not None else None
    # A run 1/n as long gets 1/n of the warmup: a fixed warmup would eat most of a short run (tiny: 200
    # warmup steps of a ~100-250-step single-task run on 2 cores) and leave it training below its peak rate.
    single_warmup = probe.warmup_steps if args.same_warmup else max(1, math.ceil(probe.warmup_steps / n))
    for task in tasks:
        cfg = run_config(base, overrides, out_dir=out / f"single-{task}", tasks=[task], minutes=minutes / n,
                         steps=per_steps, threads=args.threads, warmup=single_warmup)
        print(f"claims: training the single-task {task} model ({_budget(per_steps, minutes / n)}) "
              f"in {cfg.out_dir}", flush=True)
        singles[task] = train_and_evaluate(task, cfg, n_per_task)

    header = (f"preset `{probe.name}`, batch {probe.batch_size} x accum {probe.grad_accum}, "
              f"{_budget(args.steps, minutes)} in total over {n} tasks ({len(tasks)} compared), "
              f"first {_n_text(n_per_task)} val examples per task of {probe.data.synth or 'the datasets'}; "
              f"unified run: {multi.run_dir}")
    notes = caveats(multi, singles, minutes, args.steps, probe.warmup_steps, single_warmup,
                    reused=args.multi_run is not None)
    print(render(multi, singles, notes, header), flush=True)
    print(f"claims: {time.time() - t0:.0f} s wall", flush=True)
    if args.json:
        result = {"preset": probe.name, "config_base": base, "minutes": None if args.steps else minutes,
                  "steps": args.steps, "tasks": tasks, "eval_per_task": n_per_task, "overrides": overrides,
                  "warmup_steps": {"unified": probe.warmup_steps, "single": single_warmup},
                  "unified": multi.to_json(), "single": {t: r.to_json() for t, r in singles.items()},
                  "rows": comparison_rows(multi, singles), "caveats": notes}
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {args.json}")
    return 0


def _budget(steps: int | None, minutes: float) -> str:
    return f"{steps:,} steps" if steps is not None else f"{fmt(minutes)} min"


def _n_text(n_per_task: dict[str, int]) -> str:
    values = sorted(set(n_per_task.values()))
    return str(values[0]) if len(values) == 1 else "/".join(map(str, values))


if __name__ == "__main__":
    sys.exit(main())
