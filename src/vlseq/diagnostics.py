"""Does a trained model read the image? Teacher-forced loss with true vs shuffled images.

A sequence model can reach a low loss by writing the language prior of each prompt (the most
common answer, a typical box) and never look at the pixels. Such a model scores the same loss when
every example is given another example's image. ``image_use`` measures that gap per task; the
quickstart report prints it, and ``bench/bench_image_use.py`` follows it during training.
"""

from __future__ import annotations

import random
from typing import Any, Mapping, Sequence

import torch

from .tasks.registry import get_task


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
        task = get_task(source.split("@", 1)[0])
        rng = random.Random(seed)
        batch = processor.collate([processor.encode(task, ex, random.Random(rng.getrandbits(32))) for ex in exs])
        out[source] = loss_true_and_shuffled(model, {k: v.to(device) for k, v in batch.items()})
    return out


def format_image_use(rows: Mapping[str, tuple[float, float]]) -> str:
    """A markdown table: task, loss, loss with shuffled images, gap."""
    lines = ["| task | loss, true images | loss, shuffled images | gap |", "|---|---|---|---|"]
    for source, (true, shuf) in sorted(rows.items()):
        lines.append(f"| {source} | {true:.4f} | {shuf:.4f} | {shuf - true:+.4f} |")
    return "\n".join(lines)
