"""Pointed shape answers by object size: did the answer's box find the object, and was it named right?

    python experiments/shape_misses.py --pair runs/ev-val/predictions.jsonl data/synth-tiny/val \\
        --pair runs/ev-test/predictions.jsonl data/synth-tiny/test

Reads ``vlseq eval``'s predictions of a ``point_answers`` model (each answer about one object is
written after a box) and the synthetic world's VQAv2 annotations, which carry the box of the object
a shape question is about. Pools every ``--pair`` and prints, per size bucket of
:mod:`vlseq.metrics.identity` (grid cells covered, at ``--grid``): the questions, the accuracy, the
share whose answer box has IoU >= 0.5 with the object's (found), the accuracy over those (named
right given found), and the wrong answers split into WHICH (the box is off the object) and WHAT
(the box found it and the word is wrong). Then the most frequent WHAT confusions, with the
object's size in cells: a miss that sits at one size and one pair of shapes is a limit of what the
image path resolves, not of which object the model reads.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path

from vlseq.metrics.boxes import box_hit
from vlseq.metrics.identity import BUCKETS, cells_covered, grid_cell, size_bucket

sys.path.insert(0, str(Path(__file__).resolve().parent))
from vqa_misses import answered  # noqa: E402


def shape_rows(predictions: Path, world: Path, grid: int) -> list[dict]:
    """One row per shape question: ``bucket``, ``cells``, ``truth``, ``said``, ``found`` (bool)."""
    answers = answered(predictions, world, ("instances.json",))
    # each image's cell in its own pixels (the model stretches every image to its square input)
    cells = {str(im["id"]): grid_cell(im["width"], im["height"], (grid, grid))
             for im in json.loads((world / "instances.json").read_text())["images"]}
    rows = []
    for _, p, ann in answers:
        if ann["question_type"] != "shape" or len(ann.get("objects", ())) != 1:
            continue
        x, y, w, h = ann["objects"][0]["bbox"]
        box = (x, y, x + w, y + h)
        said_box = p["phrases"][0]["boxes"][0] if p.get("phrases") and p["phrases"][0].get("boxes") else None
        found = box_hit(said_box, box)
        cell = cells[str(p["image_id"])]
        rows.append({"bucket": size_bucket(box, cell), "cells": cells_covered(box, cell),
                     "truth": ann["multiple_choice_answer"], "said": p["text"].strip(), "found": found})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pair", nargs=2, action="append", required=True, metavar=("PREDICTIONS", "WORLD_SPLIT"),
                    help="vlseq eval's predictions.jsonl and the world split it scored (repeat to pool)")
    ap.add_argument("--grid", type=int, default=8, help="the model's feature grid side (tiny: 8)")
    ap.add_argument("--top", type=int, default=8, help="WHAT confusions to list")
    args = ap.parse_args(argv)
    rows = [r for pred, world in args.pair for r in shape_rows(Path(pred), Path(world), args.grid)]
    by = defaultdict(list)
    for r in rows:
        by[r["bucket"]].append(r)
    print("| cells | n | accuracy | found | named right given found | WHICH misses | WHAT misses |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for b in BUCKETS:
        rs = by.get(b, [])
        if not rs:
            continue
        found = [r for r in rs if r["found"]]
        right = sum(r["said"] == r["truth"] for r in rs)
        what = sum(r["said"] != r["truth"] for r in found)
        which = sum(r["said"] != r["truth"] for r in rs) - what
        given = sum(r["said"] == r["truth"] for r in found) / len(found) if found else float("nan")
        print(f"| {b} | {len(rs)} | {right / len(rs):.3f} | {len(found) / len(rs):.3f} | {given:.3f} | {which} | {what} |")
    confusions = Counter((r["truth"], r["said"], r["bucket"]) for r in rows if r["found"] and r["said"] != r["truth"])
    sizes = defaultdict(list)
    for r in rows:
        if r["found"] and r["said"] != r["truth"]:
            sizes[(r["truth"], r["said"], r["bucket"])].append(r["cells"])
    print(f"\nWHAT misses, the {args.top} most frequent (object's shape -> the answer):\n")
    print("| shape -> said | cells bucket | misses | object size, cells (min-max) |")
    print("|---|---|---:|---|")
    for (truth, said, b), k in confusions.most_common(args.top):
        s = sizes[(truth, said, b)]
        print(f"| {truth} -> {said} | {b} | {k} | {min(s):.1f}-{max(s):.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
