"""Pool the identity diagnostic of several evaluations of one checkpoint (for example its val and
test splits), so a size bucket with few questions is scored on all of them.

    python experiments/pool_identity.py runs/ev-val/metrics.json runs/ev-test/metrics.json

Each input is ``vlseq eval``'s ``metrics.json``. Every ``.../identity/<score>@<bucket>`` value that has
its count beside it (``.../identity/n@<bucket>``, or ``.../identity/hits@<bucket>`` for detection)
is pooled as the count-weighted mean, and so is a source's Acc@0.5 over its ``n`` (localize's
all-sizes cell); a value without a count is left out. Prints the table that
``vlseq eval`` prints, from the pooled values, then the pooled counts of the VQA shape buckets.
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from vlseq.evaluation.identity import format_identity


def count_key(key: str) -> str | None:
    """The key of the count behind ``key`` (``vqa/identity/acc@shape@<1`` -> ``vqa/identity/n@shape@<1``)."""
    head, sep, tail = key.rpartition("/")
    score, _, where = tail.partition("@")
    if not sep or score in ("n", "hits"):
        return None
    # a score over hits (a detection's label, a pointed answer's word once its box found the object)
    # is weighted by the hits; every other score by its questions or queries
    given_hit = score in ("label_given_hit", "acc_given_point")
    return f"{head}/{'hits' if given_hit else 'n'}" + (f"@{where}" if where else "")


def pool(metrics: list[dict[str, float]]) -> dict[str, float]:
    """Count-weighted means of every identity score that carries a count; counts summed."""
    total: dict[str, float] = defaultdict(float)
    weight: dict[str, float] = defaultdict(float)
    counts: dict[str, float] = defaultdict(float)
    for m in metrics:
        for k, v in m.items():
            ck = count_key(k) if "/identity/" in k else None
            if ck is None or ck not in m or not isinstance(v, (int, float)) or math.isnan(v):
                continue
            total[k] += v * m[ck]
            weight[k] += m[ck]
        for k, v in m.items():
            if "/identity/" in k and k.rpartition("/")[2].partition("@")[0] in ("n", "hits"):
                counts[k] += v
        # localize's all-sizes cell is the task's own Acc@0.5 over its queries (``format_identity``)
        for src in {k.split("/identity/", 1)[0] for k in m if "/identity/" in k}:
            if f"{src}/acc@0.5" in m and f"{src}/n" in m:
                total[f"{src}/acc@0.5"] += m[f"{src}/acc@0.5"] * m[f"{src}/n"]
                weight[f"{src}/acc@0.5"] += m[f"{src}/n"]
                counts[f"{src}/n"] += m[f"{src}/n"]
    return {**{k: total[k] / weight[k] for k in total if weight[k] > 0}, **counts}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("metrics", nargs="+", type=Path, help="vlseq eval's metrics.json files")
    args = ap.parse_args(argv)
    for p in args.metrics:
        if not p.is_file():
            raise SystemExit(f"{p}: not found (give vlseq eval's metrics.json files)")
    pooled = pool([json.loads(p.read_text()) for p in args.metrics])
    print(format_identity(pooled))
    print()
    for k in sorted(pooled):
        if k.startswith("vqa/identity/acc@shape"):
            print(f"{k}: {pooled[k]:.3f} (n={pooled.get(k.replace('acc@', 'n@'), 0):.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
