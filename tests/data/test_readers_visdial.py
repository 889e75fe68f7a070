"""VisDial v1.0 reader: visdial_1.0_train.json in its published name and shape (made here in a temp
dir), rounds with their history and 100-style candidates, every kind of bad record, load_split, and a fuzz test."""

from __future__ import annotations

import copy
import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlseq.data import Example
from vlseq.data.readers import DataError, ReadReport, load_split, read_visdial

_here = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images_vd", _here / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
_spec = importlib.util.spec_from_file_location("vlseq_test_mutate_vd", _here / "mutate.py")
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

NAME = "visdial_1.0_train.json"
QUESTIONS = ["is it sunny", "how many people", "is the photo in color"]
ANSWERS = ["yes", "no", "2", "maybe", "  "]


def document() -> dict:
    return {"version": "1.0", "split": "train", "data": {
        "questions": QUESTIONS, "answers": ANSWERS,
        "dialogs": [
            {"image_id": 378466, "caption": "a man  riding a bike", "dialog": [
                {"question": 0, "answer": 0, "answer_options": [1, 0, 3], "gt_index": 1},
                {"question": 1, "answer": 2, "answer_options": [2, 0, 1, 3], "gt_index": 0},
                {"question": 2, "answer_options": [0, 1]}]},  # the test split's last round: no answer, left out
            {"image_id": 12, "caption": "two dogs", "dialog": [
                {"question": 2, "answer": 1, "answer_options": [0, 1], "gt_index": 1}]},
        ]}}


def make_root(root: Path, doc: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    fx.make_image(root / "378466.jpg", 30, 20)
    fx.make_image(root / "12.jpg", 10, 10)
    (root / NAME).write_text(json.dumps(document() if doc is None else doc))
    return root


def test_reads_rounds_with_history_and_candidates(tmp_path):
    root = make_root(tmp_path / "visdial")
    exs = read_visdial(root / NAME)
    assert [(e.image_id, e.meta["round"]) for e in exs] == [("378466", 0), ("378466", 1), ("12", 0)]
    a, b, c = exs
    assert a.task == "dialog" and a.images == [str(root / "378466.jpg")] and (a.width, a.height) == (30, 20)
    assert a.text == "is it sunny" and a.answers == ["yes"] and a.options == ["no", "yes", "maybe"]
    assert a.meta == {"caption": "a man riding a bike", "history": [], "round": 0, "dialog_id": "378466", "gt_index": 1}
    assert b.meta["history"] == [("is it sunny", "yes")] and b.options[b.meta["gt_index"]] == b.answers[0] == "2"
    assert c.source == f"{root / NAME}#12 round 0"
    other = tmp_path / "coco"
    fx.make_image(other / "COCO_train2014_000000378466.jpg", 8, 8)
    fx.make_image(other / "COCO_train2014_000000000012.jpg", 8, 8)
    exs = read_visdial(root / NAME, image_root=other, image_template="COCO_train2014_{image_id:012d}.jpg")
    assert exs[0].images == [str(other / "COCO_train2014_000000378466.jpg")]


def _with(fn) -> dict:
    doc = document()
    fn(doc["data"])
    return doc


def _round(d: dict, **kw) -> None:
    d["dialogs"][0]["dialog"][1].update(kw)


BAD = [  # (change of data, record in the message, problem, detail)
    (lambda d: _round(d, question=9), 378466, "unknown_ref", "round 1 'question' 9 is not an index"),
    (lambda d: _round(d, answer="2"), 378466, "wrong_type", "round 1 'answer' must be an index"),
    (lambda d: _round(d, gt_index=1), 378466, "bad_value", "'answer_options'[1] is answer 0, not the round's answer 2"),
    (lambda d: _round(d, gt_index=7), 378466, "bad_value", "'gt_index' must index the 4 answer options"),
    (lambda d: _round(d, answer_options=[]), 378466, "wrong_type", "'answer_options' must be a non-empty list"),
    (lambda d: _round(d, answer_options=[2, 4]), 378466, "bad_value", "'answer_options'[1] 4 is an empty string"),
    (lambda d: d["dialogs"][0].pop("caption"), 378466, "missing_key", "missing key 'caption'"),
    (lambda d: d["dialogs"].append(dict(d["dialogs"][1])), 12, "duplicate_id", "duplicate image id 12"),
    (lambda d: d["dialogs"].append({"image_id": 5, "caption": "x", "dialog": []}), 5, "missing_image", "not found"),
    (lambda d: d["dialogs"].append({"caption": "x", "dialog": []}), "dialogs[2]", "missing_key", "missing key 'image_id'"),
]


def test_each_bad_record_is_a_named_error_or_skipped(tmp_path):
    for k, (change, rid, problem, detail) in enumerate(BAD):
        root = make_root(tmp_path / f"one{k}", _with(change))
        with pytest.raises(DataError) as e:
            read_visdial(root / NAME)
        assert e.value.problem == problem and e.value.file == str(root / NAME), str(e.value)
        assert f"record {rid}:" in str(e.value) and detail in str(e.value), str(e.value)
        report = ReadReport()
        kept = read_visdial(root / NAME, skip_bad=True, report=report)
        assert report.skipped == 1 and report.counts == Counter([problem])
        dropped = set() if problem == "duplicate_id" else {str(rid)}  # the first dialog of a duplicate id stays
        assert {e.image_id for e in kept} == {"378466", "12"} - dropped  # a bad round skips its whole dialog
    with pytest.raises(DataError, match=r"'data.answers'\[1\] must be a string"):
        read_visdial(make_root(tmp_path / "table", _with(lambda d: d.update(answers=["yes", 3]))) / NAME)


def test_load_split_reads_visdial_json(tmp_path):
    root = make_root(tmp_path / "train")
    (root / NAME).rename(root / "visdial.json")
    assert len(load_split(root, tasks=["dialog"])["dialog"]) == 3


FUZZ_CASES = 100


def test_fuzz_mutated_files_give_examples_or_a_data_error(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("fuzz_visdial"))
    path = root / NAME
    outcomes: Counter = Counter()

    @settings(max_examples=FUZZ_CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def case(data):
        doc = copy.deepcopy(document())
        for _ in range(data.draw(st.integers(1, 3), label="n mutations")):
            outcomes[mut.mutate(doc, data)] += 1
        text = json.dumps(doc)
        if data.draw(st.integers(0, 9), label="truncate?") == 0:
            text = text[: data.draw(st.integers(0, len(text)), label="cut")]
        path.write_text(text)
        for skip in (False, True):
            try:
                exs = read_visdial(path, skip_bad=skip)
            except DataError as e:
                assert str(path) in str(e), str(e)
                outcomes["DataError"] += 1
                continue
            for e in exs:
                assert isinstance(e, Example) and Path(e.images[0]).is_file() and e.text and e.answers[0]
                assert e.options[e.meta["gt_index"]] == e.answers[0]
            outcomes["examples"] += 1

    case()
    assert outcomes["DataError"] + outcomes["examples"] == 2 * FUZZ_CASES and outcomes["DataError"] > 0
