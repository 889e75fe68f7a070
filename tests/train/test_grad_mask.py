"""Gradient masking: each element of a shared parameter takes the text-output gradient or the
image-output one, by a fixed mask drawn from the seed; one-sided elements take their gradient whole."""

from __future__ import annotations

import pytest
import torch

from vlseq.models.loss import balanced_loss, balanced_loss_split
from vlseq.train.grad_mask import GradientMask


def _grads(model: torch.nn.Module, loss: torch.Tensor) -> list[torch.Tensor]:
    return [g if g is not None else torch.zeros_like(p)
            for p, g in zip(model.parameters(), torch.autograd.grad(loss, list(model.parameters()), allow_unused=True))]


def test_each_element_takes_one_side_and_one_sided_elements_are_whole() -> None:
    torch.manual_seed(0)
    shared = torch.nn.Linear(6, 6)
    only_image = torch.nn.Linear(6, 1)  # read by the image loss alone
    model = torch.nn.ModuleList([shared, only_image])
    x = torch.randn(4, 6)

    def losses() -> tuple[torch.Tensor, torch.Tensor]:
        h = shared(x)
        text = h[:2].pow(2).mean()
        image = only_image(h[2:]).pow(2).mean()
        return text + image, image

    total, image = losses()
    g_text = _grads(model, total - image)
    g_image = _grads(model, losses()[1])
    mask = GradientMask(model.parameters(), text_share=0.5, seed=3)
    total, image = losses()
    mask.backward(total, image, scale=0.5)
    for p, m, gt, gi in zip(model.parameters(), mask.masks, g_text, g_image):
        assert p.grad is not None
        both = (gt != 0) & (gi != 0)
        want = torch.where(both, torch.where(m, gt, gi), gt + gi) * 0.5
        assert torch.allclose(p.grad, want, atol=1e-7)
    # the image-only head has no text gradient: it takes the image gradient whole, mask or not
    assert torch.allclose(only_image.weight.grad, g_image[2] * 0.5, atol=1e-7)
    # the shared weight really is split: some elements take each side
    m = mask.masks[0]
    assert 0 < int(m.sum()) < m.numel()
    # a second call accumulates, as backward() does over micro-batches
    before = shared.weight.grad.clone()
    total, image = losses()
    mask.backward(total, image, scale=0.5)
    assert torch.allclose(shared.weight.grad, 2 * before, atol=1e-6)


def test_the_mask_is_drawn_from_the_seed_with_the_asked_share() -> None:
    p = [torch.nn.Parameter(torch.zeros(200, 100))]
    a, b, c = GradientMask(p, 0.3, seed=1), GradientMask(p, 0.3, seed=1), GradientMask(p, 0.3, seed=2)
    assert torch.equal(a.masks[0], b.masks[0]) and not torch.equal(a.masks[0], c.masks[0])
    assert a.masks[0].float().mean().item() == pytest.approx(0.3, abs=0.01)
    with pytest.raises(ValueError, match="text_share"):
        GradientMask(p, 1.0)


def test_the_group_share_is_that_groups_part_of_the_balanced_loss() -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 10, requires_grad=True)
    labels = torch.tensor([[1, 2, -100, -100], [3, 4, 5, 6], [7, -100, -100, -100]])
    w = torch.tensor([1.0, 2.0, 0.5])
    group = torch.tensor([False, True, True])
    loss, per, share = balanced_loss_split(logits, labels, w, group)
    plain, _ = balanced_loss(logits, labels, w)
    assert torch.allclose(loss, plain)
    assert share is not None and torch.allclose(share, (per[1] * 2.0 + per[2] * 0.5) / 3.5)
    # the two parts' gradients add up to the loss's
    g_all = torch.autograd.grad(loss, logits, retain_graph=True)[0]
    g_parts = torch.autograd.grad(loss - share, logits, retain_graph=True)[0] + torch.autograd.grad(share, logits)[0]
    assert torch.allclose(g_all, g_parts, atol=1e-7)
