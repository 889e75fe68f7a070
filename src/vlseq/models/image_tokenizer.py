"""A VQ-VAE image tokenizer: pixels <-> a grid of discrete codes, the ``<img_k>`` tokens (OFA, DALL-E).

A small conv encoder downsamples an ``S x S`` image by ``downsample`` (a power of two) to an
``h x w`` grid of ``dim``-vectors; a vector quantiser (``vector-quantize-pytorch``: EMA codebook
updates, k-means init, dead-code replacement) maps each to the nearest of ``codebook_size`` codes;
a mirrored conv decoder turns the quantised grid back into pixels. Codes are read row-major, so
an image becomes ``h * w`` tokens. Trained with MSE reconstruction + the VQ commitment loss.

Pixels are float ``(B, 3, S, S)`` in ``[0, 1]`` at the public API (uint8 helpers convert);
internally the network sees them as the VLSeq model does (:mod:`vlseq.codec.pixels`, about ``[-1, 1]``;
trained weights depend on that scale). Save/load: ``image_tokenizer.json`` (the config) and
``model.safetensors`` -- no pickle.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from vector_quantize_pytorch import VectorQuantize

from ..codec.pixels import denormalize_pixels, normalize_pixels
from .weights_dir import config_from_dict, load_weights_dir, save_weights_dir

CONFIG_FILE = "image_tokenizer.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class ImageTokenizerConfig:
    """Shape of a VQ-VAE image tokenizer.

    ``image_size`` S (square), ``downsample`` the total stride (a power of two dividing S; the grid
    is ``S / downsample`` on a side), ``channels`` the width at the finest level (doubled once per
    halving, capped at ``4 * channels``), ``dim`` the code vector size, ``codebook_size`` K.
    """

    image_size: int = 64
    downsample: int = 8
    channels: int = 32
    dim: int = 64
    codebook_size: int = 512
    res_blocks: int = 1
    commitment_weight: float = 0.25
    ema_decay: float = 0.95
    dead_code_threshold: float = 1.0

    def __post_init__(self) -> None:
        d = self.downsample
        if d < 2 or d & (d - 1):
            raise ValueError(f"ImageTokenizerConfig: downsample must be a power of two >= 2, got {d}")
        if self.image_size % d:
            raise ValueError(f"ImageTokenizerConfig: image_size {self.image_size} not divisible by downsample {d}")
        for name in ("channels", "dim", "codebook_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"ImageTokenizerConfig: {name} must be >= 1, got {getattr(self, name)}")
        if self.res_blocks < 0:
            raise ValueError(f"ImageTokenizerConfig: res_blocks must be >= 0, got {self.res_blocks}")

    @property
    def grid(self) -> int:
        """Codes per side (h = w)."""
        return self.image_size // self.downsample

    @property
    def num_codes(self) -> int:
        """Codes per image, ``h * w``: the number of ``<img_k>`` tokens of one image."""
        return self.grid * self.grid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "ImageTokenizerConfig":
        return config_from_dict(cls, d, source, "image tokenizer")


class _ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(), nn.Conv2d(c, c, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


def _widths(cfg: ImageTokenizerConfig) -> list[int]:
    """Channels after each halving, finest first (e.g. 32, 64, 128 for three halvings)."""
    n = int(math.log2(cfg.downsample))
    return [min(cfg.channels * 2**i, cfg.channels * 4) for i in range(n)]


class ImageTokenizer(nn.Module):
    """VQ-VAE: ``encode`` pixels (B, 3, S, S) -> codes (B, h*w); ``decode`` codes -> pixels."""

    def __init__(self, config: ImageTokenizerConfig | None = None) -> None:
        super().__init__()
        self.config = cfg = config or ImageTokenizerConfig()
        ws = _widths(cfg)
        enc: list[nn.Module] = []
        c_in = 3
        for w in ws:  # each stride-2 conv halves the side
            enc += [nn.Conv2d(c_in, w, 4, stride=2, padding=1), nn.ReLU()]
            c_in = w
        enc += [nn.Conv2d(c_in, c_in, 3, padding=1)] + [_ResBlock(c_in) for _ in range(cfg.res_blocks)]
        enc += [nn.ReLU(), nn.Conv2d(c_in, cfg.dim, 1)]
        self.encoder = nn.Sequential(*enc)
        # EMA codebook (no codebook gradients), k-means init on the first batch, and dead codes
        # re-seeded from the batch: the standard recipe that keeps most of K in use.
        self.vq = VectorQuantize(dim=cfg.dim, codebook_size=cfg.codebook_size, decay=cfg.ema_decay,
                                 commitment_weight=cfg.commitment_weight, kmeans_init=True, kmeans_iters=10,
                                 threshold_ema_dead_code=cfg.dead_code_threshold, accept_image_fmap=True)
        dec: list[nn.Module] = [nn.Conv2d(cfg.dim, ws[-1], 3, padding=1)]
        dec += [_ResBlock(ws[-1]) for _ in range(cfg.res_blocks)]
        rev = ws[::-1]
        for i, w in enumerate(rev):
            out = rev[i + 1] if i + 1 < len(rev) else ws[0]
            dec += [nn.ReLU(), nn.ConvTranspose2d(w, out, 4, stride=2, padding=1)]
        dec += [nn.ReLU(), nn.Conv2d(ws[0], 3, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    # ------------------------------------------------------------------ core

    @property
    def num_codes(self) -> int:
        return self.config.num_codes

    def _check_pixels(self, pixels: torch.Tensor) -> None:
        s = self.config.image_size
        if pixels.dim() != 4 or pixels.shape[1:] != (3, s, s):
            raise ValueError(f"ImageTokenizer: expected pixels (B, 3, {s}, {s}), got {tuple(pixels.shape)}")

    def forward(self, pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """pixels (B, 3, S, S) in [0, 1] -> (reconstruction (B, 3, S, S) in about [0, 1],
        codes (B, h*w) long, VQ commitment loss (scalar))."""
        self._check_pixels(pixels)
        z = self.encoder(normalize_pixels(pixels))
        q, idx, commit = self.vq(z)
        recon = denormalize_pixels(self.decoder(q))
        return recon, idx.reshape(idx.shape[0], -1), commit.sum()

    def loss(self, pixels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training loss: ``mse`` (on [-1, 1] pixels, as the decoder sees them) + ``commit``; key ``loss`` is the sum."""
        recon, _, commit = self(pixels)
        mse = F.mse_loss(normalize_pixels(recon), normalize_pixels(pixels))
        return {"loss": mse + commit, "mse": mse.detach(), "commit": commit.detach()}

    @torch.no_grad()
    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels (B, 3, S, S) float in [0, 1] -> codes (B, h*w) long, row-major."""
        self._check_pixels(pixels)
        z = self.encoder(normalize_pixels(pixels))
        b, d, h, w = z.shape
        flat = z.permute(0, 2, 3, 1).reshape(b, h * w, d)
        # Nearest code (the quantiser's own distance), without its training-mode side effects.
        embed = self.codebook()
        dist = torch.cdist(flat, embed.unsqueeze(0).expand(b, -1, -1))
        return dist.argmin(-1)

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h*w) long in [0, K) -> pixels (B, 3, S, S) float, clamped to [0, 1]."""
        g, k = self.config.grid, self.config.codebook_size
        if codes.dim() != 2 or codes.shape[1] != g * g:
            raise ValueError(f"ImageTokenizer: expected codes (B, {g * g}), got {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= k):
            raise ValueError(f"ImageTokenizer: codes must lie in [0, {k}), got [{int(codes.min())}, {int(codes.max())}]")
        q = self.codebook()[codes.long()]  # (B, h*w, dim)
        q = q.reshape(codes.shape[0], g, g, -1).permute(0, 3, 1, 2).contiguous()
        return denormalize_pixels(self.decoder(q)).clamp_(0.0, 1.0)

    def codebook(self) -> torch.Tensor:
        """The code vectors, (K, dim)."""
        return self.vq.codebook.reshape(self.config.codebook_size, -1)

    # ------------------------------------------------------------------ uint8 helpers

    def encode_arrays(self, images: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
        """(B, S, S, 3) uint8 images (already S x S) -> codes (B, h*w) int64."""
        arr = np.stack([np.asarray(a, dtype=np.uint8) for a in images]) if not isinstance(images, np.ndarray) else images
        if arr.ndim != 4 or arr.shape[-1] != 3:
            raise ValueError(f"ImageTokenizer: expected (B, S, S, 3) uint8 images, got {arr.shape}")
        was = self.training
        self.eval()
        try:
            return self.encode(to_pixels(arr, self._device())).cpu().numpy()
        finally:
            self.train(was)

    def decode_to_arrays(self, codes: Sequence[Sequence[int]] | np.ndarray) -> np.ndarray:
        """codes (B, h*w) -> (B, S, S, 3) uint8 images."""
        was = self.training
        self.eval()
        try:
            px = self.decode(torch.as_tensor(np.asarray(codes, dtype=np.int64), device=self._device()))
        finally:
            self.train(was)
        return to_arrays(px)

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    # ------------------------------------------------------------------ save / load

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``model.safetensors`` and ``image_tokenizer.json`` into directory ``path``."""
        save_weights_dir(self, path, self.config.to_dict(), CONFIG_FILE, WEIGHTS_FILE)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "ImageTokenizer":
        """Load what :meth:`save_pretrained` wrote (config checked; weights must match it exactly)."""
        return load_weights_dir(path, CONFIG_FILE, WEIGHTS_FILE, "an image tokenizer",
                                lambda raw, where: cls(ImageTokenizerConfig.from_dict(raw, where)))


def to_pixels(images: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """(B, S, S, 3) uint8 -> (B, 3, S, S) float in [0, 1]."""
    arr = np.ascontiguousarray(images, dtype=np.uint8)
    if not arr.flags.writeable:  # e.g. a shared read-only canvas; torch wants a writable buffer
        arr = arr.copy()
    return torch.from_numpy(arr).to(device).permute(0, 3, 1, 2).float().div_(255.0)


def to_arrays(pixels: torch.Tensor) -> np.ndarray:
    """(B, 3, S, S) float in [0, 1] -> (B, S, S, 3) uint8 (rounded)."""
    return pixels.detach().clamp(0, 1).mul(255.0).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def psnr_batch(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR (dB) of pixels in [0, 1], (B, 3, S, S) each -> (B,)."""
    mse = ((a.clamp(0, 1) - b) ** 2).flatten(1).mean(1).clamp_min(1e-10)
    return 10.0 * torch.log10(1.0 / mse)


__all__ = ["ImageTokenizer", "ImageTokenizerConfig", "to_pixels", "to_arrays", "psnr_batch", "CONFIG_FILE", "WEIGHTS_FILE"]


def heldout_psnr(model: ImageTokenizer, images: np.ndarray, batch: int = 64) -> tuple[float, float]:
    """(mean PSNR in dB of encode -> decode on ``images`` (N, S, S, 3) uint8, fraction of the codebook used)."""
    was = model.training
    model.eval()
    scores, used = [], set()
    with torch.no_grad():
        for i in range(0, len(images), batch):
            px = to_pixels(images[i : i + batch])
            codes = model.encode(px)
            used.update(codes.unique().tolist())
            # Score the uint8 round trip, as an image would be stored.
            rec = torch.round(model.decode(codes) * 255.0) / 255.0
            scores.append(psnr_batch(rec, px))
    model.train(was)
    return float(torch.cat(scores).mean()), len(used) / model.config.codebook_size
