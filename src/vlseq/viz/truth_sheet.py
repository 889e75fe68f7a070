"""A contact sheet of ground truth: a few examples per task, each drawn as the model is asked to learn it.

One row per task, one panel per example, the examples of a row taken from distinct images. A panel
is the input image with the example's boxes drawn (:func:`~vlseq.viz.draw.draw`: one colour per
label, polygons filled, keypoints named, an input region dashed white) and, under it, the task name
and image, the prompt and the target text exactly as :class:`~vlseq.tasks.Task` writes them for the
configured coordinate grid. Image-output tasks show the input beside the target image. A wrong box,
a label on the wrong object or a target full of ``<unk>``-bound text is visible here at a glance,
before a run spends hours on it.

The one contact sheet of the package: ``vlseq data inspect --out`` draws one per split it inspects,
and ``vlseq synth`` (and a training run that writes its synthetic world) draws the world's
``contact_sheet.png`` with :func:`write_world_sheet`.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from PIL import Image, ImageDraw

from ..data.errors import DataError
from ..data.example import Example
from ..data.images import load_image
from ..data.readers.split import load_split
from ..tasks import get_task
from .draw import _font, draw

#: side of a panel's picture, in pixels
PANEL = 256
#: text lines under a picture, and their height
TEXT_LINES = 9
LINE_H = 13
#: characters per text line (the default font is about 6 px wide at size 11)
WRAP = 41
#: grey gap between panels
GAP = 4
PANEL_H = PANEL + TEXT_LINES * LINE_H + 6
#: the splits of a synthetic world whose sheet is drawn: the first of them that was written
WORLD_SHEET_SPLITS = ("val", "train", "test")


@dataclass(frozen=True)
class Panel:
    """Where one panel of a sheet came from (tests and the report list them)."""

    task: str
    source: str
    image: str


def image_key(ex: Example) -> str:
    """The identity of an example's image: its file, or for an in-memory input its target file or id.

    ``generate_image`` examples carry a blank canvas array as input; the picture they are about is
    the target, so that is what makes two of them distinct.
    """
    ref = ex.images[0] if ex.images else None
    if isinstance(ref, (str, Path)):
        return str(ref)
    if isinstance(ex.target_image, (str, Path)):
        return str(ex.target_image)
    return f"{ex.task}:{ex.image_id or ex.source}"


def distinct_images(examples: Sequence[Example]) -> Iterator[Example]:
    """The examples of distinct images, the first of each image in file order."""
    seen: set[str] = set()
    for ex in examples:
        key = image_key(ex)
        if key not in seen:
            seen.add(key)
            yield ex


def truth_phrases(ex: Example) -> list[dict[str, Any]]:
    """The example's annotation as :func:`draw` phrases: objects grouped by label, else its phrases.

    Grouping by label gives every object of a category one colour, so a mislabelled box stands out.
    """
    if ex.objects:
        groups: dict[str, dict[str, Any]] = {}
        for o in ex.objects:
            g = groups.setdefault(o.label, {"text": o.label, "boxes": [], "polygons": [], "keypoints": []})
            g["boxes"].append(list(o.box))
            if o.polygon:
                g["polygons"].append([list(p) for p in o.polygon])
            g["keypoints"] += [[name, list(p)] for name, p in (o.keypoints or {}).items()]
        return list(groups.values())
    text = ex.answers[0] if ex.task == "grounded_caption" and ex.answers else ex.text
    return [{"text": text[p.start:p.end], "boxes": [list(b) for b in p.boxes], "polygons": [list(map(list, q)) for q in p.polygons]}
            for p in ex.phrases]


def _picture(ex: Example) -> Image.Image:
    """The panel's picture: the input with its ground truth, and for an image task the target beside it."""
    regions = [list(ex.region)] if ex.region is not None else []
    drawn = draw(load_image(ex.images[0]), truth_phrases(ex), regions, min_side=PANEL)
    if ex.target_image is None:
        return _fit(drawn, PANEL, PANEL)
    pic = Image.new("RGB", (PANEL, PANEL), (255, 255, 255))
    half = PANEL // 2 - 2
    pic.paste(_fit(drawn, half, half), (0, PANEL // 4))
    pic.paste(_fit(load_image(ex.target_image), half, half), (PANEL - half, PANEL // 4))
    return pic


def _fit(img: Image.Image, w: int, h: int) -> Image.Image:
    return img if img.size == (w, h) else img.resize((w, h), Image.NEAREST)


def _text_lines(ex: Example, bins: int) -> list[str]:
    """Task and image, then the prompt and the target, wrapped; an over-long target ends in '...'."""
    task = get_task(ex.task)
    prompt = task.prompt(ex, bins)
    if task.output == "image":
        target = f"(the {ex.width}x{ex.height} target image, right, as image codes)"
        label = "input | target"
    else:
        target = task.target(ex, bins, None)
        label = f"image {ex.image_id}" if ex.image_id else ""
    lines = [f"{ex.task}  {label}".rstrip()]
    for tag, text in (("P", prompt), ("T", target)):
        lines += textwrap.wrap(f"{tag}: {text or '(empty)'}", WRAP, break_long_words=True) or [f"{tag}:"]
    if len(lines) > TEXT_LINES:
        lines = lines[:TEXT_LINES]
        lines[-1] = lines[-1][: WRAP - 3] + "..."
    return lines


def draw_panel(ex: Example, bins: int) -> Image.Image:
    """One ``PANEL x PANEL_H`` panel: the picture, then the text lines."""
    panel = Image.new("RGB", (PANEL, PANEL_H), (255, 255, 255))
    panel.paste(_picture(ex), (0, 0))
    d = ImageDraw.Draw(panel)
    font = _font(11)
    for k, line in enumerate(_text_lines(ex, bins)):
        d.text((3, PANEL + 3 + LINE_H * k), line, fill=(0, 0, 0) if k else (0, 70, 160), font=font)
    return panel


def truth_sheet(data: Mapping[str, Sequence[Example]], bins: int, per_task: int = 3,
                skip_bad: bool = False) -> tuple[Image.Image, list[Panel]]:
    """The sheet of ``data`` (task -> examples): one row per task that has examples, ``per_task`` columns.

    Returns the image and its panels in reading order. The sheet is exactly
    ``(per_task * (PANEL + GAP), rows * (PANEL_H + GAP))`` pixels. An image that passed the readers'
    header check but does not decode is a DataError naming it and the record; with ``skip_bad`` the
    next image of the task takes its place.
    """
    if per_task < 1:
        raise ValueError(f"per_task must be >= 1, got {per_task}")
    rows: list[list[tuple[Image.Image, Panel]]] = []
    for task, exs in data.items():
        row: list[tuple[Image.Image, Panel]] = []
        for ex in distinct_images(exs):
            try:
                row.append((draw_panel(ex, bins), Panel(task, ex.source, image_key(ex))))
            except DataError as e:
                if not skip_bad:
                    raise DataError(e.file, ex.source or ex.image_id or None, e.problem, e.detail) from None
                continue
            if len(row) == per_task:
                break
        if row:
            rows.append(row)
    sheet = Image.new("RGB", (per_task * (PANEL + GAP), max(1, len(rows)) * (PANEL_H + GAP)), (200, 200, 200))
    for r, row in enumerate(rows):
        for c, (pic, _) in enumerate(row):
            sheet.paste(pic, (c * (PANEL + GAP), r * (PANEL_H + GAP)))
    return sheet, [panel for row in rows for _, panel in row]


def write_split_sheet(split_dir: str | Path, path: str | Path, bins: int, per_task: int = 3) -> Path:
    """Save the :func:`truth_sheet` of every task a split directory's files provide to ``path``.

    Images are not header-checked at load: only the few drawn are opened, and one that does not
    decode is a DataError naming it (as :func:`truth_sheet` says).
    """
    sheet, _ = truth_sheet(load_split(split_dir, check_images=False), bins, per_task)
    path = Path(path)
    sheet.save(path)
    return path


def write_world_sheet(root: str | Path, bins: int, per_task: int = 3) -> Path | None:
    """``root/contact_sheet.png``: the sheet of a written synthetic world, drawn from its first
    written split of :data:`WORLD_SHEET_SPLITS`; None (nothing written) when the world has none."""
    root = Path(root)
    for split in WORLD_SHEET_SPLITS:
        if (root / split / "manifest.json").is_file():
            return write_split_sheet(root / split, root / "contact_sheet.png", bins, per_task)
    return None
