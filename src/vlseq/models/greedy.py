"""Greedy decoding of an encoder-decoder in a plain loop, token for token what transformers'
``generate()`` gives with ``num_beams=1, do_sample=False``.

Why by hand: at vlseq's sizes a decode step costs more in ``generate()``'s per-step bookkeeping
(input preparation, cache and keyword updates, stopping criteria, the processor list) than in
FLOPs: a ``tiny`` step is about a million multiply-adds per row. The loop keeps only what greedy
decoding needs: the encoder's outputs and the cross-attention keys and values are computed once
(the language model's own cache keeps them after the first step), each step feeds one token,
the logits processors run as ``generate()`` runs them, and the loop stops when every row has
written ``</s>``. Beam search, sampling and any other ``generate()`` option keep going through
``generate()`` (:meth:`vlseq.models.vlseq_model.VLSeqModel.generate`).
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from transformers.modeling_outputs import BaseModelOutput


@torch.no_grad()
def greedy_decode(lm: Any, encoder_outputs: BaseModelOutput, attention_mask: torch.Tensor, *, start_id: int,
                  eos_id: int, pad_id: int, max_new_tokens: int,
                  logits_processor: Sequence[Any] = ()) -> torch.Tensor:
    """Greedy decoding of the transformers encoder-decoder ``lm`` from its encoder's outputs.

    Args:
        encoder_outputs: ``last_hidden_state`` (B, L, d); attention_mask: (B, L) of the encoder inputs.
        start_id / eos_id / pad_id: the decoder start token, the end token, and what a finished
            row writes after its end.
        logits_processor: callables ``(ids (B, t), scores (B, V)) -> scores``, applied in order to
            each step's float32 logits, as ``generate()`` applies its ``logits_processor``.
    Returns:
        (B, 1 + n) ids, the start token first; ``n <= max_new_tokens``, and rows that ended early
        padded with ``pad_id``, as ``generate()`` returns them.
    """
    b = attention_mask.shape[0]
    device = attention_mask.device
    ids = torch.full((b, 1), start_id, dtype=torch.long, device=device)
    unfinished = torch.ones(b, dtype=torch.bool, device=device)
    cache = None
    for _ in range(max_new_tokens):
        out = lm(encoder_outputs=encoder_outputs, attention_mask=attention_mask, decoder_input_ids=ids[:, -1:],
                 cache=cache, use_cache=True)
        cache = out.cache
        scores = out.logits[:, -1, :].to(dtype=torch.float32, copy=True)  # (B, V)
        for proc in logits_processor:
            scores = proc(ids, scores)
        nxt = scores.argmax(dim=-1)
        nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad_id))
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        unfinished &= nxt != eos_id
        if not bool(unfinished.any()):
            break
    return ids
