"""A small image checker: which (colour, shape) objects an image shows, and how many of each.

The render-and-check scores of generated images (:mod:`vlseq.evaluation.checker`) need a judge
that is *not* the model under test (GenEval uses a separate detector). This is that judge, in
two small networks that split the problem where the synthetic world splits it:

* :class:`ColourSegmenter` labels every pixel with a colour of the world or background
  (``(B, 3, S, S) -> (B, 1 + C, S, S)`` logits). Colour is a local property: a few 3x3 convs learn
  it in seconds, and still read it through the blur and colour drift of a decoded VQ image.
* The pixels of one colour fall into 8-connected components (:func:`components`, no weights). Each
  is cut out as a ``(5, P, P)`` crop (:func:`crop_component`: the component's mask; every other
  object pixel around it, which explains the bites occluders take; the image itself), and
  :class:`ComponentClassifier` says how many objects of each shape it holds (``(B, 5, P, P) ->
  (B, K, max_count + 1)`` logits): usually one shape once, but same-colour objects that touch make
  one component with several objects in it.

A count per (colour, shape) pair is then a sum over components, so a pair never seen in training
(the world's held-out ``colour:shape`` combinations) is counted like any other: colour and shape
are learned apart. Pixels enter as the VLSeq model's do (:mod:`vlseq.codec.pixels`, about
``[-1, 1]``). Save/load: ``checker.json`` (the config) and ``model.safetensors`` -- no pickle.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from ..codec.pixels import normalize_pixels
from .weights_dir import config_from_dict, load_weights_dir, save_weights_dir

CONFIG_FILE = "checker.json"
WEIGHTS_FILE = "model.safetensors"


@dataclass(frozen=True)
class CheckerConfig:
    """What a checker recognises and at which sizes.

    ``colours`` / ``shapes``: the vocabulary (the world's, in its order); ``image_size``: the side
    every image is resized to (the world's); ``window``: the side, in image pixels, of the crop
    around a component (at least the largest object's; a larger component is cropped whole and
    scaled down); ``crop``: the classifier's input side (a window is resized to it);
    ``seg_width`` / ``widths``: channels of the segmenter and of the classifier's three stages;
    ``max_count``: the most objects of one shape a component is told to hold.
    """

    colours: tuple[str, ...]
    shapes: tuple[str, ...]
    image_size: int = 64
    window: int = 32
    crop: int = 32
    seg_width: int = 16
    widths: tuple[int, ...] = (16, 32, 64)
    max_count: int = 3

    def __post_init__(self) -> None:
        for name in ("colours", "shapes", "widths"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        for name in ("colours", "shapes"):
            vals = getattr(self, name)
            if len(vals) < 1 or len(set(vals)) != len(vals):
                raise ValueError(f"CheckerConfig: {name} must be a non-empty list of distinct names, got {list(vals)}")
        for name in ("image_size", "window", "crop", "seg_width", "max_count"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"CheckerConfig: {name} must be >= 1, got {getattr(self, name)}")
        if len(self.widths) != 3 or min(self.widths) < 1:
            raise ValueError(f"CheckerConfig: widths must be three channel counts >= 1, got {list(self.widths)}")
        if self.crop % 4:
            raise ValueError(f"CheckerConfig: crop must be a multiple of 4 (two halvings), got {self.crop}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "config") -> "CheckerConfig":
        return config_from_dict(cls, d, source, "checker")


# --------------------------------------------------------------------------- pixels, components, crops


def to_pixels(images: Sequence[np.ndarray] | np.ndarray, size: int) -> torch.Tensor:
    """``(N, 3, size, size)`` float32 at the model input scale from ``(H, W, 3)`` uint8 images (each
    resized, bilinear, where its size differs)."""
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, im in enumerate(images):
        a = np.asarray(im, dtype=np.uint8)
        if a.ndim != 3 or a.shape[2] != 3:
            raise ValueError(f"image {i}: expected (H, W, 3) uint8, got shape {a.shape}")
        if a.shape[:2] != (size, size):
            a = np.asarray(Image.fromarray(a).resize((size, size), Image.BILINEAR))
        out[i] = a
    return normalize_pixels(torch.from_numpy(out).permute(0, 3, 1, 2).float().div_(255.0), inplace=True)


def _runs_to_components(mask: np.ndarray) -> list[np.ndarray]:
    """The 8-connected components of ``mask`` (``(H, W)`` bool) as bool masks, by union-find over the
    horizontal runs of each row (a few dozen runs per object, so plain Python is quick)."""
    h, w = mask.shape
    edges = np.diff(np.pad(mask, ((0, 0), (1, 1))).astype(np.int8), axis=1)  # (H, W + 1)
    ys, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)  # row-major order, so starts and ends pair up
    parent = list(range(len(ys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    prev_lo = prev_hi = 0  # the runs of the row above: indices [prev_lo, prev_hi)
    k = 0
    while k < len(ys):
        row_end = k
        while row_end < len(ys) and ys[row_end] == ys[k]:
            row_end += 1
        if prev_hi > prev_lo and ys[prev_lo] == ys[k] - 1:
            for r in range(k, row_end):
                for q in range(prev_lo, prev_hi):  # 8-connected: touching diagonally counts
                    if starts[q] <= ends[r] and starts[r] <= ends[q]:
                        parent[root(r)] = root(q)
        prev_lo, prev_hi, k = k, row_end, row_end
    groups: dict[int, np.ndarray] = {}
    for r in range(len(ys)):
        m = groups.setdefault(root(r), np.zeros((h, w), dtype=bool))
        m[ys[r], starts[r] : ends[r]] = True
    return list(groups.values())


def components(labels: np.ndarray, n_colours: int) -> list[list[tuple[int, np.ndarray]]]:
    """The 8-connected components of each colour of ``labels`` (``(N, S, S)`` int, 0 = background,
    ``1 + c`` = colour ``c``): per image, ``[(c, mask (S, S) bool), ...]`` by colour."""
    out = []
    for lab in labels:
        present = [int(v) for v in np.unique(lab) if 0 < v <= n_colours]
        out.append([(v - 1, m) for v in present for m in _runs_to_components(lab == v)])
    return out


def crop_component(mask: np.ndarray, others: np.ndarray, pixels: np.ndarray, cfg: CheckerConfig) -> torch.Tensor:
    """``(5, P, P)`` float crop around a component: its ``mask``, the ``others`` object pixels (both
    ``(S, S)`` bool) and the image's ``pixels`` (``(3, S, S)`` at the model scale), in a ``window``-pixel
    square centred on the component's box (the whole box when it is larger), resized to ``P = crop``;
    outside the image is zero."""
    ys, xs = np.nonzero(mask)
    y0, y1, x0, x1 = int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1
    w = max(cfg.window, y1 - y0, x1 - x0)
    top, left = (y0 + y1 - w) // 2, (x0 + x1 - w) // 2
    out = np.zeros((5, w, w), dtype=np.float32)
    s = mask.shape[0]
    ya, yb, xa, xb = max(top, 0), min(top + w, s), max(left, 0), min(left + w, s)
    out[0, ya - top : yb - top, xa - left : xb - left] = mask[ya:yb, xa:xb]
    out[1, ya - top : yb - top, xa - left : xb - left] = others[ya:yb, xa:xb]
    out[2:, ya - top : yb - top, xa - left : xb - left] = pixels[:, ya:yb, xa:xb]
    t = torch.from_numpy(out)
    return t if w == cfg.crop else F.interpolate(t[None], size=(cfg.crop, cfg.crop), mode="area")[0]


# --------------------------------------------------------------------------- the networks


def _conv(c_in: int, c_out: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]


class ColourSegmenter(nn.Module):
    """``(B, 3, S, S)`` pixels -> ``(B, 1 + C, S, S)`` logits; class 0 is background, ``1 + c`` colour ``c``.

    Two 3x3 convs (a 5 px receptive field: enough to see past one blurred edge pixel), then 1x1.
    """

    def __init__(self, config: CheckerConfig) -> None:
        super().__init__()
        w = config.seg_width
        self.net = nn.Sequential(*_conv(3, w), *_conv(w, w), nn.Conv2d(w, 1 + len(config.colours), 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.net(pixels)


class ComponentClassifier(nn.Module):
    """``(B, 5, P, P)`` crops (channel 0: the component, 1: other object pixels, both 0/1; 2-4: the
    image, where two touching objects of one colour still differ a little in brightness) ->
    ``(B, K, max_count + 1)`` logits of how many objects of each shape the component holds.

    Three stages (the last two halve the side), then the mean and the max over positions: the max
    keeps a feature seen once (a star's tip), the mean its extent.
    """

    def __init__(self, config: CheckerConfig) -> None:
        super().__init__()
        a, b, c = config.widths
        self.k, self.n = len(config.shapes), config.max_count + 1
        self.body = nn.Sequential(*_conv(5, a), *_conv(a, a), *_conv(a, b, 2), *_conv(b, b), *_conv(b, c, 2),
                                  *_conv(c, c))
        self.head = nn.Linear(2 * c, self.k * self.n)

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        h = self.body(crops)
        pooled = torch.cat([h.mean((2, 3)), h.amax((2, 3))], dim=1)  # (B, 2c)
        return self.head(pooled).view(-1, self.k, self.n)


class Checker(nn.Module):
    """The two networks, their config, and counting with them (:meth:`count`)."""

    def __init__(self, config: CheckerConfig) -> None:
        super().__init__()
        self.config = config
        self.segmenter = ColourSegmenter(config)
        self.classifier = ComponentClassifier(config)

    @torch.no_grad()
    def segment(self, pixels: torch.Tensor, batch_size: int = 128) -> np.ndarray:
        """``(N, S, S)`` int64 colour labels (0 = background, ``1 + c`` = colour ``c``) of ``pixels``
        ``(N, 3, S, S)`` (the segmenter in eval mode, whatever its mode was)."""
        was = self.segmenter.training
        self.segmenter.eval()
        dev = next(self.parameters()).device
        out = [self.segmenter(pixels[i : i + batch_size].to(dev)).argmax(1) for i in range(0, len(pixels), batch_size)]
        self.segmenter.train(was)
        return torch.cat(out).cpu().numpy() if out else np.zeros((0,) + tuple(pixels.shape[2:]), dtype=np.int64)

    def crops(self, pixels: torch.Tensor) -> tuple[list[list[tuple[int, np.ndarray]]], torch.Tensor]:
        """Every component the segmenter finds in ``pixels`` ``(N, 3, S, S)`` (per image, ``[(colour
        index, mask), ...]``) and their crops ``(M, 5, P, P)`` in that order."""
        labels = self.segment(pixels)
        comps = components(labels, len(self.config.colours))
        px = pixels.cpu().numpy()
        crops = [crop_component(m, (labels[i] > 0) & ~m, px[i], self.config)
                 for i, cs in enumerate(comps) for _, m in cs]
        return comps, torch.stack(crops) if crops else torch.zeros((0, 5, self.config.crop, self.config.crop))

    @torch.no_grad()
    def count(self, images: Sequence[np.ndarray] | np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``(N, C, K)`` int64: how many objects of every (colour, shape) pair each image shows
        (``(H, W, 3)`` uint8, resized to ``image_size``): the classifier's counts summed over components."""
        cfg = self.config
        out = np.zeros((len(images), len(cfg.colours), len(cfg.shapes)), dtype=np.int64)
        if not len(images):
            return out
        self.eval()
        comps, crops = self.crops(to_pixels(images, cfg.image_size))
        dev = next(self.parameters()).device
        held = [self.classifier(crops[i : i + batch_size].to(dev, torch.float32)).argmax(-1)
                for i in range(0, len(crops), batch_size)]
        per_comp = torch.cat(held).cpu().numpy() if held else np.zeros((0, len(cfg.shapes)), dtype=np.int64)  # (M, K)
        k = 0
        for i, cs in enumerate(comps):
            for c, _ in cs:
                out[i, c] += per_comp[k]
                k += 1
        return out

    def save_pretrained(self, path: str | Path) -> None:
        """Write ``model.safetensors`` then ``checker.json`` (last: its presence marks a complete save)."""
        save_weights_dir(self, path, self.config.to_dict(), CONFIG_FILE, WEIGHTS_FILE)

    @classmethod
    def from_pretrained(cls, path: str | Path) -> "Checker":
        """Load what :meth:`save_pretrained` wrote (in eval mode; the weights must match the config)."""
        return load_weights_dir(path, CONFIG_FILE, WEIGHTS_FILE, "a checker",
                                lambda raw, where: cls(CheckerConfig.from_dict(raw, where)))


__all__ = ["Checker", "CheckerConfig", "ColourSegmenter", "ComponentClassifier", "CONFIG_FILE", "WEIGHTS_FILE",
           "components", "crop_component", "to_pixels"]
