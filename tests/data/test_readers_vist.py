"""VIST reader: a story-in-sequence file in its published name and shape (made here in a temp dir),
story order, images by record, template and default, every kind of bad record, load_split, and a fuzz test."""

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
from vlseq.data.readers import DataError, ReadReport, load_split, read_vist

_here = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images_vist", _here / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
_spec = importlib.util.spec_from_file_location("vlseq_test_mutate_vist", _here / "mutate.py")
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

NAME = "val.story-in-sequence.json"
PHOTOS = ["101", "102", "103", "201", "202"]


def storylet(sid: str, pid: str, order: int, text: str) -> list[dict]:
    return [{"story_id": sid, "album_id": "a" + sid, "storylet_id": f"{sid}{order}", "photo_flickr_id": pid,
             "worker_arranged_photo_order": order, "text": text, "original_text": text.capitalize(), "setting": ""}]


def document() -> dict:
    # story 1's sentences are listed out of order: the reader orders them by worker_arranged_photo_order
    return {"type_": "story-in-sequence", "albums": [],
            "images": [{"id": p, "title": "", "url_o": f"https://farm/{p}_o.jpg"} for p in PHOTOS],
            "annotations": [storylet("1", "102", 1, "then  we ate ."), storylet("1", "101", 0, "we went out ."),
                            storylet("1", "103", 2, "it was fun ."), storylet("2", "201", 0, "a dog ."),
                            storylet("2", "202", 1, "a cat .")]}


def make_root(root: Path, doc: dict | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for k, p in enumerate(PHOTOS):
        fx.make_image(root / f"{p}.jpg", 20 + k, 16)
    (root / NAME).write_text(json.dumps(document() if doc is None else doc))
    return root


def test_reads_the_published_layout_in_story_order(tmp_path):
    root = make_root(tmp_path / "vist")
    exs = read_vist(root / NAME)
    assert [e.meta["story_id"] for e in exs] == ["1", "2"]
    e = exs[0]
    assert e.task == "story" and e.images == [str(root / f"{p}.jpg") for p in ("101", "102", "103")]
    assert (e.width, e.height) == (20, 16) and e.image_id == "a1"
    assert e.answers == ["we went out . then we ate . it was fun ."]
    assert e.meta["sentences"] == ["we went out .", "then we ate .", "it was fun ."]
    assert e.meta["photo_ids"] == ["101", "102", "103"] and e.source == f"{root / NAME}#story 1"
    # by template, elsewhere
    other = tmp_path / "imgs"
    for p in PHOTOS:
        fx.make_image(other / "photos" / f"{p}.png", 8, 8)
    exs = read_vist(root / NAME, image_root=other, image_template="photos/{id}.png")
    assert all(Path(i).parent == other / "photos" for e in exs for i in e.images)
    # by the record's file_name (the synthetic world writes one)
    doc = document()
    for im in doc["images"]:
        im["file_name"] = f"images/{im['id']}.jpg"
        fx.make_image(tmp_path / "fn" / "images" / f"{im['id']}.jpg", 9, 9)
    (tmp_path / "fn" / "story.json").write_text(json.dumps(doc))
    assert read_vist(tmp_path / "fn" / "story.json")[1].images == [str(tmp_path / "fn" / "images" / f"{p}.jpg")
                                                                   for p in ("201", "202")]


def _with(fn) -> dict:
    doc = document()
    fn(doc)
    return doc


BAD = [  # (document change, record in the message, problem, detail)
    (lambda d: d["annotations"].append(storylet("3", "999", 0, "lost .")), "story 3", "unknown_ref",
     "photo 999 is not in the file's 'images'"),
    (lambda d: d["annotations"].append(storylet("2", "201", 1, "again .")), "story 2", "bad_value",
     "must number the story's 3 sentences 0-2 once each"),
    (lambda d: d["annotations"][0][0].pop("text"), "story 1", "missing_key", "missing key 'text'"),
    (lambda d: d["annotations"][0][0].update(text="  "), "story 1", "bad_value", "'text' is empty"),
    (lambda d: d["annotations"][0][0].update(worker_arranged_photo_order="1"), "story 1", "wrong_type",
     "'worker_arranged_photo_order' must be an integer"),
    (lambda d: d["annotations"].append({"story_id": "4"}), "annotations[5]", "wrong_type", "one-element list"),
    (lambda d: d["annotations"].append([{"text": "x ."}]), "annotations[5]", "missing_key", "missing key 'story_id'"),
    (lambda d: d["images"].append({"id": "101"}), "101", "duplicate_id", "duplicate image id '101'"),
    (lambda d: d["annotations"].append(storylet("5", "777", 0, "no file .")) or d["images"].append({"id": "777"}),
     "story 5", "missing_image", "not found"),
]


def test_each_bad_record_is_a_named_error_or_skipped(tmp_path):
    for k, (change, rid, problem, detail) in enumerate(BAD):
        root = make_root(tmp_path / f"one{k}", _with(change))
        with pytest.raises(DataError) as e:
            read_vist(root / NAME)
        assert e.value.problem == problem and e.value.file == str(root / NAME), str(e.value)
        assert f"record {rid}:" in str(e.value) and detail in str(e.value), str(e.value)
        report = ReadReport()
        kept = read_vist(root / NAME, skip_bad=True, report=report)
        assert report.skipped == 1 and report.counts == Counter([problem])
        assert {e.meta["story_id"] for e in kept} >= ({"1", "2"} - {rid.split()[-1]})
    with pytest.raises(DataError, match="missing top-level key 'annotations'"):
        read_vist(make_root(tmp_path / "top", {"images": []}) / NAME)


def test_load_split_reads_story_json(tmp_path):
    root = make_root(tmp_path / "val")
    (root / NAME).rename(root / "story.json")
    data = load_split(root, tasks=["story"])
    assert [len(e.images) for e in data["story"]] == [3, 2]


FUZZ_CASES = 100


def test_fuzz_mutated_files_give_examples_or_a_data_error(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("fuzz_vist"))
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
                exs = read_vist(path, skip_bad=skip)
            except DataError as e:
                assert str(path) in str(e), str(e)
                outcomes["DataError"] += 1
                continue
            for e in exs:
                assert isinstance(e, Example) and e.images and all(Path(i).is_file() for i in e.images)
                assert len(e.meta["sentences"]) == len(e.images) and e.answers[0] == " ".join(e.meta["sentences"])
            outcomes["examples"] += 1

    case()
    assert outcomes["DataError"] + outcomes["examples"] == 2 * FUZZ_CASES and outcomes["DataError"] > 0
