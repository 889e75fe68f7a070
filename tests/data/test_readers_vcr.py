"""VCR reader: val.jsonl records and their metadata files in VCR's layout (made here in a temp dir),
tags as labels (numbered where needed) and as boxes, every kind of bad record, and a fuzz test."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlseq.data import Example
from vlseq.data.readers import DataError, ReadReport, read_vcr
from vlseq.tasks import get_task

_here = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images_v", _here / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
_spec = importlib.util.spec_from_file_location("vlseq_test_mutate_v", _here / "mutate.py")
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

MOVIE = "lsmdc_0001_American_Beauty"
FRAME = f"{MOVIE}/0001_American_Beauty_00.00.51.280-00.00.54.306@0"
DOG = f"{MOVIE}/0001_American_Beauty_00.01.02.000-00.01.05.000@1"
META = {"boxes": [[2.0, 3.0, 20.5, 40.0, 0.99], [30.0, 5.0, 60.0, 47.0, 0.98], [0.0, 30.0, 16.0, 48.0, 0.5]],
        "segms": [], "names": ["person", "person", "car"], "width": 64, "height": 48}
GOOD = [
    {"movie": "0001_American_Beauty", "objects": ["person", "person", "car"], "img_fn": f"{FRAME}.jpg",
     "metadata_fn": f"{FRAME}.json", "question": ["What", "is", [0], "doing", "?"],
     "answer_choices": [[[0], "is", "driving", [2], "."], [[1], "is", "driving", [2], "."],
                        [[0], "is", "asleep", "."], [[0, 1], "are", "dancing", "."]],
     "answer_label": 0,
     "rationale_choices": [[[0], "is", "sitting", "behind", "the", "wheel", "."], [[2], "is", "parked", "."],
                           [[1], "has", "keys", "."], ["Nobody", "is", "in", "the", "car", "."]],
     "rationale_label": 0, "img_id": "val-0", "annot_id": "val-0", "question_number": 0},
    {"objects": ["dog"], "img_fn": f"{DOG}.jpg", "metadata_fn": f"{DOG}.json",
     "question": ["Is", [0], "hungry", "?"],
     "answer_choices": [["Yes", ",", "it", "is", "."], ["No", "."], ["It", "is", "asleep", "."], ["It", "is", "a", "cat", "."]],
     "answer_label": 1,
     "rationale_choices": [[[0], "just", "ate", "."], [[0], "is", "barking", "."], ["It", "rains", "."], [[0], "'s", "bowl", "is", "full", "."]],
     "rationale_label": 3, "img_id": "val-1", "annot_id": "val-1"},
]


def make_root(root: Path) -> Path:
    """VCR's layout: vcr1images/<movie>/<frame>.jpg with its .json metadata (none for the dog frame)."""
    images = root / "vcr1images"
    fx.make_image(images / f"{FRAME}.jpg", 64, 48)
    fx.make_image(images / f"{DOG}.jpg", 32, 32)
    (images / f"{FRAME}.json").write_text(json.dumps(META))
    for name, meta in (("count", dict(META, boxes=META["boxes"][:2])),
                       ("outside", dict(META, boxes=[[2, 3, 90, 40, 1.0]] + META["boxes"][1:])),
                       ("width", dict(META, width=100))):
        (images / MOVIE / f"{name}.json").write_text(json.dumps(meta))
    (images / MOVIE / "broken.json").write_text("{\"boxes\": [")
    return root


def write(path: Path, records: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


@pytest.fixture()
def root(tmp_path) -> Path:
    return make_root(tmp_path / "vcr")


def test_reads_both_stages_with_numbered_tags_and_boxes(root):
    path = write(root / "vcr1annots" / "val.jsonl", GOOD)
    exs = read_vcr(path, image_root=root / "vcr1images")
    assert [(e.meta["qid"], e.meta["stage"]) for e in exs] == [("val-0", "qa"), ("val-0", "qar"), ("val-1", "qa"),
                                                              ("val-1", "qar")]
    qa, qar, dog_qa, dog_qar = exs
    # two people tagged: plain labels would make choices 0 and 1 read the same, so this record is numbered
    assert qa.meta["numbered"] and qa.text == "What is person 1 doing?"
    assert qa.options == ["person 1 is driving car 3.", "person 2 is driving car 3.", "person 1 is asleep.",
                          "person 1 and person 2 are dancing."]
    assert qa.answers == ["person 1 is driving car 3."] and qar.meta["answer"] == qa.answers[0]
    assert qar.answers == ["person 1 is sitting behind the wheel."] and qar.meta["label"] == 0
    assert [o.label for o in qa.objects] == ["person", "person", "car"] and qa.objects[0].box == (2.0, 3.0, 20.5, 40.0)
    assert (qa.width, qa.height) == (64, 48) and qa.images == [str(root / "vcr1images" / f"{FRAME}.jpg")]
    assert qa.source == f"{path}#val-0" and qa.image_id == "val-0"
    task = get_task("multiple_choice")
    for e in exs:
        task.check(e)
        assert task.target(e, 64) in task.grammar(e).labels
    assert task.prompt(qa, 64).startswith("What is person 1<loc_2><loc_4><loc_20><loc_53> doing? answers: (a) person 1 is")
    assert "answer: person 1<loc_2><loc_4><loc_20><loc_53> is driving car 3<loc_0>" in task.prompt(qar, 64)
    # no metadata file: no boxes, plain labels, clitics attached
    assert not dog_qa.meta["numbered"] and dog_qa.objects == [] and dog_qa.text == "Is dog hungry?"
    assert dog_qa.options[0] == "Yes, it is." and dog_qar.answers == ["dog's bowl is full."]
    assert task.prompt(dog_qa, 64).startswith("Is dog hungry? answers: (a) Yes, it is. (b) No.")
    # never numbered: the colliding record is an error naming it
    with pytest.raises(DataError, match=r"val-0: answer_choices\[1\] reads the same as an earlier choice"):
        read_vcr(path, image_root=root / "vcr1images", numbered=False)
    assert read_vcr(path, image_root=root / "vcr1images", numbered=True)[2].text == "Is dog 1 hungry?"
    # sizes from the metadata instead of the image headers
    assert (read_vcr(path, image_root=root / "vcr1images", check_images=False)[0].width) == 64


def _bad(rec_id: str, **change) -> dict:
    rec = copy.deepcopy(GOOD[0])
    rec.update(annot_id=rec_id, **change)
    return {k: v for k, v in rec.items() if v is not None}


BAD = [  # (record, id in the message when it follows GOOD alone, problem, detail)
    (_bad("b1", question="What is it?"), "b1", "wrong_type", "'question' must be a list"),
    (_bad("b2", question=["Who", "is", [7], "?"]), "b2", "unknown_ref", "tags object(s) [7] but the record has 3"),
    (_bad("b3", answer_label=4), "b3", "bad_value", "'answer_label' 4 is not a choice index"),
    (_bad("b4", answer_choices=[["Yes", "."]]), "b4", "bad_value", "must hold at least 2 choices"),
    (_bad("val-1"), "val-1", "duplicate_id", "duplicate annotation id 'val-1'"),
    (_bad("b6", img_fn=f"{MOVIE}/absent.jpg"), "b6", "missing_image", "not found"),
    (_bad("b7", metadata_fn=f"{MOVIE}/count.json"), "b7", "bad_value", "has 2 boxes for the record's 3 objects"),
    (_bad("b8", metadata_fn=f"{MOVIE}/outside.json"), "b8", "bad_box", "lies outside the 64x48 image"),
    (_bad("b9", metadata_fn=f"{MOVIE}/broken.json"), "b9", "unreadable_file", "invalid JSON"),
    (_bad("b10", rationale_choices=[["Same", "."], ["Same", "."], ["A", "."], ["B", "."]]), "b10", "bad_value",
     "rationale_choices[1] reads the same"),
    (_bad("b11", objects=["person", 3, "car"]), "b11", "wrong_type", "'objects' must be a list of non-empty names"),
    ("{\"annot_id\": \"b12\", ", "line 3", "unreadable_file", "invalid JSON"),  # named by its line
    (_bad("b13", rationale_label=None), "b13", "missing_key", "missing key 'rationale_label'"),
    (_bad("b14", metadata_fn=f"{MOVIE}/width.json"), "b14", "bad_image", "says width 100 but the image is 64x48"),
    (_bad("b15", question=[]), "b15", "wrong_type", "'question' must be a non-empty list"),
]


def test_each_bad_record_is_a_named_error_or_skipped(root):
    images = root / "vcr1images"
    for k, (rec, rid, problem, detail) in enumerate(BAD):
        path = write(root / f"one{k}" / "val.jsonl", GOOD + [rec])
        with pytest.raises(DataError) as e:
            read_vcr(path, image_root=images)
        assert e.value.problem == problem and e.value.file == str(path), str(e.value)
        assert f"record {rid}:" in str(e.value) and detail in str(e.value), str(e.value)
    path = write(root / "all" / "val.jsonl", GOOD + [rec for rec, *_ in BAD])
    report = ReadReport()
    exs = read_vcr(path, image_root=images, skip_bad=True, report=report)
    assert sorted({e.meta["qid"] for e in exs}) == ["val-0", "val-1"] and len(exs) == 4
    assert report.skipped == len(BAD) and report.counts == Counter(p for _, _, p, _ in BAD)
    assert report.kept["multiple_choice"] == 4


FUZZ_CASES = 120


def test_fuzz_mutated_records_and_metadata_give_examples_or_a_data_error(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("fuzz_vcr"))
    images = root / "vcr1images"
    path = root / "val.jsonl"
    meta_path = images / f"{FRAME}.json"
    outcomes: Counter = Counter()

    @settings(max_examples=FUZZ_CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def case(data):
        records, meta = copy.deepcopy(GOOD), copy.deepcopy(META)
        target = data.draw(st.sampled_from(["records", "metadata"]), label="file")
        for _ in range(data.draw(st.integers(1, 3), label="n mutations")):
            outcomes[mut.mutate(records if target == "records" else meta, data)] += 1
        text = "".join(json.dumps(r) + "\n" for r in records) if isinstance(records, list) else json.dumps(records)
        if data.draw(st.integers(0, 9), label="truncate?") == 0:
            text = text[: data.draw(st.integers(0, len(text)), label="cut")]
        path.write_text(text)
        meta_path.write_text(json.dumps(meta))
        for skip in (False, True):
            try:
                exs = read_vcr(path, image_root=images, skip_bad=skip)
            except DataError as e:
                assert str(path) in str(e), str(e)  # metadata problems are errors of the record too
                outcomes["DataError"] += 1
                continue
            for e in exs:
                assert isinstance(e, Example) and e.width > 0 and e.height > 0 and e.meta["stage"] in ("qa", "qar")
                assert len(e.options) >= 2 and len(set(e.options)) == len(e.options) and e.answers[0] in e.options
                for o in e.objects:
                    x1, y1, x2, y2 = o.box
                    assert all(math.isfinite(v) for v in o.box) and 0 <= x1 <= x2 <= e.width and 0 <= y1 <= y2 <= e.height
                get_task("multiple_choice").prompt(e, 32)  # every example read can be prompted
            outcomes["examples"] += 1

    case()
    assert outcomes["DataError"] + outcomes["examples"] == 2 * FUZZ_CASES and outcomes["DataError"] > 0
