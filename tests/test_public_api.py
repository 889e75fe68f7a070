"""The public entry points: what a user imports and runs."""

from __future__ import annotations

import importlib

import pytest


def test_public_entry_points_are_unchanged() -> None:
    from vlseq import Pipeline, Result
    from vlseq.cli import COMMANDS, main

    assert Pipeline.__module__ == "vlseq.inference.pipeline" and Result.__module__ == "vlseq.inference.pipeline"
    assert callable(main)
    assert set(COMMANDS) == {"codec-demo", "synth", "train", "eval", "quickstart", "predict", "demo", "shard", "data",
                             "train-image-tokenizer"}
    for module, _ in COMMANDS.values():
        assert callable(importlib.import_module(module).main)


@pytest.mark.parametrize("old", ["vlseq.pipeline", "vlseq.processor", "vlseq.quickstart", "vlseq.models.constrain"])
def test_old_module_paths_are_gone(old: str) -> None:
    """The aliases of moved modules were removed in 0.2 (CHANGELOG.md): no import hook is installed."""
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
