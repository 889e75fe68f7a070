"""Report pages of an evaluation: an HTML page and a PNG sheet of examples, predictions beside the truth."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from .draw import _font, coloured_text_html, draw


def _written_image(sequence: str, ex: Any, bins: int,
                   decode_image: Callable[[Sequence[int]], np.ndarray] | None) -> Image.Image | None:
    """Output | target side by side (256 px high) for an image-output sequence; None for other outputs."""
    from ..codec import parse
    from ..processing import to_pil

    codes = parse(sequence, ex.width, ex.height, bins).image_codes if "<img_" in sequence else []
    if decode_image is None or not codes or ex.target_image is None:
        return None
    try:
        made = Image.fromarray(np.asarray(decode_image(codes), dtype=np.uint8))
    except ValueError:  # not a full code grid
        return None
    pair = Image.new("RGB", (512, 256), (255, 255, 255))
    pair.paste(made.resize((256, 256), Image.NEAREST), (0, 0))
    pair.paste(to_pil(ex.target_image).resize((256, 256), Image.NEAREST), (256, 0))
    return pair


def write_report_pages(out: Path, data: dict[str, Sequence[Any]], predictions: Path, bins: int, per_task: int = 4,
                       decode_image: Callable[[Sequence[int]], np.ndarray] | None = None) -> None:
    """``out/index.html`` and ``out/sheet.png``: a few examples per task, predicted vs true boxes.

    With ``decode_image`` (codes -> ``(S, S, 3)`` uint8), an image task's tile shows the image the
    model wrote beside the true target instead.
    """
    from ..processing import to_pil

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
            made = _written_image(rec["sequence"], ex, bins, decode_image)
            pic = made if made is not None else draw(to_pil(ex.images[0]), rec["phrases"], gt, min_side=256)
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
