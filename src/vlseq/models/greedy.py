"""Greedy decoding of the model's BART decoder by hand: a static cache and one lean step per token.

transformers' ``generate()`` is general (beams, sampling, every cache class, stopping criteria),
and at vlseq's sizes its bookkeeping costs more than the model: a ``tiny`` decode step is about
2 M multiply-adds, a few tens of microseconds of arithmetic, inside milliseconds of Python around
it (mask building, cache objects, output dataclasses, the processors list). A first loop that
still went through the model's own forward and cache was level with ``generate()``, so this one
replaces the forward too. Per generation it:

- takes the encoder's outputs as computed once by :meth:`VLSeqModel.generate`;
- projects every decoder layer's cross-attention keys and values once, not per token;
- keeps the self-attention keys and values in one preallocated buffer per layer (a static cache,
  written in place at each step, never grown by concatenation);
- runs the self-attention's query, key and value as one matmul (the three weights concatenated);
- applies the logits processors exactly as ``generate()`` would (``min_new_tokens`` first, then
  the caller's, for example the grammar) and stops rows at ``</s>`` the same way;
- asks the grammar for its mask before the output head, and leaves out the pointer head's term
  (which only moves coordinate logits) at steps where the grammar allows no row a coordinate.

Its outputs are token for token those of ``generate()`` with the same processors
(``tests/models/test_greedy.py``). It serves greedy decoding only; beam search and sampling stay
with ``generate()``. BART (post-LN) and mBART (pre-LN) layers are both written out, since the step
calls their sub-modules directly.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .pointer import PointerHead


class _Layer:
    """One decoder layer's weights, arranged for a one-token step, and its caches.

    ``k_self``/``v_self``: (B, H, T, hd) preallocated; ``k_cross``/``v_cross``: (B, H, N, hd).
    """

    def __init__(self, layer: nn.Module, enc: torch.Tensor, batch: int, steps: int) -> None:
        sa, ca = layer.self_attn, layer.encoder_attn
        self.layer, self.heads, self.hd = layer, sa.num_heads, sa.head_dim
        self.qkv_w = torch.cat([sa.q_proj.weight, sa.k_proj.weight, sa.v_proj.weight])  # (3d, d)
        self.qkv_b = torch.cat([sa.q_proj.bias, sa.k_proj.bias, sa.v_proj.bias])  # (3d,)
        self.scaling = sa.scaling
        b, n = enc.shape[:2]
        self.k_cross = self._heads(ca.k_proj(enc))  # (B, H, N, hd)
        self.v_cross = self._heads(ca.v_proj(enc))
        shape = (batch, self.heads, steps, self.hd)
        self.k_self = enc.new_zeros(shape)
        self.v_self = enc.new_zeros(shape)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, d) -> (B, H, T, hd)."""
        return x.view(x.shape[0], x.shape[1], self.heads, self.hd).transpose(1, 2)

    def self_attention(self, x: torch.Tensor, t: int) -> torch.Tensor:
        """(B, 1, d) at step ``t`` -> (B, 1, d); writes this step's key and value into the cache."""
        sa = self.layer.self_attn
        q, k, v = F.linear(x, self.qkv_w, self.qkv_b).chunk(3, dim=-1)
        self.k_self[:, :, t : t + 1] = self._heads(k)
        self.v_self[:, :, t : t + 1] = self._heads(v)
        out = F.scaled_dot_product_attention(self._heads(q), self.k_self[:, :, : t + 1], self.v_self[:, :, : t + 1],
                                             scale=self.scaling)
        return sa.out_proj(out.transpose(1, 2).reshape(x.shape))

    def cross_attention(self, x: torch.Tensor, enc_mask: torch.Tensor | None) -> torch.Tensor:
        """(B, 1, d) -> (B, 1, d) over the encoder outputs; ``enc_mask`` (B, 1, 1, N) bool or None."""
        ca = self.layer.encoder_attn
        q = self._heads(ca.q_proj(x))
        out = F.scaled_dot_product_attention(q, self.k_cross, self.v_cross, attn_mask=enc_mask, scale=self.scaling)
        return ca.out_proj(out.transpose(1, 2).reshape(x.shape))

    def __call__(self, x: torch.Tensor, t: int, enc_mask: torch.Tensor | None, pre_ln: bool) -> torch.Tensor:
        ly = self.layer
        if pre_ln:  # mBART: a LayerNorm before each sublayer
            x = x + self.self_attention(ly.self_attn_layer_norm(x), t)
            x = x + self.cross_attention(ly.encoder_attn_layer_norm(x), enc_mask)
            return x + ly.fc2(ly.activation_fn(ly.fc1(ly.final_layer_norm(x))))
        x = ly.self_attn_layer_norm(x + self.self_attention(x, t))
        x = ly.encoder_attn_layer_norm(x + self.cross_attention(x, enc_mask))
        return ly.final_layer_norm(x + ly.fc2(ly.activation_fn(ly.fc1(x))))


@torch.no_grad()
def greedy_decode(lm: nn.Module, enc: torch.Tensor, enc_mask: torch.Tensor, start_id: int, eos_id: int, pad_id: int,
                  max_new_tokens: int, processors: Sequence[Any] = (), min_new_tokens: int = 0,
                  on_token: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
    """Greedy decoding of a transformers BART / mBART ``ForConditionalGeneration`` model.

    Args:
        lm: the model (its decoder, ``lm_head`` and ``final_logits_bias`` are used; a pointer head
            must already be attached to the image cells by the caller).
        enc: (B, N, d) encoder outputs; enc_mask: (B, N) 1 for real tokens.
        processors: logits processors called as ``proc(ids (B, t), scores (B, V)) -> scores``; one
            with ``banned(ids, V) -> np.ndarray`` and ``apply(scores, banned)`` (the grammar) is
            asked for its mask before the step's logits.
        min_new_tokens: ``</s>`` is banned before this many new tokens, as ``generate()``'s option.
        on_token: called with each step's input ids (B, 1) before the layers run (the step calls
            the layers, not the decoder's forward, so its pre-hooks would not see them): the
            modality experts' router.
    Returns:
        (B, 1 + n) ids, the start token first; rows that ended early are padded with ``pad_id``.
    """
    decoder = lm.get_decoder()
    pre_ln = getattr(decoder, "layer_norm", None) is not None
    b = enc.shape[0]
    layers = [_Layer(ly, enc, b, max_new_tokens) for ly in decoder.layers]
    keep = enc_mask.bool()
    mask = None if bool(keep.all()) else keep[:, None, None, :]  # (B, 1, 1, N)
    pos = decoder.embed_positions
    bias = getattr(lm, "final_logits_bias", None)
    head = lm.lm_head
    vocab = head.weight.shape[0]  # the logits' columns
    # the pointer's term moves only the coordinate logits
    loc = slice(head.loc_offset, head.loc_offset + head.num_bins) if isinstance(head, PointerHead) else None
    # every row's ids, the start token first, written in place like the caches
    ids = torch.full((b, 1 + max_new_tokens), pad_id, dtype=torch.long, device=enc.device)
    ids[:, 0] = start_id
    alive = torch.ones(b, dtype=torch.bool, device=enc.device)
    n = 1
    for t in range(max_new_tokens):
        seq = ids[:, :n]  # (B, t + 1): the prefix so far
        if on_token is not None:
            on_token(seq[:, -1:])
        x = decoder.embed_tokens(seq[:, -1:]) + pos.weight[t + pos.offset]  # (B, 1, d)
        x = decoder.layernorm_embedding(x)
        for layer in layers:
            x = layer(x, t, mask, pre_ln)
        if pre_ln:
            x = decoder.layer_norm(x)
        # The grammar's masks depend on the prefixes alone: asked first, they say whether any row
        # may write a coordinate at all. Where none may, the pointer's term (only on coordinate
        # logits, which the mask sets to -inf) is skipped: same tokens, less work per step.
        masks = {i: proc.banned(seq, vocab) for i, proc in enumerate(processors) if hasattr(proc, "banned")}
        if loc is not None and any(m[:, loc].all() for m in masks.values()):
            logits = F.linear(x, head.weight)[:, -1].float()  # the head's plain tied logits
        else:
            logits = head(x)[:, -1].float()  # (B, V)
        if bias is not None:
            logits = logits + bias.to(logits.dtype)
        if t < min_new_tokens:
            logits[:, eos_id] = float("-inf")
        for i, proc in enumerate(processors):
            logits = proc.apply(logits, masks[i]) if i in masks else proc(seq, logits)
        nxt = logits.argmax(dim=-1)
        nxt = torch.where(alive, nxt, torch.full_like(nxt, pad_id))  # an ended row writes padding
        ids[:, n] = nxt
        n += 1
        alive = alive & (nxt != eos_id)
        if not bool(alive.any()):
            break
    return ids[:, :n]
