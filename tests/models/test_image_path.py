"""What the decoder can read of an image: an object's colour, linearly, at its cell of the encoder output.

Detection once named shapes at chance while finding every object, and colour words were guesses:
linear probes (``experiments/shape_probe.py``) found the encoder's output at an object's cell
carrying neither its colour nor most of its shape, even at initialisation. The decoder's
cross-attention and the pointer read exactly those outputs. This checks the ``tiny`` preset's model
at initialisation on coloured squares: a linear probe must tell eight colours apart from the
encoder's output at the square's cell. The model as it was before the two skips (``vision.stem_skip``
and ``encoder_skip`` off) fails it, at chance (the test's second half).
"""

from __future__ import annotations

import dataclasses

import torch

from vlseq.models.vlseq_model import VLSeqModel
from vlseq.train.config import load_config

COLOURS = torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [1, .5, 0]])


def _squares(n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(n, 1, 3, 64, 64) images in [-1, 1] of one 10 px square on grey, its colour index, its cell."""
    pix = torch.zeros(n, 1, 3, 64, 64)
    colour = torch.randint(0, len(COLOURS), (n,), generator=gen)
    cell = torch.randint(0, 8, (n, 2), generator=gen)
    for i in range(n):
        y, x = cell[i] * 8 - 1
        pix[i, 0, :, max(y, 0) : y + 10, max(x, 0) : x + 10] = COLOURS[colour[i]][:, None, None] * 2 - 1
    return pix, colour, cell


def _probe_accuracy(model: VLSeqModel, gen: torch.Generator) -> float:
    model.eval()
    feats, labels = [], []
    with torch.no_grad():
        for _ in range(2):
            pix, colour, cell = _squares(192, gen)
            ids = torch.randint(5, 60, (len(pix), 6), generator=gen)
            embeds, mask = model.encoder_inputs(pix, ids, torch.ones_like(ids))
            out = model.encode(embeds, mask, model.tokens_per_image).last_hidden_state
            feats.append(out[torch.arange(len(pix)), cell[:, 0] * model.grid[1] + cell[:, 1]])
            labels.append(colour)
    (xt, xv), (yt, yv) = feats, labels
    mu, sd = xt.mean(0), xt.std(0) + 1e-6
    lin = torch.nn.Linear(xt.shape[1], len(COLOURS))
    opt = torch.optim.LBFGS(lin.parameters(), max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(lin((xt - mu) / sd), yt) + 1e-3 * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return float((lin((xv - mu) / sd).argmax(1) == yv).float().mean())


def _tiny_model(**changes) -> VLSeqModel:
    mc = load_config("tiny").model
    mc = dataclasses.replace(mc, vocab_size=64, pad_token_id=1, bos_token_id=0, eos_token_id=2, loc_offset=-1,
                             loc_pointer="none", **changes)
    torch.manual_seed(0)
    return VLSeqModel(mc)


def test_the_tiny_models_encoder_output_says_each_cells_colour() -> None:
    assert _probe_accuracy(_tiny_model(), torch.Generator().manual_seed(0)) >= 0.9


def test_without_the_skips_the_encoder_loses_it() -> None:
    """The test above is not vacuous: the same model without the skips fails it."""
    vision = dataclasses.replace(load_config("tiny").model.vision, stem_skip=False)
    assert _probe_accuracy(_tiny_model(encoder_skip=False, vision=vision), torch.Generator().manual_seed(0)) < 0.5
