"""The torch forms of the shard streams: real DataLoader workers of two ranks read every sample once.

The splitting itself is the data layer's (tests/data/test_shards.py, simulated consumers); these
tests check that the torch datasets find their consumer where torch knows it: in the DataLoader
worker they run in and, without a process group, in the RANK / WORLD_SIZE variables.
"""

from __future__ import annotations

import json
from collections import Counter

from torch.utils.data import DataLoader

from vlseq.data.example import Example
from vlseq.data.readers import load_split
from vlseq.data.shards import example_to_record
from vlseq.data.stream import ShardStream, load_shard_sources
from vlseq.train.streaming import ShardMixtureDataset, ShardStreamDataset


def ident(ex: Example) -> str:
    """An identity of an Example independent of its pixels and of the stream's tag."""
    rec = example_to_record(ex)
    rec["meta"] = {k: v for k, v in rec["meta"].items() if k != "stream"}
    return json.dumps(rec, sort_keys=True, default=list)


def _identity(batch):
    return batch




def test_real_dataloader_workers_for_two_ranks(split_dir, shard_dir) -> None:
    all_ids = Counter(ident(e) for exs in load_split(split_dir).values() for e in exs)
    seen: Counter = Counter()
    consumers = set()
    for rank in range(2):
        ds = ShardStreamDataset(shard_dir, rank=rank, world_size=2, seed=1, shuffle_buffer=16)
        for batch in DataLoader(ds, batch_size=8, num_workers=2, collate_fn=_identity):
            for e in batch:
                assert e.images[0].shape == (e.height, e.width, 3)
                seen[ident(e)] += 1
                consumers.add(e.meta["stream"][0])
    assert seen == all_ids
    assert consumers == {0, 1, 2, 3}


def test_mixture_in_dataloader_workers_draws_as_each_worker(shard_dir) -> None:
    srcs = load_shard_sources([shard_dir], tasks=["vqa", "caption"], rank=0, world_size=1, image_format="none",
                              shuffle_buffer=4)
    mix = ShardMixtureDataset(srcs, weights={"vqa": 3.0, "caption": 1.0}, seed=2)
    tags = [tag for _, (_, _, tag) in zip(range(40), iter(DataLoader(mix, batch_size=None, num_workers=2)))]
    assert {(c, n) for c, n, _ in tags} == {(0, 2), (1, 2)}  # each worker is its own consumer


def test_consumer_outside_a_worker(shard_dir, monkeypatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    # No process group and no DataLoader worker: the environment, for the torch form and the plain one.
    assert ShardStreamDataset(shard_dir).consumer() == ShardStream(shard_dir).consumer() == (1, 3)
    # What the stream is told comes first, then what the runtime knows.
    assert ShardStreamDataset(shard_dir, worker=(1, 2)).consumer() == (3, 6)
    assert ShardStream(shard_dir).consumer(process=(2, 4), worker=(1, 2)) == (5, 8)
    assert ShardStream(shard_dir, rank=0, world_size=1).consumer(process=(2, 4)) == (0, 1)
