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
    """Stride-2 3x3 convs with GELU: stride ``2**len(channels)``, channels-last friendly."""

    def __init__(self, channels: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 3
        for i, c in enumerate(channels):
            # GroupNorm after every conv keeps features centred: without it the GELU outputs carry a
            # large shared component and, after the projection's LayerNorm, images look alike.
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(min(8, c), c), nn.GELU()]
            c_in = c
        self.body = nn.Sequential(*layers)
        self.out_channels = c_in
        self.stride = 2 ** len(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) -> (B, C, H/stride, W/stride)"""
        return self.body(x)


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
        return ConvStem(tuple(cfg.channels))
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
