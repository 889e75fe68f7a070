"""The conv stem: grid and channels, and the first-stage skip (``vision.stem_skip``) that carries colour."""

from __future__ import annotations

import pytest
import torch

from vlseq.models.config import ModelConfig, VisionConfig
from vlseq.models.vision import ConvStem, build_vision, grid_size
from vlseq.models.vlseq_model import VLSeqModel


def test_stem_grid_and_channels() -> None:
    stem = ConvStem((8, 16, 32))
    assert stem.out_channels == 32 and stem.stride == 8
    assert stem(torch.zeros(2, 3, 32, 32)).shape == (2, 32, 4, 4)


def test_skip_appends_the_first_stage_pooled_to_the_grid() -> None:
    torch.manual_seed(0)
    stem = ConvStem((8, 16, 32), skip=True).eval()
    plain = ConvStem((8, 16, 32)).eval()
    plain.load_state_dict(stem.state_dict())  # the skip adds no weights
    x = torch.randn(2, 3, 32, 32)
    out = stem(x)
    assert stem.out_channels == 40 and out.shape == (2, 40, 4, 4)
    assert torch.equal(out[:, :32], plain(x))  # the last stage is unchanged
    first = stem.body[:6](x)  # two blocks of (conv, norm, activation)
    assert torch.equal(stem.first_stage(x), first)
    assert torch.allclose(out[:, 32:], torch.nn.functional.avg_pool2d(first, 4))
    assert grid_size(stem, 32) == (4, 4)


def test_skip_tells_colours_apart_where_a_colour_blind_last_stage_cannot() -> None:
    """Two images that differ only in one patch's colour differ in that cell's skip channels, even
    when the last stage has been zeroed (as a colour-blind one would read them the same)."""
    torch.manual_seed(0)
    stem = ConvStem((8, 16, 32), skip=True).eval()
    with torch.no_grad():
        stem.body[-3].weight.zero_()  # the last conv: its stage now reads nothing of the input
    red, green = torch.zeros(1, 3, 32, 32), torch.zeros(1, 3, 32, 32)
    red[0, 0, 8:16, 8:16] = 1.0
    green[0, 1, 8:16, 8:16] = 1.0
    a, b = stem(red), stem(green)
    assert torch.allclose(a[:, :32], b[:, :32])
    assert (a[0, 32:, 2, 2] - b[0, 32:, 2, 2]).abs().max() > 1e-3  # the patch's cell
    assert torch.allclose(a[0, 32:, 3, 3], b[0, 32:, 3, 3])  # beyond its receptive field: the same


def test_a_model_with_the_skip_builds_and_projects_its_channels() -> None:
    cfg = ModelConfig(vocab_size=64, d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64,
                      image_size=32, num_bins=16, max_positions=128, vision=VisionConfig(channels=(8, 16, 32), stem_skip=True))
    model = VLSeqModel(cfg)
    assert model.proj[0].in_features == 40 and model.tokens_per_image == 16
    assert build_vision(VisionConfig(channels=(8, 16), stem_skip=True), 32).out_channels == 24
    img = model.encode_images(torch.zeros(2, 1, 3, 32, 32))
    assert img.shape == (2, 16, 32)


def test_encoder_skip_adds_the_image_tokens_to_the_encoder_outputs() -> None:
    kw = dict(vocab_size=64, d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, image_size=32,
              num_bins=16, max_positions=128, vision=VisionConfig(channels=(8, 16, 32)))
    torch.manual_seed(0)
    plain = VLSeqModel(ModelConfig(**kw)).eval()
    skip = VLSeqModel(ModelConfig(**kw, encoder_skip=True)).eval()
    skip.load_state_dict(plain.state_dict())  # no new weights
    pix, ids, am = torch.randn(2, 1, 3, 32, 32), torch.randint(5, 60, (2, 6)), torch.ones(2, 6, dtype=torch.long)
    embeds, mask = plain.encoder_inputs(pix, ids, am)
    a = plain.encode(embeds, mask, 16).last_hidden_state
    b = skip.encode(embeds, mask, 16).last_hidden_state
    assert torch.allclose(b[:, :16], a[:, :16] + embeds[:, :16]) and torch.equal(b[:, 16:], a[:, 16:])
    dec = torch.randint(5, 60, (2, 4))
    out = skip(pix, ids, am, dec, labels=dec)  # trains and generates through the same path
    assert torch.isfinite(out["loss"]) and skip.generate(pix, ids, am, max_new_tokens=3).shape[0] == 2


def test_the_patch_skip_tells_where_in_its_cell_a_detail_lies() -> None:
    """``skip_kind="patch"``: two images whose first-stage features differ only by where in one cell
    a detail sits give the same pooled skip but a different patch skip."""
    torch.manual_seed(0)
    pool = build_vision(VisionConfig(channels=(8, 16, 32), stem_skip=True), 32).eval()
    patch = build_vision(VisionConfig(channels=(8, 16, 32), stem_skip=True, skip_kind="patch"), 32).eval()
    assert patch.out_channels == pool.out_channels == 40
    first = torch.zeros(1, 8, 16, 16)
    left, right = first.clone(), first.clone()
    left[0, :, 4, 4] = 1.0  # the same cell of the 4x4 grid (first-stage positions 4..7), other corners
    right[0, :, 7, 7] = 1.0
    pooled = [torch.nn.functional.avg_pool2d(f, pool.stride // 2) for f in (left, right)]
    assert torch.equal(pooled[0], pooled[1])
    a, b = patch.patch(left), patch.patch(right)
    assert a.shape == (1, 8, 4, 4) and (a[0, :, 1, 1] - b[0, :, 1, 1]).abs().max() > 1e-4
    assert torch.equal(a[0, :, 0, 0], b[0, :, 0, 0])  # other cells: unchanged
    assert patch(torch.randn(2, 3, 32, 32)).shape == (2, 40, 4, 4)


def test_an_unknown_skip_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="model.vision.skip_kind"):
        VisionConfig(skip_kind="max")


def test_blocks_per_stage_sets_each_stages_convs_and_the_skips_first_stage() -> None:
    stem = ConvStem((8, 16, 32), blocks=(1, 2, 2), skip=True)
    convs = [m for m in stem.body if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 1, 2, 1]
    assert [c.out_channels for c in convs] == [8, 16, 16, 32, 32]
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(stem.first_stage(x), stem.body[:3](x))  # one (conv, norm, activation)
    assert stem(x).shape == (2, 40, 4, 4)
    assert sum(p.numel() for p in stem.parameters()) < sum(p.numel() for p in ConvStem((8, 16, 32), skip=True).parameters())


@pytest.mark.parametrize("blocks", [0, (1, 2), (1, 0, 2), (1.5, 2, 2)])
def test_blocks_must_be_positive_counts_one_per_stage(blocks) -> None:
    with pytest.raises(ValueError, match="vision.blocks"):
        ConvStem((8, 16, 32), blocks=blocks)


def test_blocks_from_json_is_a_tuple_and_builds() -> None:
    cfg = VisionConfig(channels=(8, 16, 32), blocks=[1, 2, 2])  # as a JSON config or override gives it
    assert cfg.blocks == (1, 2, 2)
    assert build_vision(cfg, 32).first_stage(torch.zeros(1, 3, 32, 32)).shape == (1, 8, 16, 16)
