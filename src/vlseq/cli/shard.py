"""vlseq shard"""

from __future__ import annotations

import argparse
from typing import Sequence

from ..data.readers.validate import DataError
from ..data.shards import write_shards
from .paths import output_dir


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="vlseq shard", description="Write a split directory as WebDataset tar shards.")
    p.add_argument("--data", required=True, help="a split directory the readers accept (e.g. data/synth-tiny/train)")
    p.add_argument("--tasks", nargs="+", default=None, help="tasks to write (default: every task the split provides)")
    p.add_argument("--out", required=True, help="output directory (shard-*.tar + shards.json)")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="seed of the per-task shuffle before writing")
    p.add_argument("--no-shuffle", action="store_true", help="keep the readers' order")
    p.add_argument("--skip-bad", action="store_true", help="skip bad records (counted) instead of failing")
    p.add_argument("--overwrite", action="store_true", help="replace shards already written to --out")
    args = p.parse_args(argv)
    output_dir(args.out, "shards.json", "shards", overwrite=args.overwrite)
    from ..data.readers import load_split

    try:
        split = load_split(args.data, tasks=args.tasks, skip_bad=args.skip_bad)
        index = write_shards(split, args.out, args.shard_size, seed=None if args.no_shuffle else args.seed,
                             source=str(args.data))
    except (DataError, ValueError) as e:
        print(f"vlseq shard: {e}", flush=True)
        return 1
    tasks = ", ".join(f"{t} {n}" for t, n in index["tasks"].items())
    print(f"wrote {index['total']} samples in {len(index['shards'])} shards to {args.out} ({tasks})")
    if split.report.skipped:
        print(f"skipped {split.report.skipped} bad record(s): {dict(split.report.counts)}")
    return 0
