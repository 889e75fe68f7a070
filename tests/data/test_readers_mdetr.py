"""MDETR-style refexp (refcoco) and grounding (flickr separateGT) readers on hand-made fixtures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from vlseq.codec import GroundedText, validate
from vlseq.data.readers import DataError, ReadReport, read_grounding, read_refexp

_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images", Path(__file__).parent / "fixtures" / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

REF = fx.fixture("mdetr", "final_refcoco_val.json")
FLICKR = fx.fixture("mdetr", "final_flickr_separateGT_val.json")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fx.make_image_root(tmp_path_factory.mktemp("mdetr_images"))


def test_refexp(root):
    exs = read_refexp(REF, image_root=root)
    assert [e.text for e in exs] == ["woman on the left", "dog right", "big brown bear"]
    e = exs[0]
    assert e.task == "refexp" and e.image_id == "139" and e.meta["record_id"] == 0
    assert e.images == [str(root / "COCO_train2014_000000000139.jpg")] and (e.width, e.height) == (64, 48)
    assert [(o.label, o.box) for o in e.objects] == [("person", (10.0, 10.0, 20.0, 30.0))]
    assert e.objects[0].polygon == [(10.0, 10.0), (20.0, 10.0), (20.0, 30.0), (10.0, 30.0)]
    assert len(e.phrases) == 1 and (e.phrases[0].start, e.phrases[0].end) == (0, len(e.text))
    assert e.phrases[0].boxes == (e.objects[0].box,)
    assert e.meta["tokens_positive"] == [[[0, 5]]] and e.meta["dataset_name"] == "refcoco"
    # the span of "dog  right" is re-mapped onto the normalised text
    assert exs[1].meta["tokens_positive"] == [[[0, 3]]]
    for x in exs:
        validate(GroundedText(x.text, x.phrases))  # every example is a valid sequence structure


def test_grounding_phrases_group_boxes(root):
    out = read_grounding(FLICKR, image_root=root)
    g0, g1 = out["ground"]
    assert g0.text.startswith("Two young guys") and g0.image_id == "1000092795" and g0.meta["record_id"] == 0
    words = [(g0.text[p.start:p.end], len(p.boxes)) for p in g0.phrases]
    assert words == [("Two young guys", 2), ("shaggy hair", 1), ("their hands", 1)]  # one phrase, two boxes
    assert g0.phrases[0].boxes == ((5.0, 10.0, 25.0, 50.0), (40.0, 12.0, 60.0, 52.0))
    # "A man  in a blue shirt": double space collapsed, spans moved; a box naming two spans joins both
    assert g1.text.startswith("A man in a blue shirt")
    words1 = [g1.text[p.start:p.end] for p in g1.phrases]
    assert words1 == ["A man", "a blue shirt", "a ladder"]
    assert g1.phrases[0].boxes == g1.phrases[1].boxes == ((30.0, 5.0, 45.0, 25.0),)
    s = g1.text.index("a blue shirt")
    assert g1.meta["tokens_positive_eval"][1] == [[s, s + 12]]  # eval spans re-mapped too
    cap = out["grounded_caption"][1]
    assert cap.task == "grounded_caption" and cap.text == "" and cap.answers == [g1.text]
    assert cap.phrases == g1.phrases
    for x in out["ground"]:
        validate(GroundedText(x.text, x.phrases))
    only = read_grounding(FLICKR, image_root=root, tasks=["grounded_caption"])
    assert set(only) == {"grounded_caption"}


def test_grounding_bad_fixture(root):
    bad = fx.fixture("mdetr", "flickr_bad.json")
    with pytest.raises(DataError) as e:
        read_grounding(bad, image_root=root)
    assert e.value.problem == "bad_span" and "flickr_bad.json: record 10:" in str(e.value)
    assert "span [0, 40] lies outside its text of length 12" in str(e.value)
    rep = ReadReport()
    out = read_grounding(bad, image_root=root, skip_bad=True, report=rep)
    assert rep.counts == {"bad_span": 2, "bad_box": 1, "unknown_ref": 1}
    assert len(out["ground"]) == 2  # the three records with a bad annotation are dropped whole


@pytest.mark.parametrize(
    "mutate, rid, problem, words",
    [
        (lambda d: d["images"][0].pop("caption"), 0, "missing_key", "missing key 'caption'"),
        (lambda d: d["images"][1].update(caption="   "), 1, "bad_value", "'caption' is empty"),
        (lambda d: d["annotations"][0].update(tokens_positive=[[0, 1, 2]]), 0, "wrong_type", "a span must be"),
        (lambda d: d["annotations"][0].update(tokens_positive=[[3, 4]]), 0, "bad_span", "only whitespace"),
        (lambda d: d["annotations"].pop(2), 2, "bad_value", "no annotated (referred) box"),
        (lambda d: d["annotations"][0].update(image_id=42), 0, "unknown_ref", "'image_id' 42"),
        (lambda d: d["annotations"][1].update(category_id=5), 1, "unknown_ref", "'category_id' 5"),
    ],
)
def test_refexp_bad_records(tmp_path, root, mutate, rid, problem, words):
    doc = json.loads(REF.read_text())
    doc["images"][0]["caption"] = "woman on the left" if problem != "bad_span" else "the  woman"
    mutate(doc)
    path = tmp_path / "refexp.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(DataError) as e:
        read_refexp(path, image_root=root)
    assert (e.value.problem, e.value.record) == (problem, rid) and words in str(e.value)
    assert str(path) in str(e.value)
    rep = ReadReport()
    exs = read_refexp(path, image_root=root, skip_bad=True, report=rep)
    assert rep.counts[problem] == 1 and len(exs) == 2
