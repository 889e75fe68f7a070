"""Streaming Examples from tar shards, split across DataLoader workers and processes/nodes.

A *consumer* is one DataLoader worker of one process: ``consumer = rank * num_workers + worker_id``
out of ``consumers = world_size * num_workers``. Every epoch, each consumer reads its part:

* **shard-level split** (``len(shards) >= consumers``): the epoch's shard order (a permutation by
  ``seed + epoch``) is dealt out round-robin, consumer ``c`` reading ``order[c::consumers]``. Shards
  are read sequentially, so each consumer touches only its own files. Parts differ in size when
  shard counts do not divide evenly (make ``shards >> consumers``, or use an endless stream).
* **sample-level split** (fewer shards than consumers): every consumer reads every shard in the
  epoch's order and keeps samples ``i`` with ``i % consumers == c`` (``i`` counts the samples of
  the epoch). Tar headers are read by all, but each image is decoded by one consumer only.

Either way every sample is yielded exactly once per epoch across all consumers. A shuffle buffer
(per consumer, seeded by ``seed, epoch, consumer``, drained at the end of each epoch) mixes samples
across the shards a consumer reads; images are decoded only when a sample leaves the buffer.

**Resume.** A consumer's stream is a pure function of (shards, seed, epoch, consumer, consumers,
buffer size), so its position is one integer: how many samples it has yielded. Every Example carries
``meta["stream"] = [consumer, consumers, n]``; :class:`StreamPosition` keeps the largest ``n + 1`` per
consumer; a new stream given that state skips whole epochs arithmetically (from the index's sample
counts) and then replays the current epoch's shard order and buffer, skipping the samples already
consumed without decoding them. Resuming with a different number of consumers falls back to
epoch-level resume: it restarts at the first epoch that some consumer had not finished.

**No torch here.** The data layer stays importable without torch: these classes are plain
iterables that find their rank in the ``RANK`` / ``WORLD_SIZE`` variables unless told. A torch
``DataLoader`` needs an ``IterableDataset`` that asks ``torch.distributed`` and the DataLoader worker
who it is: :class:`vlseq.train.streaming.ShardStreamDataset` and
:class:`~vlseq.train.streaming.ShardMixtureDataset` are these two classes as such datasets (the
same arguments, the same samples in the same order).
"""

from __future__ import annotations

import copy
import os
import random
import warnings
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

from .example import Example
from .mixture import mixture_probabilities
from .shards import decode_sample, iter_raw_samples, raw_record, read_index

IMAGE_FORMATS = ("numpy", "pil", "none")


def _entries(shards: str | Path | Sequence[Any]) -> list[dict[str, Any]]:
    """Shard entries ``{"path", "count", "tasks"}`` from shard dirs, tar paths or index entries."""
    items = [shards] if isinstance(shards, (str, Path)) else list(shards)
    out: list[dict[str, Any]] = []
    for it in items:
        if isinstance(it, Mapping):
            out.append({"path": str(it["path"]), "count": it.get("count"), "tasks": it.get("tasks")})
        elif Path(it).is_dir():
            out += [{"path": s["path"], "count": s["count"], "tasks": s.get("tasks")} for s in read_index(it)["shards"]]
        else:  # a bare tar: no counts, so skipping on resume reads instead of counting
            out.append({"path": str(it), "count": None, "tasks": None})
    return out


def env_rank_world() -> tuple[int, int]:
    """This process's rank and world size from the RANK / WORLD_SIZE variables (launchers set them), else 0 / 1."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class ShardStream:
    """Examples from tar shards, each exactly once per epoch across all consumers (module docstring).

    Args:
        shards: a shard directory, or a list of directories / tar paths / index entries.
        rank, world_size: this process among all processes (default: the RANK / WORLD_SIZE
            environment variables, else 0 / 1; :class:`vlseq.train.streaming.ShardStreamDataset`
            asks torch.distributed first).
        worker: ``(worker_id, num_workers)``; default: (0, 1) (``ShardStreamDataset``: the DataLoader
            worker this runs in).
        seed: seeds the per-epoch shard order (``seed + epoch``) and the shuffle buffers.
        shuffle: permute shards per epoch and use the buffer; False reads in index order.
        shuffle_buffer: samples held per consumer (<= 1: no buffer).
        epochs: epochs per ``iter()`` starting at ``epoch``; ``None``: endless.
        epoch: the first epoch (see :meth:`set_epoch`).
        tasks: keep only these tasks (other one-task shards are not even opened).
        image_format: ``"numpy"`` ((H, W, 3) uint8), ``"pil"``, or ``"none"`` (annotations only, images=[]).
        resume: a :meth:`StreamPosition.state_dict` to continue from.
    """

    def __init__(self, shards: str | Path | Sequence[Any], *, rank: int | None = None, world_size: int | None = None,
                 worker: tuple[int, int] | None = None, seed: int = 0, shuffle: bool = True, shuffle_buffer: int = 1000,
                 epochs: int | None = 1, epoch: int = 0, tasks: Iterable[str] | None = None,
                 image_format: str = "numpy", resume: Mapping[str, Any] | None = None) -> None:
        if image_format not in IMAGE_FORMATS:
            raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
        if (rank is None) != (world_size is None):
            raise ValueError("give both rank and world_size, or neither")
        if rank is not None and not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside [0, {world_size})")
        if worker is not None and not 0 <= worker[0] < worker[1]:
            raise ValueError(f"worker id {worker[0]} outside [0, {worker[1]})")
        self.tasks = None if tasks is None else set(tasks)
        entries = _entries(shards)
        if self.tasks is not None:
            # One-task shards of other tasks are dropped unread; counts cover the kept tasks only.
            kept = []
            for e in entries:
                if e["tasks"] is None:
                    kept.append(dict(e, count=None))
                elif self.tasks & set(e["tasks"]):
                    kept.append(dict(e, count=sum(n for t, n in e["tasks"].items() if t in self.tasks)))
            entries = kept
        if not entries:
            raise ValueError(f"no shards to read (tasks={sorted(self.tasks) if self.tasks else None})")
        self.shards = entries
        self.rank, self.world_size, self.worker = rank, world_size, worker
        self.seed, self.shuffle, self.shuffle_buffer = int(seed), shuffle, int(shuffle_buffer)
        self.epochs, self.epoch = epochs, int(epoch)
        self.image_format = image_format
        self._resume: Mapping[str, Any] | None = None
        if resume is not None:
            self.load_state_dict(resume)

    # ------------------------------------------------------------------ who am I

    def consumer(self, process: tuple[int, int] | None = None,
                 worker: tuple[int, int] | None = None) -> tuple[int, int]:
        """``(consumer id, number of consumers)`` of the calling process/worker.

        The stream's own ``rank`` / ``world_size`` and ``worker`` come first; then ``process``
        (``(rank, world_size)``) and ``worker`` as the caller's runtime knows them (the torch
        datasets pass torch.distributed's and the DataLoader worker's); then the environment
        (:func:`env_rank_world`) and a single worker.
        """
        if self.rank is not None:
            rank, world = self.rank, self.world_size
        else:
            rank, world = process if process is not None else env_rank_world()
        wid, nw = self.worker if self.worker is not None else worker if worker is not None else (0, 1)
        return rank * nw + wid, world * nw

    def set_epoch(self, epoch: int) -> None:
        """Start the next ``iter()`` at ``epoch`` (like DistributedSampler.set_epoch); drops a resume state."""
        self.epoch = int(epoch)
        self._resume = None

    @property
    def total(self) -> int | None:
        """Samples per epoch over all consumers (None when a bare tar has no count)."""
        counts = [e["count"] for e in self.shards]
        return None if any(c is None for c in counts) else sum(counts)

    # ------------------------------------------------------------------ the plan of an epoch

    def shard_order(self, epoch: int) -> list[dict[str, Any]]:
        """The epoch's shard order (a permutation by ``seed, epoch`` when shuffling)."""
        order = list(self.shards)
        if self.shuffle:
            random.Random(f"shards:{self.seed}:{epoch}").shuffle(order)
        return order

    def plan(self, epoch: int, c: int, n: int) -> tuple[list[dict[str, Any]], bool]:
        """The shards consumer ``c`` of ``n`` reads in ``epoch``, and whether it splits by sample."""
        order = self.shard_order(epoch)
        if len(order) >= n:
            return order[c::n], False
        return order, True

    def epoch_count(self, epoch: int, c: int, n: int) -> int | None:
        """Samples consumer ``c`` of ``n`` yields in ``epoch`` (None if a count is unknown)."""
        shards, by_sample = self.plan(epoch, c, n)
        if any(s["count"] is None for s in shards):
            return None
        total = sum(s["count"] for s in shards)
        return len(range(c, total, n)) if by_sample else total

    # ------------------------------------------------------------------ iteration

    def _raw_epoch(self, epoch: int, c: int, n: int) -> Iterator[tuple[str, dict, dict | None]]:
        """``(shard path, raw sample, record or None)`` of consumer c's part, before the buffer."""
        shards, by_sample = self.plan(epoch, c, n)
        i = 0
        for s in shards:
            for raw in iter_raw_samples(s["path"]):
                rec = None
                if self.tasks is not None:
                    rec = raw_record(raw, s["path"])
                    if rec["task"] not in self.tasks:
                        continue
                if by_sample:
                    i += 1
                    if (i - 1) % n != c:
                        continue
                yield s["path"], raw, rec

    def _buffered(self, items: Iterator[Any], epoch: int, c: int) -> Iterator[Any]:
        """A shuffle buffer over ``items``, seeded per (seed, epoch, consumer), drained at the end."""
        size = self.shuffle_buffer if self.shuffle else 0
        if size <= 1:
            yield from items
            return
        rng = random.Random(f"buffer:{self.seed}:{epoch}:{c}")
        buf: list[Any] = []
        for it in items:
            if len(buf) < size:
                buf.append(it)
                continue
            j = rng.randrange(size)
            yield buf[j]
            buf[j] = it
        rng.shuffle(buf)
        yield from buf

    def _decode(self, path: str, raw: dict, rec: dict | None) -> Example:
        if self.image_format == "none":
            rec = raw_record(raw, path) if rec is None else rec
            return decode_sample({k: v for k, v in raw.items() if k in ("__key__", "json")}, path, dict(rec, images=[], target_image=None))
        return decode_sample(raw, path, rec, as_numpy=self.image_format == "numpy")

    def __iter__(self) -> Iterator[Example]:
        # A generator, so the consumer is found where iteration starts (inside a DataLoader worker).
        yield from self.iter_as(*self.consumer())

    def iter_as(self, c: int, n: int) -> Iterator[Example]:
        """Iterate as consumer ``c`` of ``n`` (what ``iter()`` does with :meth:`consumer`'s answer)."""
        epoch, skip = self._resume_point(c, n)
        pos = skip  # this consumer's ordinal of the next sample
        last = None if self.epochs is None else epoch + self.epochs
        # Whole epochs already consumed: skip by arithmetic on the index counts.
        while skip and (last is None or epoch < last):
            k = self.epoch_count(epoch, c, n)
            if k is None or skip < k:
                break
            skip -= k
            epoch += 1
        while last is None or epoch < last:
            got = 0
            for path, raw, rec in self._buffered(self._raw_epoch(epoch, c, n), epoch, c):
                got += 1
                if skip:  # replaying the partly consumed epoch: no decoding
                    skip -= 1
                    continue
                ex = self._decode(path, raw, rec)
                ex.meta["stream"] = [c, n, pos]
                pos += 1
                yield ex
            if got == 0 and self.plan(epoch, c, n)[1]:
                # Sample-level split over fewer samples than consumers: this consumer's part is empty
                # in every epoch; stop rather than spin through empty epochs forever.
                warnings.warn(f"consumer {c} of {n} gets no samples from {len(self.shards)} shard(s)", stacklevel=2)
                return
            epoch += 1

    # ------------------------------------------------------------------ resume

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a :meth:`StreamPosition.state_dict` at the next ``iter()`` (module docstring)."""
        self._resume = dict(state)

    def _resume_point(self, c: int, n: int) -> tuple[int, int]:
        """``(first epoch, samples to skip from its start)`` of consumer ``c`` of ``n``."""
        if self._resume is None:
            return self.epoch, 0
        base = int(self._resume.get("epoch", 0))
        consumers = self._resume.get("consumers")
        positions = {int(k): int(v) for k, v in self._resume.get("positions", {}).items()}
        if consumers is None or int(consumers) == n:
            return base, positions.get(c, 0)
        # A different number of consumers: epoch-level resume from the first unfinished epoch.
        done = []
        for old_c in range(int(consumers)):
            e, left = base, positions.get(old_c, 0)
            while left:
                k = self.epoch_count(e, old_c, int(consumers))
                if k is None or left < k:
                    break
                left, e = left - k, e + 1
            done.append(e)
        warnings.warn(f"resuming the positions of {consumers} consumers with {n}: restarting at epoch {min(done)}",
                      stacklevel=3)
        return min(done), 0


class StreamPosition:
    """Where each consumer of a stream stands: the largest ``n + 1`` of the ``[c, C, n]`` tags seen.

    Update it with the Examples (or tags) the training step actually consumed; save
    :meth:`state_dict` in the checkpoint; pass it as ``resume=`` to a new stream. Each process sees
    only its own consumers' tags: gather the states of all ranks and :meth:`merge` them.
    """

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch
        self.consumers: int | None = None
        self.positions: dict[int, int] = {}

    def update(self, items: Iterable[Example | Sequence[int]]) -> None:
        for it in items:
            c, n, k = it.meta["stream"] if isinstance(it, Example) else it
            if self.consumers not in (None, n):
                raise ValueError(f"tags of {n} and {self.consumers} consumers mixed in one position")
            self.consumers = n
            self.positions[c] = max(self.positions.get(c, 0), k + 1)

    def merge(self, states: Iterable[Mapping[str, Any]]) -> None:
        for st in states:
            for c, k in st.get("positions", {}).items():
                self.update([(int(c), int(st["consumers"]), int(k) - 1)])

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "consumers": self.consumers,
                "positions": {str(c): k for c, k in sorted(self.positions.items())}}


class ShardMixture:
    """An endless weighted mixture of per-source shard streams: yields ``(source, item, tag)``.

    Each consumer draws a source per step (probabilities as :class:`~vlseq.data.mixture.MixtureSampler`:
    ``weights`` or a size ``temperature``) with its own RNG, seeded by ``(seed, consumer)``, and takes
    that source's next Example. ``item`` is the Example, or ``transform(source, example)`` (e.g.
    Processor.encode in the worker). ``tag = [consumer, consumers, draws]`` feeds a
    :class:`StreamPosition`; ``resume=`` replays the draws to find every source stream's position.
    """

    def __init__(self, sources: Mapping[str, ShardStream], weights: Mapping[str, float] | None = None,
                 temperature: float | None = None, seed: int = 0, transform: Any = None,
                 resume: Mapping[str, Any] | None = None) -> None:
        if not sources:
            raise ValueError("a mixture needs at least one source")
        self.sources = dict(sources)
        sizes = {k: (s.total if s.total is not None else 1) for k, s in self.sources.items()}
        self.probabilities = mixture_probabilities(sizes, weights, temperature)
        self.seed, self.transform = int(seed), transform
        self.positions = {int(k): int(v) for k, v in (resume or {}).get("positions", {}).items()}
        if resume and resume.get("consumers") is not None:
            self._resume_consumers = int(resume["consumers"])
        else:
            self._resume_consumers = None

    def _chooser(self, c: int) -> Iterator[str]:
        names = list(self.probabilities)
        weights = [self.probabilities[k] for k in names]
        rng = random.Random(f"mix:{self.seed}:{c}")
        while True:
            yield rng.choices(names, weights)[0]

    def consumer(self, process: tuple[int, int] | None = None,
                 worker: tuple[int, int] | None = None) -> tuple[int, int]:
        """``(consumer id, number of consumers)``, as the first source stream finds it (:meth:`ShardStream.consumer`)."""
        return next(iter(self.sources.values())).consumer(process, worker)

    def __iter__(self) -> Iterator[tuple[str, Any, list[int]]]:
        yield from self.iter_as(*self.consumer())

    def iter_as(self, c: int, n: int) -> Iterator[tuple[str, Any, list[int]]]:
        """Draw as consumer ``c`` of ``n``; every source stream reads as that consumer too."""
        if self._resume_consumers not in (None, n):
            raise ValueError(f"cannot resume a mixture of {self._resume_consumers} consumers with {n}")
        draws = self.positions.get(c, 0)
        chooser = self._chooser(c)
        # Replay the draws already consumed: each source stream skips what it already gave.
        taken = {k: 0 for k in self.sources}
        for _ in range(draws):
            taken[next(chooser)] += 1
        its = {}
        for k, s in self.sources.items():
            s = copy.copy(s)
            s.epochs = None
            s.load_state_dict({"epoch": s.epoch, "consumers": n, "positions": {c: taken[k]}})
            its[k] = s.iter_as(c, n)
        for source in chooser:
            ex = next(its[source], None)
            if ex is None:  # an empty part for this consumer (warned by the stream)
                raise RuntimeError(f"source {source!r} yields nothing for consumer {c} of {n}")
            item = self.transform(source, ex) if self.transform is not None else ex
            yield source, item, [c, n, draws]
            draws += 1


def load_shard_sources(paths: str | Path | Sequence[str | Path], tasks: Iterable[str] | None = None,
                       **stream_kw: Any) -> dict[str, ShardStream]:
    """One endless :class:`ShardStream` per task over the shard directories ``paths``.

    A task present in several directories pools their shards into one source. ``stream_kw`` goes to
    every stream (rank, world_size, seed, shuffle_buffer, image_format ...). Combine them with
    :class:`ShardMixture` (per-task weights, as the in-memory training mixture).
    """
    dirs = [paths] if isinstance(paths, (str, Path)) else list(paths)
    by_task: dict[str, list[dict[str, Any]]] = {}
    for d in dirs:
        for s in read_index(d)["shards"]:
            for t in s.get("tasks") or {}:
                by_task.setdefault(t, []).append(s)
    want = list(by_task) if tasks is None else list(dict.fromkeys(tasks))
    missing = [t for t in want if t not in by_task]
    if missing:
        raise ValueError(f"no shards hold task(s) {missing} in {[str(d) for d in dirs]}; found {sorted(by_task)}")
    stream_kw.setdefault("epochs", None)
    return {t: ShardStream(by_task[t], tasks=[t], **stream_kw) for t in want}
