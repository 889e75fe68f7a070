"""A grid of scenes with their ground truth drawn, for checking the synthetic world by eye.

Each tile: the scene enlarged, every object's box (thin, white) and polygon (its outline, black),
the referring expression's box (thick, red) and below it one caption, one question with its
answer and the expression.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .world import WorldConfig, examples_for_scene, generate_scene, render

TILE = 256
TEXT_LINES = 7


def _font(size: int = 11) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)  # a scalable font when FreeType is there
    except TypeError:  # older Pillow: the fixed bitmap font
        return ImageFont.load_default()


def draw_tile(image: np.ndarray, examples: list, scale: int) -> Image.Image:
    """One annotated tile: ``image`` ``(H, W, 3)`` uint8 enlarged ``scale`` times plus text lines."""
    h, w = image.shape[:2]
    pic = Image.fromarray(image).resize((w * scale, h * scale), Image.NEAREST)
    tile = Image.new("RGB", (w * scale, h * scale + TEXT_LINES * 13 + 6), (255, 255, 255))
    tile.paste(pic, (0, 0))
    d = ImageDraw.Draw(tile)
    by_task: dict[str, list] = {}
    for ex in examples:
        by_task.setdefault(ex.task, []).append(ex)

    def sc(p):
        return [v * scale for v in p]

    for o in by_task.get("detect", [None])[0].objects if "detect" in by_task else []:
        d.rectangle(sc(o.box), outline=(255, 255, 255))
        if o.polygon:
            d.polygon([tuple(sc(p)) for p in o.polygon], outline=(0, 0, 0))
        d.text((o.box[0] * scale + 2, o.box[1] * scale + 1), o.label, fill=(255, 255, 255), font=_font(9))
    lines = []
    if "caption" in by_task:
        lines.append("C: " + by_task["caption"][0].answers[0])
    if "vqa" in by_task:
        q = by_task["vqa"][0]
        lines.append(f"Q: {q.text} A: {q.answers[0]}")
    if "refexp" in by_task:
        r = by_task["refexp"][0]
        d.rectangle(sc(r.objects[0].box), outline=(255, 0, 0), width=3)
        lines.append(f"R: {r.text}")
    wrapped = [s for line in lines for s in textwrap.wrap(line, 44)][:TEXT_LINES]
    for k, s in enumerate(wrapped):
        d.text((3, h * scale + 3 + 13 * k), s, fill=(0, 0, 0), font=_font())
    return tile


def contact_sheet(config: WorldConfig, seed: int, n: int = 12, cols: int = 4) -> Image.Image:
    """A grid of ``n`` scenes regenerated from ``seed`` (independent of any written split)."""
    scale = max(1, TILE // config.size)
    tiles = []
    for i in range(n):
        ss = np.random.SeedSequence([seed, 99, i])
        a, b = ss.spawn(2)
        scene = generate_scene(np.random.default_rng(a), config)
        image = render(scene)
        exs = examples_for_scene(scene, image, np.random.default_rng(b), config,
                                 tasks=("caption", "vqa", "refexp", "detect"))
        tiles.append(draw_tile(image, exs, scale))
    tw, th = tiles[0].size
    rows = (n + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (tw + 4), rows * (th + 4)), (200, 200, 200))
    for k, t in enumerate(tiles):
        sheet.paste(t, ((k % cols) * (tw + 4), (k // cols) * (th + 4)))
    return sheet


def write_contact_sheet(path: str | Path, config: WorldConfig, seed: int, n: int = 12) -> Path:
    path = Path(path)
    contact_sheet(config, seed, n).save(path)
    return path
