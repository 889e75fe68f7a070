"""A resumable sampler over (task, dataset) sources: an endless, seeded stream of examples.

Each step picks a source with probability ``p`` -- explicit weights, or a temperature over the
source sizes, ``p_i ∝ n_i ** (1 / T)`` (T = 1: proportional to size, T -> inf: uniform; the
multilingual/multi-task recipe of T5 and mT5) -- and yields that source's next example. Every
source walks through its own permutation, reshuffled each epoch.

Nothing here keeps hidden random state: the source chosen at step ``t`` and the order of a
source's epoch ``e`` are pure functions of ``(seed, t)`` and ``(seed, source name, e)``. So the
position (:meth:`MixtureSampler.state_dict`: small ints, JSON-ready, stored in training
checkpoints) restores the identical stream, and sharding over ranks is just taking every
``world_size``-th step.
"""

from __future__ import annotations

import math
import zlib
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

STATE_VERSION = 1
_BLOCK = 4096  # source choices are drawn in blocks of this many steps (one RNG per block)


def source_name(task: str, dataset: str) -> str:
    """The name of a (task, dataset) source: ``"task/dataset"``."""
    return f"{task}/{dataset}"


def sources_from_splits(splits: Mapping[str, Mapping[str, Sequence[Any]]]) -> dict[str, Sequence[Any]]:
    """``{dataset: {task: examples}}`` (e.g. several :func:`load_split` results) -> named sources.

    Empty task lists are left out.
    """
    return {source_name(task, ds): exs for ds, split in splits.items() for task, exs in split.items() if len(exs)}


def mixture_probabilities(
    sizes: Mapping[str, int], weights: Mapping[str, float] | None = None, temperature: float | None = None
) -> dict[str, float]:
    """Sampling probability per source: normalised ``weights``, else ``n ** (1/temperature)`` (T=1 default)."""
    if weights is not None and temperature is not None:
        raise ValueError("give either weights or a temperature, not both")
    names = list(sizes)
    if not names:
        raise ValueError("a mixture needs at least one source")
    if weights is not None:
        extra = set(weights) - set(names)
        if extra:
            raise ValueError(f"weights for unknown source(s) {sorted(extra)}; sources: {names}")
        raw = {n: float(weights.get(n, 0.0)) for n in names}
        bad = {n: w for n, w in raw.items() if not (math.isfinite(w) and w >= 0)}
        if bad:
            raise ValueError(f"weights must be finite and >= 0, got {bad}")
    else:
        t = 1.0 if temperature is None else float(temperature)
        if not (t > 0):
            raise ValueError(f"temperature must be > 0, got {temperature}")
        raw = {n: float(sizes[n]) ** (1.0 / t) if sizes[n] > 0 else 0.0 for n in names}
    total = sum(raw.values())
    if not total > 0:
        raise ValueError(f"all sources have zero weight or no examples: sizes {dict(sizes)}")
    probs = {n: w / total for n, w in raw.items()}
    empty = [n for n in names if probs[n] > 0 and sizes[n] == 0]
    if empty:
        raise ValueError(f"source(s) {empty} have a positive weight but no examples")
    return probs


def _cumulative(p: Sequence[float]) -> np.ndarray:
    """Bin edges for ``searchsorted``; the last source with p > 0 ends at exactly 1.0, so rounding can
    never pick a zero-weight source."""
    cum = np.cumsum(np.asarray(p, dtype=np.float64))
    cum[int(np.flatnonzero(np.asarray(p) > 0)[-1]):] = 1.0
    return cum


def _name_key(name: str) -> int:
    # A stable per-source seed part (Python's hash() is salted per process).
    return zlib.crc32(name.encode("utf-8"))


class MixtureSampler:
    """Endless ``(source_name, example)`` stream over named sources; deterministic by ``seed``.

    >>> s = MixtureSampler({"caption/coco": caps, "vqa/vqav2": qs}, temperature=2.0, seed=0)
    >>> name, ex = next(s)
    >>> state = s.state_dict()          # JSON-serialisable
    >>> s2 = MixtureSampler({...same sources...}, temperature=2.0, seed=0)
    >>> s2.load_state_dict(state)       # s2 continues exactly where s stopped

    ``rank``/``world_size`` shard the stream: rank ``r`` yields global steps ``r, r + W, ...``,
    so the ranks together see exactly the single-process stream.
    """

    def __init__(
        self,
        sources: Mapping[str, Sequence[Any]],
        weights: Mapping[str, float] | None = None,
        temperature: float | None = None,
        seed: int = 0,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside [0, {world_size})")
        self.sources = dict(sources)
        self.names = list(self.sources)
        self.sizes = {n: len(v) for n, v in self.sources.items()}
        self.probabilities = mixture_probabilities(self.sizes, weights, temperature)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.rank, self.world_size = rank, world_size
        self._cum = _cumulative([self.probabilities[n] for n in self.names])
        self.step = 0  # global steps consumed (across all ranks)
        self.epoch = {n: 0 for n in self.names}
        self.pos = {n: 0 for n in self.names}  # next index into this epoch's order
        self._block: tuple[int, np.ndarray] | None = None
        self._orders: dict[str, tuple[int, np.ndarray]] = {}

    def set_weights(self, weights: Mapping[str, float]) -> None:
        """Sample with new weights from the next step on (a training schedule's stage change).

        The choice at step ``t`` stays a pure function of ``(seed, t)`` and the weights in force,
        so a resumed run that sets the same weights before :meth:`load_state_dict` continues the
        identical stream. Per-source positions and epochs are kept.
        """
        self.probabilities = mixture_probabilities(self.sizes, weights)
        self._cum = _cumulative([self.probabilities[n] for n in self.names])
        self._block = None

    # ------------------------------------------------------------------ pure functions of the seed

    def _choice(self, step: int) -> int:
        b = step // _BLOCK
        if self._block is None or self._block[0] != b:
            u = np.random.default_rng([self.seed, 0x5EED, b]).random(_BLOCK)
            self._block = (b, np.searchsorted(self._cum, u, side="right"))
        return int(self._block[1][step % _BLOCK])

    def _order(self, name: str, epoch: int) -> np.ndarray:
        cached = self._orders.get(name)
        if cached is None or cached[0] != epoch:
            n = self.sizes[name]
            if self.shuffle:
                order = np.random.default_rng([self.seed, _name_key(name), epoch]).permutation(n)
            else:
                order = np.arange(n)
            cached = (epoch, order)
            self._orders[name] = cached
        return cached[1]

    # ------------------------------------------------------------------ iteration

    def _advance(self) -> tuple[str, Any]:
        """Consume one global step (every rank tracks every step; only its own are yielded)."""
        name = self.names[min(self._choice(self.step), len(self.names) - 1)]
        self.step += 1
        if self.pos[name] >= self.sizes[name]:
            self.epoch[name] += 1
            self.pos[name] = 0
        idx = int(self._order(name, self.epoch[name])[self.pos[name]])
        self.pos[name] += 1
        return name, idx

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return self

    def __next__(self) -> tuple[str, Any]:
        # Other ranks' steps still advance the per-source positions, so all ranks agree on them.
        while self.step % self.world_size != self.rank:
            self._advance()
        name, idx = self._advance()
        return name, self.sources[name][idx]

    def take(self, n: int) -> list[tuple[str, Any]]:
        """The next ``n`` items."""
        return [next(self) for _ in range(n)]

    # ------------------------------------------------------------------ checkpointing

    def state_dict(self) -> dict[str, Any]:
        """The position in the stream (plus what identifies the stream), JSON-serialisable."""
        return {
            "version": STATE_VERSION,
            "seed": self.seed,
            "step": self.step,
            "shuffle": self.shuffle,
            "sources": {n: {"size": self.sizes[n], "epoch": self.epoch[n], "pos": self.pos[n],
                            "p": self.probabilities[n]} for n in self.names},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from ``state``; refuses a state of another stream (seed, sources, sizes, weights)."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"mixture state version {state.get('version')!r}, expected {STATE_VERSION}")
        if state["seed"] != self.seed or bool(state.get("shuffle", True)) != self.shuffle:
            raise ValueError(f"mixture state is for seed {state['seed']}, shuffle {state.get('shuffle')}; "
                             f"this sampler has seed {self.seed}, shuffle {self.shuffle}")
        srcs = state["sources"]
        if list(srcs) != self.names:
            raise ValueError(f"mixture state has sources {list(srcs)}, this sampler {self.names}")
        for n in self.names:  # sizes first: a changed size also changes p, but is the cause to name
            if srcs[n]["size"] != self.sizes[n]:
                raise ValueError(f"source {n!r} had {srcs[n]['size']} examples when saved, now {self.sizes[n]}")
        for n in self.names:
            s = srcs[n]
            if not math.isclose(s["p"], self.probabilities[n], rel_tol=1e-9, abs_tol=1e-12):
                raise ValueError(f"source {n!r} was sampled with p={s['p']}, now p={self.probabilities[n]}")
            if not 0 <= s["pos"] <= self.sizes[n] or s["epoch"] < 0:
                raise ValueError(f"source {n!r}: position {s['pos']} / epoch {s['epoch']} out of range")
        self.step = int(state["step"])
        self.epoch = {n: int(srcs[n]["epoch"]) for n in self.names}
        self.pos = {n: int(srcs[n]["pos"]) for n in self.names}
