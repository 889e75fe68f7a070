"""Modality experts: partly shared decoder parameters, chosen by the kind of token a position reads.

Every output family of vlseq is written with one of three kinds of token: words and markup
(captions, answers, labels, ``<obj>``), coordinates (``<loc_k>``: boxes, polygons, keypoints) and
image codes (``<img_k>``: generated and edited images). With ``model.modality_experts = r`` each
feed-forward linear of every decoder layer (``fc1`` and ``fc2``) gets, beside its shared weight, one
rank-``r`` term per kind of token::

    y = W x + b + U_m D_m x,      m = kind of the decoder input token at this position

(``D_m``: (r, in), ``U_m``: (out, r), ``U_m`` zero at the start so the model begins as the shared
one). This is the seed's "partially-shared parameters": a mixture of modality experts in the sense
of VLMo / BEiT-3, where the route is the token's modality, not a learned gate, and a low-rank
adapter per family (at ``r = 8``: 61,440 parameters with three kinds of token, 3.5% of the `all`
preset's model; 40,960 with two).

The route is read from the token ids alone (the token each position reads, known at training from
teacher forcing and at generation from the prefix), so the model still never sees a task's name,
and a caption that contains a box uses the coordinate expert exactly where it writes the box.

Why by hand: no library here adds token-routed low-rank terms to a transformers model (peft's LoRA
adds one term per layer for every token alike).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

#: The kinds of token, in the order of the experts.
MODALITIES = ("text", "coordinate", "image")


class TokenRouter:
    """Maps decoder input ids to their kind and holds the route of the current forward.

    ``route`` is (B, T) long, one of :data:`MODALITIES`' indices per position, set by :meth:`set`
    before the decoder's layers run (a forward pre-hook on the decoder, or the hand-written greedy
    step); the experts' linears read it.
    """

    def __init__(self, loc_offset: int, num_bins: int, img_offset: int = -1, num_image_tokens: int = 0) -> None:
        if loc_offset < 0:
            raise ValueError("model.modality_experts needs the coordinate token ids (ModelConfig.fill_from_tokenizer)")
        if num_image_tokens and img_offset < 0:
            raise ValueError("model.modality_experts needs the image token ids (ModelConfig.fill_from_tokenizer)")
        self.loc = (loc_offset, loc_offset + num_bins)
        self.img = (img_offset, img_offset + num_image_tokens) if num_image_tokens else None
        self.num_experts = 3 if self.img else 2
        self.route: torch.Tensor | None = None

    def kinds(self, ids: torch.Tensor) -> torch.Tensor:
        """(B, T) token ids -> (B, T) long: 0 text, 1 coordinate, 2 image code."""
        kind = ((ids >= self.loc[0]) & (ids < self.loc[1])).long()
        if self.img is not None:
            kind = torch.where((ids >= self.img[0]) & (ids < self.img[1]), 2, kind)
        return kind

    def set(self, ids: torch.Tensor) -> None:
        """Route the next decoder forward by ``ids`` (B, T), the tokens its positions read."""
        self.route = self.kinds(ids)

    def decoder_pre_hook(self, _module: nn.Module, args: tuple, kwargs: dict) -> None:
        """``register_forward_pre_hook(..., with_kwargs=True)`` on a transformers decoder: routes by
        its ``input_ids`` (training, scoring and ``generate()``, cached or not)."""
        ids = kwargs.get("input_ids", args[0] if args else None)
        if ids is None:
            raise ValueError("model.modality_experts routes by token ids: the decoder was called with embeddings only")
        self.set(ids)


class RoutedLinear(nn.Linear):
    """A linear layer plus one low-rank term per kind of token (see the module docstring).

    Keeps the wrapped layer's ``weight`` and ``bias`` parameters under their own names, so a
    shared checkpoint's keys stay what they were; the experts add ``down`` (E*r, in) and ``up``
    (out, E*r).
    """

    def __init__(self, base: nn.Linear, router: TokenRouter, rank: int) -> None:
        nn.Module.__init__(self)
        self.in_features, self.out_features = base.in_features, base.out_features
        self.weight, self.bias = base.weight, base.bias
        self.router, self.rank = router, rank
        e = router.num_experts
        w = base.weight
        # D_m as a linear layer's init (Kaiming-uniform's std is about in**-0.5 / sqrt(3)); U_m zero.
        self.down = nn.Parameter(torch.randn(e * rank, self.in_features, dtype=w.dtype, device=w.device)
                                 * self.in_features ** -0.5)
        self.up = nn.Parameter(torch.zeros(self.out_features, e * rank, dtype=w.dtype, device=w.device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, in) -> (B, T, out); the route (B, T) must match the first two dimensions."""
        route = self.router.route
        if route is None or route.shape != x.shape[:2]:
            raise RuntimeError(f"modality experts: route {None if route is None else tuple(route.shape)} "
                               f"does not match the input {tuple(x.shape[:2])}")
        e, r = self.router.num_experts, self.rank
        low = F.linear(x, self.down).view(*x.shape[:2], e, r)  # (B, T, E, r): every expert's projection
        pick = F.one_hot(route.to(x.device), e).to(x.dtype)[..., None]  # (B, T, E, 1)
        # Zero the projections of the experts a position is not routed to, so one matmul with all
        # of U applies only its own: cheaper than a gather of (out, r) blocks per position.
        return F.linear(x, self.weight, self.bias) + F.linear((low * pick).flatten(2), self.up)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, experts={self.router.num_experts}, rank={self.rank}"


def install_modality_experts(decoder: nn.Module, router: TokenRouter, rank: int) -> list[RoutedLinear]:
    """Replace ``fc1`` and ``fc2`` of each of ``decoder.layers`` by :class:`RoutedLinear` and
    route the decoder's forwards by their input ids. Returns the new linears."""
    made = []
    for layer in decoder.layers:
        for name in ("fc1", "fc2"):
            lin = RoutedLinear(getattr(layer, name), router, rank)
            setattr(layer, name, lin)
            made.append(lin)
    decoder.register_forward_pre_hook(router.decoder_pre_hook, with_kwargs=True)
    return made
