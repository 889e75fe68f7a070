"""Length-grouped batches: every drawn example is used once, padding falls, a resumed pool is the same."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vlseq.processing import Encoded
from vlseq.train.batching import BUCKET, LengthGroupedPool, group_batches, length_key


def _item(rng: random.Random, uid: int) -> tuple[Encoded, str]:
    task = rng.choice(["caption", "detect", "vqa", "story"])
    n_img = 5 if task == "story" else 1
    t_len = {"caption": 12, "detect": 60, "vqa": 4, "story": 40}[task] + rng.randrange(6)
    p_len = 8 + rng.randrange(20)
    images = np.full((n_img, 2, 2, 3), uid % 256, dtype=np.uint8)
    return Encoded(images, [uid] * p_len, [uid] * t_len), task


def _padded(batch) -> int:
    """Padded cells of one batch: images x rows, plus prompt and target tokens."""
    n_img = max(e.images.shape[0] for e, _ in batch)
    lp, lt = max(len(e.prompt) for e, _ in batch), max(len(e.target) for e, _ in batch)
    return len(batch) * (100 * n_img + lp + lt)


def test_grouping_keeps_every_item_and_cuts_padding() -> None:
    rng = random.Random(0)
    items = [_item(rng, i) for i in range(16 * 32)]
    batches = group_batches(items, 16, random.Random(1))
    assert len(batches) == 16 and all(len(b) == 32 for b in batches)
    assert sorted(id(e) for b in batches for e, _ in b) == sorted(id(e) for e, _ in items)
    mixed = [items[i:i + 32] for i in range(0, len(items), 32)]
    assert sum(map(_padded, batches)) < 0.6 * sum(map(_padded, mixed))
    # Within a batch the keys are a contiguous run of the sorted order; the batch order is shuffled.
    firsts = [length_key(b[0]) for b in batches]
    assert firsts != sorted(firsts)


def test_buckets_mix_answers_whose_lengths_differ() -> None:
    # "no" and "contradiction" differ by a token or two: sorting by exact length would make every
    # batch one label, and each step's gradient that label's prior (close-set answers fell to chance)
    rng = random.Random(3)
    items = []
    for i in range(64):
        label_len = rng.choice([3, 4])
        items.append((Encoded(np.zeros((1, 2, 2, 3), np.uint8), [i] * 9, [label_len] * label_len), "classify"))
    for batch in group_batches(items, 4, random.Random(0)):
        assert {len(e.target) for e, _ in batch} == {3, 4}
    assert length_key(items[0])[1] == 1 and BUCKET >= 4


def test_grouping_uneven_and_tiny_pools() -> None:
    rng = random.Random(2)
    items = [_item(rng, i) for i in range(50)]
    batches = group_batches(items, 8, random.Random(0))
    assert sorted(len(b) for b in batches) == [6, 6, 6, 6, 6, 6, 7, 7]
    assert len(group_batches(items[:3], 8, random.Random(0))) == 3  # fewer items than batches: none empty
    assert group_batches([], 4, random.Random(0)) == [[]]
    with pytest.raises(ValueError):
        group_batches(items, 0, random.Random(0))


class _Source:
    """A stand-in for the mixture: a position that advances, and an RNG, both restorable."""

    def __init__(self) -> None:
        self.pos = 0
        self.rng = random.Random(7)

    def draw(self, n_batches: int) -> list:
        out = []
        for _ in range(n_batches * 4):
            out.append(_item(random.Random(self.pos * 1000 + self.rng.getrandbits(16)), self.pos))
            self.pos += 1
        return out

    def snapshot(self) -> dict:
        return {"pos": self.pos, "rng": self.rng.getstate()}

    def restore(self, s: dict) -> None:
        self.pos = s["pos"]
        self.rng.setstate(s["rng"])


def _pool(src: _Source) -> LengthGroupedPool:
    return LengthGroupedPool(5, src.draw, src.snapshot, src.rng)


def _uids(batch) -> list[int]:
    return [e.prompt[0] for e, _ in batch]


def test_pool_hands_out_each_example_once_and_resumes_mid_pool() -> None:
    src = _Source()
    pool = _pool(src)
    run = [_uids(pool.next()) for _ in range(12)]
    seen = [u for b in run[:10] for u in b]
    assert sorted(seen) == list(range(40))  # two whole pools: each drawn example exactly once
    # A checkpoint after 7 batches (2 into the second pool), resumed in a fresh pool.
    src2 = _Source()
    first = _pool(src2)
    for _ in range(7):
        first.next()
    saved = first.state()
    assert saved is not None and saved["used"] == 2
    src3 = _Source()
    resumed = _pool(src3)
    src3.restore(resumed.resume(saved))
    assert [_uids(resumed.next()) for _ in range(5)] == run[7:12]


def test_pool_state_between_pools_and_clear() -> None:
    src = _Source()
    pool = _pool(src)
    assert pool.state() is None
    for _ in range(5):
        pool.next()
    assert pool.state() is None  # a spent pool: the source's own position is where to go on
    pool.next()
    pool.clear()
    assert pool.state() is None
    assert pool.resume(None) is None
    with pytest.raises(ValueError):
        LengthGroupedPool(1, src.draw, src.snapshot, src.rng)


def test_grouping_by_images_keeps_the_mixture_order_within_an_image_count() -> None:
    from vlseq.train.batching import GROUP_KEYS
    from vlseq.train.config import GROUP_BY

    assert tuple(GROUP_KEYS) == GROUP_BY  # the config's choices are the key functions there are
    rng = random.Random(3)
    items = [_item(rng, i) for i in range(256)]
    batches = group_batches(items, 8, random.Random(0), key=GROUP_KEYS["images"])
    ordered = sorted(items, key=lambda it: it[0].images.shape[0])  # stable: the drawn order within a count
    at = {id(it): i for i, it in enumerate(ordered)}
    assert sorted(at[id(it)] for b in batches for it in b) == list(range(len(items)))  # each item once
    for b in batches:  # each batch is a run of that list, so its rows keep the drawn order and tasks
        idx = [at[id(it)] for it in b]
        assert idx == list(range(idx[0], idx[0] + len(b)))
    one_image = [b for b in batches if all(it[0].images.shape[0] == 1 for it in b)]
    assert one_image and all(len({task for _, task in b}) == 3 for b in one_image)  # caption, detect, vqa mixed
