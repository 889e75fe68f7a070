"""Result files in the formats other tools read: COCO detections that pycocotools loads and scores
(AP 1.0 when the predictions are the truth), VQA answers once per question, referring and grounding
boxes with the files' own ids. Pure: no model."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from vlseq.codec.markup import Phrase
from vlseq.data.example import Example
from vlseq.evaluation.export import (
    CocoIds,
    ExportPhrase,
    coco_results,
    format_for,
    prediction_phrases,
    read_question_ids,
    refs_results,
    vqa_results,
    write_results,
)

#: a COCO instances file: string-free integer ids that are not 0..n, a category "traffic light"
COCO_DOC = {
    "images": [{"id": 42, "file_name": "a/0042.jpg", "width": 100, "height": 80},
               {"id": 7, "file_name": "b/0007.jpg", "width": 60, "height": 60}],
    "categories": [{"id": 3, "name": "circle"}, {"id": 10, "name": "Traffic Light"}],
    "annotations": [
        {"id": 1, "image_id": 42, "category_id": 3, "bbox": [10, 10, 30, 20], "area": 600, "iscrowd": 0},
        {"id": 2, "image_id": 42, "category_id": 10, "bbox": [50, 40, 20, 30], "area": 600, "iscrowd": 0},
        {"id": 3, "image_id": 7, "category_id": 3, "bbox": [5, 5, 40, 40], "area": 1600, "iscrowd": 0},
    ],
}


@pytest.fixture()
def coco_file(tmp_path) -> Path:
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(COCO_DOC))
    return path


def _truth_phrases(image_id: int) -> list[ExportPhrase]:
    """The file's own annotations of one image as output phrases (label text as the model writes it)."""
    names = {3: "circle", 10: "traffic light"}
    out = []
    for a in COCO_DOC["annotations"]:
        if a["image_id"] == image_id:
            x, y, w, h = a["bbox"]
            out.append(ExportPhrase(names[a["category_id"]], (0, 1), [(x, y, x + w, y + h)], scores=[0.9]))
    return out


def _coco_eval(gt_path: Path, results_path: Path, kind: str = "bbox") -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        ev = COCOeval(gt, gt.loadRes(str(results_path)), kind)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return [float(v) for v in ev.stats]


def test_predictions_equal_to_the_truth_score_ap_1(coco_file, tmp_path) -> None:
    ids = CocoIds.from_file(coco_file)
    records, report = coco_results([("42", _truth_phrases(42)), ("7", _truth_phrases(7))], ids, by="id")
    assert report.written == 3 and not report.unknown_labels and not report.unmatched
    assert {(r["image_id"], r["category_id"]) for r in records} == {(42, 3), (42, 10), (7, 3)}
    assert records[0]["bbox"] == [10.0, 10.0, 30.0, 20.0] and records[0]["score"] == 0.9
    out = tmp_path / "results.json"
    write_results(out, records)
    stats = _coco_eval(coco_file, out)
    assert stats[0] == pytest.approx(1.0) and stats[1] == pytest.approx(1.0)  # AP, AP@0.5


def test_unknown_labels_and_images_are_counted_not_dropped_silently(coco_file) -> None:
    ids = CocoIds.from_file(coco_file)
    phrases = [ExportPhrase("circle", (0, 6), [(1, 1, 9, 9)], scores=[0.5]),
               ExportPhrase("blob", (7, 11), [(2, 2, 5, 5), (3, 3, 6, 6)], scores=[0.4, 0.3])]
    records, report = coco_results([("/data/x/b/0007.jpg", phrases), ("/data/nowhere.jpg", phrases)], ids, by="path")
    assert [r["image_id"] for r in records] == [7] and report.unknown_labels == {"blob": 2}
    assert report.unmatched == ["/data/nowhere.jpg"]
    line = report.summary()
    assert "1 coco results" in line and "2 detections not written" in line and "'blob' x2" in line
    assert "1 inputs not in the annotation file (/data/nowhere.jpg)" in line


def test_file_names_in_two_folders_match_by_their_folder(tmp_path) -> None:
    doc = dict(COCO_DOC, images=[{"id": 1, "file_name": "a/x.jpg"}, {"id": 2, "file_name": "b/x.jpg"}])
    path = tmp_path / "two.json"
    path.write_text(json.dumps(doc))
    ids = CocoIds.from_file(path)
    assert ids.image_for_path("/root/b/x.jpg") == 2 and ids.image_for_path("/root/a/x.jpg") == 1
    assert ids.image_for_path("/root/c/x.jpg") is None and ids.image_for_path("y.jpg") is None


def test_without_scores_boxes_rank_in_sequence_order(coco_file) -> None:
    phrases = [ExportPhrase("circle", (0, 6), [(1, 1, 9, 9)]), ExportPhrase("circle", (7, 13), [(2, 2, 9, 9)])]
    records, _ = coco_results([("42", phrases)], CocoIds.from_file(coco_file))
    assert records[0]["score"] > records[1]["score"]  # beam search gives no scores: earlier ranks higher


def test_polygons_become_rle_that_segm_evaluation_reads(coco_file, tmp_path) -> None:
    square = [(10.0, 10.0), (40.0, 10.0), (40.0, 30.0), (10.0, 30.0)]
    doc = json.loads(coco_file.read_text())
    for a in doc["annotations"]:  # segm evaluation reads every truth's mask: each its box's polygon
        x, y, w, h = a["bbox"]
        a["segmentation"] = [[x, y, x + w, y, x + w, y + h, x, y + h]]
    doc["annotations"][0]["segmentation"] = [[v for pt in square for v in pt]]
    gt = tmp_path / "segm.json"
    gt.write_text(json.dumps(doc))
    phrase = ExportPhrase("circle", (0, 6), [(10, 10, 40, 30)], polygons=[square], scores=[0.8])
    records, _ = coco_results([("42", [phrase])], CocoIds.from_file(gt))
    assert set(records[0]["segmentation"]) == {"size", "counts"} and records[0]["segmentation"]["size"] == [80, 100]
    out = tmp_path / "r.json"
    write_results(out, records)
    assert all(isinstance(v, float) for v in _coco_eval(gt, out, "segm"))


def test_bad_annotation_files_are_named(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"images": [{"file_name": "x.jpg"}], "categories": [{"id": 1, "name": "a"}]}))
    with pytest.raises(ValueError, match=r"bad.json: images\[0\] has no integer or string 'id'"):
        CocoIds.from_file(bad)
    bad.write_text(json.dumps({"images": []}))
    with pytest.raises(ValueError, match="no 'categories' list"):
        CocoIds.from_file(bad)
    with pytest.raises(FileNotFoundError, match="missing.json: no such annotation file"):
        CocoIds.from_file(tmp_path / "missing.json")


def test_vqa_results_once_per_question(tmp_path) -> None:
    qfile = tmp_path / "questions.json"
    qfile.write_text(json.dumps({"questions": [{"image_id": 1, "question": "q?", "question_id": q}
                                               for q in (101, 102, 103)]}))
    qids = read_question_ids(qfile)
    records, report = vqa_results([(101, "yes"), (103, "2"), (999, "no")], qids)
    assert records == [{"question_id": 101, "answer": "yes"}, {"question_id": 103, "answer": "2"}]
    assert report.missing == [102] and report.unmatched == ["999"]
    with pytest.raises(ValueError, match="question 101 is answered twice"):
        vqa_results([(101, "yes"), (101, "no")], qids)


def _ref_example(task: str, text: str, meta: dict, phrases: list[Phrase] | None = None) -> Example:
    return Example(task=task, images=["x.png"], width=32, height=32, image_id=str(meta.get("original_id", 5)),
                   text=text, phrases=phrases or [], source=f"refs.json#image record {meta['record_id']}", meta=meta)


def test_refexp_and_grounding_records_keep_the_files_ids() -> None:
    ex = _ref_example("refexp", "the red circle", {"record_id": 9, "original_id": 123, "sentence_id": 2})
    boxes = [ExportPhrase("the red circle", (0, 14), [(1, 2, 11, 22), (0, 0, 4, 4)], scores=[0.3, 0.6])]
    records, report = refs_results([(ex, boxes), (ex, [])], "refexp")
    assert records == [{"image_id": 123, "record_id": 9, "sentence_id": 2, "expression": "the red circle",
                        "bbox": [0.0, 0.0, 4.0, 4.0], "score": 0.6}]
    assert report.without_box == ["refs.json#image record 9"]
    caption = "a cat and a dog"
    g = _ref_example("ground", caption, {"record_id": 4, "original_img_id": 77, "phrase_ids": [11, 12]},
                     [Phrase(0, 5, ((0, 0, 5, 5),)), Phrase(10, 15, ((5, 5, 9, 9),))])
    out = [ExportPhrase("a dog", (10, 15), [(4, 4, 8, 8)], scores=[0.7]), ExportPhrase("a cat", (0, 4), [(0, 0, 2, 2)], scores=[0.2])]
    records, _ = refs_results([(g, out)], "ground")
    assert records[0] == {"image_id": 77, "record_id": 4, "phrase": "a dog", "span": [10, 15], "phrase_id": 12,
                          "boxes": [[4.0, 4.0, 4.0, 4.0]], "scores": [0.7]}
    assert "phrase_id" not in records[1]  # its span is no annotated phrase's
    with pytest.raises(ValueError, match="not 'vqa'"):
        refs_results([], "vqa")


def test_prediction_phrases_spread_the_scores_and_formats_name_tasks() -> None:
    from vlseq.tasks import get_task

    ex = Example(task="detect", images=["x.png"], width=32, height=32, options=["circle", "square"])
    pred = get_task("detect").parse("<obj>circle<loc_1><loc_1><loc_8><loc_8></obj><obj>square<loc_2><loc_2><loc_9>"
                                    "<loc_9></obj>", ex, 32)
    pred.scores = [0.25, 0.5]
    phrases = prediction_phrases(pred)
    assert [(p.text, p.scores) for p in phrases] == [("circle", [0.25]), ("square", [0.5])]
    assert format_for("detect") == "coco" and format_for("ground") == "refs" and format_for("caption") is None
