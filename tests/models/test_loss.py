"""The loss: per-sample balancing and the coordinate tokens' soft targets."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vlseq.models.loss import balanced_loss, coordinate_targets

LO, N = 10, 16  # <loc_0> is id 10, 16 bins, vocabulary of 30


def test_coordinate_targets_sum_to_one_with_the_true_bin_as_mode() -> None:
    q = coordinate_targets(torch.tensor([0, 7, 15]), N, sigma=1.0)
    assert q.shape == (3, N)
    assert torch.allclose(q.sum(-1), torch.ones(3))
    assert q.argmax(-1).tolist() == [0, 7, 15]
    assert q[1, 6] == pytest.approx(q[1, 8].item()) and q[1, 6] > q[1, 5] > q[1, 3]


def test_without_sigma_it_is_per_sample_cross_entropy() -> None:
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 30)
    labels = torch.tensor([[1, 12, -100], [4, 5, 6]])
    loss, per_sample = balanced_loss(logits, labels, loc_range=(LO, N), loc_sigma=0.0)
    ce = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=-100, reduction="none")
    expect = torch.stack([ce[0, :2].mean(), ce[1].mean()])
    assert torch.allclose(per_sample, expect)
    assert loss.item() == pytest.approx(expect.mean().item(), rel=1e-6)
    # no coordinate targets in the batch: the soft path gives the same numbers
    same, _ = balanced_loss(logits, torch.tensor([[1, 2, -100], [4, 5, 6]]), loc_range=(LO, N), loc_sigma=1.0)
    plain, _ = balanced_loss(logits, torch.tensor([[1, 2, -100], [4, 5, 6]]))
    assert same.item() == pytest.approx(plain.item(), rel=1e-6)


def test_soft_targets_give_near_misses_partial_credit() -> None:
    labels = torch.tensor([[LO + 8, 3]])  # a coordinate (bin 8) then a text token

    def confident(coord_id: int) -> torch.Tensor:
        logits = torch.full((1, 2, 30), -5.0)
        logits[0, 0, coord_id] = 5.0
        logits[0, 1, 3] = 5.0
        return logits

    near, _ = balanced_loss(confident(LO + 9), labels, loc_range=(LO, N), loc_sigma=1.0)
    far, _ = balanced_loss(confident(LO + 2), labels, loc_range=(LO, N), loc_sigma=1.0)
    exact, _ = balanced_loss(confident(LO + 8), labels, loc_range=(LO, N), loc_sigma=1.0)
    assert exact < near < far
    # one-hot cross-entropy cannot tell the near miss from the far one
    near0, _ = balanced_loss(confident(LO + 9), labels)
    far0, _ = balanced_loss(confident(LO + 2), labels)
    assert near0.item() == pytest.approx(far0.item())
    # gradients reach the neighbouring bins, not only the true one
    logits = torch.zeros(1, 2, 30, requires_grad=True)
    balanced_loss(logits, labels, loc_range=(LO, N), loc_sigma=1.0)[0].backward()
    g = logits.grad[0, 0]
    assert g[LO + 7] < 0 and g[LO + 9] < 0 and g[LO + 2] > 0


def test_the_distance_term_prefers_near_misses_and_leaves_text_alone() -> None:
    labels = torch.tensor([[LO + 8, 3]])

    def at(bin_: int) -> torch.Tensor:
        logits = torch.zeros(1, 2, 30)
        logits[0, 0, LO + bin_] = 8.0
        logits[0, 1, 3] = 8.0
        return logits

    for sigma in (0.0, 2.0):
        base = [balanced_loss(at(b), labels, loc_range=(LO, N), loc_sigma=sigma)[0].item() for b in (9, 15)]
        dist = [balanced_loss(at(b), labels, loc_range=(LO, N), loc_sigma=sigma, loc_distance=1.0)[0].item() for b in (9, 15)]
        assert dist[0] - base[0] < dist[1] - base[1]  # 7 bins off costs more than 1 bin off
    text = torch.tensor([[3, 4]])
    logits = torch.randn(1, 2, 30)
    assert balanced_loss(logits, text, loc_range=(LO, N), loc_distance=1.0)[0].item() == pytest.approx(
        balanced_loss(logits, text)[0].item(), rel=1e-6)
    logits.requires_grad_(True)
    balanced_loss(logits, labels, loc_range=(LO, N), loc_sigma=0.0, loc_distance=1.0)[0].backward()
    assert torch.isfinite(logits.grad).all()
