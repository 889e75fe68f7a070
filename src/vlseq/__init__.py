"""vlseq: one encoder-decoder model for every image-text task.

Every output -- a caption, an answer, a class, boxes, grounded phrases, polygons -- is one
token sequence of text, coordinate tokens (``<loc_k>``) and markup (``<obj>``, ``</obj>``,
``<poly>``, ``</poly>``). See :mod:`vlseq.codec` for the sequence contract.

``from vlseq import Pipeline`` gives inference on images (:mod:`vlseq.inference.pipeline`); it is imported
on first use, so ``import vlseq`` stays light (no torch).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

#: names exported lazily: name -> module
_LAZY = {"Pipeline": "vlseq.inference.pipeline", "Result": "vlseq.inference.pipeline"}

__all__ = ["Pipeline", "Result", "__version__"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'vlseq' has no attribute {name!r}")
