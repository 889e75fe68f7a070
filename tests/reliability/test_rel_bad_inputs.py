"""Bad inputs at the level of a batch job (``vlseq train`` / ``vlseq eval``).

The readers' own record-level checks are tested in tests/data/test_readers_*.py. Here a split
directory gets a few bad records of every kind planted next to good ones (and good-but-unusual
images: 16-bit, palette, CMYK, grayscale, EXIF-rotated), and:

* with skipping on, ``vlseq train`` / ``vlseq eval --skip-bad`` finish and report the counted skips;
* without it, the command stops with exit code 2 and one line naming file and record, no traceback;
* eval never loses results already computed: a corrupt image met at pixel-decode time in task 2
  leaves task 1's predictions on disk.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rel_helpers import TASKS, png_claiming, run_vlseq, truncated_png

from vlseq.cli import main
from vlseq.data.readers import DataError, load_split
from vlseq.processing import Processor
from vlseq.tasks import get_task

EVAL_TASKS = json.loads(TASKS)


def _edit(path: Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def plant_bad_records(split: Path) -> dict[str, str]:
    """Add one bad record of each kind to the split's files; returns {what: text its error names}.

    Every planted record is new (own ids, own image files), so each one is exactly one skip.
    """
    img = split / "images"
    (img / "zero.png").write_bytes(b"")
    (img / "notimage.png").write_text("this is not an image")
    png_claiming(img / "bomb.png", 100_000, 100_000)
    bad: dict[str, str] = {}
    first = json.loads((split / "captions.json").read_text())["images"][0]
    w = first["width"]

    def captions(d):
        for iid, name, size in [(90001, "zero.png", (32, 32)), (90002, "notimage.png", (32, 32)),
                                (90003, "missing.png", (32, 32)), (90004, "bomb.png", (100_000, 100_000))]:
            d["images"].append({"id": iid, "file_name": name, "width": size[0], "height": size[1]})
            d["annotations"].append({"id": iid, "image_id": iid, "caption": "a planted caption"})
        d["annotations"].append({"id": 90005, "image_id": first["id"], "caption": 12345})  # wrong type
        d["annotations"].append({"id": 90006, "image_id": first["id"]})  # missing key

    _edit(split / "captions.json", captions)
    bad.update(zero_byte="zero.png", non_image="notimage.png", missing_image="missing.png", bomb="bomb.png",
               caption_wrong_type="90005", caption_missing_key="90006")

    def instances(d):
        d["annotations"].append({"id": 90010, "image_id": first["id"], "category_id": 1, "bbox": [w + 10, 2, 5, 5],
                                 "area": 25, "iscrowd": 0})
        d["annotations"].append({"id": 90011, "image_id": first["id"], "category_id": 1, "bbox": [5, 5, -3, 4],
                                 "area": 1, "iscrowd": 0})

    _edit(split / "instances.json", instances)
    bad.update(box_outside="90010", box_negative="90011")

    def refexp(d):
        rec = dict(d["images"][0])
        d["images"].append(rec)  # the same id again
        span_img = dict(d["images"][1], id=90020)
        d["images"].append(span_img)
        d["annotations"].append({"id": 90021, "image_id": 90020, "bbox": [1, 1, 4, 4], "area": 16, "iscrowd": 0,
                                 "category_id": 1, "tokens_positive": [[0, 9999]]})

    _edit(split / "refexp.json", refexp)
    first_ref = json.loads((split / "refexp.json").read_text())["images"][0]["id"]
    bad.update(duplicate_id=f"duplicate image id {first_ref}", span_outside="9999")

    def vqa(d):
        d["questions"].append({"image_id": first["id"], "question_id": 90030})  # no "question"

    _edit(split / "vqa_questions.json", vqa)
    bad.update(question_missing_key="90030")
    return bad


def plant_unusual_good_images(split: Path) -> int:
    """Captioned images in modes a dataset may hold; each must be read, not skipped. Returns how many."""
    img = split / "images"
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    Image.fromarray((rng.integers(0, 65535, (24, 32))).astype(np.uint16)).save(img / "gray16.png")
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE).save(img / "palette.png")
    Image.fromarray(rgb).convert("CMYK").save(img / "cmyk.jpg")
    Image.fromarray(rgb).convert("L").save(img / "gray.jpg")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: stored 32x24, shown 24x32
    Image.fromarray(rgb).save(img / "exif.jpg", exif=exif)
    files = [("gray16.png", 32, 24), ("palette.png", 32, 24), ("cmyk.jpg", 32, 24), ("gray.jpg", 32, 24),
             ("exif.jpg", 24, 32)]

    def captions(d):
        for i, (name, w, h) in enumerate(files):
            d["images"].append({"id": 91000 + i, "file_name": name, "width": w, "height": h})
            d["annotations"].append({"id": 91000 + i, "image_id": 91000 + i, "caption": "an unusual image"})

    _edit(split / "captions.json", captions)
    return len(files)


def _skip_count(err: str) -> int:
    m = re.search(r"vlseq: skipped (\d+) bad records", err)
    assert m, err[-3000:]
    return int(m.group(1))


def _error_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.startswith("vlseq: error:")]
    assert len(lines) == 1, err[-3000:]
    return lines[0]


# --------------------------------------------------------------------------- train


@pytest.fixture(scope="module")
def bad_world(tmp_path_factory, world) -> tuple[Path, dict[str, str]]:
    """A copy of the world whose train split has the planted bad records (val stays clean)."""
    root = tmp_path_factory.mktemp("rel_bad") / "world"
    shutil.copytree(world, root)
    return root, plant_bad_records(root / "train")


def test_train_skip_bad_finishes_and_counts(tmp_path, bad_world, capsys, caplog):
    root, bad = bad_world
    expected = load_split(root / "train", tasks=EVAL_TASKS, skip_bad=True).report
    assert expected.skipped == len(bad), expected.messages  # one skip per planted record
    caplog.clear()
    rc = main(["train", "--config", "debug", f"out_dir={tmp_path / 'run'}", f"data.synth={root}", "data.skip_bad=true",
               f"tasks={TASKS}", "max_steps=2", "save_every=0", "eval_examples=1"])
    err = capsys.readouterr().err
    assert rc == 0, err[-3000:]
    assert _skip_count(err) == expected.skipped
    warned = [r.getMessage() for r in caplog.records if r.name == "vlseq.data.readers"]
    assert len(warned) == expected.skipped
    for what, words in bad.items():
        assert any(words in w for w in warned), f"no warning names the planted {what} record ({words})"
    assert (tmp_path / "run" / "final" / "model.safetensors").exists()


@pytest.mark.slow
def test_train_without_skip_exits_2_naming_file_and_record(tmp_path, bad_world):
    root, _ = bad_world
    t = time.perf_counter()
    r = run_vlseq("train", "--config", "debug", f"out_dir={tmp_path / 'run'}", f"data.synth={root}", f"tasks={TASKS}",
                  "max_steps=2")
    assert r.returncode == 2, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    line = _error_line(r.stderr)
    # captions.json is read first; its first bad record is the zero-byte image (record 90001)
    assert str(root / "train" / "captions.json") in line and "record 90001" in line and "zero-byte" in line, line
    print(f"train on a bad split: exit {r.returncode} in {time.perf_counter() - t:.1f}s: {line}")


@pytest.mark.parametrize("argv, words", [(["model.nope=1"], "unknown key 'model.nope'"),
                                         (["--config", "/nonexistent/config.json"], "does not exist"),
                                         (["data.synth=null", 'data.datasets=[{"path": "/nonexistent/ds"}]'], "/nonexistent/ds")])
def test_bad_config_is_one_line_exit_2(argv, words, capsys):
    """argparse's usage error (SystemExit 2) for the config, our one line for what fails later."""
    try:
        rc = main(["train", "--config", "debug", *argv])
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and words in err and "Traceback" not in err, err[-2000:]


# --------------------------------------------------------------------------- eval


def test_eval_skip_bad_counts_load_and_decode_time_skips(tmp_path, world, reference_run, capsys, caplog):
    split = tmp_path / "val"
    shutil.copytree(world / "val", split)
    bad = plant_bad_records(split)
    n_unusual = plant_unusual_good_images(split)
    truncated_png(split / "images" / "trunc.png")  # header fine: only pixel decode finds it

    def add_trunc(d):
        d["images"].append({"id": 92000, "file_name": "trunc.png", "width": 32, "height": 32})
        d["annotations"].append({"id": 92000, "image_id": 92000, "caption": "a truncated image"})

    _edit(split / "captions.json", add_trunc)
    at_load = load_split(split, tasks=EVAL_TASKS, skip_bad=True)
    assert at_load.report.skipped == len(bad)
    caplog.clear()
    n_captions = len(at_load["caption"])
    out = tmp_path / "eval"
    t = time.perf_counter()
    rc = main(["eval", "--checkpoint", str(reference_run / "final"), "--data", str(split), "--skip-bad",
               "--out", str(out)])
    seconds = time.perf_counter() - t
    err = capsys.readouterr().err
    assert rc == 0, err[-3000:]
    assert _skip_count(err) == len(bad) + 1  # + the truncated image, found at decode time
    trunc_msg = [r.getMessage() for r in caplog.records if "trunc.png" in r.getMessage() and "cannot decode" in r.getMessage()]
    assert trunc_msg and "captions.json#image 92000" in trunc_msg[0], err[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    # every good caption image, the unusual modes included, was evaluated; only the truncated one was not
    assert metrics["caption/n"] == n_captions - 1
    assert n_captions - 1 >= 8 + n_unusual
    preds = [json.loads(l) for l in (out / "predictions.jsonl").read_text().splitlines()]
    assert {p["source"] for p in preds} == set(EVAL_TASKS)
    print(f"eval --skip-bad: {len(bad) + 1} skipped, {len(preds)} predictions, {seconds:.1f}s")


@pytest.mark.slow
def test_eval_error_in_task_2_keeps_task_1_predictions(tmp_path, world, reference_run):
    split = tmp_path / "val"
    shutil.copytree(world / "val", split)
    truncated_png(split / "images" / "trunc.png")

    def add_trunc_refexp(d):
        rec = dict(d["images"][0], id=92001, file_name="trunc.png", width=32, height=32)
        d["images"].append(rec)
        ann = dict(d["annotations"][0], id=92001, image_id=92001)
        d["annotations"].append(ann)

    _edit(split / "refexp.json", add_trunc_refexp)
    out = tmp_path / "eval"
    r = run_vlseq("eval", "--checkpoint", str(reference_run / "final"), "--data", str(split), "--tasks", "vqa",
                  "refexp", "--out", str(out))
    assert r.returncode == 2, r.stderr[-3000:]
    assert "Traceback" not in r.stderr
    line = _error_line(r.stderr)
    assert "trunc.png" in line and "refexp.json#image record 92001" in line and "truncated" in line, line
    preds = [json.loads(l) for l in (out / "predictions.jsonl").read_text().splitlines()]
    n_vqa = len(load_split(split, tasks=["vqa"])["vqa"])
    assert [p["source"] for p in preds] == ["vqa"] * n_vqa


def test_processor_names_file_and_record_of_an_undecodable_image(tmp_path, world):
    from vlseq.tokenizer import VLTokenizer

    split = tmp_path / "val"
    shutil.copytree(world / "val", split)
    truncated_png(split / "images" / "10000000.png")  # replace a real image: its header still reads
    ex = next(e for e in load_split(split, tasks=["vqa"])["vqa"] if e.images[0].endswith("10000000.png"))
    proc = Processor(VLTokenizer.from_pretrained(world.parent / "tokenizer"), 32, 32)
    with pytest.raises(DataError) as e:
        proc.encode(get_task("vqa"), ex)
    assert "10000000.png" in str(e.value) and ex.source in str(e.value) and e.value.problem == "bad_image"


def test_train_skip_bad_skips_images_that_fail_at_decode_time(tmp_path, world, capsys):
    root = tmp_path / "world"
    shutil.copytree(world, root)
    images = sorted((root / "train" / "images").glob("*.png"))
    for p in images[::2]:  # half the training images: a 16-example draw surely meets one
        truncated_png(p)
    rc = main(["train", "--config", "debug", f"out_dir={tmp_path / 'run'}", f"data.synth={root}", "data.skip_bad=true",
               'tasks=["vqa"]', "max_steps=2", "save_every=0", "eval_examples=1"])
    err = capsys.readouterr().err
    assert rc == 0, err[-2000:]
    assert _skip_count(err) > 0
