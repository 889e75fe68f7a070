"""MixtureSampler: probabilities, determinism, per-epoch reshuffles, exact resume, rank sharding."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from vlseq.data.mixture import MixtureSampler, mixture_probabilities, source_name, sources_from_splits

SOURCES = {"caption/coco": list(range(100)), "vqa/vqav2": list(range(1000, 1400)), "refexp/refcoco": list(range(5000, 5010))}


def test_probabilities_weights_and_temperature():
    sizes = {k: len(v) for k, v in SOURCES.items()}
    p1 = mixture_probabilities(sizes)  # T = 1: proportional to size
    assert p1["vqa/vqav2"] == pytest.approx(400 / 510)
    p2 = mixture_probabilities(sizes, temperature=2.0)  # p ∝ sqrt(n)
    total = 10 + 20 + 10 ** 0.5
    assert p2["caption/coco"] == pytest.approx(10 / total) and p2["refexp/refcoco"] == pytest.approx(10 ** 0.5 / total)
    pinf = mixture_probabilities(sizes, temperature=1e9)
    assert all(v == pytest.approx(1 / 3, abs=1e-6) for v in pinf.values())
    pw = mixture_probabilities(sizes, weights={"caption/coco": 3, "vqa/vqav2": 1})
    assert pw == {"caption/coco": 0.75, "vqa/vqav2": 0.25, "refexp/refcoco": 0.0}
    for bad in [dict(weights={"x": 1}), dict(weights={"caption/coco": -1}), dict(temperature=0),
                dict(weights={"caption/coco": 1}, temperature=2)]:
        with pytest.raises(ValueError):
            mixture_probabilities(sizes, **bad)
    with pytest.raises(ValueError, match="positive weight but no examples"):
        mixture_probabilities({"a": 0, "b": 3}, weights={"a": 1, "b": 1})


def test_frequencies_follow_probabilities_and_epochs_cover_each_source():
    s = MixtureSampler(SOURCES, temperature=2.0, seed=3)
    items = s.take(20_000)
    freq = Counter(name for name, _ in items)
    for name, p in s.probabilities.items():
        assert freq[name] / 20_000 == pytest.approx(p, abs=0.015)
    # each epoch of a source is a permutation of it, and consecutive epochs are reshuffled
    ref = [x for name, x in items if name == "refexp/refcoco"]
    epochs = [ref[k : k + 10] for k in range(0, 40, 10)]
    assert all(sorted(e) == SOURCES["refexp/refcoco"] for e in epochs)
    assert len({tuple(e) for e in epochs}) == 4
    assert s.take(1)[0][0] in SOURCES


def test_deterministic_by_seed():
    a = MixtureSampler(SOURCES, seed=11).take(500)
    b = MixtureSampler(SOURCES, seed=11).take(500)
    c = MixtureSampler(SOURCES, seed=12).take(500)
    assert a == b and a != c
    # a source's own order depends on (seed, its name, epoch) only, not on the other sources
    rev = MixtureSampler(dict(reversed(list(SOURCES.items()))), seed=11).take(2000)
    fwd = MixtureSampler(SOURCES, seed=11).take(2000)
    own = lambda items: [x for n, x in items if n == "vqa/vqav2"][:300]  # noqa: E731
    assert own(rev) == own(fwd) and len(own(fwd)) == 300


@pytest.mark.parametrize("cut", [0, 1, 9, 4095, 4096, 5000])
def test_state_dict_resumes_identical_stream(cut):
    s = MixtureSampler(SOURCES, weights={"caption/coco": 1, "vqa/vqav2": 1, "refexp/refcoco": 2}, seed=5)
    full = MixtureSampler(SOURCES, weights={"caption/coco": 1, "vqa/vqav2": 1, "refexp/refcoco": 2}, seed=5).take(cut + 700)
    s.take(cut)
    state = json.loads(json.dumps(s.state_dict()))  # must survive JSON, as in a checkpoint
    fresh = MixtureSampler(SOURCES, weights={"caption/coco": 1, "vqa/vqav2": 1, "refexp/refcoco": 2}, seed=5)
    fresh.load_state_dict(state)
    assert fresh.take(700) == full[cut:]
    assert s.take(700) == full[cut:]  # saving does not disturb the original


def test_load_state_dict_refuses_another_stream():
    s = MixtureSampler(SOURCES, seed=1)
    s.take(10)
    state = s.state_dict()
    with pytest.raises(ValueError, match="seed"):
        MixtureSampler(SOURCES, seed=2).load_state_dict(state)
    smaller = dict(SOURCES, **{"vqa/vqav2": SOURCES["vqa/vqav2"][:-1]})
    with pytest.raises(ValueError, match="had 400 examples when saved, now 399"):
        MixtureSampler(smaller, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="sampled with p="):
        MixtureSampler(SOURCES, seed=1, temperature=3.0).load_state_dict(state)
    with pytest.raises(ValueError, match="sources"):
        MixtureSampler({"a": [1]}, seed=1).load_state_dict(state)
    with pytest.raises(ValueError, match="version"):
        MixtureSampler(SOURCES, seed=1).load_state_dict(dict(state, version=99))


def test_rank_sharding_partitions_the_stream():
    single = MixtureSampler(SOURCES, seed=4).take(400)
    ranks = [MixtureSampler(SOURCES, seed=4, rank=r, world_size=3) for r in range(3)]
    parts = [r.take(100) for r in ranks]
    merged = [parts[k % 3][k // 3] for k in range(300)]
    assert merged == single[:300]
    # a sharded sampler resumes too
    state = ranks[1].state_dict()
    again = MixtureSampler(SOURCES, seed=4, rank=1, world_size=3)
    again.load_state_dict(state)
    assert again.take(20) == [single[k] for k in range(301, 361, 3)]


def test_sources_from_splits():
    srcs = sources_from_splits({"coco": {"caption": [1, 2], "detect": []}, "vqav2": {"vqa": [3]}})
    assert srcs == {source_name("caption", "coco"): [1, 2], "vqa/vqav2": [3]}
    s = MixtureSampler(srcs, seed=0)
    assert {n for n, _ in s.take(50)} == {"caption/coco", "vqa/vqav2"}
