"""Does a trained checkpoint's image path know each object's shape? A linear probe per layer.

Detection finds the synthetic world's objects (class-agnostic mAP@0.5 ~0.9) and names their shapes
at chance. Either the image features at an object's place carry no shape, or they do and the
decoder does not read them. This fits a linear classifier (multinomial logistic regression) from
the features at the cell holding each object's centre to the object's shape, on training-split
objects, and scores it on validation-split objects, at three depths of the image path:

* ``first``: a conv stem's first stage (stride 2) at the object's centre;
* ``stem``: the vision stem's feature grid (before the projection to the model width);
* ``projected``: the image tokens the encoder takes (projection + 2-D positions);
* ``encoder``: the encoder's output at those tokens, beside the region-caption prompt that names
  the object's box.

The objects are the region-caption examples (``a {size} {colour} {shape}``), so the same probe also
predicts colour and size, for comparison. Frozen checkpoint, no training of the model; ``--fresh``
probes the checkpoint's architecture at its random initialisation instead (what training changed)::

    python experiments/shape_probe.py --checkpoint runs/tiny/final --data data/synth-tiny [--fresh]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch

from vlseq.data.readers import load_split
from vlseq.inference.pipeline import Pipeline
from vlseq.models.vision import ConvStem
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.tasks import get_task

DEPTHS = ("first", "stem", "projected", "encoder")
#: what the probe predicts: the word of ``a {size} {colour} {shape}`` at each index
TARGETS = {"shape": 3, "colour": 2, "size": 1}


@torch.no_grad()
def object_features(pipe: Pipeline, examples: list, batch_size: int = 32) -> tuple[dict[str, torch.Tensor], list[dict]]:
    """Per region-caption example: the features at each depth at its box's centre cell (N, C), and
    its ``{target: word}`` (:data:`TARGETS`)."""
    model, proc = pipe.model, pipe.processor
    task = get_task("region_caption")
    h, w = model.grid
    feats: dict[str, list[torch.Tensor]] = {d: [] for d in DEPTHS}
    meta: list[dict] = []
    for i in range(0, len(examples), batch_size):
        chunk = examples[i : i + batch_size]
        batch = proc.collate([proc.encode(task, ex, with_target=False) for ex in chunk])
        pix = batch["pixel_values"]
        stem = model.vision(pix.flatten(0, 1))  # (B, C, h, w)
        first = model.vision.first_stage(pix.flatten(0, 1))  # (B, C1, S/2, S/2)
        embeds, mask = model.encoder_inputs(pix, batch["input_ids"], batch["attention_mask"], batch["image_mask"])
        enc = model.encode(embeds, mask, model.tokens_per_image).last_hidden_state
        for b, ex in enumerate(chunk):
            x1, y1, x2, y2 = ex.region
            r = min(int((y1 + y2) / 2 / ex.height * h), h - 1)
            c = min(int((x1 + x2) / 2 / ex.width * w), w - 1)
            fy = min(int((y1 + y2) / 2 / ex.height * first.shape[2]), first.shape[2] - 1)
            fx = min(int((x1 + x2) / 2 / ex.width * first.shape[3]), first.shape[3] - 1)
            feats["first"].append(first[b, :, fy, fx])
            feats["stem"].append(stem[b, :, r, c])
            feats["projected"].append(embeds[b, r * w + c])
            feats["encoder"].append(enc[b, r * w + c])
            words = ex.answers[0].split()
            meta.append({t: words[k] for t, k in TARGETS.items()})
    return {d: torch.stack(v) for d, v in feats.items()}, meta


def linear_probe(x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                 classes: int, steps: int = 300) -> float:
    """Test accuracy of a multinomial logistic regression fitted with L-BFGS on standardised features."""
    mu, sd = x_train.mean(0), x_train.std(0) + 1e-6
    xt, xv = (x_train - mu) / sd, (x_test - mu) / sd
    lin = torch.nn.Linear(xt.shape[1], classes)
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=steps, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin(xt), y_train) + 1e-3 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    return float((lin(xv).argmax(1) == y_test).float().mean())


def shape_probe(checkpoint: str, data: str, n: int = 3000, n_val: int = 500, fresh: bool = False) -> list[dict[str, Any]]:
    """One row per (target, depth): probe accuracy and the majority-class rate on the validation objects."""
    pipe = Pipeline.from_pretrained(checkpoint)
    if not isinstance(pipe.model.vision, ConvStem):
        raise SystemExit("shape_probe: the checkpoint's vision tower is not a conv stem")
    if fresh:
        torch.manual_seed(0)
        pipe.model = VLSeqModel(pipe.model.config).eval()
    def examples(split: str, k: int) -> list:
        exs = load_split(str(Path(data) / split), tasks=["region_caption"], check_images=False)["region_caption"]
        return [ex for ex in exs if ex.region is not None and len(ex.answers[0].split()) == 4][:k]

    train, val = examples("train", n), examples("val", n_val)
    f_train, m_train = object_features(pipe, train)
    f_val, m_val = object_features(pipe, val)
    rows = []
    for target in TARGETS:
        names = sorted({m[target] for m in m_train + m_val})
        if len(names) < 2:
            continue
        idx = {s: k for k, s in enumerate(names)}
        y_train = torch.tensor([idx[m[target]] for m in m_train])
        y_val = torch.tensor([idx[m[target]] for m in m_val])
        majority = float((y_val == torch.bincount(y_train, minlength=len(names)).argmax()).float().mean())
        for d in DEPTHS:
            acc = linear_probe(f_train[d], y_train, f_val[d], y_val, len(names))
            rows.append({"target": target, "depth": d, "accuracy": acc, "majority": majority,
                         "classes": len(names), "train_objects": len(m_train), "val_objects": len(m_val)})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--data", required=True, help="a synthetic world (its train/ and val/ splits)")
    ap.add_argument("--n", type=int, default=3000, help="training-split objects the probe is fitted on")
    ap.add_argument("--n-val", type=int, default=500)
    ap.add_argument("--fresh", action="store_true", help="probe the architecture at its random initialisation")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows = shape_probe(args.checkpoint, args.data, args.n, args.n_val, args.fresh)
    for r in rows:
        print(f"{r['target']:6s} {r['depth']:9s} probe {r['accuracy']:.3f}  majority {r['majority']:.3f}  "
              f"({r['classes']} classes, {r['train_objects']} / {r['val_objects']} objects)")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
