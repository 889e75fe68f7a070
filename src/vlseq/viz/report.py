"""Report pages of an evaluation: a PNG sheet a person reads at a glance and an HTML page, the long form.

The sheet has one row per source and one panel per example, the examples of a row from distinct
images and, where the model got some right and some wrong, both: right and wrong panels alternate
(at most half and half while both last). A panel is the picture (predicted boxes in colour, true
boxes and an input region dashed white; for an image task the written image beside the target)
and under it, wrapped to the panel's width, the prompt, the prediction and the truth. The
prediction is green where it is right and red where it is wrong, with the word said too.

Right, by the task's own notion: :meth:`Task.verdict <vlseq.tasks.Task.verdict>` (the rules are in
:mod:`vlseq.tasks.judge`: IoU >= 0.5 for a box, the exact option or answer for a closed set and VQA,
half the objects found for an object list, content-word F1 >= 0.5 for free text; rough rules, for
display only). A task without one (image outputs) gets no verdict: the written image is shown
beside its target.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from ..tasks.judge import FUNCTION_WORDS as FUNCTION_WORDS  # re-exported: the sheet's rules, named where they were
from ..tasks.judge import IOU_RIGHT as IOU_RIGHT
from ..tasks.judge import best_iou
from ..tasks.judge import word_f1 as word_f1
from .draw import _font, coloured_text_html, draw

#: panel width and picture height, in pixels
PANEL_W = 256
#: the band above the picture naming the source
HEADER_H = 18
#: height of a text line under the picture; at most FIELD_LINES lines for each of the prompt, the
#: prediction and the truth (the sheet's text band fits its longest panel text)
LINE_H = 14
FIELD_LINES = 3
#: grey gap between panels
GAP = 4
RIGHT = (0, 140, 0)
WRONG = (200, 0, 0)
INK = (0, 0, 0)
TRUTH_INK = (70, 70, 70)
_LOC_RUN = re.compile(r"(?:<loc_\d+>){4}")


@dataclass(frozen=True)
class SheetPanel:
    """One panel of the sheet: where it came from, its verdict and where its prediction text lies.

    ``pred_box``: ``(x0, y0, x1, y1)`` in sheet pixels of the prediction's text lines (tests read
    the ink colour there).
    """

    source: str
    index: int
    image: str
    right: bool | None
    pred_box: tuple[int, int, int, int]


def image_key(ex: Any) -> str:
    """The identity of an example's picture: its file, else its target file, id, or the object itself."""
    ref = ex.images[0] if ex.images else None
    if isinstance(ref, (str, Path)):
        return str(ref)
    if isinstance(ex.target_image, (str, Path)):  # generate_image: the input is a shared blank canvas
        return str(ex.target_image)
    return f"id:{ex.image_id}" if ex.image_id else f"object:{id(ref)}"


# --------------------------------------------------------------------------- right or wrong


def verdict(task: Any, ex: Any, pred: Any) -> bool | None:
    """Whether ``pred`` (a :class:`~vlseq.tasks.Prediction`) is right for ``ex``: the task's own
    :meth:`~vlseq.tasks.Task.verdict`; None where the task has no such notion."""
    return task.verdict(ex, pred)


def _box_text(b: Sequence[float]) -> str:
    return "(" + ", ".join(f"{v:.0f}" for v in b) + ")"


def _labels(objects: Sequence[tuple[str, Any]]) -> str:
    return f"{len(objects)} object{'s' * (len(objects) != 1)}: " + ", ".join(label for label, _ in objects)


def describe(task: Any, ex: Any, pred: Any) -> tuple[str, str]:
    """The prediction and the truth as a person reads them (boxes in pixels, with their IoU; a text
    output beside the task's own :meth:`~vlseq.tasks.Task.truth_text`)."""
    if task.output == "image":
        return "the written image (left)", "the target image (right)"
    if task.output == "box":
        truth = [o.box for o in ex.objects]
        said = "; ".join(_box_text(o.box) for o in ex.objects[:2]) + (" ..." if len(truth) > 2 else "")
        if not pred.objects:
            return "no box", f"box {said}"
        box = pred.objects[0][1]
        return f"box {_box_text(box)}, IoU {best_iou(box, truth):.2f}", f"box {said}"
    if task.output == "objects":
        return _labels(pred.objects) if pred.objects else "no objects", _labels([(o.label, o.box) for o in ex.objects])
    return pred.text or "(empty)", task.truth_text(ex)


# --------------------------------------------------------------------------- which panels


def choose(items: Sequence[tuple[str, bool | None]], k: int) -> list[int]:
    """Indices of up to ``k`` items ``(image key, right?)`` of distinct images: right and wrong taken
    in turn while both last (the first of each, in order), then whatever has no verdict."""
    pools: dict[bool | None, list[int]] = {True: [], False: [], None: []}
    for i, (_, v) in enumerate(items):
        pools[v].append(i)
    picked: list[int] = []
    used: set[str] = set()

    def take(v: bool | None) -> bool:
        pool = pools[v]
        while pool:
            i = pool.pop(0)
            if items[i][0] not in used:
                picked.append(i)
                used.add(items[i][0])
                return True
        return False

    progressed = True
    while len(picked) < k and progressed:
        progressed = False
        for v in (True, False):
            if len(picked) < k and take(v):
                progressed = True
    while len(picked) < k and take(None):
        pass
    return picked


# --------------------------------------------------------------------------- drawing


def _written_image(sequence: str, ex: Any, bins: int,
                   decode_image: Callable[[Sequence[int]], np.ndarray] | None) -> Image.Image | None:
    """Output | target side by side (256 px high) for an image-output sequence; None for other outputs."""
    from ..codec import parse
    from ..data.images import load_image

    codes = parse(sequence, ex.width, ex.height, bins).image_codes if "<img_" in sequence else []
    if decode_image is None or not codes or ex.target_image is None:
        return None
    try:
        made = Image.fromarray(np.asarray(decode_image(codes), dtype=np.uint8))
    except ValueError:  # not a full code grid
        return None
    pair = Image.new("RGB", (512, 256), (255, 255, 255))
    pair.paste(made.resize((256, 256), Image.NEAREST), (0, 0))
    pair.paste(load_image(ex.target_image).resize((256, 256), Image.NEAREST), (256, 0))
    return pair


def _fit(img: Image.Image, w: int, h: int) -> Image.Image:
    """``img`` scaled into ``w x h`` with its aspect kept, centred on white."""
    s = min(w / img.width, h / img.height)
    small = img.resize((max(1, round(img.width * s)), max(1, round(img.height * s))), Image.NEAREST)
    out = Image.new("RGB", (w, h), (255, 255, 255))
    out.paste(small, ((w - small.width) // 2, (h - small.height) // 2))
    return out


def wrap(text: str, width: float, measure: Callable[[str], float], max_lines: int) -> list[str]:
    """``text`` in lines no wider than ``width`` (a word longer than a line is cut); the last kept line
    ends in '...' when the text does not fit in ``max_lines``."""
    lines: list[str] = []
    cur = ""
    for word in text.split():
        while measure(word) > width:  # a long word (a coordinate run, a path) is cut where it must be
            n = len(word)
            while n > 1 and measure(word[:n]) > width:
                n -= 1
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:n])
            word = word[n:]
        trial = f"{cur} {word}" if cur else word
        if measure(trial) <= width:
            cur = trial
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        last = lines[max_lines - 1]
        while last and measure(last + "...") > width:
            last = last[:-1]
        lines = lines[: max_lines - 1] + [last + "..."]
    return lines or [""]


Line = tuple[str, tuple[int, int, int], bool]


def panel_text(prompt: str, pred: str, truth: str, right: bool | None) -> list[Line]:
    """The lines under a panel's picture, wrapped to its width: ``(text, ink, is the prediction)``."""
    font = _font(12)
    d = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    tag = {True: "pred (right): ", False: "pred (wrong): ", None: "pred: "}[right]
    ink = {True: RIGHT, False: WRONG, None: INK}[right]
    out: list[Line] = []
    for label, text, colour in (("prompt: ", prompt, INK), (tag, pred, ink), ("truth: ", truth, TRUTH_INK)):
        lines = wrap(label + " ".join(text.split()), PANEL_W - 8, lambda s: d.textlength(s, font=font), FIELD_LINES)
        out += [(line, colour, label == tag) for line in lines]
    return out


def panel_height(text_lines: int) -> int:
    """Height of a panel with ``text_lines`` lines under its picture."""
    return HEADER_H + PANEL_W + text_lines * LINE_H + 6


def _panel(source: str, pic: Image.Image, lines: Sequence[Line], height: int) -> tuple[Image.Image, tuple[int, int]]:
    """One ``PANEL_W x height`` panel, and the first and last y of its prediction lines."""
    panel = Image.new("RGB", (PANEL_W, height), (255, 255, 255))
    panel.paste(_fit(pic, PANEL_W, PANEL_W), (0, HEADER_H))
    d = ImageDraw.Draw(panel)
    font = _font(12)
    d.text((4, 3), source, fill=(0, 70, 160), font=font)
    y0 = HEADER_H + PANEL_W + 3
    pred = [k for k, (_, _, is_pred) in enumerate(lines) if is_pred]
    for k, (text, ink, _) in enumerate(lines):
        d.text((4, y0 + k * LINE_H), text, fill=ink, font=font)
    return panel, (y0 + pred[0] * LINE_H, y0 + (pred[-1] + 1) * LINE_H)


def _records(predictions: Path) -> dict[str, list[dict]]:
    by_source: dict[str, list[dict]] = {}
    if predictions.exists():
        for line in predictions.read_text().splitlines():
            if line.strip():
                rec = json.loads(line)
                by_source.setdefault(rec["source"], []).append(rec)
    return by_source


def write_report_pages(out: Path, data: dict[str, Sequence[Any]], predictions: Path, bins: int, per_task: int = 4,
                       decode_image: Callable[[Sequence[int]], np.ndarray] | None = None) -> list[SheetPanel]:
    """``out/sheet.png`` (see the module docstring) and ``out/index.html`` (the same examples with the
    full prompt, prediction, truth and raw sequence); returns the sheet's panels.

    ``predictions``: the ``predictions.jsonl`` of :func:`vlseq.evaluation.evaluate.evaluate_examples`,
    records of a source in the order of its examples (a file appended to by several runs: its last
    records count). With ``decode_image`` (codes -> ``(S, S, 3)`` uint8), an image task's panel shows
    the image the model wrote beside the true target.
    """
    from ..data.images import load_image
    from ..tasks import get_task, task_names, task_of

    by_source = _records(predictions)
    (out / "img").mkdir(parents=True, exist_ok=True)
    rows_html: list[str] = []
    sheet_rows: list[tuple[str, list[tuple[Image.Image, list[Line], int, str, bool | None]]]] = []
    for source, exs in data.items():
        recs = by_source.get(source, [])
        recs = recs[-len(exs):] if len(recs) > len(exs) else recs
        if not recs or task_of(source) not in task_names():
            continue
        task = get_task(task_of(source))
        preds = [task.parse(rec["sequence"], ex, bins) for ex, rec in zip(exs, recs)]
        verdicts = [verdict(task, ex, p) for ex, p in zip(exs, preds)]
        row = []
        for i in choose([(image_key(ex), v) for ex, v in zip(exs, verdicts)], per_task):
            ex, rec, pred, right = exs[i], recs[i], preds[i], verdicts[i]
            gt = [o.box for o in ex.objects] or [b for ph in ex.phrases for b in ph.boxes]
            gt += [ex.region] if ex.region is not None else []
            made = _written_image(rec["sequence"], ex, bins, decode_image)
            pic = made if made is not None else draw(load_image(ex.images[0]), rec["phrases"], gt, min_side=PANEL_W)
            name = f"img/{source.replace('@', '_')}_{i}.png"
            pic.save(out / name)
            prompt = _LOC_RUN.sub(" [region] ", rec.get("prompt", ""))
            said, truth = describe(task, ex, pred)
            row.append((pic, panel_text(prompt, said, truth, right), i, image_key(ex), right))
            mark = {True: f"<b style='color:rgb{RIGHT}'>right</b>", False: f"<b style='color:rgb{WRONG}'>wrong</b>",
                    None: ""}[right]
            rows_html.append(
                f"<tr><td>{html.escape(source)}<br>{mark}</td><td><img src='{name}' width={PANEL_W}></td>"
                f"<td><i>{html.escape(rec.get('prompt', ''))}</i><br>{coloured_text_html(rec['text'], rec['phrases'])}"
                f"<br><small>{html.escape(said)}</small><br><small>truth: {html.escape(truth)}</small>"
                f"<br><code>{html.escape(rec['sequence'])}</code></td></tr>")
        if row:
            sheet_rows.append((source, row))
    (out / "index.html").write_text(
        "<html><head><meta charset='utf-8'><title>vlseq evaluation</title></head><body>"
        "<h2>vlseq evaluation examples</h2><p>coloured: predictions; dashed white: ground truth or the input "
        "region; right / wrong by the task's rule (IoU &gt;= 0.5 for boxes, the exact answer for VQA and "
        "classification, content-word overlap F1 &gt;= 0.5 for captions)</p>"
        f"<table border=1 cellpadding=4>{''.join(rows_html)}</table></body></html>")
    panels: list[SheetPanel] = []
    if sheet_rows:
        cols = max(len(row) for _, row in sheet_rows)
        h = panel_height(max(len(lines) for _, row in sheet_rows for _, lines, *_ in row))
        sheet = Image.new("RGB", (cols * (PANEL_W + GAP) - GAP, len(sheet_rows) * (h + GAP) - GAP), (200, 200, 200))
        for r, (source, row) in enumerate(sheet_rows):
            for c, (pic, lines, i, key, right) in enumerate(row):
                x, y = c * (PANEL_W + GAP), r * (h + GAP)
                panel, (y0, y1) = _panel(source, pic, lines, h)
                sheet.paste(panel, (x, y))
                panels.append(SheetPanel(source, i, key, right, (x, y + y0, x + PANEL_W, y + y1)))
        sheet.save(out / "sheet.png")
    return panels
