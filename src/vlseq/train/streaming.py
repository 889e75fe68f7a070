"""Training from WebDataset shards: a DataLoader over a resumable shard mixture.

Used when ``data.shards`` is set. Each process (and each of its DataLoader workers) reads its own
part of the shards (see :mod:`vlseq.data.stream`), so unlike the in-memory path, ranks draw
different examples; the position is gathered from all ranks into every checkpoint and a resume
with the same number of processes x workers continues the stream exactly.

The data layer's streams are plain iterables (the data layer imports no torch); here they become
torch ``IterableDataset`` s (:class:`ShardStreamDataset`, :class:`ShardMixtureDataset`) that find
their rank in ``torch.distributed`` and their worker in the DataLoader, which a DataLoader needs.
"""

from __future__ import annotations

import random
from typing import Any

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from ..data.stream import ShardMixture, ShardStream, StreamPosition, load_shard_sources
from ..processing import Encoded, Processor
from ..tasks import get_task


def torch_process() -> tuple[int, int] | None:
    """``(rank, world size)`` from torch.distributed when a process group is initialised, else None."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return None


def dataloader_worker() -> tuple[int, int] | None:
    """``(worker id, number of workers)`` inside a DataLoader worker process, else None."""
    info = get_worker_info()
    return (info.id, info.num_workers) if info is not None else None


class ShardStreamDataset(ShardStream, IterableDataset):
    """A :class:`~vlseq.data.stream.ShardStream` for a torch DataLoader (the same arguments).

    Unless given ``rank`` / ``world_size`` / ``worker``, it is the consumer that torch.distributed
    (else the RANK / WORLD_SIZE variables) and the DataLoader worker it runs in make it, so each
    worker of each process reads its own part.
    """

    def consumer(self, process: tuple[int, int] | None = None,
                 worker: tuple[int, int] | None = None) -> tuple[int, int]:
        return super().consumer(process or torch_process(), worker or dataloader_worker())


class ShardMixtureDataset(ShardMixture, IterableDataset):
    """A :class:`~vlseq.data.stream.ShardMixture` for a torch DataLoader (the same arguments); its
    consumer is found as :class:`ShardStreamDataset` finds it, and every source reads as that consumer."""

    def consumer(self, process: tuple[int, int] | None = None,
                 worker: tuple[int, int] | None = None) -> tuple[int, int]:
        return super().consumer(process or torch_process(), worker or dataloader_worker())


class Encode:
    """Worker-side transform: Example -> Encoded, with an augmentation RNG fixed by the sample's
    stream position (so a resumed run draws the same augmentations). Picklable for workers."""

    def __init__(self, processor: Processor, seed: int) -> None:
        self.processor, self.seed = processor, seed

    def __call__(self, source: str, ex) -> Encoded:
        rng = random.Random(f"{self.seed}:{source}:{ex.meta.get('stream')}")
        return self.processor.encode(get_task(source), ex, rng)


class Collate:
    """(source, Encoded, tag) items -> (batch dict, sources, tags)."""

    def __init__(self, processor: Processor) -> None:
        self.processor = processor

    def __call__(self, items: list[tuple[str, Encoded, list[int]]]):
        return self.processor.collate([i for _, i, _ in items]), [s for s, _, _ in items], [t for _, _, t in items]


def corpus_examples(paths: list[str], tasks: list[str], per_task: int = 2000) -> dict[str, list]:
    """The first examples of each task's shards (images not decoded): tokenizer corpus and task list."""
    sources = load_shard_sources(paths, tasks, image_format="none", rank=0, world_size=1, shuffle=False)
    out = {}
    for task, stream in sources.items():
        stream.epochs = 1
        exs = []
        for ex in stream:
            exs.append(ex)
            if len(exs) >= per_task:
                break
        out[task] = exs
    return out


class ShardBatches:
    """An endless iterator of this rank's micro-batches from shards, with a checkpointable position."""

    def __init__(self, paths: list[str], tasks: list[str], weights: dict[str, float], processor: Processor,
                 per_process_batch: int, seed: int, workers: int, shuffle_buffer: int, resume: dict | None) -> None:
        sources: dict[str, ShardStream] = load_shard_sources(paths, tasks, seed=seed, shuffle_buffer=shuffle_buffer)
        mix = ShardMixtureDataset(sources, weights=weights, seed=seed, transform=Encode(processor, seed), resume=resume)
        self.position = StreamPosition()
        if resume:
            self.position.merge([resume])
        self.loader = DataLoader(mix, batch_size=per_process_batch, num_workers=workers, collate_fn=Collate(processor),
                                 persistent_workers=workers > 0, pin_memory=torch.cuda.is_available())
        self._it = iter(self.loader)

    def next(self) -> tuple[dict[str, torch.Tensor], list[str]]:
        batch, sources, tags = next(self._it)
        self.position.update(tags)
        return batch, sources

    def state(self, accelerator) -> dict[str, Any]:
        """The position merged over every rank (call on all ranks: it gathers)."""
        from accelerate.utils import gather_object

        merged = StreamPosition()
        merged.merge(gather_object([self.position.state_dict()]))
        return merged.state_dict()
