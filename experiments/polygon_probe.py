"""Why a segment's box is right and its polygon is not: the polygon, vertex by vertex.

    python experiments/polygon_probe.py --checkpoint runs/tiny_all/final --data data/synth-tiny-all/val --n 100

For the ``segment`` examples of a split, it prints:

* **ceilings**: mask IoU of the target polygon itself (simplified and quantised, as the model is
  taught it) and of the true box written as a 4-vertex polygon, both against the true mask;
* **teacher-forced**, per vertex index: the share of x and y coordinates whose most likely
  coordinate token lies within one bin of the target, and how often the model would close the
  polygon (``</poly>`` most likely among the tokens the grammar allows there) where the target
  goes on, or go on where it closes;
* **free-running** (greedy, grammar on): vertex counts of the predicted and target polygons, and
  mask mIoU of the prediction, of the predicted box as a polygon, and of the prediction when
  only its vertex count matches the target's.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from vlseq.data.readers import load_split
from vlseq.decoding.generate import predict_examples
from vlseq.evaluation.diagnostics import _target_batch
from vlseq.inference.pipeline import Pipeline
from vlseq.metrics import segmentation_iou
from vlseq.tasks import get_task
from vlseq.tasks.segmentation import object_polygons


def _box_poly(box: Any) -> list[tuple[float, float]]:
    x1, y1, x2, y2 = box
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def _miou(polys: dict[int, list], refs: dict[int, list], sizes: dict[int, tuple[int, int]]) -> float:
    return float(segmentation_iou(polys, refs, sizes)["miou"])


@torch.no_grad()
def teacher_forced(pipe: Pipeline, examples: list, max_vertices: int) -> dict[str, list[float]]:
    """Per vertex index k: x and y within one bin, and the close/continue decision right."""
    proc, tok = pipe.processor, pipe.processor.tokenizer
    lo, nb = tok.loc_offset, tok.num_bins
    p_open, p_close = tok.special_ids["<poly>"], tok.special_ids["</poly>"]
    hits = {"x": [0] * max_vertices, "y": [0] * max_vertices, "n": [0] * max_vertices}
    stop = Counter()
    for i in range(0, len(examples), 32):
        batch = _target_batch(proc, "segment", examples[i:i + 32], 0, pipe.device)
        logits = pipe.model(**batch)["logits"]
        loc_pred = logits[..., lo:lo + nb].argmax(-1).cpu()
        # the grammar allows a coordinate or </poly> after a vertex (past 3 of them): compare the two
        close_vs_loc = (logits[..., p_close] > logits[..., lo:lo + nb].max(-1).values).cpu()
        for row, prow, crow in zip(batch["labels"].cpu().tolist(), loc_pred.tolist(), close_vs_loc.tolist()):
            inside, k = False, 0
            for pos, t in enumerate(row):
                if t == p_open:
                    inside, k = True, 0
                elif t == p_close:
                    stop["close right" if crow[pos] else "close missed (went on)"] += 1
                    inside = False
                elif inside and lo <= t < lo + nb:
                    v, axis = divmod(k, 2)
                    if axis == 0 and v >= 3:
                        stop["went on right" if not crow[pos] else "closed early"] += 1
                    if v < max_vertices:
                        hits["xy"[axis]][v] += abs(prow[pos] - (t - lo)) <= 1
                        hits["n"][v] += axis == 0
                    k += 1
    out = {a: [h / n if n else float("nan") for h, n in zip(hits[a], hits["n"])] for a in "xy"}
    out["n"] = [float(n) for n in hits["n"]]
    out["stop"] = stop  # type: ignore[assignment]
    return out


def probe(checkpoint: str, data: str, n: int = 100) -> dict[str, Any]:
    pipe = Pipeline.from_pretrained(checkpoint)
    task = get_task("segment")
    exs = load_split(data, tasks=["segment"], check_images=False)["segment"][:n]
    if not exs:
        raise SystemExit(f"{data}: no segment examples")
    bins = pipe.processor.bins
    refs = {i: [p for o in ex.objects for p in object_polygons(o)] for i, ex in enumerate(exs)}
    sizes = {i: (ex.width, ex.height) for i, ex in enumerate(exs)}
    targets = {i: task.parse(task.target(ex, bins), ex, bins) for i, ex in enumerate(exs)}
    tpoly = {i: [list(t.parsed.phrases[0].polygons[0])] for i, t in targets.items()}
    preds = predict_examples(pipe.model, pipe.processor, task, exs)
    ppoly = {i: [list(p.parsed.phrases[0].polygons[0])] if p.parsed.phrases and p.parsed.phrases[0].polygons else []
             for i, p in enumerate(preds)}
    pbox = {i: [_box_poly(p.objects[0][1])] if p.objects else [] for i, p in enumerate(preds)}
    n_t = [len(tpoly[i][0]) for i in range(len(exs))]
    n_p = [len(ppoly[i][0]) if ppoly[i] else 0 for i in range(len(exs))]
    same = [i for i in range(len(exs)) if n_t[i] == n_p[i]]
    return {
        "n": len(exs),
        "ceiling target polygon": _miou(tpoly, refs, sizes),
        "ceiling true box": _miou({i: [_box_poly(ex.objects[0].box)] for i, ex in enumerate(exs)}, refs, sizes),
        "predicted polygon": _miou(ppoly, refs, sizes),
        "predicted box as polygon": _miou(pbox, refs, sizes),
        "predicted polygon, vertex count right": _miou({i: ppoly[i] for i in same}, {i: refs[i] for i in same},
                                                         {i: sizes[i] for i in same}) if same else float("nan"),
        "vertex count right": len(same) / len(exs),
        "target vertices": Counter(n_t),
        "predicted vertices": Counter(n_p),
        "teacher forced": teacher_forced(pipe, exs, max(n_t)),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True, help="a split folder with segment examples")
    ap.add_argument("--n", type=int, default=100)
    a = ap.parse_args(argv)
    r = probe(a.checkpoint, str(Path(a.data)), a.n)
    tf = r.pop("teacher forced")
    for k, v in r.items():
        print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
    print("\n| vertex | x within 1 bin | y within 1 bin | n |\n|---|---|---|---|")
    for v, (x, y, c) in enumerate(zip(tf["x"], tf["y"], tf["n"])):
        print(f"| {v} | {x:.3f} | {y:.3f} | {int(c)} |")
    print("\nclose decisions (teacher-forced):", dict(tf["stop"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
