"""``vlseq synth`` end to end on a handful of scenes."""

from __future__ import annotations

import json

import pytest
from pycocotools.coco import COCO

from vlseq.cli.synth import main

ARGS = ["--train", "12", "--val", "4", "--test", "4", "--test-heldout", "4", "--size", "64", "--seed", "3",
        "--caption-only", "0.3", "--edit-frac", "0.5", "--no-progress"]


@pytest.fixture(scope="module")
def out(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth")
    assert main(["--out", str(d), "--workers", "1", *ARGS]) == 0
    return d


def _load(path):
    return json.loads(path.read_text())


def test_layout_and_manifest(out):
    for split in ("train", "val", "test", "test_heldout"):
        for name in ("captions.json", "instances.json", "vqa_questions.json", "vqa_annotations.json", "refexp.json",
                     "grounding.json", "classify.jsonl", "region_captions.jsonl", "edits.jsonl", "keypoints.json",
                     "generations.jsonl", "manifest.json"):
            assert (out / split / name).exists(), (split, name)
        COCO(str(out / split / "instances.json"))
        COCO(str(out / split / "refexp.json"))
        COCO(str(out / split / "keypoints.json"))
    assert (out / "contact_sheet.png").stat().st_size > 1000  # the CLI draws it after the data (vlseq.viz.truth_sheet)
    m = _load(out / "manifest.json")
    assert m["seed"] == 3 and m["size"] == 64 and m["world"]["size"] == 64
    assert set(m["splits"]) == {"train", "val", "test", "test_heldout", "caption_only_eval"}
    val = _load(out / "val" / "manifest.json")
    assert val["split"] == "val" and val["image_id_base"] == 10_000_000 and val["num_scenes"] == 4
    for e in (_load_lines(out / "train" / "edits.jsonl")):
        assert (out / "train" / e["input_image"]).exists() and (out / "train" / e["edited_image"]).exists()


def _load_lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_caption_only_images_have_captions_only(out):
    ids = set(_load(out / "manifest.json")["caption_only_image_ids"])
    assert ids and ids == set(_load(out / "train" / "manifest.json")["caption_only_image_ids"])
    assert ids <= {a["image_id"] for a in _load(out / "train" / "captions.json")["annotations"]}
    train = out / "train"
    others = {a["image_id"] for a in _load(train / "instances.json")["annotations"]}
    others |= {r["original_id"] for r in _load(train / "refexp.json")["images"]}
    others |= {r["original_img_id"] for r in _load(train / "grounding.json")["images"]}
    others |= {q["image_id"] for q in _load(train / "vqa_questions.json")["questions"]}
    others |= {r["image_id"] for r in _load_lines(train / "region_captions.jsonl")}
    paths = {p for c in _load_lines(train / "classify.jsonl") for p in c["images"]}
    paths |= {e["input_image"] for e in _load_lines(train / "edits.jsonl")}
    paths |= {g["image"] for g in _load_lines(train / "generations.jsonl")}
    others |= {a["image_id"] for a in _load(train / "keypoints.json")["annotations"]}
    assert not ids & others
    assert not {f"images/{i:08d}.png" for i in ids} & paths
    ev = _load(out / "caption_only_eval" / "grounding.json")
    assert {r["original_img_id"] for r in ev["images"]} == ids
    assert all((out / "caption_only_eval" / "images" / r["file_name"]).exists() for r in ev["images"])


def test_heldout_pairs(out):
    pairs = [tuple(p) for p in _load(out / "manifest.json")["heldout_pairs"]]
    assert pairs
    caps = " ".join(a["caption"] for a in _load(out / "train" / "captions.json")["annotations"])
    assert not any(f"{c} {s}" in caps for c, s in pairs)
    ref = _load(out / "test_heldout" / "refexp.json")
    assert ref["images"]
    region = _load_lines(out / "test_heldout" / "region_captions.jsonl")
    # every scene of test_heldout holds an object of a held-out pair
    by_image = {}
    for r in region:
        by_image.setdefault(r["image_id"], []).append(r["phrase"])
    assert all(any(f"{c} {s}" in p for p in ps for c, s in pairs) for ps in by_image.values())


def test_output_does_not_depend_on_workers(out, tmp_path):
    assert main(["--out", str(tmp_path), "--workers", "2", "--no-contact-sheet", *ARGS]) == 0
    assert not (tmp_path / "contact_sheet.png").exists()
    for name in ("captions.json", "instances.json", "refexp.json", "classify.jsonl", "edits.jsonl"):
        assert (tmp_path / "train" / name).read_bytes() == (out / "train" / name).read_bytes(), name
    assert (tmp_path / "val" / "images" / "10000000.png").read_bytes() == \
        (out / "val" / "images" / "10000000.png").read_bytes()


def test_story_frac_sets_how_many_stories(tmp_path):
    small = ["--train", "12", "--val", "2", "--test", "2", "--test-heldout", "2", "--size", "32", "--no-progress",
             "--no-contact-sheet", "--workers", "1"]
    counts = {}
    for frac in ("0", "1"):
        assert main(["--out", str(tmp_path / frac), "--story-frac", frac, "--caption-only", "0", *small]) == 0
        stories = tmp_path / frac / "train" / "story.json"
        counts[frac] = len(_load(stories)["annotations"]) if stories.exists() else 0
    assert counts["0"] == 0 and counts["1"] >= 12 * 3  # every scene starts a story of 3-5 images


def test_bad_arguments():
    with pytest.raises(SystemExit):
        main(["--out", "x", "--story-frac", "1.5"])
    with pytest.raises(SystemExit):
        main(["--out", "x", "--objects", "a-b"])
    with pytest.raises(SystemExit):
        main(["--out", "x", "--heldout", "red:blob"])


def test_readers_load_every_file_without_errors(out):
    split = pytest.importorskip("vlseq.data.readers.split")
    for name in ("train", "val", "test_heldout", "caption_only_eval"):
        s = split.load_split(out / name)
        assert not s.report.messages, s.report
        assert s["caption"]
    train = split.load_split(out / "train")
    assert {"detect", "vqa", "refexp", "ground", "classify", "region_caption", "edit_image"} <= set(train)
