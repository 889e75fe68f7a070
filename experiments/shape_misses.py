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
image path resolves, not of which object the model reads. Last, the same scores split by whether the
object's (colour, shape) pair is one the training world held out (the manifest's ``heldout_pairs``;
the object's colour is read from its region caption): a shape named right in seen colours and wrong
in an unseen one is read through its colour. And by the kind of referring expression the question
names its object with (an attribute, "the red object"; a relation, "the object left of the star"; a
superlative, "the leftmost red object"): where the WHICH misses gather says which skill of finding
the object is short.
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
from vqa_misses import EXPRESSION_KINDS, answered, expression_kind  # noqa: E402


def shape_rows(predictions: Path, world: Path, grid: int) -> list[dict]:
    """One row per shape question: ``bucket``, ``cells``, ``truth``, ``said``, ``found`` (bool),
    ``heldout`` (bool), ``expression`` (:func:`expression_kind`) and ``landed`` (:func:`landed`)."""
    answers = answered(predictions, world, ("instances.json",))
    heldout = {tuple(p) for p in json.loads((world / "manifest.json").read_text()).get("heldout_pairs", [])}
    colour = object_colours(world)
    instances = json.loads((world / "instances.json").read_text())
    # each image's cell in its own pixels (the model stretches every image to its square input)
    cells = {str(im["id"]): grid_cell(im["width"], im["height"], (grid, grid)) for im in instances["images"]}
    boxes = defaultdict(list)  # image id -> every object's (x, y, w, h)
    for a in instances["annotations"]:
        boxes[int(a["image_id"])].append(tuple(a["bbox"]))
    palette = set(colour.values())
    rows = []
    for _, p, ann in answers:
        if ann["question_type"] != "shape" or len(ann.get("objects", ())) != 1:
            continue
        x, y, w, h = ann["objects"][0]["bbox"]
        box = (x, y, x + w, y + h)
        said_box = p["phrases"][0]["boxes"][0] if p.get("phrases") and p["phrases"][0].get("boxes") else None
        image = int(p["image_id"])
        where = landed(said_box, (x, y, w, h), boxes[image], colour, image, set(p["prompt"].rstrip("?").split()) & palette)
        cell = cells[str(p["image_id"])]
        truth = ann["multiple_choice_answer"]
        rows.append({"bucket": size_bucket(box, cell), "cells": cells_covered(box, cell),
                     "truth": truth, "said": p["text"].strip(), "found": where == LANDINGS[0],
                     "heldout": (colour.get((image, x, y, w, h)), truth) in heldout,
                     "expression": expression_kind(p["prompt"]), "landed": where})
    return rows


#: Edges of the finer size table, in grid cells covered: at tiny's 8 px cells a circle of the
#: 3.8 px radius under which shapes share their pixels (``experiments/legibility.py``) covers about
#: 0.9 of a cell, a square of that radius about 0.6.
FINE_CELLS = (0.0, 0.5, 0.75, 1.0, 1.5, 4.0)

#: Where a pointed answer's box landed (:func:`landed`).
LANDINGS = ("the object", "another object of the named colour", "another object", "no object")


def landed(said_box, truth: tuple, image_boxes: list[tuple], colour: dict, image_id: int, named: set[str]) -> str:
    """One of :data:`LANDINGS`: on the asked object (IoU >= 0.5 with its box ``truth``, x, y, w, h),
    on another object that has the colour the question names (or any other object when it names
    none: "the leftmost object"), on another object, or on none."""
    def hits(b: tuple) -> bool:
        return box_hit(said_box, (b[0], b[1], b[0] + b[2], b[1] + b[3]))

    if hits(truth):
        return LANDINGS[0]
    others = [b for b in image_boxes if b != tuple(truth) and hits(b)]
    if not others:
        return LANDINGS[3]
    fits = any(not named or colour.get((image_id, *b)) in named for b in others)
    return LANDINGS[1] if fits else LANDINGS[2]


def object_colours(world: Path) -> dict[tuple[int, float, float, float, float], str]:
    """(image id, x, y, w, h) -> the colour word of that object's region caption ("a large green
    hexagon"), for the world's own colours (its manifest); empty where the world has no captions."""
    path = world / "region_captions.jsonl"
    if not path.exists():
        return {}
    colours = set(json.loads((world / "manifest.json").read_text())["world"]["colours"])
    out = {}
    for line in path.read_text().splitlines():
        r = json.loads(line)
        word = next((w for w in r["phrase"].split() if w in colours), None)
        if word:
            out[(int(r["image_id"]), r["x"], r["y"], r["width"], r["height"])] = word
    return out


def score_row(name: str, rs: list[dict]) -> str:
    """``| name | n | accuracy | found | named right given found | WHICH | WHAT |`` of ``rs``."""
    found = [r for r in rs if r["found"]]
    right = sum(r["said"] == r["truth"] for r in rs)
    what = sum(r["said"] != r["truth"] for r in found)
    which = sum(r["said"] != r["truth"] for r in rs) - what
    given = sum(r["said"] == r["truth"] for r in found) / len(found) if found else float("nan")
    return f"| {name} | {len(rs)} | {right / len(rs):.3f} | {len(found) / len(rs):.3f} | {given:.3f} | {which} | {what} |"


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
        print(score_row(b, rs))
    print("\nFiner, by cells covered (the smallest buckets split where the world's pixels stop naming shapes):\n")
    print("| cells | n | accuracy | found | named right given found | WHICH misses | WHAT misses |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for lo, hi in zip(FINE_CELLS, FINE_CELLS[1:]):
        rs = [r for r in rows if lo <= r["cells"] < hi]
        if rs:
            print(score_row(f"{lo}-{hi}", rs))
    misses = defaultdict(list)  # (shape, said, bucket) -> the WHAT misses
    for r in rows:
        if r["found"] and r["said"] != r["truth"]:
            misses[(r["truth"], r["said"], r["bucket"])].append(r)
    confusions = Counter({key: len(rs) for key, rs in misses.items()})
    print(f"\nWHAT misses, the {args.top} most frequent (object's shape -> the answer):\n")
    print("| shape -> said | cells bucket | misses | of them a held-out pair | object size, cells (min-max) |")
    print("|---|---|---:|---:|---|")
    for (truth, said, b), k in confusions.most_common(args.top):
        s = [r["cells"] for r in misses[(truth, said, b)]]
        held = sum(r["heldout"] for r in misses[(truth, said, b)])
        print(f"| {truth} -> {said} | {b} | {k} | {held} | {min(s):.1f}-{max(s):.1f} |")
    print("\nBy whether the object's (colour, shape) pair was held out of training:\n")
    print("| cells, pair | n | accuracy | found | named right given found | WHICH misses | WHAT misses |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for b in BUCKETS:
        for held in (False, True):
            rs = [r for r in by.get(b, []) if r["heldout"] is held]
            if rs:
                print(score_row(f"{b}, {'held out' if held else 'seen'}", rs))
    by_kind = {kind: [r for r in rows if r["expression"] == kind] for kind in EXPRESSION_KINDS}
    by_kind = {kind: rs for kind, rs in by_kind.items() if rs}
    print("\nBy the kind of expression that names the object (every size):\n")
    print("| expression | n | accuracy | found | named right given found | WHICH misses | WHAT misses |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, rs in by_kind.items():
        print(score_row(kind, rs))
    print("\nWhere the answer's box landed, by the kind of expression (every size; the right answers too):\n")
    print("| expression | " + " | ".join(LANDINGS) + " |")
    print("|---|" + "---:|" * len(LANDINGS))
    for kind, rs in by_kind.items():
        print(f"| {kind} | " + " | ".join(str(sum(r["landed"] == w for r in rs)) for w in LANDINGS) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
