"""classify (native, NLVR2, SNLI-VE), region captions (jsonl, Visual Genome) and edits readers."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from vlseq.data.readers import (
    DataError,
    ReadReport,
    read_classify,
    read_edits,
    read_generations,
    read_region_captions,
    read_vg_regions,
)

_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images", Path(__file__).parent / "fixtures" / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return fx.make_image_root(tmp_path_factory.mktemp("jsonl_images"))


def test_nlvr2(root):
    exs = read_classify(fx.fixture("nlvr2", "dev.json"), image_root=root)
    assert [e.answers for e in exs] == [["false"], ["true"]]
    e = exs[0]
    assert e.task == "classify" and e.options == ["true", "false"] and e.meta["kind"] == "pair"
    assert e.images == [str(root / "dev-850-0-img0.png"), str(root / "dev-850-0-img1.png")]
    assert (e.width, e.height) == (32, 24) and e.meta["sizes"] == [(32, 24), (24, 32)]
    assert e.text.startswith("The left image contains twice")
    # the published train layout keeps images in numbered sub-directories
    (root / "train" / "7").mkdir(parents=True, exist_ok=True)
    for side in (0, 1):
        fx.make_image(root / "train" / "7" / f"dev-850-0-img{side}.png", 10, 10)
    line = json.loads(fx.fixture("nlvr2", "dev.json").read_text().splitlines()[0])
    line["directory"] = 7
    p = root / "train.json"
    p.write_text(json.dumps(line) + "\n")
    exs = read_classify(p, image_root=root, image_template="train/{directory}/{pair_id}-img{side}.png")
    assert exs[0].images[1] == str(root / "train/7/dev-850-0-img1.png") and exs[0].width == 10


def test_snli_ve(root):
    exs = read_classify(fx.fixture("snli_ve", "snli_ve_dev.jsonl"), image_root=root)
    assert [e.answers[0] for e in exs] == ["neutral", "contradiction", "entailment"]
    assert exs[0].options == ["entailment", "neutral", "contradiction"] and exs[0].meta["kind"] == "entailment"
    assert exs[0].images == [str(root / "3416050480.jpg")] and (exs[2].width, exs[2].height) == (40, 50)
    assert exs[0].meta["premise"].startswith("A person on a horse")
    assert exs[0].image_id == "3416050480.jpg#4r1n"


def test_native_classify_and_bad_lines(tmp_path):
    fx.make_image(tmp_path / "images" / "00000001.png", 20, 10)
    fx.make_image(tmp_path / "images" / "00000002.png", 20, 10)
    good = {"id": 1, "images": ["images/00000001.png"], "sentence": "There is a red circle.", "label": "yes",
            "options": ["yes", "no"], "kind": "entailment"}
    pair = {"id": 2, "images": ["images/00000001.png", "images/00000002.png"], "sentence": "Both have a square.",
            "label": "no", "options": ["yes", "no"], "kind": "pair"}
    bad = [
        (dict(good, id=3, label="maybe"), 3, "bad_value", "label 'maybe' is not one of the options"),
        (dict(good, id=4, kind="other"), 4, "bad_value", "'kind' must be one of"),
        (dict(good, id=5, images=[]), 5, "wrong_type", "'images' must hold 1 or 2"),
        (dict(good, id=6, images=["images/absent.png"]), 6, "missing_image", "not found"),
        (dict(good, id=1), 1, "duplicate_id", "duplicate record id 1"),
        (dict(good, id=8, sentence=None), 8, "wrong_type", "'sentence' must be a string"),
        ({k: v for k, v in good.items() if k != "options"} | {"id": 9}, 9, "missing_key", "missing key 'options'"),
        ("{\"id\": 10, ", "line 10", "unreadable_file", "invalid JSON"),
        ({"foo": 1}, "line 11", "missing_key", "record has none of"),
    ]
    lines = [json.dumps(good), json.dumps(pair)] + [b if isinstance(b, str) else json.dumps(b) for b, *_ in bad]
    path = tmp_path / "classify.jsonl"
    path.write_text("\n".join(lines) + "\n")
    rep = ReadReport()
    exs = read_classify(path, skip_bad=True, report=rep)
    assert [e.image_id for e in exs] == ["1", "2"] and exs[1].meta["kind"] == "pair" and len(exs[1].images) == 2
    assert rep.skipped == len(bad)
    for (_, rid, _problem, words), msg in zip(bad, rep.messages):
        assert f"classify.jsonl: record {rid}: " in msg and words in msg, msg
    assert rep.counts["missing_key"] == 2 and rep.counts["bad_value"] == 2
    # strict: each bad line alone raises its own message
    for b, rid, problem, words in bad:
        one = tmp_path / "one.jsonl"
        one.write_text(json.dumps(good) + "\n" + (b if isinstance(b, str) else json.dumps(b)) + "\n")
        with pytest.raises(DataError) as e:
            read_classify(one)
        if rid != 1:  # the duplicate is of line 1 here too
            assert e.value.problem == problem and words in str(e.value), str(e.value)


def test_classify_bad_fixtures(root):
    rep = ReadReport()
    exs = read_classify(fx.fixture("nlvr2", "dev_bad.json"), image_root=root, skip_bad=True, report=rep)
    assert len(exs) == 2
    # label "Maybe"; missing images; missing sentence (malformed); invalid JSON; duplicate identifier
    assert rep.counts == {"bad_value": 1, "missing_image": 1, "missing_key": 1, "unreadable_file": 1, "duplicate_id": 1}
    assert any("dev_bad.json: record dev-850-0-2: missing key 'sentence'" in m for m in rep.messages)
    rep = ReadReport()
    exs = read_classify(fx.fixture("snli_ve", "snli_ve_bad.jsonl"), image_root=root, skip_bad=True, report=rep)
    assert len(exs) == 3 and rep.counts == {"bad_value": 1, "wrong_type": 2}
    with pytest.raises(DataError, match=r"snli_ve_bad.jsonl: record x#1: 'gold_label' must be one of"):
        read_classify(fx.fixture("snli_ve", "snli_ve_bad.jsonl"), image_root=root)


def test_visual_genome_regions(root):
    exs = read_vg_regions(fx.fixture("vg", "region_descriptions.json"), image_root=root)
    assert [e.meta["region_id"] for e in exs] == [1382, 1383, 5000]
    e = exs[0]
    assert e.task == "region_caption" and e.region == (42.0, 5.0, 62.0, 19.0) and e.answers == ["the clock is green in colour"]
    assert e.images == [str(root / "1.jpg")] and (e.width, e.height) == (64, 60) and e.image_id == "1"
    assert exs[1].answers == ["shade is along the street"]
    rep = ReadReport()
    exs = read_vg_regions(fx.fixture("vg", "region_descriptions_bad.json"), image_root=root, skip_bad=True, report=rep)
    assert len(exs) == 3 and rep.counts == {"bad_box": 1, "bad_value": 1, "duplicate_id": 1, "missing_image": 1}
    with pytest.raises(DataError, match=r"region_descriptions_bad.json: record 1384: 'x, y, width, height' \[0, 0, 100, 10\] lies outside"):
        read_vg_regions(fx.fixture("vg", "region_descriptions_bad.json"), image_root=root)


def test_region_captions_jsonl_and_edits(tmp_path):
    fx.make_image(tmp_path / "images" / "00000001.png", 40, 30)
    fx.make_image(tmp_path / "images" / "00000002.png", 40, 30)
    rows = [{"id": 1, "image": "images/00000001.png", "x": 2, "y": 3, "width": 10, "height": 5, "phrase": "a red  square"},
            {"id": 2, "image": "images/00000001.png", "x": 2, "y": 3, "width": 10, "height": 5, "phrase": "x",
             "image_width": 41, "image_height": 30}]
    (tmp_path / "region_captions.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"record 2: image .* is 40x30 but the record says 41x30"):
        read_region_captions(tmp_path / "region_captions.jsonl")
    exs = read_region_captions(tmp_path / "region_captions.jsonl", skip_bad=True)
    assert len(exs) == 1 and exs[0].region == (2.0, 3.0, 12.0, 8.0) and exs[0].answers == ["a red square"]

    edits = [{"id": "e1", "input_image": "images/00000001.png", "edited_image": "images/00000002.png",
              "edit_prompt": "make the square blue"},
             {"id": "e2", "input_image": "images/00000001.png", "edited_image": "images/absent.png", "edit_prompt": "x"}]
    (tmp_path / "edits.jsonl").write_text("\n".join(json.dumps(r) for r in edits) + "\n")
    rep = ReadReport()
    exs = read_edits(tmp_path / "edits.jsonl", skip_bad=True, report=rep)
    assert len(exs) == 1 and rep.counts == {"missing_image": 1}
    e = exs[0]
    assert e.task == "edit_image" and e.text == "make the square blue"
    assert e.images == [str(tmp_path / "images/00000001.png")] and e.target_image == str(tmp_path / "images/00000002.png")


REQ = [{"label": "square", "colour": "red", "shape": "square", "count": 2}]


def test_generations_and_requirements(tmp_path):
    fx.make_image(tmp_path / "images" / "00000001.png", 40, 30)
    rows = [{"id": 1, "image": "images/00000001.png", "image_id": 7, "caption": "two red  squares.", "requirements": REQ},
            {"id": 2, "image": "images/00000001.png", "caption": "a blue circle."},
            {"id": 3, "image": "images/00000001.png", "caption": "x", "requirements": [{"label": "square"}]},
            {"id": 4, "image": "images/00000001.png", "caption": "x", "requirements": [dict(REQ[0], count=0)]},
            {"id": 5, "image": "images/00000001.png", "caption": "x", "requirements": [dict(REQ[0], count="2")]}]
    (tmp_path / "generations.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with pytest.raises(DataError, match=r"generations.jsonl: record 3: requirements\[0\] must be an object with keys"):
        read_generations(tmp_path / "generations.jsonl")
    rep = ReadReport()
    exs = read_generations(tmp_path / "generations.jsonl", skip_bad=True, report=rep)
    assert rep.counts == {"bad_value": 2, "wrong_type": 1} and len(exs) == 2
    e = exs[0]
    assert e.task == "generate_image" and e.text == "two red squares." and e.image_id == "7"
    assert e.target_image == str(tmp_path / "images/00000001.png") and e.meta["requirements"] == REQ
    assert e.images[0].shape == (30, 40, 3) and int(e.images[0].std()) == 0  # a blank canvas of the image's size
    assert exs[1].meta == {} and exs[1].image_id == "2"

    edits = [{"id": "e1", "input_image": "images/00000001.png", "edited_image": "images/00000001.png",
              "edit_prompt": "make the square red", "requirements": REQ}]
    (tmp_path / "edits.jsonl").write_text(json.dumps(edits[0]) + "\n")
    assert read_edits(tmp_path / "edits.jsonl")[0].meta["requirements"] == REQ
