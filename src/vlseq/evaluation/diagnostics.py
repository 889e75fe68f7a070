"""Does a trained model read the image? Teacher-forced loss with true vs shuffled images.

A sequence model can reach a low loss by writing the language prior of each prompt (the most
common answer, a typical box) and never look at the pixels. Such a model scores the same loss when
every example is given another example's image. ``image_use`` measures that gap per task; the
quickstart report prints it, and ``experiments/image_use.py`` follows it during training.
"""

from __future__ import annotations

import random
from typing import Any, Mapping, Sequence

import torch

from ..decoding.boxes import SLOTS
from ..decoding.pointer_maps import pointer_maps as pointer_maps  # re-exported: its home before decoding
from ..tasks.registry import get_task, task_of


@torch.no_grad()
def loss_true_and_shuffled(model: Any, batch: Mapping[str, torch.Tensor]) -> tuple[float, float]:
    """(loss with each example's own images, loss with the images rolled by half the batch).

    ``batch``: a collated batch with targets (pixel_values (B, I, 3, S, S), ..., labels (B, T)).
    Rolling by B // 2 gives every example another example's images (for B >= 2); where two
    examples share a scene the gap is underestimated, never overstated.
    """
    was = model.training
    model.eval()
    try:
        true = float(model(**batch)["loss"])
        shuffled = dict(batch)
        shuffled["pixel_values"] = batch["pixel_values"].roll(batch["pixel_values"].shape[0] // 2, 0)
        if "image_mask" in batch:
            shuffled["image_mask"] = batch["image_mask"].roll(batch["image_mask"].shape[0] // 2, 0)
        return true, float(model(**shuffled)["loss"])
    finally:
        model.train(was)


def image_use(model: Any, processor: Any, examples: Mapping[str, Sequence[Any]], n: int = 64,
              seed: int = 0) -> dict[str, tuple[float, float]]:
    """Per task (``task`` or ``task@dataset`` keys): (loss with true images, with shuffled images).

    Uses the first ``n`` examples of each task (at least 2 are needed; tasks with fewer are left out).
    """
    device = next(model.parameters()).device
    out: dict[str, tuple[float, float]] = {}
    for source, exs in examples.items():
        exs = list(exs[:n])
        if len(exs) < 2:
            continue
        out[source] = loss_true_and_shuffled(model, _target_batch(processor, source, exs, seed, device))
    return out


def _target_batch(processor: Any, source: str, exs: Sequence[Any], seed: int, device: Any) -> dict[str, torch.Tensor]:
    task = get_task(task_of(source))
    rng = random.Random(seed)
    batch = processor.collate([processor.encode(task, ex, random.Random(rng.getrandbits(32))) for ex in exs])
    return {k: v.to(device) for k, v in batch.items()}


@torch.no_grad()
def slot_accuracy(model: Any, processor: Any, examples: Mapping[str, Sequence[Any]], n: int = 64, tol: int = 1,
                  seed: int = 0, chunk: int = 64) -> dict[str, dict[str, float]]:
    """Teacher-forced accuracy of each box coordinate slot, per task with boxes in its targets.

    For each target coordinate that is a box's ``x1``, ``y1``, ``x2`` or ``y2`` (found as
    :func:`vlseq.decoding.boxes.box_slots` finds them), the most likely coordinate token given the true
    prefix is a hit when it lies within ``tol`` bins of the true one (the grammar forces a
    coordinate there, so the argmax is over coordinate tokens only). Shows which corner fails:
    a model that knows sizes but not places gets x2/y2 (given x1/y1) long before x1/y1.

    The first ``n`` examples of each task are scored, ``chunk`` at a time (the logits of a chunk
    are (chunk, T, vocab)). A slot's accuracy over k boxes has a standard error of about
    sqrt(p(1-p)/k): 0.05 at 64 boxes and p = 0.8, so a gap between slots needs a few hundred boxes
    before it says more than its noise.

    Returns ``{source: {"x1": acc, "y1": ..., "x2": ..., "y2": ..., "n": boxes}}``; sources whose
    targets hold no box are left out.
    """
    from ..decoding.boxes import box_slots

    device = next(model.parameters()).device
    tok = processor.tokenizer
    lo, nb = tok.loc_offset, tok.num_bins
    was = model.training
    model.eval()
    out: dict[str, dict[str, float]] = {}
    try:
        for source, exs in examples.items():
            exs = list(exs[:n])
            if not exs or get_task(task_of(source)).output in ("text", "choice", "image"):
                continue  # targets without boxes: no forward pass spent on them
            hits, counts = [0] * 4, [0] * 4
            for start in range(0, len(exs), chunk):
                # each chunk its own seed, so the first chunk's targets match an unchunked call's
                batch = _target_batch(processor, source, exs[start:start + chunk], seed + start, device)
                pred = model(**batch)["logits"][..., lo:lo + nb].argmax(-1).cpu()  # (B, T) bin
                for row, prow in zip(batch["labels"].cpu().tolist(), pred.tolist()):
                    ids = [i for i in row if i != -100]
                    for pos, slot in enumerate(box_slots(ids, tok)):
                        if slot >= 0:
                            counts[slot] += 1
                            hits[slot] += abs(prow[pos] - (ids[pos] - lo)) <= tol
            if counts[0]:
                out[source] = {name: h / max(c, 1) for name, h, c in zip(SLOTS, hits, counts)}
                out[source]["n"] = float(counts[0])
    finally:
        model.train(was)
    return out


def format_slot_accuracy(rows: Mapping[str, Mapping[str, float]], tol: int = 1) -> str:
    """A markdown table: task, teacher-forced accuracy (within ``tol`` bins) of x1, y1, x2, y2."""
    lines = [f"| task | x1 | y1 | x2 | y2 | boxes |  (teacher-forced, within {tol} bin)", "|---|---|---|---|---|---|"]
    for source, r in sorted(rows.items()):
        lines.append(f"| {source} | " + " | ".join(f"{r[k]:.3f}" for k in SLOTS) + f" | {int(r['n'])} |")
    return "\n".join(lines)


def format_image_use(rows: Mapping[str, tuple[float, float]]) -> str:
    """A markdown table: task, loss, loss with shuffled images, gap."""
    lines = ["| task | loss, true images | loss, shuffled images | gap |", "|---|---|---|---|"]
    for source, (true, shuf) in sorted(rows.items()):
        lines.append(f"| {source} | {true:.4f} | {shuf:.4f} | {shuf - true:+.4f} |")
    return "\n".join(lines)
