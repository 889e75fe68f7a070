"""Vision towers that turn images into a grid of features.

``VisionTower(pixel_values (B, 3, H, W)) -> (B, h*w, C)`` plus the grid ``(h, w)``. The ``conv``
stem is written here because no library ships a plain strided conv stem as a model; the others
are transformers' own backbones built from config (timm needs torchvision, which does not import
beside the CPU torch wheel this project targets).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import VisionConfig


class ConvStem(nn.Module):
    """Stages of a stride-2 3x3 conv then ``blocks - 1`` stride-1 3x3 convs, each with a norm and GELU.

    ``blocks`` is one count for every stage or one per stage (``(1, 2, 2)``: the first stage, at half
    the input's resolution, has its stride-2 conv only). Why per stage: a stride-1 conv's norm and
    activation run on every position of its stage, so at 64 px the first stage's second conv costs
    about a third of the stem's time (32 x 32 positions x 32 channels) for the same FLOPs as each
    later stage's second conv.

    Stride ``2**len(channels)``. Measured on the synthetic world (a stem + mean-pool probe that must
    say which of 7 shapes are present, 500 AdamW steps at batch 64): one conv per stage with
    GroupNorm stays at the all-absent prior (0.69 vs 0.66); BatchNorm reaches 0.78; BatchNorm with a
    second conv per stage 0.96, for 3x the stem's cost. GroupNorm normalises each image on its own,
    so a small object on a textured background is drowned in the background's statistics; BatchNorm
    compares images across the batch. ``norm="group"`` stays for runs whose per-rank batches must
    not depend on each other (BatchNorm statistics are per process).

    ``skip``: the first stage's output, average-pooled to the output grid, is concatenated to the
    last stage's (a hypercolumn): ``out_channels`` grows by ``channels[0]``. Linear probes on a
    trained ``tiny`` checkpoint (``experiments/shape_probe.py``) found the last stage colour-blind
    (an object's colour at chance, 0.14 for 8 colours) while its first stage keeps it (0.99): the
    deep stages are trained towards shape and position, and nothing then carries colour to the
    encoder. The skip hands it over linearly. A one-stage stem has nothing to skip: ``skip`` is then
    a no-op.

    ``skip_kind``: ``pool`` averages the first stage over each output cell; ``patch`` reads each
    cell's ``k x k`` first-stage positions (``k = stride / 2``) with one learned stride-``k`` conv, so
    the grid also says where in its cell an edge or corner lies. Why: the quickstart's commonest
    shape miss on found objects was a hexagon named a circle at 9-10 px, where the two differ by a
    few boundary pixels that a cell mean blurs away. Screened against ``pool``, it was level
    (BENCHMARKS.md), so ``pool`` stays the default. (Most of those hexagons turned out to be green,
    a colour-shape pair the world holds out of training: the training key ``colour_swap`` is what
    moved them.)
    """

    def __init__(self, channels: tuple[int, ...], blocks: int | tuple[int, ...] = 2, norm: str = "batch",
                 skip: bool = False, skip_kind: str = "pool") -> None:
        super().__init__()
        per_stage = (blocks,) * len(channels) if isinstance(blocks, int) else tuple(blocks)
        if len(per_stage) != len(channels) or any(not isinstance(b, int) or b < 1 for b in per_stage):
            raise ValueError(f"vision.blocks must be an integer >= 1 or one per stage ({len(channels)} stages), "
                             f"not {blocks!r}")
        if norm not in ("batch", "group"):
            raise ValueError(f"vision.norm must be 'batch' or 'group', not {norm!r}")
        layers: list[nn.Module] = []
        c_in = 3
        for c, n in zip(channels, per_stage):
            for j in range(n):
                norm_layer = nn.BatchNorm2d(c) if norm == "batch" else nn.GroupNorm(min(8, c), c)
                # No conv bias: the norm right after it has its own.
                layers += [nn.Conv2d(c_in, c, 3, stride=2 if j == 0 else 1, padding=1, bias=False), norm_layer, nn.GELU()]
                c_in = c
        self.body = nn.Sequential(*layers)
        self.stride = 2 ** len(channels)
        self.skip = skip and len(channels) > 1
        #: modules of the first stage (conv, norm, activation per block): its output is the skip's
        self._first_stage = 3 * per_stage[0]
        self.out_channels = c_in + (channels[0] if self.skip else 0)
        k = self.stride // 2
        # (B, c0, H/2, W/2) -> (B, c0, H/stride, W/stride): one weight per (position in the cell, channel)
        self.patch = nn.Conv2d(channels[0], channels[0], k, stride=k) if self.skip and skip_kind == "patch" else None

    def first_stage(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, channels[0], H/2, W/2): the first stage's output (what ``skip`` pools)."""
        return self.body[: self._first_stage](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, H/stride, W/stride)"""
        if not self.skip:
            return self.body(x)
        first = self.first_stage(x)
        last = self.body[self._first_stage :](first)
        pooled = nn.functional.avg_pool2d(first, self.stride // 2) if self.patch is None else self.patch(first)
        return torch.cat([last, pooled], dim=1)


class HFBackbone(nn.Module):
    """A transformers vision model (ResNet, ConvNeXt, ViT, Swin) used as a feature grid."""

    def __init__(self, cfg: VisionConfig, image_size: int) -> None:
        super().__init__()
        from transformers import AutoConfig, AutoModel

        if cfg.pretrained:
            self.model = AutoModel.from_pretrained(cfg.pretrained, local_files_only=True)
        else:
            hf_kwargs = dict(cfg.hf_config)
            if cfg.kind in ("vit", "swin"):
                hf_kwargs.setdefault("image_size", image_size)
            self.model = AutoModel.from_config(AutoConfig.for_model(cfg.kind, **hf_kwargs))
        conf = self.model.config
        self.kind = conf.model_type
        if hasattr(conf, "hidden_sizes"):
            self.out_channels = conf.hidden_sizes[-1]
        elif self.kind == "swin":
            self.out_channels = int(conf.embed_dim * 2 ** (len(conf.depths) - 1))
        else:
            self.out_channels = conf.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, h, w)"""
        out = self.model(pixel_values=x)
        h = out.last_hidden_state
        if h.dim() == 4:
            return h
        if self.kind == "vit":
            h = h[:, 1:]  # drop CLS
        n = h.shape[1]
        side = int(round(n**0.5))
        if side * side != n:
            raise ValueError(f"{self.kind} gives {n} tokens, not a square grid")
        return h.transpose(1, 2).reshape(h.shape[0], h.shape[2], side, side)


def build_vision(cfg: VisionConfig, image_size: int) -> nn.Module:
    if cfg.kind == "conv":
        return ConvStem(tuple(cfg.channels), cfg.blocks, cfg.norm, cfg.stem_skip, cfg.skip_kind)
    if cfg.kind in ("resnet", "convnext", "vit", "swin"):
        return HFBackbone(cfg, image_size)
    raise ValueError(f"unknown vision kind {cfg.kind!r} (conv, resnet, convnext, vit, swin)")


@torch.no_grad()
def grid_size(tower: nn.Module, image_size: int) -> tuple[int, int]:
    """The ``(h, w)`` of the feature grid for a square input of ``image_size``."""
    was = tower.training
    tower.eval()
    out = tower(torch.zeros(1, 3, image_size, image_size))
    tower.train(was)
    return int(out.shape[-2]), int(out.shape[-1])
