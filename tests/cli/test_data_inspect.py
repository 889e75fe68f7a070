"""``vlseq data inspect`` through the dispatcher: a split, a folder of splits, a config, a datasets
file of public layouts (named per split), the same entries in a config, ``--data`` /
``--dataset-config`` as ``vlseq train`` takes them, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import format_fixtures as ff
from helpers import make_checkpoint
from vlseq.cli import main
from vlseq.data.readers import load_split
from vlseq.data.synth import SynthOptions, write_world
from vlseq.tokenizer import VLTokenizer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, SynthOptions(train=24, val=8, test=4, test_heldout=0, size=32, seed=0, workers=1,
                                   no_progress=True))
    return root


def test_a_split_prints_the_report(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", str(world / "train")]) == 0
    out = capsys.readouterr().out
    split = load_split(world / "train")
    assert out.startswith(f"# Data inspection: `{world / 'train'}`")
    for task, exs in split.items():
        assert f"| {task} | {len(exs)} |" in out
    assert "tokenizer: trained on this split's own prompts and targets" in out
    assert "64 coordinate bins" in out and "| targets > 128 |" in out
    assert "majority answer baseline (accuracy): always" in out
    assert "majority class baseline (accuracy): always" in out
    assert "### Boxes" in out and "### Caption length (words)" in out and "### Warnings" in out


def test_a_folder_of_splits_and_out(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "report"
    assert main(["data", "inspect", str(world), "--out", str(out_dir), "--per-task", "1", "--bins", "32"]) == 0
    out = capsys.readouterr().out
    for name in ("train", "val", "test", "caption_only_eval"):
        assert f"## {name} (`{world / name}`)" in out
        assert (out_dir / f"contact_sheet_{name}.png").is_file()
    assert "32 coordinate bins" in out
    assert (out_dir / "report.md").read_text() in out
    assert out.rstrip().endswith(f"wrote {out_dir / 'report.md'} and 4 contact sheet(s) to {out_dir}")
    # a second run does not silently replace the report
    assert main(["data", "inspect", str(world / "val"), "--out", str(out_dir)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_a_config_sets_grid_limits_and_tasks(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "run.json"
    cfg.write_text(json.dumps({"data": {"synth": str(world), "synth_generate": {}}, "model": {"num_bins": 32},
                               "tasks": ["detect", "vqa"], "max_target_tokens": 20}))
    assert main(["data", "inspect", str(cfg), "max_prompt_tokens=10"]) == 0
    out = capsys.readouterr().out
    assert "## synth/train" in out and "## synth/caption_only_eval" in out
    assert "32 coordinate bins" in out and "| targets > 20 |" in out and "| prompts > 10 |" in out
    train = out.split("## synth/val")[0]
    assert f"| detect | {len(load_split(world / 'train')['detect'])} |" in train
    assert "| caption |" not in train  # the config does not train captioning
    assert "targets are longer than 20 tokens" in train  # detect lists every object: more than 20
    assert "tasks of the config no file here provides: detect, vqa" in out  # caption_only_eval


def test_a_given_tokenizer_is_used(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tok_dir = tmp_path / "tok"
    VLTokenizer.train(["a red circle", "what colour is it?"], 64).save_pretrained(tok_dir)
    assert main(["data", "inspect", str(world / "val"), "--tokenizer", str(tok_dir)]) == 0
    assert f"tokenizer: {tok_dir} (" in capsys.readouterr().out
    assert main(["data", "inspect", str(world / "val"), "--tokenizer", str(tok_dir), "--bins", "32"]) == 2
    assert "has 64 coordinate bins, not 32" in capsys.readouterr().err


def test_a_checkpoint_gives_grid_and_limits(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = make_checkpoint(tmp_path / "ckpt")  # 32 bins, max_target_tokens 32
    assert main(["data", "inspect", str(world / "val"), "--tokenizer", str(ckpt)]) == 0
    out = capsys.readouterr().out
    assert f"tokenizer: {ckpt} (" in out and "32 coordinate bins" in out and "| targets > 32 |" in out


def test_bad_input_is_one_error_line(world: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vlseq: error: {tmp_path / 'missing'}: no such directory, datasets file, config file or preset")
    assert len(err.splitlines()) == 1

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "images").symlink_to(world / "val" / "images")
    recs = [json.loads(line) for line in (world / "val" / "classify.jsonl").read_text().splitlines()]
    recs[2].pop("label")
    (bad / "classify.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    assert main(["data", "inspect", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vlseq: error: {bad / 'classify.jsonl'}: record ") and len(err.splitlines()) == 1

    assert main(["data", "inspect", str(bad), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert f"| classify | {len(recs) - 1} |" in captured.out
    assert "skipped 1 bad records: missing_key 1" in captured.out
    assert "vlseq: skipped 1 bad records" in captured.err


def test_a_data_file_or_overrides_of_a_directory_are_refused(world: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "inspect", str(world / "train" / "captions.json")]) == 2
    assert "is a data file: pass the split directory holding it" in capsys.readouterr().err
    assert main(["data", "inspect", str(world / "train"), "model.num_bins=32"]) == 2
    assert "overrides apply to a training config" in capsys.readouterr().err


# --------------------------------------------------------------------------- public layouts, by reference


@pytest.fixture(scope="module")
def public(world: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    """A VQAv2-format and a COCO-format set as downloaded (files named per split) and the datasets
    file naming them, as the README writes one."""
    root = tmp_path_factory.mktemp("public")
    entries = [ff.vqav2(world, root), ff.coco_instances(world, root)]
    return ff.write_dataset_config(root, *entries), entries


def _non_trivial_png(path: Path) -> None:
    with Image.open(path) as im:
        assert im.size[0] >= 200 and im.size[1] >= 200
        pixels = np.asarray(im.convert("RGB"))
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50  # pictures and text, not a blank


def test_a_datasets_file_of_public_layouts(world: Path, public, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = public
    out_dir = tmp_path / "report"
    assert main(["data", "inspect", str(config), "--out", str(out_dir), "--per-task", "1"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert out.startswith(f"# Data inspection: `{config}`")
    root = config.parent
    for split in ("train", "val"):
        questions = json.loads((root / f"v2_OpenEnded_mscoco_{split}2014_questions.json").read_text())["questions"]
        assert f"## vqav2/{split} (`{root / f'v2_OpenEnded_mscoco_{split}2014_questions.json'}, " in out
        section = out.split(f"## vqav2/{split}")[1].split("\n## ")[0]
        assert f"| vqa | {len(questions)} |" in section and "majority answer baseline (accuracy): always" in section
        assert f"## coco/{split} (`{root / 'annotations' / f'instances_{split}2017.json'}`)" in out
        coco = out.split(f"## coco/{split}")[1].split("\n## ")[0]
        assert f"| detect | {len(load_split(world / split, tasks=['detect'])['detect'])} |" in coco
        assert "| localize |" in coco and "### Boxes" in coco
        for name in (f"vqav2_{split}", f"coco_{split}"):
            _non_trivial_png(out_dir / f"contact_sheet_{name}.png")
    assert "4 contact sheet(s)" in out and (out_dir / "report.md").read_text() in out
    assert "not inspected" not in captured.err and "error" not in captured.err


def test_the_same_entries_in_a_training_config(public, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config, entries = public
    cfg = config.parent / "train_public.json"  # relative paths of its entries are under its folder
    cfg.write_text(json.dumps({"data": {"synth": None, "datasets": entries}, "model": {"num_bins": 32},
                               "tasks": ["vqa", "detect", "localize", "caption"]}))
    assert main(["data", "inspect", str(cfg), "max_prompt_tokens=4"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert out.startswith(f"# Data inspection: config `{cfg}`")
    for name in ("vqav2/train", "vqav2/val", "coco/train", "coco/val"):
        assert f"## {name} (`" in out
    assert "32 coordinate bins" in out and "| prompts > 4 |" in out
    # the limit checks hold for entries named per split too: a detect prompt lists the categories
    coco = out.split("## coco/train")[1].split("\n## ")[0]
    assert "detect: " in coco and "prompts are longer than 4 tokens" in coco
    assert "tasks of dataset" not in out and "| caption |" not in out  # the entries' tasks only
    assert "names no split directory" not in captured.err and "not inspected" not in captured.err


def test_data_and_dataset_config_flags_as_train_takes_them(world: Path, public, capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = public
    assert main(["data", "inspect", "debug", "--dataset-config", str(config), "max_prompt_tokens=40"]) == 0
    out = capsys.readouterr().out  # overrides after the flags, as `vlseq train` takes them
    assert "## vqav2/train" in out and "## coco/val" in out and "32 coordinate bins" in out  # the preset's grid
    assert "| prompts > 40 |" in out
    assert "| targets > 48 |" in out and "## synth/" not in out  # the preset's limit; its world is replaced
    assert main(["data", "inspect", "--dataset-config", str(config)]) == 0
    assert "## vqav2/train" in capsys.readouterr().out
    assert main(["data", "inspect", "debug", "--data", str(world / "val")]) == 0
    out = capsys.readouterr().out
    assert "## val/val (`" in out and "| classify |" in out and "| caption |" in out  # the preset's tasks provided
    assert main(["data", "inspect", "--data", str(world / "val")]) == 0
    assert "## val (`" in capsys.readouterr().out
    assert main(["data", "inspect", "--data", str(world / "val"), "model.num_bins=8"]) == 2
    assert "overrides apply to a training config" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:  # argparse's own usage error, as for every verb
        main(["data", "inspect", "debug", "--data", str(world), "--bogus"])
    assert e.value.code == 2 and "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_mistakes_with_data_by_reference_are_one_line(world: Path, public, tmp_path: Path, monkeypatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    config, _ = public
    instances = config.parent / "annotations" / "instances_val2017.json"
    assert main(["data", "inspect", str(instances)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"vlseq: error: {instances}: neither a training config nor a datasets file") and len(err.splitlines()) == 1
    assert "name it in a dataset entry" in err
    vg = Path(__file__).parents[1] / "data" / "fixtures" / "vg" / "region_descriptions.json"
    assert main(["data", "inspect", str(vg)]) == 2  # a file kind's own name
    assert "is a data file: pass the split directory holding it" in capsys.readouterr().err
    vg = tmp_path / "vg_regions.json"  # under another name: a JSON list, but not of dataset entries
    vg.write_text((Path(__file__).parents[1] / "data" / "fixtures" / "vg" / "region_descriptions.json").read_text())
    assert main(["data", "inspect", str(vg)]) == 2
    err = capsys.readouterr().err
    assert f"{vg}[0]: unknown key" in err and len(err.splitlines()) == 1
    monkeypatch.setattr("vlseq.cli.data.MAX_CONFIG_BYTES", 100)  # a data file far larger than any config
    assert main(["data", "inspect", str(vg)]) == 2
    assert "MB: a data file, not a datasets file or a training config" in capsys.readouterr().err
    monkeypatch.undo()
    assert main(["data", "inspect", str(config), "--data", str(world)]) == 2
    assert "is data itself" in capsys.readouterr().err
    assert main(["data", "inspect", str(config), "model.num_bins=8"]) == 2
    assert "overrides apply to a training config" in capsys.readouterr().err
    assert main(["data", "inspect"]) == 2
    assert "name the data to inspect" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps([{"name": "v", "train": {"vqa_questions": str(tmp_path / "nope.json")}}]))
    assert main(["data", "inspect", str(broken)]) == 2
    err = capsys.readouterr().err
    assert "file not found (key 'vqa_questions' of dataset 'v', split 'train')" in err and len(err.splitlines()) == 1


def test_visual_genome_regions_by_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fixtures = Path(__file__).parents[1] / "data" / "fixtures"
    pics = tmp_path / "VG_100K"
    pics.mkdir()
    for name, size in {"1.jpg": (64, 60), "2.jpg": (32, 32)}.items():  # the sizes the fixture's boxes fit
        Image.new("RGB", size, (40, 120, 200)).save(pics / name)
    datasets = tmp_path / "vg.json"
    datasets.write_text(json.dumps([{"name": "vg", "train": {
        "region_descriptions": str(fixtures / "vg" / "region_descriptions.json"), "image_root": str(pics)}}]))
    assert main(["data", "inspect", str(datasets), "--bins", "16"]) == 0
    out = capsys.readouterr().out
    assert "## vg/train (`" in out and "| region_caption | 3 | 2 |" in out and "### Caption length (words)" in out
