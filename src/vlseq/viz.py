"""Drawings a person reads at a glance: boxes with labels, each phrase coloured like its box,
polygons filled translucent, ground truth dashed; an HTML page and a PNG sheet of examples."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Sequence

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


def draw(image: Image.Image, phrases: Sequence[dict[str, Any]], gt_boxes: Sequence[Sequence[float]] = (),
         min_side: int = 384) -> Image.Image:
    """Draw predicted phrases (``{"text", "boxes", "polygons"}`` in pixels) and dashed GT boxes.

    Small images are upscaled (nearest) to ``min_side`` first so labels stay readable.
    """
    img = image.convert("RGB")
    scale = max(1.0, min_side / max(img.size))
    if scale > 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.NEAREST)
    overlay = Image.new("RGBA", img.size, (0, 0, 0, 0))
    od = ImageDraw.Draw(overlay)
    d = ImageDraw.Draw(img)
    font = _font(max(11, int(img.height / 28)))
    for b in gt_boxes:
        x1, y1, x2, y2 = [v * scale for v in b]
        for t in range(0, int(2 * (x2 - x1 + y2 - y1)), 8):  # dashed white outline
            _dash_point(d, x1, y1, x2, y2, t)
    for i, ph in enumerate(phrases):
        c = colour(i)
        for poly in ph.get("polygons", []):
            if len(poly) >= 3:
                od.polygon([(x * scale, y * scale) for x, y in poly], fill=c + (90,), outline=c + (255,))
        for b in ph.get("boxes", []):
            x1, y1, x2, y2 = [v * scale for v in b]
            d.rectangle([x1, y1, x2, y2], outline=c, width=max(2, int(scale)))
            label = ph.get("text", "")
            if label:
                tw = d.textlength(label, font=font)
                ty = max(0, y1 - font.size - 4)
                d.rectangle([x1, ty, x1 + tw + 6, ty + font.size + 4], fill=c)
                d.text((x1 + 3, ty + 1), label, fill=(255, 255, 255), font=font)
    return Image.alpha_composite(img.convert("RGBA"), overlay).convert("RGB")


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
    """The plain text with each grounded phrase in its box's colour."""
    out, pos = [], 0
    for i, ph in enumerate(sorted(enumerate(phrases), key=lambda p: p[1]["span"][0])):
        idx, p = ph
        s, e = p["span"]
        out.append(html.escape(text[pos:s]))
        r, g, b = colour(idx)
        out.append(f'<b style="color:rgb({r},{g},{b})">{html.escape(text[s:e])}</b>')
        pos = e
    out.append(html.escape(text[pos:]))
    return "".join(out)


def write_report_pages(out: Path, data: dict[str, Sequence[Any]], predictions: Path, bins: int, per_task: int = 4) -> None:
    """``out/index.html`` and ``out/sheet.png``: a few examples per task, predicted vs true boxes."""
    from .processor import to_pil

    by_source: dict[str, list[dict]] = {}
    if predictions.exists():
        for line in predictions.read_text().splitlines():
            rec = json.loads(line)
            by_source.setdefault(rec["source"], []).append(rec)
    (out / "img").mkdir(parents=True, exist_ok=True)
    rows, tiles = [], []
    for source, exs in data.items():
        for i, (ex, rec) in enumerate(zip(exs, by_source.get(source, []))):
            if i >= per_task:
                break
            gt = [o.box for o in ex.objects] or [b for ph in ex.phrases for b in ph.boxes]
            pic = draw(to_pil(ex.images[0]), rec["phrases"], gt, min_side=256)
            name = f"img/{source.replace('@', '_')}_{i}.png"
            pic.save(out / name)
            tiles.append((source, pic))
            truth = html.escape(" | ".join(ex.answers[:2]) if ex.answers else "")
            rows.append(f"<tr><td>{html.escape(source)}</td><td><img src='{name}' width=256></td>"
                        f"<td><i>{html.escape(rec.get('prompt', ''))}</i><br>{coloured_text_html(rec['text'], rec['phrases'])}"
                        f"<br><small>truth: {truth}</small><br><code>{html.escape(rec['sequence'])}</code></td></tr>")
    (out / "index.html").write_text(
        "<html><head><meta charset='utf-8'><title>vlseq evaluation</title></head><body>"
        "<h2>vlseq evaluation examples</h2><p>coloured: predictions; dashed white: ground truth</p>"
        f"<table border=1 cellpadding=4>{''.join(rows)}</table></body></html>")
    if tiles:
        cols = 6
        w, h = 256, 256 + 18
        sheet = Image.new("RGB", (cols * w, ((len(tiles) + cols - 1) // cols) * h), (255, 255, 255))
        sd = ImageDraw.Draw(sheet)
        for k, (source, pic) in enumerate(tiles):
            x, y = (k % cols) * w, (k // cols) * h
            sheet.paste(pic.resize((w, 256)), (x, y + 18))
            sd.text((x + 4, y + 3), source, fill=(0, 0, 0), font=_font(12))
        sheet.save(out / "sheet.png")
