"""Datasets by reference: load_files reads a dataset entry's files where they were downloaded, under
their own names, and every mistake is one error naming the entry and the split."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import format_fixtures as ff
from vlseq.cli import main
from vlseq.data.readers import FILES, DataError, file_kinds, load_files, load_split, resolve_paths
from vlseq.data.readers.datasets import (
    check_entries,
    dataset_weights,
    load_datasets,
    provided_tasks,
    read_dataset_config,
)
from vlseq.data.readers.split import COMPANIONS
from vlseq.train.config import load_config

WORLD = ["--train", "8", "--val", "4", "--test", "1", "--test-heldout", "0", "--size", "32", "--workers", "1",
         "--no-progress", "--no-contact-sheet"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("w") / "world"
    assert main(["synth", "--out", str(out), *WORLD]) == 0
    return out


def _counts(split) -> dict[str, int]:
    return {t: len(v) for t, v in split.items()}


def test_the_file_kinds_are_the_readers_file_names_without_extension() -> None:
    kinds = file_kinds()
    assert {Path(n).stem for n in (*FILES, *COMPANIONS)} == set(kinds)
    assert {"captions", "instances", "vqa_questions", "vqa_annotations", "refexp", "grounding", "classify",
            "region_captions", "keypoints", "edits"} <= set(kinds)
    assert all(kinds[Path(n).stem] == n for n in FILES)


def test_every_file_kind_is_read_from_where_the_entry_names_it(world, tmp_path) -> None:
    """All of a split's files moved out of its folder under other names: the same examples come back."""
    src = world / "train"
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    refs = {}
    for kind, name in file_kinds().items():
        if (src / name).is_file():
            refs[kind] = str(shutil.copy(src / name, moved / f"downloaded_{kind}{Path(name).suffix}"))
    assert len(refs) >= 12  # every file the world writes
    entry = {"name": "moved", "train": {**refs, "image_root": str(src)}}
    by_reference = load_files(entry, "train")
    in_folder = load_split(src)
    assert _counts(by_reference) == _counts(in_folder) and sum(_counts(in_folder).values()) > 0
    assert all(str(moved) in ex.source for exs in by_reference.values() for ex in exs)


def test_files_named_beside_a_folder_replace_its_own(world, tmp_path) -> None:
    other = tmp_path / "captions_v2.json"
    doc = json.loads((world / "train" / "captions.json").read_text())
    doc["annotations"] = doc["annotations"][:3]
    other.write_text(json.dumps(doc))
    entry = {"path": str(world), "tasks": ["caption", "vqa"],
             "train": {"captions": str(other), "image_root": str(world / "train")}}
    got = load_files(entry, "train")
    assert sum(len(ex.answers) for ex in got["caption"]) == 3
    assert len(got["vqa"]) == len(load_split(world / "train", tasks=["vqa"])["vqa"])
    # the val split has no object of its own: the folder's files
    assert _counts(load_files(entry, "val")) == _counts(load_split(world / "val", tasks=["caption", "vqa"]))


@pytest.mark.parametrize("make, tasks", [(ff.vqav2, {"vqa"}), (ff.coco_instances, {"detect", "localize", "instance_segment"}),
                                         (ff.mdetr_refcoco, {"refexp"}), (ff.id_png_vqa, {"vqa"})])
def test_public_layouts_read_as_downloaded(world, tmp_path, make, tasks) -> None:
    root = tmp_path / "ds"
    entry = read_dataset_config(ff.write_dataset_config(root, make(world, root)))[0]
    for split in ("train", "val"):
        got = load_files(entry, split)
        assert set(got) == tasks
        ref = load_split(world / split, tasks=sorted(tasks))
        assert _counts(got) == _counts(ref) and all(_counts(got).values())
        for t in tasks:
            assert [ex.answers for ex in got[t]] == [ex.answers for ex in ref[t]]
            assert [ex.objects for ex in got[t]] == [ex.objects for ex in ref[t]]
            assert all(Path(p).is_file() and Path(p).is_relative_to(root) for ex in got[t] for p in ex.images)
    assert tasks <= set(provided_tasks(entry, "train"))


def test_the_vqav2_template_spells_coco_names(world, tmp_path) -> None:
    entry = read_dataset_config(ff.write_dataset_config(tmp_path, ff.vqav2(world, tmp_path)))[0]
    val = load_files(entry, "val")["vqa"]
    assert Path(val[0].images[0]).name == f"COCO_val2014_{int(val[0].image_id):012d}.jpg"  # via {subtype}
    assert Path(val[0].images[0]).parent == tmp_path / "val2014"


def test_load_datasets_names_sources_and_skips_a_missing_optional_split(world, tmp_path, caplog) -> None:
    caplog.set_level("INFO", logger="vlseq.data.readers.datasets")
    coco = resolve_paths(ff.coco_instances(world, tmp_path / "coco"), tmp_path / "coco")
    only_train = {"name": "cap", "tasks": ["caption"], "train": {"captions": str(world / "train" / "captions.json")}}
    got = load_datasets([coco, only_train], "train", ["caption", "detect"])
    assert set(got) == {"detect@coco", "caption@cap"}
    val = load_datasets([coco, only_train], "val", ["caption", "detect"], required=False)
    assert set(val) == {"detect@coco"}
    assert "dataset 'cap': no files for split 'val'" in caplog.text
    with pytest.raises(ValueError, match="dataset 'cap' names no files for split 'val'"):
        load_datasets([only_train], "val", ["caption"])
    assert dataset_weights([coco, dict(only_train, weight=3)]) == {"coco": 1.0, "cap": 3.0}


def test_relative_paths_are_under_the_config_files_folder(world, tmp_path, monkeypatch) -> None:
    root = tmp_path / "data"
    cfg_file = root / "run.json"
    entry = ff.coco_instances(world, root)
    cfg_file.write_text(json.dumps({"name": "mine", "data": {"synth": None, "datasets": [entry]}}))
    monkeypatch.chdir(tmp_path / "..")  # anywhere but the config's folder
    cfg = load_config(str(cfg_file))
    assert cfg.data.datasets[0]["train"]["instances"] == str(root / "annotations" / "instances_train2017.json")
    assert cfg.data.datasets[0]["train"]["image_root"] == str(root / "train2017")
    # overrides are the command line's: relative to the working directory
    cfg = load_config(str(cfg_file), ['data.datasets=[{"name": "x", "path": "rel/dir"}]'])
    assert cfg.data.datasets[0]["path"] == "rel/dir"
    # the three forms of a dataset config file
    for doc in ([entry], {"datasets": [entry]}, {"data": {"datasets": [entry]}}):
        (root / "d.json").write_text(json.dumps(doc))
        assert read_dataset_config(root / "d.json")[0]["val"]["image_root"] == str(root / "val2017")


@pytest.mark.parametrize("entries, words", [
    ([{"name": "ds", "train": {"vqa_question": "q.json"}}], ["[0] ('ds'), split 'train'", "unknown key 'vqa_question'",
                                                             "did you mean 'vqa_questions'"]),
    ([{"name": "ds", "trian": ["x"]}], ["[0] ('ds')", "unknown key 'trian'"]),
    ([{"name": "ds"}], ["[0] ('ds')", "names no data"]),
    ([{"train": {"captions": "c.json"}}], ["[0]", "needs a 'name'"]),
    ([{"name": "ds", "train": {"vqa_annotations": "a.json"}}], ["split 'train'", "read with 'vqa_questions'"]),
    ([{"name": "ds", "path": "a"}, {"name": "ds", "path": "b"}], ["[1] ('ds')", "also that of"]),
    ([{"name": "ds", "path": "a", "tasks": ["vqa", "nope"]}], ["'tasks' must be"]),
    ([{"name": "ds", "path": "a", "weight": -1}], ["'weight' must be"]),
    ([{"name": "a/b", "path": "a"}], ["may not hold '/'"]),
])
def test_a_malformed_entry_is_one_error_naming_it(entries, words) -> None:
    with pytest.raises(ValueError) as e:
        check_entries(entries)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_missing_files_and_images_name_the_entry_and_split(world, tmp_path) -> None:
    root = tmp_path / "v2"
    entry = resolve_paths(ff.vqav2(world, root), root)
    gone = dict(entry, train=dict(entry["train"], vqa_annotations=str(root / "nope.json")))
    with pytest.raises(DataError, match=r"nope.json: file not found \(key 'vqa_annotations' of dataset 'vqav2', split 'train'\)"):
        load_files(gone, "train")
    no_root = dict(entry, val=dict(entry["val"], image_root=str(root / "val2015")))
    with pytest.raises(DataError, match=r"image folder not found \(key 'image_root' of dataset 'vqav2', split 'val'\)"):
        load_files(no_root, "val")
    wrong = dict(entry, train=dict(entry["train"], image_template="COCO_train2014_{image_id}.jpg"))
    with pytest.raises(DataError) as e:
        load_files(wrong, "train")
    msg = str(e.value)
    assert "image file not found" in msg and "COCO_train2014_0.jpg" in msg
    assert "(dataset 'vqav2', split 'train': image_root" in msg and "image_template 'COCO_train2014_{image_id}.jpg'" in msg
    no_dir = {"name": "d", "path": str(tmp_path / "absent")}
    with pytest.raises(DataError, match=r"absent: split directory not found \('path' of dataset 'd', split 'train'\)"):
        load_files(no_dir, "train")


def test_tasks_an_entry_lists_must_be_provided(world, tmp_path) -> None:
    entry = {"name": "c", "tasks": ["caption", "vqa"], "train": {"captions": str(world / "train" / "captions.json")}}
    with pytest.raises(ValueError, match=r"dataset 'c', split 'train': no file of the split provides task\(s\) \['vqa'\]"):
        load_files(entry, "train")
    loose = dict(entry, tasks=None)
    assert set(load_files(loose, "train", ["caption", "vqa"])) == {"caption"}
    with pytest.raises(ValueError, match=r"provides task\(s\) \['vqa'\]"):
        load_files(loose, "train", ["caption", "vqa"], strict_tasks=True)
