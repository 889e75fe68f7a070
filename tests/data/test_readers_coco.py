"""COCO captions and instances readers on hand-made fixtures in the published 2017 format."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import pytest

from vlseq.data.readers import DataError, ReadReport, read_coco_captions, read_coco_instances

_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images", Path(__file__).parent / "fixtures" / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

CAPS = fx.fixture("coco", "captions_val2017.json")
INST = fx.fixture("coco", "instances_val2017.json")


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fx.make_image_root(tmp_path_factory.mktemp("coco_images"))


def test_captions(root):
    exs = read_coco_captions(CAPS, image_root=root)
    by_id = {e.image_id: e for e in exs}
    assert set(by_id) == {"139", "285", "632"}
    e = by_id["139"]
    assert e.task == "caption" and (e.width, e.height) == (64, 48)
    assert e.images == [str(root / "000000000139.jpg")]
    assert e.answers[1] == "A room with chairs, a table, and a woman in it."  # newline stripped
    assert by_id["285"].answers == ["A big brown bear is standing in the grass"]  # whitespace collapsed
    assert "captions_val2017.json" in e.source and "139" in e.source


def test_instances_detect_and_localize(root):
    out = read_coco_instances(INST, image_root=root)
    det = {e.image_id: e for e in out["detect"]}
    assert set(det) == {"139", "285", "632"}  # an image without objects is still a (negative) example
    e = det["139"]
    assert e.options == ["person", "car", "dog", "bear"]  # every category, in id order
    assert [o.label for o in e.objects] == ["person", "dog", "person"]  # the crowd region is not an object
    assert e.objects[0].box == (10.0, 10.0, 20.0, 30.0)  # xywh -> xyxy
    assert e.objects[1].box == (30.5, 5.0, 64.0, 20.0)  # 0.7 px overhang clipped to the width
    assert e.meta["crowd_boxes"] == [(0.0, 0.0, 2.0, 12.0)]
    # the largest polygon part becomes Object.polygon, all parts stay in attributes
    assert e.objects[1].polygon == [(41.0, 5.0), (63.4, 5.0), (63.4, 20.0), (41.0, 20.0)]
    assert len(e.objects[1].attributes["polygons"]) == 2
    assert det["632"].objects == []
    loc = [(x.image_id, x.text, len(x.objects)) for x in out["localize"]]
    assert loc == [("139", "person", 2), ("139", "dog", 1), ("285", "bear", 1)]
    only = read_coco_instances(INST, image_root=root, tasks=["localize"])
    assert set(only) == {"localize"}


def _mutate(tmp_path: Path, src: Path, fn) -> Path:
    doc = json.loads(src.read_text())
    fn(doc)
    out = tmp_path / src.name
    out.write_text(json.dumps(doc))
    return out


def _set_ann(i, key, value):
    def fn(d):
        if value is _DEL:
            del d["annotations"][i][key]
        else:
            d["annotations"][i][key] = value
    return fn


_DEL = object()

# (mutation, record the message must name, problem kind, words in the message)
INSTANCE_CASES = {
    "box outside": (_set_ann(0, "bbox", [50.0, 10.0, 30.0, 5.0]), 1001, "bad_box", "outside the 64x48 image"),
    "negative size": (_set_ann(0, "bbox", [10.0, 10.0, 5.0, -2.0]), 1001, "bad_box", "negative size"),
    "bbox wrong type": (_set_ann(0, "bbox", "10 10 5 5"), 1001, "wrong_type", "'bbox' must be"),
    "bbox nan": (_set_ann(0, "bbox", [10.0, float("nan"), 5.0, 5.0]), 1001, "bad_box", "finite"),
    "missing bbox": (_set_ann(0, "bbox", _DEL), 1001, "missing_key", "missing key 'bbox'"),
    "unknown image": (_set_ann(0, "image_id", 5), 1001, "unknown_ref", "'image_id' 5"),
    "unknown category": (_set_ann(0, "category_id", 99), 1001, "unknown_ref", "'category_id' 99"),
    "duplicate ann id": (_set_ann(1, "id", 1001), 1001, "duplicate_id", "duplicate annotation id"),
    "odd polygon": (_set_ann(0, "segmentation", [[1.0, 2.0, 3.0]]), 1001, "bad_value", "even number"),
    "duplicate image id": (lambda d: d["images"].append(dict(d["images"][0])), 139, "duplicate_id", "duplicate image id"),
    "image size mismatch": (lambda d: d["images"][0].update(width=65), 139, "bad_image", "is 64x48 but the record says 65x48"),
    "missing image file": (lambda d: d["images"][0].update(file_name="nope.jpg"), 139, "missing_image", "not found"),
    "width wrong type": (lambda d: d["images"][0].update(width="64"), 139, "wrong_type", "'width' must be"),
    "annotation not an object": (lambda d: d["annotations"].insert(0, [1, 2]), "annotations[0]", "wrong_type", "expected an object"),
}


@pytest.mark.parametrize("case", list(INSTANCE_CASES))
def test_instances_each_bad_kind(tmp_path, root, case, caplog):
    fn, rid, problem, words = INSTANCE_CASES[case]
    path = _mutate(tmp_path, INST, fn)
    with pytest.raises(DataError) as e:
        read_coco_instances(path, image_root=root)
    msg = str(e.value)
    assert e.value.problem == problem and e.value.record == rid, msg
    assert str(path) in msg and f"record {rid}" in msg and words in msg, msg
    # skip mode: the same message is logged, counted, and the rest is read
    rep = ReadReport()
    with caplog.at_level(logging.WARNING, logger="vlseq.data.readers"):
        out = read_coco_instances(path, image_root=root, skip_bad=True, report=rep)
    assert rep.counts == {problem: 1} and rep.messages == [msg]
    assert msg in caplog.text
    assert len(out["detect"]) >= 2


def test_file_level_errors(tmp_path):
    bad = tmp_path / "instances.json"
    bad.write_text('{"images": [], "annotations": [,]}')
    with pytest.raises(DataError, match=r"instances.json: invalid JSON at line 1 column"):
        read_coco_instances(bad, skip_bad=True)  # a broken file is never silently skipped
    bad.write_text('{"images": [], "annotations": []}')
    with pytest.raises(DataError, match="missing top-level key 'categories'"):
        read_coco_instances(bad)
    with pytest.raises(DataError, match="file not found"):
        read_coco_captions(tmp_path / "absent.json")
    bad.write_bytes(b'{"images": "\xff\xfe"}')
    with pytest.raises(DataError, match="not UTF-8"):
        read_coco_captions(bad)


def test_bad_fixture_files_strict_and_skip(root):
    with pytest.raises(DataError) as e:
        read_coco_instances(fx.fixture("coco", "instances_bad.json"), image_root=root)
    assert "instances_bad.json: record 777" in str(e.value) and "not found" in str(e.value)
    rep = ReadReport()
    out = read_coco_instances(fx.fixture("coco", "instances_bad.json"), image_root=root, skip_bad=True, report=rep)
    assert rep.counts == {"missing_image": 1, "bad_image": 1, "duplicate_id": 2, "wrong_type": 2, "bad_box": 2,
                          "unknown_ref": 2, "missing_key": 1}
    # images with a bad annotation (632 and 285) are dropped whole; 139 stays intact
    assert [e.image_id for e in out["detect"]] == ["139"]
    assert rep.kept["detect"] == 1 and rep.skipped == 11

    rep = ReadReport()
    caps = read_coco_captions(fx.fixture("coco", "captions_bad.json"), image_root=root, skip_bad=True, report=rep)
    assert rep.counts == {"bad_value": 1, "unknown_ref": 1, "duplicate_id": 1, "wrong_type": 1, "missing_key": 1}
    assert sum(len(c.answers) for c in caps) == 4  # the good captions all survive
    with pytest.raises(DataError, match=r"captions_bad.json: record 3001: 'caption' is empty"):
        read_coco_captions(fx.fixture("coco", "captions_bad.json"), image_root=root)


def _keypoints_file(tmp_path: Path, fn=None) -> Path:
    """The instances fixture as a COCO keypoints file: names ``head``/``tail``, a visible head per object."""
    def make(d):
        for c in d["categories"]:
            c["keypoints"], c["skeleton"] = ["head", "tail"], []
        for a in d["annotations"]:
            x, y, w, h = a["bbox"]
            a["keypoints"] = [x + 1, y + 1, 2, 0, 0, 0]
        if fn is not None:
            fn(d)
    return _mutate(tmp_path, INST, make)


def test_keypoints(tmp_path, root):
    out = read_coco_instances(_keypoints_file(tmp_path), image_root=root, tasks=["keypoints"])
    kp = {e.image_id: e for e in out["keypoints"]}
    assert set(kp) == {"139", "285"}  # an image without objects has no keypoints example
    e = kp["139"]
    assert e.task == "keypoints" and e.meta["keypoint_names"] == ["head", "tail"]
    assert e.options == ["person", "car", "dog", "bear"]
    assert e.objects[0].keypoints == {"head": (11.0, 11.0)}  # v = 0: not labelled, left out


KEYPOINT_CASES = {
    "wrong count": (_set_ann(0, "keypoints", [1, 2, 2]), "bad_value", "3 numbers (x, y, v) for each"),
    "bad visibility": (_set_ann(0, "keypoints", [1, 2, 7, 0, 0, 0]), "bad_value", "visibility must be 0, 1 or 2"),
    "outside": (_set_ann(0, "keypoints", [90, 2, 2, 0, 0, 0]), "bad_box", "lies outside the 64x48 image"),
    "missing": (_set_ann(0, "keypoints", _DEL), "missing_key", "missing key 'keypoints'"),
}


@pytest.mark.parametrize("case", list(KEYPOINT_CASES))
def test_keypoints_bad_records(tmp_path, root, case):
    fn, problem, words = KEYPOINT_CASES[case]
    path = _keypoints_file(tmp_path, fn)
    with pytest.raises(DataError) as e:
        read_coco_instances(path, image_root=root, tasks=["keypoints"])
    assert e.value.problem == problem and e.value.record == 1001 and words in str(e.value), str(e.value)
    rep = ReadReport()
    out = read_coco_instances(path, image_root=root, tasks=["keypoints"], skip_bad=True, report=rep)
    assert rep.counts == {problem: 1} and [x.image_id for x in out["keypoints"]] == ["285"]


def test_keypoints_need_named_categories(root):
    with pytest.raises(DataError, match="needs categories that list their 'keypoints' names"):
        read_coco_instances(INST, image_root=root, tasks=["keypoints"])
