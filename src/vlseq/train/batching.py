"""Length-grouped micro-batches: draw a pool of batches at once, sort it by length, cut it up.

A task mixture pads badly. The nine-task batches of the ``tiny`` run carry 3.1x their real prompt
tokens and 3.5x their real target tokens, because a detection list or a grounded caption sets the
length of the whole batch (and a five-image story would make every row carry five images).

So the trainer draws ``pool`` batches' worth of examples from the mixture at once, sorts them by
(number of images, target length, prompt length), each length in buckets of several tokens
(:data:`BUCKET`), and cuts the sorted list into ``pool`` batches, which it hands out in a random
order. Which examples are trained on, and how often, is unchanged: only which examples share a
batch. Over 16 batches of ``tiny`` this leaves 1.21x the real token cells (images' encoder tokens,
prompt, target) in padded work, against 2.16x as drawn, and a training step takes 0.41 s instead
of 0.73 s (``bench/bench_group_by_length.py``, BENCHMARKS.md). Fewer tasks share a grouped batch,
though, and the nine-task ``tiny`` run scored lower at equal minutes. Sorting by the image count
alone (:func:`image_count_key`, ``group_by=images``) keeps each batch a mixture of tasks and saves only
the image padding: that is ``tiny``'s default (``tiny_text`` sorts by length: its five-image stories
and long paragraphs pad most).

The idea is that of the length-grouped sampler of HF Trainer
(``group_by_length``) and of fairseq's bucketing by size; neither fits here, as both sample from
one dataset by index, while vlseq draws from a weighted mixture of tasks with a resumable
position, so the pool is kept by hand.

Exact resume: the pool is drawn from the mixture and augmentation RNG as they were when it was
started. A checkpoint saves that start state and how many of the pool's batches were used;
resuming draws the same pool again and skips the used batches (:meth:`LengthGroupedPool.state`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from ..processing import Encoded

#: An encoded example with its task, as the trainer batches them.
Item = tuple[Encoded, str]


#: Width, in tokens, of the length buckets a pool is sorted by (targets; prompts use twice this).
#: Exact lengths would sort by content: an answer's length can name the answer ("no" is shorter
#: than "contradiction"), so batches of one exact length could be batches of one label, each step's
#: gradient that label's prior. Within a bucket the mixture's random order stands, so a bucket of
#: short targets mixes answers, labels and tasks, for a few padded tokens (a pool of ``tiny`` keeps
#: 1.21x its real token cells, BENCHMARKS.md).
BUCKET = 8


def length_key(item: Item) -> tuple[int, int, int]:
    """Sort key of an encoded example: (images, target bucket, prompt bucket) (:data:`BUCKET`).

    The number of images comes first because a row's images cost the most (a five-image story
    is five times an image's encoder tokens); the target before the prompt because the decoder
    pays for its length twice (self- and cross-attention at every layer) and target lengths vary
    the most (a one-word answer to a 60-token detection list).
    """
    enc = item[0]
    return enc.images.shape[0], -(-len(enc.target) // BUCKET), -(-len(enc.prompt) // (2 * BUCKET))


def image_count_key(item: Item) -> tuple[int]:
    """Sort key by the number of images alone: rows of one image count share a batch, and within it
    the mixture's order (so its tasks) stands. Only the image padding is saved (a one-image row beside
    a classify pair otherwise carries a masked second image's encoder tokens)."""
    return (item[0].images.shape[0],)


#: What a pool may be sorted by (the ``group_by`` training key).
GROUP_KEYS: dict[str, Callable[[Item], tuple[int, ...]]] = {"length": length_key, "images": image_count_key}


def group_batches(items: Sequence[Item], n_batches: int, rng: random.Random,
                    key: Callable[[Item], tuple[int, ...]] = length_key) -> list[list[Item]]:
    """``items`` sorted by ``key`` (:func:`length_key`) and cut into ``n_batches`` batches of (nearly)
    equal size, in an order shuffled with ``rng``. Every item is in exactly one batch; no batch is
    empty while there are at least ``n_batches`` items."""
    if n_batches < 1:
        raise ValueError(f"n_batches must be >= 1, got {n_batches}")
    ordered = sorted(items, key=key)  # stable: equal keys keep the mixture's order
    n = min(n_batches, len(ordered)) or 1
    bounds = [round(i * len(ordered) / n) for i in range(n + 1)]
    batches = [ordered[bounds[i]:bounds[i + 1]] for i in range(n)]
    rng.shuffle(batches)
    return batches


class LengthGroupedPool:
    """Hands out micro-batches from length-sorted pools of ``pool`` batches.

    ``draw(n_batches)`` must return this process's encoded examples for ``n_batches`` batches,
    drawn from the mixture; ``snapshot()`` the sampler state a pool starts from (mixture position
    and RNG, as a JSON-able object) so that a resumed run can draw the same pool again.
    """

    def __init__(self, pool: int, draw: Callable[[int], list[Item]], snapshot: Callable[[], Any],
                 rng: random.Random, key: Callable[[Item], tuple[int, ...]] = length_key) -> None:
        if pool < 2:
            raise ValueError(f"a length-grouped pool needs at least 2 batches, got {pool}")
        self.pool = pool
        self.key = key
        self._draw = draw
        self._snapshot = snapshot
        self._rng = rng
        self._batches: list[list[Item]] = []
        self._start: Any = None  # the sampler state the current pool was drawn from
        self._used = 0
        self._skip = 0  # batches of the next pool already used before a resume

    def next(self) -> list[Item]:
        """The next micro-batch, drawing a new pool when the current one is spent."""
        if self._used >= len(self._batches):
            self._start = self._snapshot()
            self._batches = group_batches(self._draw(self.pool), self.pool, self._rng, self.key)
            self._used, self._skip = min(self._skip, len(self._batches)), 0
            if self._used >= len(self._batches):
                raise RuntimeError("a resumed pool was already spent at its checkpoint; the checkpoint is inconsistent")
        batch = self._batches[self._used]
        self._used += 1
        return batch

    def clear(self) -> None:
        """Drop the rest of the current pool (at a schedule stage change: its weights were the old stage's)."""
        self._batches, self._start, self._used, self._skip = [], None, 0, 0

    def state(self) -> dict[str, Any] | None:
        """What a checkpoint saves: the current pool's start state and how many batches it used
        (None when no pool is open: the sampler's own state is then the whole story)."""
        if self._used >= len(self._batches):
            return None
        return {"start": self._start, "used": self._used}

    def resume(self, state: dict[str, Any] | None) -> Any:
        """Prepare to redraw a saved pool; returns its start state, which the caller restores into
        the sampler before the next draw (None: nothing to restore)."""
        self.clear()
        if not state:
            return None
        self._skip = int(state["used"])
        return state["start"]
