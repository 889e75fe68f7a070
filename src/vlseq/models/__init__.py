"""Models: the vision tower + encoder-decoder (or Florence-2), the pointer head, the loss, the VQ
image tokenizer, checkpoint I/O. Nothing here knows a task name."""

from __future__ import annotations

from typing import Any

from .config import ModelConfig, VisionConfig
from .io import from_pretrained, save_pretrained
from .vlseq_model import VLSeqModel

__all__ = ["ModelConfig", "VisionConfig", "VLSeqModel", "from_pretrained", "save_pretrained"]


def __getattr__(name: str) -> Any:
    # moved to vlseq.decoding (the grammar is decoding, not the model); an alias for one release
    if name == "GrammarLogitsProcessor":
        import importlib
        import warnings

        warnings.warn("vlseq.models.GrammarLogitsProcessor moved to vlseq.decoding.grammar_processor",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module("vlseq.decoding.grammar_processor").GrammarLogitsProcessor
    raise AttributeError(f"module 'vlseq.models' has no attribute {name!r}")
