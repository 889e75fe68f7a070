"""Visual Genome's ``region_descriptions.json`` as a file kind: in a split directory, and named per
split by a dataset entry (key ``region_descriptions``), it feeds ``region_caption``."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from vlseq.data.readers import DataError, available_tasks, file_kinds, load_files, load_split
from vlseq.tasks import file_feeds

_spec = importlib.util.spec_from_file_location("vlseq_test_reader_images_vg", Path(__file__).parent / "fixtures" / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

#: the hand-made VG fixture: two images, three regions
VG = fx.fixture("vg", "region_descriptions.json")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return fx.make_image_root(tmp_path_factory.mktemp("vg_images"))


def test_the_file_kind_is_declared_by_region_caption() -> None:
    assert file_kinds()["region_descriptions"] == "region_descriptions.json"
    assert file_feeds()["region_descriptions.json"] == ("region_caption",)


def test_a_split_directory_holding_it(images: Path, tmp_path: Path) -> None:
    split = tmp_path / "train"
    shutil.copytree(images, split)  # the images beside the file: VG's {image_id}.jpg
    shutil.copy(VG, split / "region_descriptions.json")
    assert available_tasks(split, feeds=file_feeds()) == ["region_caption"]
    exs = load_split(split, feeds=file_feeds())["region_caption"]
    assert [e.meta["region_id"] for e in exs] == [1382, 1383, 5000]
    assert exs[0].region == (42.0, 5.0, 62.0, 19.0) and exs[0].answers == ["the clock is green in colour"]
    assert exs[0].images == [str(split / "1.jpg")]


def test_named_per_split_with_an_image_template(images: Path, tmp_path: Path) -> None:
    pics = tmp_path / "VG_100K"
    pics.mkdir()
    for iid in (1, 2):
        shutil.copy(images / f"{iid}.jpg", pics / f"vg_{iid:06d}.jpg")
    entry = {"name": "vg", "train": {"region_descriptions": str(VG), "image_root": str(pics),
                                     "image_template": "vg_{image_id:06d}.jpg"}}
    exs = load_files(entry, "train", ["region_caption", "caption"])["region_caption"]
    assert len(exs) == 3 and exs[2].images == [str(pics / "vg_000002.jpg")] and exs[2].answers == ["a white car"]
    # a template that names a missing picture: one error naming the entry, the split and the template
    entry["train"]["image_template"] = "{image_id}.png"
    with pytest.raises(DataError, match=r"record 1382: .*1.png': image file not found \(dataset 'vg', split 'train': .*image_template"):
        load_files(entry, "train")


def test_a_bad_region_names_the_file_and_record(images: Path, tmp_path: Path) -> None:
    doc = json.loads(VG.read_text())
    doc[0]["regions"][1]["width"] = 500  # past the 64 px picture
    bad = tmp_path / "region_descriptions.json"
    bad.write_text(json.dumps(doc))
    entry = {"name": "vg", "val": {"region_descriptions": str(bad), "image_root": str(images)}}
    with pytest.raises(DataError, match=r"region_descriptions.json: record 1383: .* lies outside"):
        load_files(entry, "val")
    got = load_files(entry, "val", skip_bad=True)
    assert [e.meta["region_id"] for e in got["region_caption"]] == [1382, 5000] and got.report.skipped == 1
