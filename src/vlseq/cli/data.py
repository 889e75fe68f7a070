"""``vlseq data inspect DIR|FILE|CONFIG``: what a run would read, checked before a run is spent on it.

It reads what ``vlseq train`` reads. DIR is a split directory in the readers' formats
(``vlseq/data/readers/split.py``) or a folder of them (``train/``, ``val/``, ...: each is inspected).
FILE is a datasets file as ``--dataset-config`` takes it: a JSON list of dataset entries (or
``{"datasets": [...]}``), files named per split as downloaded; each split of each entry is
inspected. CONFIG is a training preset or JSON file (with dotted ``key=value`` overrides): its
synthetic world (``data.synth``) and its ``data.datasets`` are inspected for the tasks it trains,
with its coordinate grid, sequence limits and tokenizer; ``--data DIR`` or ``--dataset-config
FILE`` replace its data, as they do for ``vlseq train``. The markdown report goes to stdout;
``--out`` also writes it as ``report.md`` with a contact sheet of ground truth per split.
"""

from __future__ import annotations

import argparse
import json
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
    ins.add_argument("what", nargs="?", metavar="DIR|FILE|CONFIG",
                     help="a split directory or a folder of them, a datasets file (a JSON list of dataset entries), "
                          "or a training config (preset or JSON file)")
    ins.add_argument("overrides", nargs="*", help="dotted key=value overrides of a CONFIG, e.g. model.num_bins=128")
    data = ins.add_mutually_exclusive_group()
    data.add_argument("--data", metavar="DIR", help="as for vlseq train: inspect DIR (a folder of split directories "
                                                    "or one split) instead of CONFIG's data")
    data.add_argument("--dataset-config", metavar="FILE",
                      help="as for vlseq train: inspect the dataset entries of FILE (files named per split as "
                           "downloaded, relative paths under FILE's folder) instead of CONFIG's data")
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


#: top-level keys of the annotation files of COCO, VQAv2 and MDETR: such a file is data, not a config
DATA_FILE_KEYS = frozenset({"images", "annotations", "categories", "questions", "info", "licenses"})
#: a datasets file or training config is a few KB; a larger JSON file is data (VG's regions are 700 MB)
MAX_CONFIG_BYTES = 16 * 2**20


def input_kind(what: str) -> str:
    """What ``what`` names: ``"dir"`` (split data), ``"datasets"`` (a datasets file) or ``"config"``.

    A JSON list, or an object with ``datasets``, is a datasets file; another object a training
    config. An annotation file itself (COCO, VQA, MDETR: :data:`DATA_FILE_KEYS`) and a name that is
    neither an existing directory, a JSON file nor a preset are each one error saying what to pass
    instead.
    """
    import dataclasses

    from ..data.readers import DataError
    from ..tasks import file_feeds
    from ..train.config import ALL_RENAMED_KEYS, TrainConfig, preset_names

    path = Path(what)
    if path.is_dir():
        return "dir"
    entry_hint = "name it in a dataset entry (\"train\": {\"instances\": FILE, \"image_root\": DIR})"
    if path.is_file() and path.name in file_feeds():
        raise ValueError(f"{what} is a data file: pass the split directory holding it ({path.parent}), or {entry_hint}")
    if path.is_file() and path.stat().st_size > MAX_CONFIG_BYTES:  # not parsed twice just to be refused
        raise DataError(path, None, "wrong_type", f"{path.stat().st_size / 2**20:.0f} MB: a data file, not a datasets "
                                                  f"file or a training config; {entry_hint}")
    if path.is_file():
        try:
            doc = json.loads(path.read_text())
        except (UnicodeDecodeError, json.JSONDecodeError):
            return "config"  # load_config names the file and the JSON error
        if isinstance(doc, list) or (isinstance(doc, dict) and "datasets" in doc):
            return "datasets"
        keys = {f.name for f in dataclasses.fields(TrainConfig)} | set(ALL_RENAMED_KEYS)
        if isinstance(doc, dict) and set(doc) & DATA_FILE_KEYS and not set(doc) & keys:
            raise DataError(path, None, "wrong_type", f"neither a training config nor a datasets file (its keys: "
                            f"{', '.join(sorted(doc)[:6])}); if it is a data file, {entry_hint} or pass its split "
                            "directory")
        return "config"
    if path.suffix == ".json" or what in preset_names():
        return "config"
    raise DataError(path, None, "unreadable_file", f"no such directory, datasets file, config file or preset "
                                                   f"(presets: {', '.join(preset_names())})")


def resolve(args: argparse.Namespace) -> tuple[Any | None, list, str | None]:
    """``(config or None, the sources to inspect, the report's title or None)`` of the command line.

    With a CONFIG, ``--data`` / ``--dataset-config`` replace its data exactly as ``vlseq train``
    does (:func:`vlseq.cli.train.data_config`: the tasks it trains narrowed to those provided).
    """
    from ..data.readers.datasets import read_dataset_config
    from ..evaluation.data_sources import entry_sources, split_dirs
    from ..train.config import load_config

    what, overrides = args.what, list(args.overrides)
    if what is not None and "=" in what and not Path(what).exists():  # `inspect --data D key=value`
        what, overrides = None, [what, *overrides]
    if what is None and args.data is None and args.dataset_config is None:
        raise ValueError("name the data to inspect: a split directory, a datasets file or a training config "
                         "(or --data DIR / --dataset-config FILE)")
    kind = input_kind(what) if what is not None else None
    data = what if kind in ("dir", "datasets") else None
    if data is not None and (args.data or args.dataset_config):
        raise ValueError(f"{what} is data itself; --data and --dataset-config replace a training config's data: "
                         "give one of them")
    if kind != "config" and overrides:
        raise ValueError(f"key=value overrides apply to a training config, but {what or args.data or args.dataset_config}"
                         " is data")
    if kind == "config":
        from .train import data_config

        cfg = data_config(load_config(what, overrides), args.data, args.dataset_config, overrides)
        return cfg, config_sources(cfg, what), f"config `{what}`"
    if kind == "dir" or args.data is not None:
        return None, split_dirs(what or args.data), None
    file = what or args.dataset_config
    return None, entry_sources(read_dataset_config(file)), f"`{file}`"


def config_sources(cfg: Any, what: str) -> list:
    """The splits a training config reads: each split of its synthetic world and of its datasets
    (split directories under an entry's ``path`` and the files it names per split)."""
    from ..data.readers import DataError
    from ..evaluation.data_sources import Source, entry_sources, split_dirs

    tasks = tuple(cfg.tasks)
    sources: list[Source] = []
    if cfg.data.synth:
        root = Path(cfg.data.synth)
        if not root.is_dir():
            raise DataError(root, None, "unreadable_file", f"the synthetic world of config {what!r} is not written yet: "
                                                           f"run `vlseq synth --out {root}` (a training run writes it too)")
        sources += [Source(f"synth/{s.name}", s.path, tasks) for s in split_dirs(root)]
    sources += entry_sources(cfg.data.datasets, tasks)
    if not sources:
        shards = "; it streams data.shards, which this command does not read" if cfg.data.shards else ""
        raise ValueError(f"config {what!r} names no data to inspect (data.synth and data.datasets are empty{shards})")
    return sources


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``vlseq data inspect``; bad input raises for the dispatcher's one-line error."""
    parser = build_parser()
    # Overrides may follow the flags too (`inspect tiny --data D key=value`), as `vlseq train` takes them.
    args, extra = parser.parse_known_args(argv)
    unknown = [x for x in extra if x.startswith("-") or "=" not in x]
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    args.overrides = [*args.overrides, *extra]
    cfg, sources, title = resolve(args)
    from ..evaluation.data_report import DEFAULT_BINS, inspect_sources, load_tokenizer

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
                             per_task=args.per_task, title=title)
    try:
        print(report.markdown, end="")
        if out is not None:
            print(f"\nwrote {out / 'report.md'} and {len(report.sheets)} contact sheet(s) to {out}")
        sys.stdout.flush()
    except BrokenPipeError:  # `vlseq data inspect D | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
    return 0
