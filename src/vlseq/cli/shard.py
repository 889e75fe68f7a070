"""``vlseq shard --data SPLIT_DIR | --dataset-config FILE [--dataset NAME] [--split S] --out DIR``."""

from __future__ import annotations

import argparse
from typing import Any, Sequence

from ..data.readers.validate import DataError
from ..data.shards import write_shards
from .paths import output_dir


def pick_entry(entries: list[dict[str, Any]], name: str | None, where: str) -> dict[str, Any]:
    """The entry named ``name`` (or the only one): shards hold tasks, not datasets, so one is written at a time."""
    from ..data.readers.datasets import entry_name

    names = [entry_name(e) for e in entries]
    if name is None:
        if len(entries) > 1:
            raise ValueError(f"{where} holds {len(entries)} dataset entries ({', '.join(names)}): pick one with --dataset NAME")
        return entries[0]
    if name not in names:
        raise ValueError(f"{where} holds no dataset entry {name!r} (it holds {', '.join(names)})")
    return entries[names.index(name)]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vlseq shard", description="Write a split directory as WebDataset tar shards.")
    data = p.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help="a split directory the readers accept (e.g. data/synth-tiny-mixed/train)")
    data.add_argument("--dataset-config", metavar="FILE",
                      help="a JSON file of data.datasets entries (files named per split as downloaded): the --split "
                           "of its entry --dataset is written")
    p.add_argument("--dataset", metavar="NAME", help="the entry of --dataset-config to write (needed when it has several)")
    p.add_argument("--split", default="train", help="the split of --dataset-config to write (default train)")
    p.add_argument("--tasks", nargs="+", default=None, help="tasks to write (default: every task the split provides)")
    p.add_argument("--out", required=True, help="output directory (shard-*.tar + shards.json)")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-task shuffle before writing")
    p.add_argument("--no-shuffle", action="store_true", help="keep the readers' order")
    p.add_argument("--skip-bad", action="store_true", help="skip bad records (counted) instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace shards already written to --out")
    args = p.parse_args(argv)
    output_dir(args.out, "shards.json", "shards", overwrite=args.overwrite)
    from ..data.readers import load_files, load_split
    from ..data.readers.datasets import entry_name, read_dataset_config
    from ..tasks import file_feeds

    try:
        if args.dataset_config is not None:
            entry = pick_entry(read_dataset_config(args.dataset_config), args.dataset, args.dataset_config)
            split = load_files(entry, args.split, tasks=args.tasks, skip_bad=args.skip_bad, strict_tasks=bool(args.tasks),
                               feeds=file_feeds())
            source = f"{args.dataset_config}#{entry_name(entry)}/{args.split}"
        else:
            split = load_split(args.data, tasks=args.tasks, skip_bad=args.skip_bad, feeds=file_feeds())
            source = str(args.data)
        index = write_shards(split, args.out, args.shard_size, seed=None if args.no_shuffle else args.seed,
                             source=source)
    except (DataError, ValueError) as e:
        print(f"vlseq shard: {e}", flush=True)
        return 1
    tasks = ", ".join(f"{t} {n}" for t, n in index["tasks"].items())
    print(f"wrote {index['total']} samples in {len(index['shards'])} shards to {args.out} ({tasks})")
    if split.report.skipped:
        print(f"skipped {split.report.skipped} bad record(s): {dict(split.report.counts)}")
    return 0
