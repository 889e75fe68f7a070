"""Every preset that takes tiny's levers builds its model and trains a step with them on.

The pointer's offsets need the image grid to divide the bins, and the grid follows the image size
and the vision tower's stride: a preset that changes either must keep them in step. The models are
narrowed for speed (width, depth, channels), keeping what fixes the grid: the image size, the
number of conv stages or the ConvNeXt's stages, and the bins.
"""

from __future__ import annotations

import json

import pytest
import torch

from helpers import world_examples
from vlseq.models.factory import build_model
from vlseq.processing import Processor
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer
from vlseq.train.config import load_config

NARROW = ["model.d_model=32", "model.heads=2", "model.ffn_dim=64", "model.encoder_layers=1", "model.decoder_layers=1"]
#: per preset: channels of the same number of stages, and the grid side those stages give
PRESETS = {
    "tiny": (["model.vision.channels=[8, 16, 32]"], 8),
    "tiny_all": (["model.vision.channels=[8, 16, 32]"], 8),
    "all": (["model.vision.channels=[8, 16, 32]"], 8),
    "tiny_text": (["model.vision.channels=[8, 16, 32]"], 8),
    "small": (["model.vision.channels=[8, 8, 16, 16]"], 8),
    "coco": (["model.vision.channels=[8, 8, 16, 16]"], 24),
    "base": (['model.vision.hf_config={"hidden_sizes": [8, 16, 32, 64], "depths": [1, 1, 1, 1]}'], 12),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_the_preset_builds_and_trains_a_step_with_the_levers_on(preset: str) -> None:
    narrow, side = PRESETS[preset]
    cfg = load_config(preset, NARROW + narrow)
    full = load_config(preset).model
    assert (cfg.model.image_size, cfg.model.num_bins, cfg.model.vision.kind) == (
        full.image_size, full.num_bins, full.vision.kind)
    m = cfg.model
    assert m.loc_pointer == "cell_offset" and m.encoder_skip and m.vision.stem_skip and m.cell_loss > 0
    exs = [e for e in world_examples(2, size=m.image_size, tasks=("detect", "refexp"))][:4]
    texts = [t for e in exs for t in (get_task(e.task).prompt(e, m.num_bins), get_task(e.task).target(e, m.num_bins))]
    tok = VLTokenizer.train(texts, num_bins=m.num_bins)
    torch.manual_seed(0)
    model = build_model(m.with_tokenizer(tok))
    assert model.grid == (side, side) and m.num_bins % side == 0
    head = model.lm.lm_head
    assert head.off_mem.out_features == 2 * m.num_bins // side  # bins per cell along x, then y
    proc = Processor(tok, m.image_size, m.num_bins, cfg.max_prompt_tokens, cfg.max_target_tokens, cell_labels=True)
    batch = proc.collate([proc.encode(get_task(e.task), e) for e in exs])
    out = model(**batch)
    assert torch.isfinite(out["loss"]) and "cell_loss" in out
    out["loss"].backward()
    # the offsets start at zero (uniform inside a cell) and learn from the first step
    assert head.off_mem.weight.grad is not None and head.off_mem.weight.grad.abs().sum() > 0


def test_base_bins_are_one_per_pixel_so_the_convnext_grid_divides_them() -> None:
    m = load_config("base").model
    assert m.num_bins == m.image_size == 384 and m.num_bins % 12 == 0


def test_coco_fits_a_detect_prompt_of_80_classes_and_dense_images() -> None:
    cfg = load_config("coco")
    m = cfg.model
    assert cfg.data.synth is None and cfg.data.datasets == [] and cfg.time_budget_min is None and cfg.max_steps > 0
    assert cfg.max_prompt_tokens >= 240 and cfg.max_target_tokens >= 50 * 7 + 2  # 50 objects of ~7 tokens
    grid = (m.image_size // 16) ** 2  # the 4-stage conv stem's stride-16 grid
    assert m.max_positions >= m.max_images * grid + cfg.max_prompt_tokens
    assert m.max_positions >= cfg.max_target_tokens
    assert json.loads(json.dumps(cfg.to_dict()))["data"]["synth"] is None


def test_florence2s_1000_bins_would_not_fit_base_s_pointer() -> None:
    """Why base has 384 bins: 1000 are not a multiple of its 12x12 grid."""
    cfg = load_config("base", NARROW + [PRESETS["base"][0][0], "model.num_bins=1000"])
    tok = VLTokenizer.train(["a red circle"], num_bins=1000)
    with pytest.raises(ValueError, match="divisible by the image grid"):
        build_model(cfg.model.with_tokenizer(tok))
