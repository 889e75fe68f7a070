"""The loss window: the numbers a log line shows are those of reading each loss as it was made."""

from __future__ import annotations

import random

import torch

from vlseq.train.checkpoint import py_state_from_json, py_state_to_json
from vlseq.train.losses import LossWindow, StepLosses


def test_logged_means_are_those_of_reading_each_loss_at_once() -> None:
    gen = torch.Generator().manual_seed(0)
    window, totals, per_task = LossWindow(), [], {}
    for _ in range(5):
        step, total = StepLosses(), 0.0
        for _ in range(3):
            loss = torch.rand((), generator=gen) / 3
            samples = torch.rand(4, generator=gen) * 7
            sources = [["vqa", "detect", "caption"][int(i)] for i in torch.randint(0, 3, (4,), generator=gen)]
            step.micro.append(loss)
            step.samples.append((sources, samples))
            total += float(loss)
            for s, v in zip(sources, samples.tolist()):
                per_task.setdefault(s, []).append(v)
        window.add(step)
        totals.append(total)
    loss, tasks = window.means()
    assert loss == sum(totals) / len(totals)
    assert tasks == {k: sum(v) / len(v) for k, v in sorted(per_task.items())} and list(tasks) == sorted(tasks)


def test_an_empty_window_after_clear_takes_new_steps() -> None:
    window = LossWindow()
    step = StepLosses([torch.tensor(9.0)], [(["vqa"], torch.tensor([9.0]))])
    window.add(step)
    window.clear()
    window.add(StepLosses([torch.tensor(1.0), torch.tensor(2.0)], [(["vqa", "detect"], torch.tensor([4.0, 6.0]))]))
    assert window.means() == (3.0, {"detect": 6.0, "vqa": 4.0})


def test_a_python_random_state_survives_json() -> None:
    """The augmentation RNG is saved in ``trainer_state.json``: a resumed run draws what it would have."""
    import json

    r = random.Random(7)
    r.random()
    state = json.loads(json.dumps(py_state_to_json(r.getstate())))
    again = random.Random()
    again.setstate(py_state_from_json(state))
    assert [again.random() for _ in range(5)] == [r.random() for _ in range(5)]
