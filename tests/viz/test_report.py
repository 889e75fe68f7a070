"""The example sheet: panels from distinct images, right and wrong ones both shown, and each
panel's prediction written in green (right) or red (wrong) under its picture."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import scene_image
from vlseq.codec import GroundedText, Phrase, build
from vlseq.data.example import Example, Object
from vlseq.tasks import get_task
from vlseq.viz.report import PANEL_W, choose, verdict, word_f1, wrap, write_report_pages

BINS = 64
SIZE = 64


def _vqa(image: np.ndarray, image_id: str, question: str, answer: str) -> Example:
    return Example(task="vqa", images=[image], width=SIZE, height=SIZE, image_id=image_id, text=question,
                   answers=[answer] * 10)


def _record(source: str, ex: Example, sequence: str) -> dict:
    task = get_task(source)
    return {"source": source, "image_id": ex.image_id, "prompt": task.prompt(ex, BINS),
            **task.parse(sequence, ex, BINS).to_json()}


@pytest.fixture()
def evaluated(tmp_path: Path) -> tuple[Path, dict[str, list[Example]]]:
    """Six VQA examples on five images (A twice, first right then wrong) and two refexp examples."""
    a, b, c, d, e = (scene_image(s, SIZE) for s in range(5))
    vqa = [_vqa(a, "A", "how many objects are there?", "3"),
           _vqa(a, "A", "is there a red circle in the picture?", "yes"),
           _vqa(b, "B", "what colour is the star?", "blue"),
           _vqa(c, "C", "is the square left of the circle?", "no"),
           _vqa(d, "D", "what shape is the green object?", "triangle"),
           _vqa(e, "E", "how many circles are there?", "2")]
    said = ["3", "no", "blue", "yes", "circle", "2"]  # right, wrong, right, wrong, wrong, right
    box = (8.5, 8.5, 40.5, 40.5)
    ref = [Example(task="refexp", images=[img], width=SIZE, height=SIZE, image_id=k, text="the red circle",
                   objects=[Object("circle", box)]) for img, k in ((a, "A"), (b, "B"))]
    boxes = [box, (44.5, 44.5, 60.5, 60.5)]  # exact (right), far off (wrong)
    lines = [_record("vqa", ex, s) for ex, s in zip(vqa, said)]
    lines += [_record("refexp", ex, build(GroundedText("the red circle", [Phrase(0, 14, (bx,))]), SIZE, SIZE, BINS))
              for ex, bx in zip(ref, boxes)]
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return preds, {"vqa": vqa, "refexp": ref}


def _inks(sheet: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int]:
    """Green and red text pixels in ``box`` (anti-aliased ink on white keeps its hue)."""
    px = np.asarray(sheet.crop(box).convert("RGB")).astype(int)
    r, g, b = px[..., 0], px[..., 1], px[..., 2]
    return int(((g - r > 50) & (g - b > 50)).sum()), int(((r - g > 50) & (r - b > 50)).sum())


def test_sheet_shows_right_and_wrong_panels_of_distinct_images(tmp_path: Path, evaluated) -> None:
    preds, data = evaluated
    panels = write_report_pages(tmp_path / "eval", data, preds, BINS, per_task=4)
    vqa = [p for p in panels if p.source == "vqa"]
    ref = [p for p in panels if p.source == "refexp"]
    assert len(vqa) == 4 and len(ref) == 2
    # Right and wrong in turn; example 1 (wrong) shares image A with example 0 and is passed over.
    assert [p.index for p in vqa] == [0, 3, 2, 4]
    assert len({p.image for p in vqa}) == 4
    assert [p.right for p in vqa] == [True, False, True, False] and [p.right for p in ref] == [True, False]
    sheet = Image.open(tmp_path / "eval" / "sheet.png")
    assert sheet.size[0] >= 4 * PANEL_W and sheet.size[1] >= 2 * PANEL_W
    for p in panels:
        green, red = _inks(sheet, p.pred_box)
        assert (green > 20 and red == 0) if p.right else (red > 20 and green == 0), (p, green, red)
    page = (tmp_path / "eval" / "index.html").read_text()
    assert "what colour is the star?" in page and "wrong" in page and "right" in page


def test_last_records_count_when_a_file_was_appended_twice(tmp_path: Path, evaluated) -> None:
    preds, data = evaluated
    stale = [json.loads(line) for line in preds.read_text().splitlines()]
    for r in stale:  # an earlier run that got everything wrong
        r.update(sequence="zzz", text="zzz", phrases=[])
    preds.write_text("".join(json.dumps(r) + "\n" for r in stale) + preds.read_text())
    panels = write_report_pages(tmp_path / "eval", {"vqa": data["vqa"]}, preds, BINS, per_task=4)
    assert sorted(p.right for p in panels) == [False, False, True, True]


def test_choose_fills_from_one_side_when_the_other_runs_out() -> None:
    items = [("a", False), ("b", False), ("b", True), ("c", False), ("d", False)]
    assert choose(items, 3) == [2, 0, 3]  # the one right first, then wrongs of other images
    assert choose([("a", None), ("a", None), ("b", None)], 4) == [0, 2]


def test_verdict_rules() -> None:
    img = scene_image(0, SIZE)
    cap = Example(task="caption", images=[img], width=SIZE, height=SIZE, answers=["a red circle and a blue star"])
    task = get_task("caption")
    assert verdict(task, cap, task.parse("a red circle and a star", cap, BINS)) is True
    assert verdict(task, cap, task.parse("two green squares", cap, BINS)) is False
    assert word_f1("a red circle", "A red, circle.") == 1.0
    assert word_f1("a", "a cross.") == 0.0  # a lone article is not a caption that matches
    det = Example(task="detect", images=[img], width=SIZE, height=SIZE, options=["circle", "star"],
                  objects=[Object("circle", (8.5, 8.5, 40.5, 40.5)), Object("star", (44.5, 44.5, 60.5, 60.5))])
    task = get_task("detect")
    seq = build(GroundedText("circle", [Phrase(0, 6, ((8.5, 8.5, 40.5, 40.5),))]), SIZE, SIZE, BINS)
    assert verdict(task, det, task.parse(seq, det, BINS)) is True  # half of the truth found, nothing false
    assert verdict(task, det, task.parse("", det, BINS)) is False
    assert verdict(get_task("generate_image"), det, task.parse("", det, BINS)) is None


def test_wrap_fits_the_width_and_marks_a_cut() -> None:
    lines = wrap("one two three four five six seven", 10, len, 2)
    assert lines == ["one two", "three f..."] and all(len(line) <= 10 for line in lines)
    assert wrap("abcdefghijklmnop", 5, len, 9) == ["abcde", "fghij", "klmno", "p"]
