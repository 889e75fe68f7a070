"""How far "point at the first object" goes on the text-to-box tasks, without reading the words.

A model that finds objects but cannot tell their shapes can still score on ``localize`` and
``refexp`` by always answering with the first object of the image in reading order (top to bottom,
then left to right: the order detection targets use). This prints that baseline's Acc@0.5 beside
the one that counts every object (an oracle choice among the objects, the ceiling of a model that
localises perfectly and names nothing):

    python experiments/raster_baseline.py data/synth-tiny/val --n 300

The objects of each image come from the split's ``detect`` examples (``instances.json``).
"""

from __future__ import annotations

import argparse
from typing import Sequence

from vlseq.data.readers import load_split
from vlseq.metrics import box_iou
from vlseq.tasks.detection import by_position


def raster_baseline(split_dir: str, tasks: Sequence[str] = ("localize", "refexp"), n: int = 300) -> dict[str, dict]:
    """Per task: ``first`` (Acc@0.5 of the image's first object in reading order), ``objects`` (mean
    objects per image) and ``n`` (examples scored: the first ``n`` whose image has detect objects)."""
    data = load_split(split_dir, tasks=["detect", *tasks], check_images=False)
    scene = {ex.image_id: list(ex.objects) for ex in data.get("detect", [])}
    out = {}
    for task in tasks:
        exs = [ex for ex in data.get(task, []) if scene.get(ex.image_id) and ex.objects][:n]
        hits = [box_iou([by_position(scene[ex.image_id])[0].box], [o.box for o in ex.objects]).max() >= 0.5
                for ex in exs]
        out[task] = {"first": sum(hits) / max(len(hits), 1), "n": len(hits),
                     "objects": sum(len(scene[ex.image_id]) for ex in exs) / max(len(exs), 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("split", help="a split directory with detect and the text-to-box tasks (e.g. data/synth-tiny/val)")
    ap.add_argument("--n", type=int, default=300, help="examples per task (the quickstart evaluates 300)")
    args = ap.parse_args(argv)
    for task, r in raster_baseline(args.split, n=args.n).items():
        print(f"{task}: first object in reading order Acc@0.5 {r['first']:.3f} "
              f"({r['n']} examples, {r['objects']:.2f} objects per image)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
