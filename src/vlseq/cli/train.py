"""``vlseq train --config PRESET_OR_FILE [key=value ...]``."""

from __future__ import annotations

import argparse
import json
import logging
from typing import Sequence

from ..train.config import load_config, preset_names


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vlseq train", description="Train one model on a mixture of tasks.")
    ap.add_argument("--config", default="tiny", help=f"a preset ({', '.join(preset_names())}) or a JSON file")
    ap.add_argument("--no-resume", action="store_true", help="start fresh even if OUT_DIR has checkpoints")
    ap.add_argument("--print-config", action="store_true", help="print the resolved config and exit")
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. model.d_model=256 lr=1e-3")
    args = ap.parse_args(argv)
    try:
        cfg = load_config(args.config, args.overrides)
    except ValueError as e:
        ap.error(str(e))
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from ..train.loop import train

    summary = train(cfg, resume=not args.no_resume)
    from ..evaluation.evaluate import format_metrics

    print(format_metrics(summary["metrics"]))
    print(f"final checkpoint: {summary['final']}")
    return 0
