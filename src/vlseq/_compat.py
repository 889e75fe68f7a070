"""Old import paths of modules that moved in the layered layout, kept as aliases for one release.

``import vlseq.pipeline`` still works and gives the very module object of
``vlseq.inference.pipeline`` (so a monkeypatch through either name patches both), with a
``DeprecationWarning`` naming the new path. A meta-path finder does this instead of a stub file per
old name, so the tree shows only the new layout. Remove in the release after 0.2.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

#: old module path -> new module path
MOVED: dict[str, str] = {
    "vlseq.processor": "vlseq.processing",
    "vlseq.pipeline": "vlseq.inference.pipeline",
    "vlseq.demo": "vlseq.inference.demo",
    "vlseq.evaluate": "vlseq.evaluation.evaluate",
    "vlseq.diagnostics": "vlseq.evaluation.diagnostics",
    "vlseq.render_check": "vlseq.evaluation.render_check",
    "vlseq.quickstart": "vlseq.train.quickstart",
    "vlseq.predict": "vlseq.cli.predict",
    "vlseq.image_tokenizer_cli": "vlseq.cli.image_tokenizer",
    "vlseq.train.cli": "vlseq.cli.train",
    "vlseq.models.constrain": "vlseq.decoding.constrain",
    "vlseq.models.grammar_processor": "vlseq.decoding.grammar_processor",
    "vlseq.data.readers.images": "vlseq.data.images",
}


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec) -> ModuleType:
        return importlib.import_module(self.new)

    def exec_module(self, module: ModuleType) -> None:  # already executed under its new name
        pass


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path=None, target=None):
        new = MOVED.get(fullname)
        if new is None:
            return None
        warnings.warn(f"{fullname} moved to {new}; the old path is an alias until the next release",
                      DeprecationWarning, stacklevel=2)
        return importlib.util.spec_from_loader(fullname, _AliasLoader(new))


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
