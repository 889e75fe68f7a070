"""``Processor(colour_swap=p)`` on the synthetic world: a detection example (shape names only) is
swapped in training and never in evaluation; a question that names a colour keeps its colours; the
targets do not change."""

from __future__ import annotations

import random

import numpy as np
import pytest

from helpers import world_with_tokenizer
from vlseq.data.augment import CHANNEL_ORDERS, names_colour
from vlseq.processing import Processor
from vlseq.tasks import get_task

BINS = 64


@pytest.fixture(scope="module")
def world():
    return world_with_tokenizer(12, ("vqa", "detect"), BINS)


def test_swaps_only_colour_free_training_examples(world) -> None:
    exs, tok = world
    plain, swap = Processor(tok, 64, BINS), Processor(tok, 64, BINS, colour_swap=1.0)
    n = {"swapped": 0, "kept": 0}
    for e in exs:
        task = get_task(e.task)
        ref = plain.encode(task, e, random.Random(1))
        out = swap.encode(task, e, random.Random(1))
        assert out.target == ref.target and out.prompt == ref.prompt
        assert np.array_equal(swap.encode(task, e).images, ref.images)  # no generator: evaluation
        said = names_colour(task.prompt(e, BINS), tok.decode_markup(ref.target[1:-1]))
        if said:
            assert np.array_equal(out.images, ref.images)
            n["kept"] += 1
        else:
            assert any(np.array_equal(out.images, ref.images[..., list(o)]) for o in CHANNEL_ORDERS)
            n["swapped"] += 1
    assert n["swapped"] >= 10 and n["kept"] >= 5


def test_colour_swap_is_a_probability(world) -> None:
    _, tok = world
    with pytest.raises(ValueError, match="colour_swap"):
        Processor(tok, 64, BINS, colour_swap=1.5)


def test_located_swaps_detection_lists_and_keeps_counts_and_yes_no(world) -> None:
    exs, tok = world
    plain = Processor(tok, 64, BINS)
    located = Processor(tok, 64, BINS, colour_swap=1.0, colour_swap_where="located")
    kinds: dict[str, int] = {"swapped": 0, "kept unplaced": 0}
    for e in exs:
        task = get_task(e.task)
        ref = plain.encode(task, e, random.Random(1))
        out = located.encode(task, e, random.Random(1))
        target = tok.decode_markup(ref.target[1:-1])
        if names_colour(task.prompt(e, BINS), target):
            assert np.array_equal(out.images, ref.images)
        elif "<loc_" in target:
            assert not np.array_equal(out.images, ref.images)
            kinds["swapped"] += 1
        else:  # a count, a yes/no answer: no place in the target
            assert np.array_equal(out.images, ref.images)
            kinds["kept unplaced"] += 1
    assert kinds["swapped"] >= 5 and kinds["kept unplaced"] >= 3
    with pytest.raises(ValueError, match="colour_swap_where"):
        Processor(tok, 64, BINS, colour_swap_where="anywhere")
