"""Users' data as downloaded, through the command line: each public layout (VQAv2, COCO instances,
MDETR RefCOCO, a folder of ``{id}.png`` pictures) trains 2 steps and evaluates; ``--data DIR``
trains and evaluates on a folder alone; mistakes are one ``vlseq: error:`` line naming the entry
and the split; a fine-tune from a checkpoint reports the words its tokenizer does not know."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import format_fixtures as ff
from helpers import make_checkpoint
from vlseq.cli import main
from vlseq.train.config import PRESET_DIR

WORLD = ["--train", "10", "--val", "4", "--test", "1", "--test-heldout", "0", "--size", "32", "--workers", "1",
         "--no-progress", "--no-contact-sheet"]
SHORT = ["max_steps=2", "eval_examples=2", "save_every=0", "log_every=1"]
EVAL = ["--max-per-task", "3", "--batch-size", "8"]


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("w") / "world"
    assert main(["synth", "--out", str(out), *WORLD]) == 0
    return out


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A debug checkpoint (random weights): eval reads its data after loading it."""
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "debug")


@pytest.fixture(autouse=True)
def _info_logs(caplog):
    caplog.set_level(logging.INFO)


def _questions(world: Path, split: str) -> int:
    return len(json.loads((world / split / "vqa_questions.json").read_text())["questions"])


def _trained(run: Path, tasks: list[str]) -> dict:
    """The final checkpoint's settings, after checking what a finished 2-step run leaves."""
    assert (run / "final" / "model.safetensors").is_file() and (run / "final" / "tokenizer.json").is_file()
    settings = json.loads((run / "final" / "vlseq.json").read_text())
    assert settings["tasks"] == tasks
    steps = [json.loads(line)["step"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert max(steps) == 2
    return settings


def _evaluated(out: Path, capsys) -> dict:
    printed = capsys.readouterr().out
    assert "| task | metric | value | baseline |" in printed and f"wrote {out / 'metrics.json'}" in printed
    return json.loads((out / "metrics.json").read_text())


def test_vqav2_as_downloaded(world, tmp_path, caplog, capsys) -> None:
    root = tmp_path / "vqav2"
    config = ff.write_dataset_config(root, ff.vqav2(world, root))
    run = tmp_path / "run"
    assert main(["train", "--config", "debug", "--dataset-config", str(config), f"out_dir={run}", *SHORT]) == 0
    assert f"dataset 'vqav2', split 'train': vqa {_questions(world, 'train')}" in caplog.text
    settings = _trained(run, ["vqa"])
    assert settings["train_config"]["data"]["synth"] is None
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(run / "final"), "--dataset-config", str(config), "--out", str(out),
                 "--batch-size", "8"]) == 0
    metrics = _evaluated(out, capsys)
    assert metrics["vqa@vqav2/n"] == _questions(world, "val")
    assert {"vqa@vqav2/accuracy", "vqa@vqav2/baseline/accuracy"} <= set(metrics)
    assert metrics["vqa@vqav2/baseline/prior_from_eval"] == 0.0  # priors: the entry's train split


def test_coco_instances_with_an_image_folder_from_anywhere(world, tmp_path, monkeypatch, caplog, capsys) -> None:
    root = tmp_path / "coco"
    config = ff.write_dataset_config(root, ff.coco_instances(world, root))
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # relative paths of the config are under its folder, not here
    assert main(["train", "--config", "debug", "--dataset-config", str(config), "out_dir=run", *SHORT]) == 0
    _trained(elsewhere / "run", ["detect", "localize"])
    assert not (elsewhere / "runs").exists()  # the debug preset's synthetic world was not written
    n_images = len(json.loads((root / "annotations" / "instances_val2017.json").read_text())["images"])
    assert main(["eval", "--checkpoint", "run/final", "--dataset-config", str(config), "--out", "ev", *EVAL]) == 0
    metrics = _evaluated(Path("ev"), capsys)  # as given: relative to the working directory
    assert {"detect@coco/map_50", "detect@coco/map", "localize@coco/acc@0.5"} <= set(metrics)
    assert metrics["detect@coco/n"] == min(3, n_images)


def test_mdetr_refcoco_from_a_training_config_file(world, tmp_path, capsys) -> None:
    root = tmp_path / "refcoco"
    entry = ff.mdetr_refcoco(world, root)
    cfg = json.loads((PRESET_DIR / "debug.json").read_text())
    cfg["data"] = {"synth": None, "datasets": [entry]}
    cfg["out_dir"] = str(tmp_path / "run")
    (root / "train_refcoco.json").write_text(json.dumps(cfg))
    assert main(["train", "--config", str(root / "train_refcoco.json"), *SHORT]) == 0
    _trained(tmp_path / "run", ["refexp"])
    out = tmp_path / "eval"
    # a training config names its datasets for eval too
    assert main(["eval", "--checkpoint", str(tmp_path / "run" / "final"), "--dataset-config",
                 str(root / "train_refcoco.json"), "--out", str(out), *EVAL]) == 0
    metrics = _evaluated(out, capsys)
    assert {"refexp@refcoco/acc@0.5", "refexp@refcoco/mean_iou"} <= set(metrics) and metrics["refexp@refcoco/n"] == 3


def test_id_pngs_without_an_image_table_through_config_keys(world, tmp_path, capsys) -> None:
    root = tmp_path / "mine"
    entry = ff.absolute(ff.id_png_vqa(world, root), root)
    run = tmp_path / "run"
    # the config's nine tasks, of which the entry gives vqa alone: no task list needed
    assert main(["train", "--config", "debug", "data.synth=null", f"data.datasets={json.dumps([entry])}",
                 f"out_dir={run}", *SHORT]) == 0
    _trained(run, ["vqa"])
    config = ff.write_dataset_config(root, ff.id_png_vqa(world, root))
    out = tmp_path / "eval"
    assert main(["eval", "--checkpoint", str(run / "final"), "--dataset-config", str(config), "--out", str(out),
                 "--split", "train", "--allow-train-split", *EVAL]) == 0
    metrics = _evaluated(out, capsys)
    assert metrics["vqa@mine/n"] == 3 and metrics["vqa@mine/baseline/prior_from_eval"] == 1.0


def test_data_dir_alone(world, tmp_path, monkeypatch, capsys) -> None:
    """--data DIR: the tasks its files provide, no synthetic world, no data.synth=null."""
    data = tmp_path / "data"
    for split in ("train", "val"):
        (data / split).mkdir(parents=True)
        (data / split / "images").symlink_to(world / split / "images")
        for name in ("captions.json", "vqa_questions.json", "vqa_annotations.json"):
            (data / split / name).write_text((world / split / name).read_text())
    monkeypatch.chdir(tmp_path)
    assert main(["train", "--config", "debug", "--data", "data", "out_dir=run", *SHORT]) == 0
    settings = _trained(tmp_path / "run", ["caption", "vqa"])
    assert settings["train_config"]["data"]["synth"] is None and not (tmp_path / "runs").exists()
    assert settings["train_config"]["data"]["datasets"] == [{"path": str(data)}]
    assert main(["eval", "--checkpoint", "run/final", "--data", "data", "--out", "ev", *EVAL]) == 0
    metrics = _evaluated(Path("ev"), capsys)
    assert {k.split("/")[0] for k in metrics} == {"caption", "vqa"}
    assert metrics["vqa/n"] == 3 and metrics["vqa/baseline/prior_from_eval"] == 0.0  # priors from data/train
    # a task the config names on purpose but the folder lacks is an error, not silently left out
    assert main(["train", "--config", "debug", "--data", "data", "out_dir=run2", 'tasks=["vqa", "detect"]']) == 2
    assert "tasks ['detect'] are in the config's 'tasks' but no training file" in capsys.readouterr().err


def _bad(config: Path, split: str, key: str, value: str) -> Path:
    entries = json.loads(config.read_text())
    if value:
        entries[0][split][key] = value
    else:
        entries[0][split][key + "s_typo"] = entries[0][split].pop(key)
    out = config.with_name(f"bad_{split}_{key}.json")
    out.write_text(json.dumps(entries))
    return out


@pytest.mark.parametrize("split, key, value, words", [
    ("train", "vqa_questions", "", ["unknown key 'vqa_questionss_typo'", "did you mean 'vqa_questions'"]),
    ("train", "vqa_annotations", "v2_mscoco_train2015_annotations.json",
     ["v2_mscoco_train2015_annotations.json: file not found", "key 'vqa_annotations'"]),
    ("train", "image_template", "COCO_train2014_{image_id:06d}.jpg",
     ["image file not found", "COCO_train2014_000000.jpg", "image_template 'COCO_train2014_{image_id:06d}.jpg'"]),
    ("val", "image_template", "COCO_val2014_{image_id}.png", ["image file not found", "COCO_val2014_10000000.png"]),
])
@pytest.mark.parametrize("verb", ["train", "eval"])
def test_a_mistake_is_one_line_naming_entry_and_split(world, ckpt, tmp_path, capsys, verb, split, key, value,
                                                      words) -> None:
    root = tmp_path / "vqav2"
    bad = _bad(ff.write_dataset_config(root, ff.vqav2(world, root)), split, key, value)
    if verb == "train":
        argv = ["train", "--config", "debug", "--dataset-config", str(bad), f"out_dir={tmp_path / 'run'}", *SHORT]
    else:
        argv = ["eval", "--checkpoint", str(ckpt), "--dataset-config", str(bad),
                "--split", split, "--out", str(tmp_path / "ev"), *(["--allow-train-split"] if split == "train" else [])]
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("vlseq: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert "'vqav2'" in lines[0] and f"split '{split}'" in lines[0], lines[0]
    assert all(w in lines[0] for w in words), lines[0]


def test_fine_tune_reports_words_the_checkpoint_never_saw(world, tmp_path, caplog) -> None:
    base = tmp_path / "base"
    assert main(["train", "--config", "debug", f"data.synth={world}", f"out_dir={base}", "max_steps=2",
                 "eval_examples=0", "save_every=0"]) == 0
    root = tmp_path / "vqav2"
    # "tortoise" is spelled with letters the world's words use, "fjørd" has one they never do
    config = ff.write_dataset_config(root, ff.vqav2(world, root, extra_words="tortoise fjørd"))
    caplog.clear()
    tuned = tmp_path / "tuned"
    assert main(["train", "--config", "debug", "--dataset-config", str(config), f"init_from={base / 'final'}",
                 f"out_dir={tuned}", *SHORT]) == 0
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith(f"init_from {base / 'final'}:")]
    assert len(lines) == 1, caplog.text[-2000:]
    line = lines[0]
    # every other word of the fixture's prompts and targets comes from the world the checkpoint was trained on
    assert " 1 of " in line and "distinct words fall to <unk>" in line and "(fjørd)" in line, line
    assert "; 1 split into word pieces" in line and "(tortoise -> " in line, line
    _trained(tuned, ["vqa"])
    # a fine-tune keeps the checkpoint's vocabulary (the weights index it)
    assert (tuned / "final" / "tokenizer.json").read_text() == (base / "final" / "tokenizer.json").read_text()


def test_shard_writes_one_entry_as_downloaded(world, tmp_path, capsys) -> None:
    from vlseq.data.readers import load_split

    root = tmp_path / "public"
    config = ff.write_dataset_config(root, ff.coco_instances(world, root), ff.mdetr_refcoco(world, root))
    out = tmp_path / "shards"
    assert main(["shard", "--dataset-config", str(config), "--out", str(out)]) == 1
    assert "holds 2 dataset entries (coco, refcoco): pick one with --dataset NAME" in capsys.readouterr().out
    assert main(["shard", "--dataset-config", str(config), "--dataset", "coco", "--split", "val", "--tasks", "detect",
                 "--out", str(out)]) == 0
    index = json.loads((out / "shards.json").read_text())
    assert index["tasks"] == {"detect": len(load_split(world / "val", tasks=["detect"])["detect"])}
    assert index["source"] == f"{config}#coco/val"
    # a task the entry's files do not give is named, not silently skipped
    assert main(["shard", "--dataset-config", str(config), "--dataset", "coco", "--tasks", "vqa",
                 "--out", str(out), "--overwrite"]) == 1
    assert "dataset 'coco', split 'train': no file of the split provides task(s) ['vqa']" in capsys.readouterr().out
    assert main(["shard", "--dataset-config", str(config), "--dataset", "refcoco", "--tasks", "segment",
                 "--out", str(out), "--overwrite"]) == 1
    assert "dataset 'refcoco': task(s) ['segment'] are not among its 'tasks' ['refexp']" in capsys.readouterr().out


def test_an_entrys_weight_scales_its_sources_sampling_weight(world, tmp_path) -> None:
    from vlseq.train.config import load_config
    from vlseq.train.loop import Trainer

    root = tmp_path / "public"
    coco = dict(ff.coco_instances(world, root), weight=3.0)
    refcoco = ff.mdetr_refcoco(world, root)
    entries = json.dumps([ff.absolute(coco, root), ff.absolute(refcoco, root)])
    cfg = load_config("debug", [f"out_dir={tmp_path / 'run'}", "data.synth=null", "task_weights={\"refexp\": 2}",
                                f"data.datasets={entries}"])
    trainer = Trainer(cfg, evaluate_at_end=False)
    assert trainer.stage_weights() == {"detect@coco": 3.0, "localize@coco": 3.0, "refexp@refcoco": 2.0}
