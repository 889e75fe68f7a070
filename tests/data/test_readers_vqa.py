"""VQAv2 reader on hand-made fixtures in the published questions + annotations format."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from vlseq.data.readers import DataError, ReadReport, read_vqa
from vlseq.data.readers.coco import ImageInfo

_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images", Path(__file__).parent / "fixtures" / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

Q = fx.fixture("vqa", "v2_OpenEnded_mscoco_val2014_questions.json")
A = fx.fixture("vqa", "v2_mscoco_val2014_annotations.json")
TEMPLATE = "COCO_{subtype}_{image_id:012d}.jpg"


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fx.make_image_root(tmp_path_factory.mktemp("vqa_images"))


def test_vqa_with_template(root):
    exs = read_vqa(Q, A, image_root=root, image_template=TEMPLATE)
    assert [e.meta["question_id"] for e in exs] == [139000, 139001, 285000]
    e = exs[1]
    assert e.task == "vqa" and e.text == "How many chairs are there?"
    assert len(e.answers) == 10 and e.answers.count("4") == 7 and "four" in e.answers
    assert e.meta["answer_type"] == "number" and e.meta["multiple_choice_answer"] == "4"
    assert e.images == [str(root / "COCO_val2014_000000000139.jpg")] and (e.width, e.height) == (64, 48)
    assert exs[2].text == "What animal is this?"  # whitespace normalised


def test_vqa_test_split_without_annotations(root):
    exs = read_vqa(Q, None, image_root=root, image_template=TEMPLATE)
    assert len(exs) == 3 and all(e.answers == [] for e in exs)


def test_vqa_companion_image_table_and_default_pattern(tmp_path):
    # synthetic layout: images/{id:08d}.png, names and sizes from a companion COCO image list
    for i, (w, h) in {139: (64, 48), 285: (40, 64)}.items():
        fx.make_image(tmp_path / "images" / f"{i:08d}.png", w, h)
    table = {139: ImageInfo(139, str(tmp_path / "images/00000139.png"), 64, 48, "images/00000139.png"),
             285: ImageInfo(285, str(tmp_path / "images/00000285.png"), 40, 64, "images/00000285.png")}
    a = read_vqa(Q, A, image_table=table)
    b = read_vqa(Q, A, image_root=tmp_path)  # no table: the default images/{id:08d}.png pattern
    assert [(e.images, e.width, e.height) for e in a] == [(e.images, e.width, e.height) for e in b]
    assert a[2].images == [str(tmp_path / "images" / "00000285.png")] and (a[2].width, a[2].height) == (40, 64)
    del table[285]
    with pytest.raises(DataError, match=r"record 285000: 'image_id' 285 is not in the companion image list"):
        read_vqa(Q, A, image_table=table)


def test_vqa_bad_fixture(root):
    qb, ab = fx.fixture("vqa", "questions_bad.json"), fx.fixture("vqa", "annotations_bad.json")
    with pytest.raises(DataError) as e:
        read_vqa(qb, ab, image_root=root, image_template=TEMPLATE)
    assert "annotations_bad.json: record 632000: missing key 'answers'" in str(e.value)
    rep = ReadReport()
    exs = read_vqa(qb, ab, image_root=root, image_template=TEMPLATE, skip_bad=True, report=rep)
    assert [e.meta["question_id"] for e in exs] == [139000, 139001, 285000]
    # missing 'answers'; empty question; missing image file; duplicate question id
    assert rep.counts == {"missing_key": 1, "bad_value": 1, "missing_image": 1, "duplicate_id": 1}
    assert any("questions_bad.json: record 777000: image" in m and "not found" in m for m in rep.messages)


def test_vqa_cross_file_consistency(tmp_path, root):
    q = json.loads(Q.read_text())
    a = json.loads(A.read_text())
    a["annotations"][0]["image_id"] = 285
    a["annotations"].append(dict(a["annotations"][1], question_id=5))
    (tmp_path / "q.json").write_text(json.dumps(q))
    (tmp_path / "a.json").write_text(json.dumps(a))
    with pytest.raises(DataError, match=r"q.json: record 139000: question says image 139, its annotation says 285"):
        read_vqa(tmp_path / "q.json", tmp_path / "a.json", image_root=root, image_template=TEMPLATE)
    rep = ReadReport()
    read_vqa(tmp_path / "q.json", tmp_path / "a.json", image_root=root, image_template=TEMPLATE, skip_bad=True, report=rep)
    assert rep.counts == {"bad_value": 1, "unknown_ref": 1}
    assert any("a.json: record 5: annotation for question 5" in m for m in rep.messages)
    a["annotations"][0]["image_id"] = 139
    del a["annotations"][2]
    (tmp_path / "a.json").write_text(json.dumps(a))
    with pytest.raises(DataError, match=r"a.json: record 285000: question 285000 of q.json has no annotation"):
        read_vqa(tmp_path / "q.json", tmp_path / "a.json", image_root=root, image_template=TEMPLATE, skip_bad=False)


def test_vqa_optional_objects(tmp_path, root):
    """The optional ``objects`` of an annotation become the Example's objects; a bad one is a DataError
    naming the annotations file and the question."""
    a = json.loads(A.read_text())
    a["annotations"][1]["objects"] = [{"bbox": [4, 6, 10.5, 8], "label": "  chair "}]
    (tmp_path / "a.json").write_text(json.dumps(a))
    exs = read_vqa(Q, tmp_path / "a.json", image_root=root, image_template=TEMPLATE)
    assert [[(o.label, o.box) for o in e.objects] for e in exs] == [[], [("chair", (4.0, 6.0, 14.5, 14.0))], []]
    bad = {
        "objects": ({"bbox": [0, 0, 1, 1]}, r"record 139001: 'objects' must be a list"),
        "label": ([{"bbox": [0, 0, 1, 1], "label": 3}], r"record 139001 objects\[0\]: 'label' must be a string"),
        "no bbox": ([{"label": "chair"}], r"record 139001 objects\[0\]: missing key 'bbox'"),
        "short bbox": ([{"bbox": [0, 0, 1], "label": "chair"}], r"record 139001 objects\[0\]: 'bbox' must be a list of 4"),
        "outside": ([{"bbox": [60, 0, 30, 4], "label": "chair"}], r"record 139001 objects\[0\]: 'bbox' .* outside the 64x48"),
        "not an object": (["chair"], r"record 139001 objects\[0\]: expected an object"),
    }
    for name, (value, msg) in bad.items():
        a["annotations"][1]["objects"] = value
        (tmp_path / "a.json").write_text(json.dumps(a))
        with pytest.raises(DataError, match="a.json: " + msg):
            read_vqa(Q, tmp_path / "a.json", image_root=root, image_template=TEMPLATE)
        rep = ReadReport()
        exs = read_vqa(Q, tmp_path / "a.json", image_root=root, image_template=TEMPLATE, skip_bad=True, report=rep)
        assert [e.meta["question_id"] for e in exs] == [139000, 285000] and rep.skipped == 1, name
