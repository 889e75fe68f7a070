"""Tar shards: lossless round trip of every task's Examples, and a stream that splits them across
processes x DataLoader workers exactly once per epoch, reshuffles per epoch and resumes exactly.

The streams here are the data layer's, without torch; real DataLoader workers: tests/train/test_streaming.py."""

from __future__ import annotations

import json
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlseq.cli.shard import main
from vlseq.data.example import Example, Object
from vlseq.data.readers import DataError, load_split, open_image
from vlseq.data.shards import example_to_record, read_index, read_shard, write_shards
from vlseq.data.stream import ShardMixture, ShardStream, StreamPosition, load_shard_sources


def ident(ex: Example) -> str:
    """An identity of an Example independent of its pixels and of the stream's tag."""
    rec = example_to_record(ex)
    rec["meta"] = {k: v for k, v in rec["meta"].items() if k != "stream"}
    return json.dumps(rec, sort_keys=True, default=list)




@pytest.fixture(scope="module")
def all_ids(split_dir) -> Counter:
    ids = Counter(ident(e) for exs in load_split(split_dir).values() for e in exs)
    assert max(ids.values()) == 1  # identities are unique, so "seen once" checks are meaningful
    return ids


def test_round_trip_every_field_and_pixel(split_dir, shard_dir) -> None:
    split = load_split(split_dir)
    index = read_index(shard_dir)
    assert index["total"] == sum(len(v) for v in split.values())
    assert index["tasks"] == {t: len(v) for t, v in split.items() if v}
    for s in index["shards"]:
        assert Path(s["path"]).name == s["name"] and s["name"].startswith("shard-") and len(s["tasks"]) == 1
        assert 1 <= s["count"] <= 10
    got = {ident(e): e for s in index["shards"] for e in read_shard(s["path"])}
    want = {ident(e): e for exs in split.values() for e in exs}
    assert got.keys() == want.keys()
    assert {1, 2} <= {len(e.images) for e in want.values()}  # pairs are covered (stories hold 3-5)
    assert any(e.target_image is not None for e in want.values())  # edits too
    for k, w in want.items():
        g = got[k]
        assert len(g.images) == len(w.images)
        for gi, wi in zip(g.images, w.images):  # a path, or generate_image's in-memory blank canvas
            assert np.array_equal(gi, wi if isinstance(wi, np.ndarray) else np.asarray(open_image(wi)))
        if w.target_image is not None:
            assert np.array_equal(g.target_image, np.asarray(open_image(w.target_image)))
        assert (g.task, g.objects, g.phrases, g.region, g.width, g.height) == (w.task, w.objects, w.phrases, w.region, w.width, w.height)


def test_tar_layout_is_webdataset_and_reproducible(split_dir, shard_dir, tmp_path) -> None:
    index = read_index(shard_dir)
    pair = next(s for s in index["shards"] if "classify" in s["tasks"])
    with tarfile.open(pair["path"]) as tf:
        names = tf.getnames()
    keys = Counter(n.split(".", 1)[0] for n in names)
    assert len(keys) == pair["count"] and all(n.split(".", 1)[1] in ("json", "png", "0.png", "1.png") for n in names)
    assert main(["--data", str(split_dir), "--out", str(tmp_path), "--shard-size", "10"]) == 0
    assert (tmp_path / "shard-000003.tar").read_bytes() == (shard_dir / "shard-000003.tar").read_bytes()


def test_in_memory_images_and_bad_input(tmp_path) -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    ex = Example("detect", [rgb], 30, 20, image_id="a", objects=[Object("x", (1.0, 2.0, 5.0, 6.0), [(1.0, 2.0), (5.0, 6.0), (1.0, 6.0)], {"tip": (1.0, 2.0)}, {"id": 3})],
                 target_image=Image.fromarray(rgb[::-1].copy()), meta={"k": [1, 2]})
    write_shards({"detect": [ex]}, tmp_path / "ok", shard_size=4)
    (back,) = read_shard(tmp_path / "ok" / "shard-000000.tar")
    assert np.array_equal(back.images[0], rgb) and np.array_equal(back.target_image, rgb[::-1])
    assert back.objects == ex.objects and back.meta == ex.meta
    bad = Example("detect", [rgb], 30, 20, image_id="b", source="f.json#7", meta={"x": object()})
    with pytest.raises(DataError, match=r"f\.json#7: record b: example is not JSON-serialisable"):
        write_shards({"detect": [bad]}, tmp_path / "bad", shard_size=4)
    with pytest.raises(DataError, match="no shard index"):
        read_index(tmp_path / "bad")
    broken = tmp_path / "ok" / "shard-000000.tar"
    broken.write_bytes(broken.read_bytes()[:700])
    with pytest.raises(DataError, match=r"shard-000000\.tar.*(cannot read shard|cannot decode)"):
        read_shard(broken)
    assert main(["--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 1


def _epoch(shards, consumers: tuple[int, int], epoch: int = 0, **kw) -> list[list[Example]]:
    """Per consumer (rank r of R, worker w of W, simulated): its examples of one epoch."""
    world, workers = consumers
    return [list(ShardStream(shards, rank=r, world_size=world, worker=(w, workers), epoch=epoch, image_format="none",
                             shuffle_buffer=8, seed=3, **kw)) for r in range(world) for w in range(workers)]


@pytest.mark.parametrize("shard_size", [10, 200])  # vqa: 6 shards (shard-level split) / 1 shard (sample-level)
def test_every_example_exactly_once_per_epoch_2_ranks_x_2_workers(split_dir, tmp_path, all_ids, shard_size) -> None:
    write_shards(load_split(split_dir), tmp_path, shard_size)
    shards = read_index(tmp_path)["shards"]
    for task in ("vqa", None):  # one task: 1 shard < 4 consumers (sample-level split) when shards are big
        want = Counter({k: 1 for k in all_ids if task is None or json.loads(k)["task"] == task})
        orders = []
        for epoch in (0, 1):
            parts = _epoch(shards, (2, 2), epoch, tasks=None if task is None else [task])
            seen = Counter(ident(e) for p in parts for e in p)
            assert seen == want  # none twice, none missed
            assert all(p for p in parts)  # every consumer gets work
            orders.append([ident(e) for e in parts[0]])
        assert orders[0] != orders[1]  # reshuffled per epoch


def test_resume_continues_exactly_within_and_across_epochs(shard_dir) -> None:
    kw = dict(world_size=2, worker=(1, 2), seed=5, shuffle_buffer=8, image_format="none", epochs=None)
    full = ShardStream(shard_dir, rank=1, **kw)
    per_epoch = full.epoch_count(0, 3, 4)
    ref = [ident(e) for _, e in zip(range(per_epoch + 30), full)]
    for cut in (7, per_epoch + 5):  # inside epoch 0, inside epoch 1 (whole epoch 0 skipped by counts)
        pos = StreamPosition()
        pos.update(e for _, e in zip(range(cut), ShardStream(shard_dir, rank=1, **kw)))
        state = json.loads(json.dumps(pos.state_dict()))  # checkpoints store it as JSON
        assert state["positions"] == {"3": cut}
        resumed = ShardStream(shard_dir, rank=1, resume=state, **kw)
        assert [ident(e) for _, e in zip(range(20), resumed)] == ref[cut : cut + 20]
    # Four consumers' state resumed by one consumer: epoch-level (restart at the first unfinished epoch).
    with pytest.warns(UserWarning, match="restarting at epoch 0"):
        one = ShardStream(shard_dir, rank=0, world_size=1, worker=(0, 1), image_format="none", resume=state)
        assert len(list(one)) == read_index(shard_dir)["total"]


def test_mixture_over_task_sources_weights_and_resume(shard_dir) -> None:
    srcs = load_shard_sources([shard_dir], tasks=["vqa", "caption"], rank=0, world_size=1, worker=(0, 1),
                              image_format="none", shuffle_buffer=4)
    mix = ShardMixture(srcs, weights={"vqa": 3.0, "caption": 1.0}, seed=2)
    ref = [(s, ident(e), tag) for _, (s, e, tag) in zip(range(200), mix)]
    counts = Counter(s for s, _, _ in ref)
    assert 120 < counts["vqa"] < 180 and counts["vqa"] + counts["caption"] == 200
    assert all(json.loads(i)["task"] == s for s, i, _ in ref)
    # Each source is an endless stream: 200 draws wrap the 12 captions many times, each epoch complete.
    caps = [i for s, i, _ in ref if s == "caption"]
    assert len(set(caps[:12])) == 12
    pos = StreamPosition()
    pos.update(tag for _, _, tag in ref[:50])
    resumed = ShardMixture(srcs, weights={"vqa": 3.0, "caption": 1.0}, seed=2, resume=pos.state_dict())
    assert [(s, ident(e)) for _, (s, e, _) in zip(range(30), resumed)] == [(s, i) for s, i, _ in ref[50:80]]
    with pytest.raises(ValueError, match="no shards hold task"):
        load_shard_sources(shard_dir, tasks=["no_such_task"])
