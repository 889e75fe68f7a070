"""Root of the tests: its folder is on ``sys.path``, so test modules import ``helpers``."""

from pathlib import Path

import pytest

from helpers import synth_shards


@pytest.fixture(scope="module")
def _shard_world(tmp_path_factory) -> tuple[Path, Path]:
    """A 12-scene synthetic train split and its shards (:func:`helpers.synth_shards`)."""
    return synth_shards(tmp_path_factory.mktemp("synth"))


@pytest.fixture(scope="module")
def split_dir(_shard_world) -> Path:
    return _shard_world[0]


@pytest.fixture(scope="module")
def shard_dir(_shard_world) -> Path:
    return _shard_world[1]
