"""The Processor's image cache is bounded in bytes: least recently used out first, the training
config's ``data.image_cache_mb`` reaches the Processor a run builds, the old count argument still
works with a DeprecationWarning."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from vlseq.processing import DEFAULT_IMAGE_CACHE_BYTES, ByteLRU, Processor, image_cache_bytes
from vlseq.tokenizer import VLTokenizer
from vlseq.train.config import load_config

SIDE = 16
IMAGE_BYTES = SIDE * SIDE * 3


@pytest.fixture(scope="module")
def tok() -> VLTokenizer:
    return VLTokenizer.train(["a red square"], num_bins=8)


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    root = tmp_path_factory.mktemp("pics")
    out = []
    for i in range(4):
        p = root / f"{i}.png"
        Image.new("RGB", (40, 30), (60 * i, 20, 200)).save(p)
        out.append(p)
    return out


def test_the_lru_evicts_by_bytes_oldest_first() -> None:
    lru = ByteLRU(250)
    lru.put("a", "A", 100)
    lru.put("b", "B", 100)
    assert lru.get("a") == "A"  # now the most recent: b is the oldest
    lru.put("c", "C", 100)
    assert "b" not in lru and "a" in lru and "c" in lru and lru.nbytes == 200
    lru.put("small", "S", 40)  # fits beside a and c
    assert len(lru) == 3 and lru.nbytes == 240
    lru.put("a", "A2", 150)  # replacing a value counts its new size only
    assert lru.get("a") == "A2" and lru.nbytes <= 250 and "c" not in lru
    lru.put("huge", "H", 251)  # larger than the whole budget: not kept, nothing evicted for it
    assert "huge" not in lru and lru.get("a") == "A2"
    off = ByteLRU(0)
    off.put("a", "A", 1)
    assert len(off) == 0 and off.get("a") is None


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "2GB", True])
def test_a_bad_budget_is_a_clear_error(bad) -> None:
    with pytest.raises(ValueError, match="must be a number of bytes >= 0"):
        ByteLRU(bad)
    with pytest.raises(ValueError, match="'data.image_cache_mb' must be a number of MiB >= 0"):
        image_cache_bytes(bad)


def test_the_processor_keeps_as_many_images_as_the_bytes_allow(tok: VLTokenizer, pictures: list[Path]) -> None:
    proc = Processor(tok, SIDE, 8, cache_bytes=2 * IMAGE_BYTES)
    first = proc.image_array(pictures[0])
    assert first.shape == (SIDE, SIDE, 3) and proc.image_array(pictures[0]) is first  # a hit
    for p in pictures[1:]:
        proc.image_array(p)
    assert len(proc._cache) == 2 and proc._cache.nbytes == 2 * IMAGE_BYTES
    assert str(pictures[0]) not in proc._cache and str(pictures[3]) in proc._cache
    assert proc.image_array(pictures[0]) is not first  # evicted: decoded again, same pixels
    assert np.array_equal(proc.image_array(pictures[0]), first)
    off = Processor(tok, SIDE, 8, cache_bytes=0)
    off.image_array(pictures[0])
    assert len(off._cache) == 0
    assert Processor(tok, SIDE, 8)._cache.max_bytes == DEFAULT_IMAGE_CACHE_BYTES == 2 * 1024**3


def test_the_old_count_argument_is_read_as_images_of_this_size(tok: VLTokenizer) -> None:
    with pytest.warns(DeprecationWarning, match="cache_images=N\\) is deprecated.*cache_bytes"):
        proc = Processor(tok, SIDE, 8, cache_images=3)
    assert proc._cache.max_bytes == 3 * IMAGE_BYTES
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Processor(tok, SIDE, 8, cache_bytes=0)  # the new argument warns of nothing


def test_a_training_run_builds_its_processor_with_the_configs_budget(tok: VLTokenizer) -> None:
    from vlseq.train.loop import Trainer

    cfg = load_config("debug", ["data.image_cache_mb=1.5"])
    assert load_config("debug").data.image_cache_mb == 2048
    proc = Trainer._build_processor(SimpleNamespace(cfg=cfg, tokenizer=tok, image_tokenizer=None))
    assert proc._cache.max_bytes == int(1.5 * 2**20)
    bad = load_config("debug", ["data.image_cache_mb=-1"])
    with pytest.raises(ValueError, match="'data.image_cache_mb' must be a number of MiB >= 0"):
        Trainer._build_processor(SimpleNamespace(cfg=bad, tokenizer=tok, image_tokenizer=None))
