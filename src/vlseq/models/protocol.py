"""What training, evaluation and checkpoints need of a model, whichever class implements it.

:func:`~vlseq.models.factory.build_model` returns :class:`~vlseq.models.vlseq_model.VLSeqModel` or
:class:`~vlseq.models.florence2.Florence2Model`; code that works with either names :class:`VLModel`
rather than one of the classes, so a type hint never claims more than the interface promises.
"""

from __future__ import annotations

from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

import torch
from torch import nn

from .config import ModelConfig


@runtime_checkable
class VLModel(Protocol):
    """An encoder-decoder over images and a prompt (an ``nn.Module``) with vlseq's interface."""

    #: the architecture; a checkpoint saves it as ``config.json`` and rebuilds the model from it
    config: ModelConfig

    def __call__(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        image_mask: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Teacher-forced ``logits``; with ``labels`` also the scalar ``loss`` and the per-sample
        ``sample_loss`` (B,) that training logs per task."""
        ...

    def generate(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_mask: torch.Tensor | None = None,
        logits_processor: Sequence[Any] | None = None,
        max_new_tokens: int = 64,
        **generate_kwargs: Any,
    ) -> torch.Tensor:
        """Output ids (B * num_return_sequences, T), each row starting with the decoder start ``<s>``."""
        ...

    def num_parameters(self) -> int:
        """The number of weights (for the run's banner and reports)."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The weights, as ``nn.Module.parameters`` gives them."""
        ...

    def train(self, mode: bool = True) -> Any:
        """Switch dropout and normalisation statistics to training (``mode=True``) or evaluation."""
        ...
