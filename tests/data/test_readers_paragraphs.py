"""Stanford image paragraphs reader: paragraphs_v1.json and the split lists, in their published names
and layout (made here in a temp dir), every kind of bad record, load_split, and a fuzz test."""

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
from vlseq.data.readers import DataError, ReadReport, load_split, read_paragraphs

_here = Path(__file__).parent / "fixtures"
_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images_p", _here / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)
_spec = importlib.util.spec_from_file_location("vlseq_test_mutate_p", _here / "mutate.py")
mut = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mut)

URL = "https://cs.stanford.edu/people/rak248/{}/{}.jpg"
RECORDS = [
    {"url": URL.format("VG_100K_2", 2388203), "image_id": 2388203,
     "paragraph": "A large building with bars on the windows in front of it.  There is people walking in front of "
                  "the building. There is a street in front of the building with many cars on it. "},
    {"url": URL.format("VG_100K", 2356347), "image_id": 2356347,
     "paragraph": "A red double decker bus is parked. The bus is empty."},
    {"url": URL.format("VG_100K", 2400000), "image_id": 2400000, "paragraph": "Two zebras stand in the grass."},
]
SIZES = {"VG_100K_2/2388203.jpg": (64, 48), "VG_100K/2356347.jpg": (40, 30), "2400000.jpg": (32, 32)}


def make_root(root: Path, records: list | None = None) -> Path:
    """Stanford's layout: paragraphs_v1.json, the three split lists, images in VG's folders (one bare)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, (w, h) in SIZES.items():
        fx.make_image(root / name, w, h)
    (root / "paragraphs_v1.json").write_text(json.dumps(RECORDS if records is None else records))
    for split, ids in (("train", [2388203, 2356347]), ("val", [2400000]), ("test", [])):
        (root / f"{split}_split.json").write_text(json.dumps(ids))
    return root


def test_reads_the_published_layout(tmp_path):
    root = make_root(tmp_path / "stanford")
    exs = read_paragraphs(root / "paragraphs_v1.json")
    assert [e.image_id for e in exs] == ["2388203", "2356347", "2400000"]
    e = exs[0]
    assert e.task == "paragraph" and e.images == [str(root / "VG_100K_2" / "2388203.jpg")] and (e.width, e.height) == (64, 48)
    assert e.answers == ["A large building with bars on the windows in front of it. There is people walking in front "
                         "of the building. There is a street in front of the building with many cars on it."]
    assert e.source == f"{root / 'paragraphs_v1.json'}#image 2388203" and e.meta["url"] == RECORDS[0]["url"]
    # the bare file name is found when the VG folder is not there
    assert exs[2].images == [str(root / "2400000.jpg")]
    assert [e.image_id for e in read_paragraphs(root / "paragraphs_v1.json", split="train")] == ["2388203", "2356347"]
    assert [e.image_id for e in read_paragraphs(root / "paragraphs_v1.json", split="val")] == ["2400000"]
    assert read_paragraphs(root / "paragraphs_v1.json", split="test") == []
    # images elsewhere, by template
    other = tmp_path / "imgs"
    for iid in (2388203, 2356347, 2400000):
        fx.make_image(other / f"{iid}.jpg", 10, 12)
    exs = read_paragraphs(root / "paragraphs_v1.json", image_root=other, image_template="{image_id}.jpg")
    assert all(Path(e.images[0]).parent == other and (e.width, e.height) == (10, 12) for e in exs)


def test_split_files_are_checked_whole(tmp_path):
    root = make_root(tmp_path / "s")
    with pytest.raises(DataError, match=r"dev_split.json: file not found"):
        read_paragraphs(root / "paragraphs_v1.json", split="dev")
    (root / "val_split.json").write_text(json.dumps([2400000, {"id": 1}]))
    with pytest.raises(DataError, match=r"val_split.json: entry 1 must be an image id"):
        read_paragraphs(root / "paragraphs_v1.json", split="val")
    (root / "val_split.json").write_text(json.dumps({"ids": [1]}))
    with pytest.raises(DataError, match="must be a JSON list of image ids"):
        read_paragraphs(root / "paragraphs_v1.json", split="val")


BAD = [  # (record, id in the message when it follows RECORDS alone, problem, detail)
    ({"url": URL.format("VG_100K", 1), "image_id": 1}, 1, "missing_key", "missing key 'paragraph'"),
    ({"url": URL.format("VG_100K", 2), "image_id": 2, "paragraph": ["a", "list"]}, 2, "wrong_type", "'paragraph' must be a string"),
    ({"url": URL.format("VG_100K", 3), "image_id": 3, "paragraph": "   "}, 3, "bad_value", "'paragraph' is empty"),
    (dict(RECORDS[1]), 2356347, "duplicate_id", "duplicate image id 2356347"),
    ({"url": URL.format("VG_100K", 5), "image_id": 5, "paragraph": "A cat."}, 5, "missing_image", "not found"),
    ({"url": "https://cs.stanford.edu/", "image_id": 6, "paragraph": "A cat."}, 6, "bad_value", "names no image file"),
    ({"url": URL.format("VG_100K", 7), "image_id": 7.5, "paragraph": "A cat."}, "[3]", "wrong_type", "'image_id' must be"),
    ("not a record", "[3]", "wrong_type", "expected an object"),
    ({"url": 12, "image_id": 10, "paragraph": "A cat."}, 10, "wrong_type", "'url' must be a string"),
]


def test_each_bad_record_is_a_named_error_or_skipped(tmp_path):
    root = make_root(tmp_path / "bad", RECORDS + [b for b, *_ in BAD])
    path = root / "paragraphs_v1.json"
    for k, (rec, rid, problem, detail) in enumerate(BAD):
        one = tmp_path / f"one{k}"
        make_root(one, RECORDS + [rec])
        with pytest.raises(DataError) as e:
            read_paragraphs(one / "paragraphs_v1.json")
        assert e.value.problem == problem and e.value.file == str(one / "paragraphs_v1.json"), str(e.value)
        assert f"record {rid}:" in str(e.value) and detail in str(e.value), str(e.value)
    report = ReadReport()
    exs = read_paragraphs(path, skip_bad=True, report=report)
    assert [e.image_id for e in exs] == ["2388203", "2356347", "2400000"]
    assert report.skipped == len(BAD) and report.kept["paragraph"] == 3
    assert report.counts == Counter(p for _, _, p, _ in BAD)
    # a bad record of another split does not stop reading this one (when its id can be read)
    other = make_root(tmp_path / "other", RECORDS + [BAD[0][0], BAD[2][0]])
    assert len(read_paragraphs(other / "paragraphs_v1.json", split="val")) == 1
    with pytest.raises(DataError, match="expected a JSON list of paragraph records"):
        (root / "p2.json").write_text(json.dumps({"paragraphs": RECORDS}))
        read_paragraphs(root / "p2.json")


def test_load_split_keeps_the_split_named_after_the_directory(tmp_path):
    val = make_root(tmp_path / "val")
    data = load_split(val, tasks=["paragraph"])
    assert [e.image_id for e in data["paragraph"]] == ["2400000"]
    (val / "val_split.json").unlink()  # no list of its own: every paragraph of the file
    assert len(load_split(val, tasks=["paragraph"])["paragraph"]) == 3


FUZZ_CASES = 120


def test_fuzz_mutated_files_give_examples_or_a_data_error(tmp_path_factory):
    root = make_root(tmp_path_factory.mktemp("fuzz_paragraphs"))
    path = root / "paragraphs_v1.json"
    outcomes: Counter = Counter()

    @settings(max_examples=FUZZ_CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def case(data):
        doc = copy.deepcopy(RECORDS)
        for _ in range(data.draw(st.integers(1, 3), label="n mutations")):
            outcomes[mut.mutate(doc, data)] += 1
        text = json.dumps(doc)
        if data.draw(st.integers(0, 9), label="truncate?") == 0:
            text = text[: data.draw(st.integers(0, len(text)), label="cut")]
        path.write_text(text)
        split = data.draw(st.sampled_from([None, "train", "val"]), label="split")
        for skip in (False, True):
            try:
                exs = read_paragraphs(path, split=split, skip_bad=skip)
            except DataError as e:
                assert str(path) in str(e), str(e)
                outcomes["DataError"] += 1
                continue
            for e in exs:
                assert isinstance(e, Example) and e.width > 0 and e.height > 0 and Path(e.images[0]).is_file()
                assert len(e.answers) == 1 and e.answers[0] == " ".join(e.answers[0].split()) and e.answers[0]
                assert not any(isinstance(v, float) and math.isnan(v) for v in e.meta.values())
            outcomes["examples"] += 1

    case()
    assert outcomes["DataError"] + outcomes["examples"] == 2 * FUZZ_CASES and outcomes["DataError"] > 0
