"""Gradient masking between the text-output and the image-output losses.

A model that writes both text (words, coordinates) and image codes shares every parameter between
the two kinds of output, and their gradients pull the shared weights two ways. Gradient masking
(Li et al., 2021, "Towards a Unified Foundation Model", for jointly trained image and text losses)
gives each element of each shared parameter to one of the two losses:

    G = M * G_txt + (1 - M) * G_img

with ``M`` a fixed binary mask per parameter. Here ``M`` is drawn once, element by element, with
``P(M = 1) = text_share``, from the run's seed, so a resumed run draws the same mask. Where one of
the two gradients is exactly zero (a parameter, or an embedding row, that only one kind of output
uses) the other is taken whole: the mask divides shared weights, it does not halve the learning
rate of weights that only one side reads.

The trainer decides which samples are image outputs (it knows their tasks); the model only sees a
boolean ``loss_group`` and returns the group's share of its loss. Costs a second backward pass
through the graph in every micro-batch that holds both kinds of sample.

Masking acts within a micro-batch: one that holds only one kind of sample has only one gradient,
which every element takes whole. With ``group_by="images"`` (batches of one image count), text-to-
image generation (no input image) is mostly batched apart from the rest and so goes unmasked;
``group_pool=0`` (batches as drawn) mixes them.
"""

from __future__ import annotations

from typing import Iterable

import torch


class GradientMask:
    """Writes ``M * grad(loss_txt) + (1 - M) * grad(loss_img)`` into the parameters' ``.grad``.

    Args:
        params: the model's parameters (those without ``requires_grad`` are left alone).
        text_share: ``P(M = 1)``, the share of each shared parameter's elements that the text-output
            loss updates; in (0, 1).
        seed: seeds the mask's generator.
    """

    def __init__(self, params: Iterable[torch.nn.Parameter], text_share: float, seed: int = 0) -> None:
        if not 0.0 < text_share < 1.0:
            raise ValueError(f"gradient mask text_share must be in (0, 1), got {text_share}")
        self.params = [p for p in params if p.requires_grad]
        gen = torch.Generator().manual_seed(seed)
        # drawn on the CPU (one generator, one order: the same mask on every device), then moved
        self.masks = [(torch.rand(p.shape, generator=gen) < text_share).to(p.device) for p in self.params]

    def backward(self, loss: torch.Tensor, image_share: torch.Tensor, scale: float = 1.0) -> None:
        """Accumulate the masked gradient of ``loss * scale`` (a scalar) into ``.grad``.

        ``image_share``: the part of ``loss`` made by image-output samples (the model's
        ``loss_group_share``); ``loss - image_share`` is the text side's, auxiliary losses included.
        """
        text = torch.autograd.grad((loss - image_share) * scale, self.params, retain_graph=True, allow_unused=True)
        image = torch.autograd.grad(image_share * scale, self.params, allow_unused=True)
        with torch.no_grad():
            for p, m, gt, gi in zip(self.params, self.masks, text, image):
                if gt is None and gi is None:
                    continue
                if gt is None or gi is None:
                    g = gi if gt is None else gt
                else:
                    g = torch.where(m, gt, gi)
                    g = torch.where(gi == 0, gt, torch.where(gt == 0, gi, g))  # one-sided elements: whole
                if p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.add_(g)
