"""Old import paths of moved modules stay importable for one release, as the very same modules."""

from __future__ import annotations

import importlib
import sys
import warnings

import pytest

from vlseq._compat import MOVED


@pytest.mark.parametrize("old,new", sorted(MOVED.items()))
def test_old_path_is_the_new_module(old: str, new: str) -> None:
    sys.modules.pop(old, None)  # the alias warns on import: import it afresh
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mod = importlib.import_module(old)
    assert mod is importlib.import_module(new)
    assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught)


def test_monkeypatch_through_the_old_path_patches_the_new_module(monkeypatch) -> None:
    import vlseq.evaluation.render_check as new

    old = importlib.import_module("vlseq.render_check")
    monkeypatch.setattr(old, "CHECK_KEYS", ("x",))
    assert new.CHECK_KEYS == ("x",)


def test_public_entry_points_are_unchanged() -> None:
    from vlseq import Pipeline, Result
    from vlseq.cli import COMMANDS, main

    assert Pipeline.__module__ == "vlseq.inference.pipeline" and Result.__module__ == "vlseq.inference.pipeline"
    assert callable(main)
    assert set(COMMANDS) == {"codec-demo", "synth", "train", "eval", "quickstart", "predict", "demo", "shard", "data",
                             "train-image-tokenizer"}
    for module, _ in COMMANDS.values():
        assert callable(importlib.import_module(module).main)
