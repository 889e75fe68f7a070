"""A training step's losses, kept on the device until a log line reads them.

Why apart from the loop: reading a loss as a Python float makes the host wait for the device. The
loop reads them once per log line, in the order they were made, so the numbers logged are those
of reading each loss at once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import torch


@dataclass
class StepLosses:
    """One optimiser step's losses, still on the device: each micro-batch's loss divided by
    ``grad_accum`` (its share of the step's loss) and its per-sample losses with their tasks."""

    micro: list[torch.Tensor] = field(default_factory=list)
    samples: list[tuple[list[str], torch.Tensor]] = field(default_factory=list)


class LossWindow:
    """The losses of the steps since the last log line, kept as tensors so that the host waits for
    the device only when they are logged.

    :meth:`means` adds them up as Python floats in the order they were made (micro-batches into
    a step's loss, then steps; samples per task), so the logged numbers are those of reading each
    loss as soon as it was computed.
    """

    def __init__(self) -> None:
        self.steps: list[StepLosses] = []

    def add(self, step: StepLosses) -> None:
        self.steps.append(step)

    def clear(self) -> None:
        self.steps.clear()

    def means(self) -> tuple[float, dict[str, float]]:
        """The mean loss per step and the mean per-sample loss of each task (sorted by task)."""
        flat = iter(torch.stack([m for s in self.steps for m in s.micro]).tolist())
        totals = []
        for s in self.steps:
            total = 0.0
            for _ in s.micro:
                total += next(flat)
            totals.append(total)
        values = torch.cat([t for s in self.steps for _, t in s.samples]).tolist()
        per_task: dict[str, list[float]] = defaultdict(list)
        i = 0
        for s in self.steps:
            for sources, t in s.samples:
                for source, v in zip(sources, values[i:i + t.numel()]):
                    per_task[source].append(v)
                i += t.numel()
        return sum(totals) / len(totals), {k: sum(v) / len(v) for k, v in sorted(per_task.items())}
