"""``vlseq data inspect DIR|CONFIG``: what a split teaches, checked before a run is spent on it.

DIR is a split directory in the readers' formats (``vlseq/data/readers/split.py``) or a folder of
them (``train/``, ``val/``, ...: each is inspected). CONFIG is a training preset or JSON file (with
dotted ``key=value`` overrides, as ``vlseq train`` takes them): its synthetic world (``data.synth``)
and its ``data.datasets`` are inspected for the tasks it trains, with its coordinate grid,
sequence limits and tokenizer. The markdown report goes to stdout; ``--out`` also writes it as
``report.md`` with a contact sheet of ground truth per split.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from .paths import output_dir


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vlseq data", description="Look at training data before training on it.")
    verbs = p.add_subparsers(dest="verb", required=True, metavar="VERB")
    ins = verbs.add_parser("inspect", help="per split and task: counts, boxes, answers, lengths, a contact sheet",
                           description=__doc__.split("\n\n")[1])
    ins.add_argument("what", metavar="DIR|CONFIG", help="a split directory, a folder of them, or a training config")
    ins.add_argument("overrides", nargs="*", help="dotted key=value overrides of a CONFIG, e.g. model.num_bins=128")
    ins.add_argument("--out", help="also write report.md and contact_sheet_<split>.png here")
    ins.add_argument("--bins", type=int, help="coordinate bins (default: the config's, the tokenizer's, or 64)")
    ins.add_argument("--tokenizer", help="count tokens with this checkpoint or tokenizer directory "
                                         "(default: the config's, or one trained on each split's own texts)")
    ins.add_argument("--max-target-tokens", type=int, help="target limit (default: the config's or checkpoint's, or 128)")
    ins.add_argument("--max-prompt-tokens", type=int, help="prompt limit (default: the config's or checkpoint's, or 64)")
    ins.add_argument("--per-task", type=int, default=3, help="contact sheet panels per task (default 3)")
    ins.add_argument("--skip-bad", action="store_true", help="skip bad records (counted) instead of stopping at the first")
    ins.add_argument("--overwrite", action="store_true", help="replace a report already written to --out")
    return p


def resolve_config(what: str, overrides: Sequence[str]) -> Any | None:
    """The training config ``what`` names, or None when it is a directory (the data itself).

    A name that is neither an existing directory, a config file nor a preset is reported as the
    missing directory it most likely is.
    """
    from ..data.readers import DataError
    from ..tasks import file_feeds
    from ..train.config import load_config, preset_names

    path = Path(what)
    if path.is_dir():
        if overrides:
            raise ValueError(f"key=value overrides apply to a training config, but {what} is a data directory")
        return None
    if path.is_file() and path.name in file_feeds():
        raise ValueError(f"{what} is a data file: pass the split directory holding it ({path.parent})")
    if path.is_file() or path.suffix == ".json" or what in preset_names():
        return load_config(what, overrides)
    raise DataError(path, None, "unreadable_file", f"no such directory, config file or preset "
                                                   f"(presets: {', '.join(preset_names())})")


def config_sources(cfg: Any, what: str) -> list:
    """The split directories a training config reads: each split of its synthetic world and datasets."""
    from ..data.readers import DataError
    from ..evaluation.data_report import Source, split_dirs

    tasks = tuple(cfg.tasks)
    sources: list[Source] = []
    if cfg.data.synth:
        root = Path(cfg.data.synth)
        if not root.is_dir():
            raise DataError(root, None, "unreadable_file", f"the synthetic world of config {what!r} is not written yet: "
                                                           f"run `vlseq synth --out {root}` (a training run writes it too)")
        sources += [Source(f"synth/{s.name}", s.path, tasks) for s in split_dirs(root)]
    for ds in cfg.data.datasets:
        if ds.get("path") is None or any(isinstance(v, dict) for v in ds.values()):
            # The report reads split directories; files named per split are not inspected (yet): say so.
            print(f"vlseq data inspect: the files dataset {ds.get('name')!r} names per split are not inspected "
                  "(only split directories, its 'path')", file=sys.stderr)
        if ds.get("path") is None:
            continue
        path = Path(ds["path"])
        wanted = tuple(t for t in tasks if t in ds["tasks"]) if ds.get("tasks") else tasks
        sources += [Source(f"{ds.get('name') or path.name}/{s.name}", s.path, wanted) for s in split_dirs(path)]
    if not sources:
        shards = "; it streams data.shards, which this command does not read" if cfg.data.shards else ""
        raise ValueError(f"config {what!r} names no split directory (data.synth and data.datasets are empty{shards})")
    return sources


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vlseq data inspect``; bad input raises for the dispatcher's one-line error."""
    args = build_parser().parse_args(argv)
    cfg = resolve_config(args.what, args.overrides)
    from ..evaluation.data_report import DEFAULT_BINS, inspect_sources, load_tokenizer, split_dirs

    sources = split_dirs(args.what) if cfg is None else config_sources(cfg, args.what)
    # Each setting: the flag, else the config, else the checkpoint the tokenizer came from, else the default.
    bins = args.bins or (cfg.model.num_bins if cfg is not None else None)
    tok_dir = args.tokenizer or (cfg.tokenizer if cfg is not None else None)
    tokenizer, ckpt = load_tokenizer(tok_dir, bins) if tok_dir else (None, None)
    if bins is None:
        bins = tokenizer.num_bins if tokenizer is not None else DEFAULT_BINS
    # Created only once the input is known good, so a typo leaves no empty folder behind.
    out = output_dir(args.out, "report.md", "a data report", overwrite=args.overwrite) if args.out else None

    def limit(flag: int | None, key: str, default: int) -> int:
        if flag is not None:
            return flag
        if cfg is not None:
            return int(getattr(cfg, key))
        return int(getattr(ckpt, key)) if ckpt is not None else default

    report = inspect_sources(sources, bins, tokenizer, tok_dir, limit(args.max_target_tokens, "max_target_tokens", 128),
                             limit(args.max_prompt_tokens, "max_prompt_tokens", 64), out=out,
                             skip_bad=args.skip_bad or bool(cfg is not None and cfg.data.skip_bad),
                             per_task=args.per_task)
    try:
        print(report.markdown, end="")
        if out is not None:
            print(f"\nwrote {out / 'report.md'} and {len(report.sheets)} contact sheet(s) to {out}")
        sys.stdout.flush()
    except BrokenPipeError:  # `vlseq data inspect D | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return 0
