"""The one loss: next-token cross-entropy, balanced per sample, with soft targets for coordinates."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def coordinate_targets(bins: torch.Tensor, num_bins: int, sigma: float) -> torch.Tensor:
    """Soft targets over the coordinate tokens: a discretised Gaussian around each true bin.

    Args:
        bins: (...) long, the true bin of each position in ``[0, num_bins)``.
    Returns:
        (..., num_bins) float, each row summing to 1.

    Plain cross-entropy treats ``<loc_40>`` for a true ``<loc_41>`` as wrong as ``<loc_3>``;
    a Gaussian target (SimCC's label smoothing, the idea behind GFL's distribution loss) gives
    near misses partial credit, so the coordinate classes learn their order from the first steps.
    Its mode is the true bin, so greedy decoding's target is unchanged.
    """
    grid = torch.arange(num_bins, device=bins.device, dtype=torch.float32)
    q = torch.exp(-0.5 * ((grid - bins[..., None].float()) / sigma) ** 2)
    return q / q.sum(-1, keepdim=True)


def balanced_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    sample_weight: torch.Tensor | None = None,
    loc_range: tuple[int, int] | None = None,
    loc_sigma: float = 0.0,
    loc_distance: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy averaged over each sample's tokens first, then over samples.

    Args:
        logits: (B, T, V); labels: (B, T) with -100 where ignored; sample_weight: (B,) or None.
        loc_range: ``(id of <loc_0>, number of bins)``; with ``loc_sigma > 0`` (in bins), target
            coordinate tokens get :func:`coordinate_targets` instead of a one-hot target.
        loc_distance: weight of a distance term on coordinate targets: the expected distance, in
            bins, between the coordinate distribution and the true bin (the 1-Wasserstein distance
            to a point mass). Cross-entropy gives a guess 30 bins off the same gradient as one 3
            bins off; this term pulls probability towards the true bin from however far away.
    Returns:
        (loss scalar, per-sample loss (B,) detached).

    A one-token VQA answer thus weighs as much as a 40-token object list; with the usual
    token average, short-output tasks get a few percent of the gradient and stall.
    """
    loss, per_sample, _ = balanced_loss_split(logits, labels, sample_weight, None, loc_range, loc_sigma, loc_distance)
    return loss, per_sample


def balanced_loss_split(
    logits: torch.Tensor,
    labels: torch.Tensor,
    sample_weight: torch.Tensor | None,
    group: torch.Tensor | None,
    loc_range: tuple[int, int] | None = None,
    loc_sigma: float = 0.0,
    loc_distance: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """:func:`balanced_loss` and the part of it that the samples of ``group`` (B,) bool contribute.

    Returns (loss, per-sample loss (B,) detached, share) with ``share`` the scalar
    ``sum_{i in group} w_i l_i / sum_i w_i`` (with autograd; None without ``group``), so that
    ``loss - share`` and ``share`` are the two groups' terms of the one loss and their gradients
    add up to the loss's. Gradient masking between output families takes the two apart.
    """
    if loc_range is None or loc_sigma <= 0:
        tok = F.cross_entropy(logits.transpose(1, 2).float(), labels, ignore_index=-100, reduction="none")
    else:
        lo, n = loc_range
        logp = F.log_softmax(logits.float(), dim=-1)  # (B, T, V)
        tok = -logp.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)  # (B, T)
        is_loc = coordinate_mask(labels, lo, n)
        # computed for every position and selected: cheaper than a host sync on is_loc.any()
        q = coordinate_targets((labels - lo).clamp(0, n - 1), n, loc_sigma)  # (B, T, n)
        soft = -(q * logp[..., lo:lo + n]).sum(-1)
        tok = torch.where(is_loc, soft, tok)
    if loc_range is not None and loc_distance > 0:
        tok = tok + loc_distance * _expected_distance(logits, labels, *loc_range)
    valid = (labels != -100).float()
    tok = tok * valid
    per_sample = tok.sum(1) / valid.sum(1).clamp(min=1.0)
    w = sample_weight if sample_weight is not None else torch.ones_like(per_sample)
    total = w.sum().clamp(min=1e-8)
    share = None if group is None else (per_sample * w * group.to(w.dtype)).sum() / total
    return (per_sample * w).sum() / total, per_sample.detach(), share


def coordinate_mask(ids: torch.Tensor, lo: int, n: int) -> torch.Tensor:
    """(B, T) bool: the ids that are coordinate tokens ``<loc_0>`` (id ``lo``) .. ``<loc_{n-1}>``."""
    return (ids >= lo) & (ids < lo + n)


def _expected_distance(logits: torch.Tensor, labels: torch.Tensor, lo: int, n: int) -> torch.Tensor:
    """(B, T): ``E_k~p |k - true|`` in units of ``n / 8`` bins at coordinate targets (p: the softmax over the
    coordinate tokens alone), 0 elsewhere. The unit keeps the term's scale that of a cross-entropy."""
    is_loc = coordinate_mask(labels, lo, n)
    p = torch.softmax(logits[..., lo:lo + n].float(), dim=-1)  # (B, T, n)
    grid = torch.arange(n, device=logits.device, dtype=torch.float32)
    dist = (grid - (labels - lo).clamp(0, n - 1)[..., None].float()).abs() / (n / 8)
    return torch.where(is_loc, (p * dist).sum(-1), torch.zeros_like(dist[..., 0]))


def cell_identity_loss(hidden: torch.Tensor, cells: torch.Tensor, cell_token: torch.Tensor, embeddings: torch.Tensor,
                       cell_weight: torch.Tensor | None = None, head: torch.nn.Module | None = None) -> torch.Tensor:
    """Cross-entropy of the tokens that name each described object, read through the tied output
    head from the encoder's output at the cell that holds the object's centre.

    Args:
        hidden: (B, N, d) encoder outputs, the first image's h*w cells first.
        cells: (B, K) long, the index in ``hidden`` of the cell that holds each object's centre.
        cell_token: (B, K) or (B, K, W) the tokens naming each object (its label's first token, or
            one per content word of its description), -100 for padding.
        embeddings: (V, d) the tied token embeddings. cell_weight: (B, K) per-object weights or None.
        head: a map applied to each cell before it is read (``model.cell_head``), or None.
    Returns:
        () the mean over the batch's (object, token) pairs (0 when it has none).

    Why: a plain CNN with this stem, trained on the world's labels at each object's cell, names
    its objects at 0.93 after 450 steps (``experiments/identity_peer.py``), while the unified
    model, trained on sequences alone, named them at 0.63 after 1,688 steps. The sequence loss
    reaches what a cell says only through the decoder's cross-attention, mostly as where things
    are; this puts the label at the cell itself, in the embedding space the decoder reads and
    writes (the tied head), so the decoder can copy it from there.
    """
    if cell_token.dim() == 2:
        cell_token = cell_token[..., None]
    pairs = cell_token >= 0  # (B, K, W)
    if not bool(pairs.any()):
        return hidden.new_zeros(())
    dev = hidden.device
    objects = pairs.any(-1).to(dev)  # (B, K)
    feats = hidden.gather(1, cells.to(dev)[..., None].expand(-1, -1, hidden.shape[-1]))[objects]  # (n, d)
    # The softmax runs over the batch's naming tokens alone: over the whole vocabulary it also
    # pushed each cell away from every other word, colour words included, and the colour a
    # cell carried was lost (VQA colour 0.65 -> 0.24 at 600 steps in the screen, BENCHMARKS.md).
    tokens = cell_token.to(dev)[objects]  # (n, W)
    classes = torch.unique(tokens[tokens >= 0])  # (C,)
    if head is not None:
        feats = head(feats)
    logits = feats @ embeddings[classes].t()  # (n, C)
    # One softmax per (object, token) pair, with the object's other tokens left out: "red" and
    # "circle" both name the same cell and must not compete (n, W, C).
    named = (tokens[..., None] == classes).any(1)  # (n, C): the object's own tokens
    obj, slot = (tokens >= 0).nonzero(as_tuple=True)  # (P,), (P,)
    target = torch.searchsorted(classes, tokens[obj, slot])  # (P,)
    others = named[obj].clone()
    others[torch.arange(len(obj), device=dev), target] = False
    loss = F.cross_entropy(logits[obj].masked_fill(others, float("-inf")), target, reduction="none")  # (P,)
    if cell_weight is None:
        return loss.mean()
    w = cell_weight.to(dev)[objects][obj]  # (P,)
    return (loss * w).sum() / w.sum().clamp_min(1e-8)
