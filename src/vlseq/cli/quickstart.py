"""vlseq quickstart"""

from __future__ import annotations

import argparse
import logging
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlseq quickstart", description=__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--minutes", type=float, default=None, help="training budget (default: the preset's, 20 for tiny)")
    ap.add_argument("--eval-per-task", type=int, default=300)
    ap.add_argument("--out", default=None, help="run directory (default: the preset's out_dir)")
    ap.add_argument("--resume-anyway", action="store_true",
                    help="continue a run in the output directory although its saved config differs from this one")
    ap.add_argument("overrides", nargs="*", help="dotted key=value config overrides")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    from ..evaluation.evaluate import format_metrics
    from ..train.quickstart import run_quickstart

    result = run_quickstart(args.preset, args.overrides, args.minutes, args.out, args.eval_per_task,
                            resume_anyway=args.resume_anyway)
    print(format_metrics(result.metrics))
    print(f"\nreport: {result.report}\ncheckpoint: {result.final}")
    return 0
