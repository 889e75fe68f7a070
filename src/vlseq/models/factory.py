"""Build the model a config names: vlseq's own encoder-decoder or a wrapped native model.

Every model class here has the same interface as :class:`~vlseq.models.vlseq_model.VLSeqModel`
(``forward(**batch) -> {"loss", "logits", "sample_loss"}``, ``generate(...)``, ``config``,
``num_parameters()``), so training, evaluation and checkpoints do not depend on which it is.
"""

from __future__ import annotations

from torch import nn

from .config import ModelConfig


def build_model(cfg: ModelConfig) -> nn.Module:
    """A model from its config, dispatching on ``cfg.model_type``."""
    if cfg.model_type == "vlseq":
        from .vlseq_model import VLSeqModel

        return VLSeqModel(cfg)
    if cfg.model_type == "florence2":
        from .florence2 import Florence2Model

        return Florence2Model(cfg)
    raise ValueError(f"unknown model_type {cfg.model_type!r} (vlseq, florence2)")
