"""Rendering the synthetic world: procedural backgrounds and the objects drawn over them.

Objects are drawn in scene order, a later one over an earlier one. Pixel-sharp by default: an object
paints exactly its mask (the pixels whose centres lie inside its outline). With ``Scene.antialias``
``k > 1`` an object is composited with coverage alpha, the fraction of a ``k x k`` grid of sample
points of each pixel inside its outline; the ground truth (masks, boxes) stays by pixel centres.

An ``outline`` object paints a stroke of width ``max(1, 0.18 * radius)`` px inside its edge and the
background inside that: it is as opaque as a solid one (it hides what it covers, as the occlusion
bookkeeping says), only hollow-looking.
"""

from __future__ import annotations

import colorsys
import math

import numpy as np
from PIL import Image

from .scene import ALL_BACKGROUNDS, Scene, SceneObject, rasterize

#: Stroke width of an ``outline`` object as a fraction of its radius (at least one pixel).
STROKE = 0.18


def _upsampled_noise(rng: np.random.Generator, cells: int, width: int, height: int) -> np.ndarray:
    low = rng.uniform(-1, 1, size=(cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(low, mode="F").resize((width, height), Image.BILINEAR))


def render_background(kind: str, seed: int, width: int, height: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 texture: a base tone plus a pattern and grain.

    The default kinds are muted (a grey-ish base, low contrast); ``tinted`` has a saturated base of
    a random hue (it may share an object's hue, never its full saturation and brightness) with a
    faint texture, ``texture`` contrasty noise at several scales over a muted base.
    """
    rng = np.random.default_rng(seed)
    base = rng.uniform(85, 165) + rng.uniform(-18, 18, size=3)
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    grain = 4.0
    if kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        pattern = (math.cos(a) * (xs - 0.5) + math.sin(a) * (ys - 0.5)) * rng.uniform(30, 60)
    elif kind == "noise":
        low = rng.uniform(-1, 1, size=(6, 6)).astype(np.float32)
        up = Image.fromarray(low, mode="F").resize((width, height), Image.BILINEAR)
        pattern = np.asarray(up) * rng.uniform(14, 24)
    elif kind == "stripes":
        a = rng.uniform(0, math.pi)
        period = rng.uniform(0.08, 0.2)
        pattern = np.sin((math.cos(a) * xs + math.sin(a) * ys) / period * 2 * math.pi) * rng.uniform(7, 13)
    elif kind == "checker":
        cells = int(rng.integers(4, 9))
        pattern = (((xs * cells).astype(np.int32) + (ys * cells).astype(np.int32)) % 2 - 0.5).astype(np.float32) * rng.uniform(12, 22)
    elif kind == "tinted":
        hue, sat, val = rng.uniform(0, 1), rng.uniform(0.35, 0.65), rng.uniform(0.45, 0.75)
        base = np.array(colorsys.hsv_to_rgb(hue, sat, val)) * 255
        pattern = _upsampled_noise(rng, 5, width, height) * rng.uniform(5, 10)
        grain = 3.0
    elif kind == "texture":
        pattern = sum(_upsampled_noise(rng, cells, width, height) * amp
                      for cells, amp in ((4, 1.0), (8, 0.7), (16, 0.5), (32, 0.35)))
        pattern = pattern * np.float32(rng.uniform(30, 42))
        base = base * 0.5 + 62.5  # a base nearer mid-grey leaves the pattern room both ways
        grain = 6.0
    else:
        raise ValueError(f"unknown background kind {kind!r}; known: {ALL_BACKGROUNDS}")
    tex = pattern + rng.standard_normal((height, width), dtype=np.float32) * np.float32(grain)  # (H, W) plus grain
    img = np.empty((height, width, 3), dtype=np.uint8)
    for c in range(3):  # per channel: cheaper than broadcasting a (H, W, 3) float image
        img[..., c] = np.clip(tex + np.float32(base[c]), 0, 255)
    return img


def _samples(poly: np.ndarray, width: int, height: int, k: int, stroke: float | None) -> np.ndarray:
    """``(H*k, W*k)`` bool: which of the ``k x k`` sample points of each pixel lie inside ``poly``
    (and, with ``stroke``, within ``stroke`` px of its edge). The samples sit at ``(i + 0.5) / k``."""
    inside = rasterize(poly * k, width * k, height * k) if k > 1 else rasterize(poly, width, height)
    if stroke is None:
        return inside
    ys, xs = np.nonzero(inside)
    px, py = (xs + 0.5) / k, (ys + 0.5) / k
    best = np.full(px.shape, np.inf)
    for (ax, ay), (bx, by) in zip(poly, np.roll(poly, -1, axis=0)):
        dx, dy = bx - ax, by - ay
        t = np.clip(((px - ax) * dx + (py - ay) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        np.minimum(best, np.hypot(px - ax - t * dx, py - ay - t * dy), out=best)
    out = np.zeros_like(inside)
    out[ys[best <= stroke], xs[best <= stroke]] = True
    return out


def coverage(o: SceneObject, width: int, height: int, k: int, stroke: bool = False) -> np.ndarray:
    """``(H, W)`` float32 in [0, 1]: the fraction of each pixel's ``k x k`` samples inside the outline of
    ``o`` (``stroke``: inside its stroke, see the module docstring)."""
    k = max(int(k), 1)
    width_px = max(1.0, STROKE * o.radius) if stroke else None
    s = _samples(o.outline, width, height, k, width_px)
    return s.reshape(height, k, width, k).mean(axis=(1, 3), dtype=np.float32)


def lone_pixels(shape: str, radius: float, cx: float, cy: float, canvas: int) -> bytes:
    """The exact pixels a lone pixel-sharp ``shape`` lights on a ``canvas`` px square, cropped to
    their box (shape and bits): two drawings that give equal bytes cannot be told apart. Empty
    for a shape that lights no pixel centre."""
    obj = SceneObject(shape=shape, colour="white", size="small", cx=cx, cy=cy, radius=radius, rgb=(255, 255, 255))
    lit = coverage(obj, canvas, canvas, 1) > 0  # (H, W): where a pixel's centre is inside
    ys, xs = np.nonzero(lit)
    if len(ys) == 0:
        return b""
    crop = lit[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return bytes(crop.shape) + np.packbits(crop).tobytes()


def render(scene: Scene) -> np.ndarray:
    """``(H, W, 3)`` uint8 image of the scene; same background and objects -> same pixels."""
    img = render_background(scene.background["kind"], scene.background["seed"], scene.width, scene.height)
    k = scene.antialias
    hollow = any(o.fill != "solid" for o in scene.objects)
    bg = img.copy() if hollow else None
    if k <= 1:
        for o in scene.objects:  # drawing order: later objects cover earlier ones
            if o.fill == "solid":
                img[o.mask] = o.rgb
            else:
                img[o.mask] = bg[o.mask]  # type: ignore[index]
                img[_samples(o.outline, scene.width, scene.height, 1, max(1.0, STROKE * o.radius))] = o.rgb
        return img
    out = img.astype(np.float32)
    for o in scene.objects:
        a = coverage(o, scene.width, scene.height, k)[..., None]
        if o.fill == "solid":
            out += (np.asarray(o.rgb, dtype=np.float32) - out) * a
        else:
            out += (bg.astype(np.float32) - out) * a  # type: ignore[union-attr]
            s = coverage(o, scene.width, scene.height, k, stroke=True)[..., None]
            out += (np.asarray(o.rgb, dtype=np.float32) - out) * s
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
