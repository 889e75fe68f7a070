"""Drawings a person reads at a glance: boxes with labels, each phrase coloured like its box,
polygons filled translucent, ground truth dashed; an HTML page and a PNG sheet of examples."""

from __future__ import annotations

import html
from typing import Any, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240),
           (240, 50, 230), (210, 245, 60), (250, 190, 212), (0, 128, 128), (170, 110, 40), (128, 0, 0)]


def colour(i: int) -> tuple[int, int, int]:
    return PALETTE[i % len(PALETTE)]


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def text_colour(c: tuple[int, int, int]) -> tuple[int, int, int]:
    """Black or white, whichever reads better on background ``c`` (relative luminance)."""
    r, g, b = c
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def draw(image: Image.Image, phrases: Sequence[dict[str, Any]], gt_boxes: Sequence[Sequence[float]] = (),
         min_side: int = 384) -> Image.Image:
    """Draw predicted phrases and dashed ground-truth (or input-region) boxes.

    ``phrases`` are dicts ``{"text", "boxes", "polygons", "scores"?, "keypoints"?}`` with pixel
    coordinates of ``image`` (the ``phrases`` of :meth:`vlseq.tasks.Prediction.to_json`;
    ``keypoints`` as ``[name, [x, y]]``). Phrase ``i`` gets ``colour(i)``: its boxes' outlines,
    its polygons (filled translucent), its keypoints (named dots) and its label tag, which shows
    the score when there is one. Tags stay inside the picture: above the box when there is
    room, else inside its top edge. Small images are upscaled (nearest) to ``min_side`` first so
    labels stay readable.
    """
    img = image.convert("RGB")
    scale = max(1.0, min_side / max(img.size))
    if scale > 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.NEAREST)
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    od = ImageDraw.Draw(overlay)
    font = _font(max(12, int(min(img.size) / 24)))
    small = _font(max(10, int(min(img.size) / 34)))
    line = max(2, round(min(img.size) / 200))
    for i, ph in enumerate(phrases):  # polygons first, so outlines and tags stay on top
        c = colour(i)
        for poly in ph.get("polygons", []):
            if len(poly) >= 3:
                od.polygon([(x * scale, y * scale) for x, y in poly], fill=c + (90,), outline=c + (255,))
    img = Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")
    d = ImageDraw.Draw(img)
    for b in gt_boxes:
        x1, y1, x2, y2 = [v * scale for v in b]
        for t in range(0, int(2 * (x2 - x1 + y2 - y1)), 8):  # dashed white outline
            _dash_point(d, x1, y1, x2, y2, t)
    tags = []
    for i, ph in enumerate(phrases):
        c = colour(i)
        scores = ph.get("scores") or []
        for k, b in enumerate(ph.get("boxes", [])):
            x1, y1, x2, y2 = [v * scale for v in b]
            # A dark 1 px rim on both sides keeps the outline visible on any background.
            d.rectangle([x1 - 1, y1 - 1, x2 + 1, y2 + 1], outline=(0, 0, 0), width=line + 2)
            d.rectangle([x1, y1, x2, y2], outline=c, width=line)
            label = ph.get("text", "")
            if k < len(scores):
                label = f"{label} {scores[k]:.2f}".strip()
            if label:
                tags.append((label, c, x1, y1))
        for name, (x, y) in ph.get("keypoints", []):  # a dot in the phrase's colour, its name beside it
            x, y, r = x * scale, y * scale, line + 2
            d.ellipse([x - r, y - r, x + r, y + r], fill=c, outline=(0, 0, 0))
            d.text((x + r + 2, y - small.size / 2), str(name), fill=c, font=small, stroke_width=1, stroke_fill=(0, 0, 0))
    for label, c, x1, y1 in tags:  # after every box, so no outline crosses a tag
        tw, th = d.textlength(label, font=font), font.size + 4
        tx = min(max(0.0, x1), max(0.0, img.width - tw - 6))
        ty = y1 - th if y1 - th >= 0 else y1 + line
        d.rectangle([tx, ty, tx + tw + 6, ty + th], fill=c)
        d.text((tx + 3, ty + 1), label, fill=text_colour(c), font=font)
    return img


def _dash_point(d: ImageDraw.ImageDraw, x1: float, y1: float, x2: float, y2: float, t: float) -> None:
    w, h = x2 - x1, y2 - y1
    segs = [((x1, y1), (1, 0), w), ((x2, y1), (0, 1), h), ((x2, y2), (-1, 0), w), ((x1, y2), (0, -1), h)]
    for (sx, sy), (dx, dy), length in segs:
        if t < length:
            e = min(t + 4, length)
            d.line([(sx + dx * t, sy + dy * t), (sx + dx * e, sy + dy * e)], fill=(255, 255, 255), width=2)
            return
        t -= length


def coloured_text_html(text: str, phrases: Sequence[dict[str, Any]]) -> str:
    """The plain text with each grounded phrase highlighted in its box's colour (readable text on top)."""
    out, pos = [], 0
    for idx, p in sorted(enumerate(phrases), key=lambda q: q[1]["span"][0]):
        s, e = p["span"]
        out.append(html.escape(text[pos:s]))
        r, g, b = colour(idx)
        fr, fg, fb = text_colour((r, g, b))
        out.append(f'<b style="background:rgb({r},{g},{b});color:rgb({fr},{fg},{fb});padding:0 2px;border-radius:3px">'
                   f'{html.escape(text[s:e])}</b>')
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)


def attention_sheet(image: Image.Image, maps: Sequence[tuple[int, Any]], side: int = 128, max_boxes: int = 4) -> Image.Image:
    """One panel per box coordinate: ``image`` with the pointer's attention over the grid cells laid
    over it (red: where the model looked to write that coordinate), boxes in rows (at most
    ``max_boxes``), x1 y1 x2 y2 across.

    ``maps``: :func:`vlseq.decoding.pointer_maps.pointer_maps` output.
    """
    from ..decoding.boxes import SLOTS
    rows = max(1, min(max_boxes, (len(maps) + 3) // 4))
    base = image.convert("RGB").resize((side, side), Image.BILINEAR)
    sheet = Image.new("RGB", (4 * side, rows * (side + 14)), "white")
    d = ImageDraw.Draw(sheet)
    font = _font(11)
    for k, (slot, m) in enumerate(maps[: 4 * rows]):
        r, c = k // 4, slot
        heat = np.asarray(m, dtype=np.float32)
        heat = heat / max(float(heat.max()), 1e-8)
        over = Image.fromarray((heat * 255).astype("uint8")).resize((side, side), Image.NEAREST)
        red = Image.new("RGB", (side, side), (255, 0, 0))
        panel = Image.composite(red, base, over.point(lambda v: int(v * 0.6)))
        sheet.paste(panel, (c * side, r * (side + 14) + 14))
        d.text((c * side + 3, r * (side + 14)), f"box {r + 1}: {SLOTS[slot]}", fill=(0, 0, 0), font=font)
    return sheet
