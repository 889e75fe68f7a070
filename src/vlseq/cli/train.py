"""``vlseq train --config PRESET_OR_FILE [--data DIR | --dataset-config FILE] [key=value ...]``.

``--data DIR`` trains on DIR alone: a folder of split directories (``train/``, ``val/``) or one
split, in the readers' formats. ``--dataset-config FILE`` trains on the dataset entries of a JSON
file (files named per split as downloaded; see :mod:`vlseq.data.readers.datasets`). With either,
the synthetic world is neither written nor read, and the run trains the config's tasks that the
data's training files provide.

A config file may extend a preset or another file (``"extends": "tiny"``); ``--print-config``
prints the resolved whole (the settings the tokenizers fill in, such as ``model.vocab_size``,
are set when the run starts). A run resumes from the last checkpoint in its
``out_dir`` only with the config it was saved with: a changed setting stops the command, naming
it, unless ``--resume-anyway`` (docs/configs.md).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Sequence

from ..train.config import TrainConfig, load_config, preset_names


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="vlseq train", description="Train one model on a mixture of tasks.")
    ap.add_argument("--config", default="tiny", help=f"a preset ({', '.join(preset_names())}) or a JSON file")
    data = ap.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="DIR",
                      help="train on DIR alone: a folder of split directories (train/, val/) or one split, in the "
                           "readers' formats (no synthetic world; the tasks its files provide)")
    data.add_argument("--dataset-config", metavar="FILE",
                      help="train on the dataset entries of FILE alone: a JSON list of data.datasets entries "
                           "(files named per split as downloaded; relative paths under FILE's folder)")
    resume = ap.add_mutually_exclusive_group()
    resume.add_argument("--no-resume", action="store_true", help="start fresh even if OUT_DIR has checkpoints")
    resume.add_argument("--resume-anyway", action="store_true",
                        help="resume from OUT_DIR's last checkpoint even if its saved config differs from this one "
                             "(the differences are logged)")
    ap.add_argument("--print-config", action="store_true",
                    help="print the resolved config (extends, overrides and data applied) as JSON and exit")
    ap.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. model.d_model=256 lr=1e-3")
    return ap


def data_config(cfg: TrainConfig, data: str | None, dataset_config: str | None, overrides: Sequence[str]) -> TrainConfig:
    """``cfg`` on the data ``--data`` / ``--dataset-config`` name (unchanged without either)."""
    from ..data.readers.datasets import read_dataset_config
    from ..train.data import use_datasets

    if data is None and dataset_config is None:
        return cfg
    if data is not None:
        if not Path(data).is_dir():
            raise FileNotFoundError(2, "--data must be a folder of split directories or one split", data)
        entries = [{"path": str(Path(data).absolute())}]  # the checkpoint's config records where it trained
    else:
        entries = read_dataset_config(dataset_config or "")
    return use_datasets(cfg, entries, strict_tasks=any(o.split("=", 1)[0] == "tasks" for o in overrides))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # A bad config value ends the command with the dispatcher's one error line (ValueError).
    cfg = data_config(load_config(args.config, args.overrides), args.data, args.dataset_config, args.overrides)
    if args.print_config:
        print(json.dumps(cfg.to_dict(), indent=2))
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from ..train.loop import train

    summary = train(cfg, resume=not args.no_resume, resume_anyway=args.resume_anyway)
    from ..evaluation.evaluate import format_metrics

    print(format_metrics(summary["metrics"]))
    print(f"final checkpoint: {summary['final']}")
    return 0
