"""``vlseq predict`` through main(argv): JSON lines, drawings, bad files named or skipped, and
nothing already written is lost when a later file is bad; devices, box selection, and result files
(COCO detections that pycocotools scores, VQA answers, referring boxes) with the input files' ids."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import make_checkpoint, scene_image
from vlseq.cli.predict import drawing_names, main
from vlseq.cli.synth import main as synth_main


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "debug")


@pytest.fixture()
def folder(tmp_path) -> Path:
    """a_good.png (96x96), b_truncated.png, c_text.png (text named .png), d_good.jpg (120x60), notes.txt."""
    d = tmp_path / "images"
    d.mkdir()
    Image.fromarray(scene_image(0)).save(d / "a_good.png")
    Image.fromarray(scene_image(1)).save(tmp_path / "whole.png")
    data = (tmp_path / "whole.png").read_bytes()
    (d / "b_truncated.png").write_bytes(data[: len(data) // 2])
    (d / "c_text.png").write_text("this is not a picture\n")
    Image.fromarray(scene_image(2)).resize((120, 60)).save(d / "d_good.jpg")
    (d / "notes.txt").write_text("ignored: not an image extension")
    return d


def _lines(path: Path) -> list[dict]:
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_bad_file_stops_with_its_name_and_keeps_earlier_lines(ckpt, folder, tmp_path, capsys) -> None:
    out = tmp_path / "results.jsonl"
    rc = main(["--checkpoint", str(ckpt), "--task", "refexp", "--text", "the red circle", str(folder),
               "--out", str(out), "--batch-size", "8"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "b_truncated.png" in err and "--skip-bad" in err
    [rec] = _lines(out)  # the image before the bad one was predicted and written
    assert rec["image"] == str(folder / "a_good.png")


def test_skip_bad_finishes_the_rest(ckpt, folder, tmp_path, capsys, caplog) -> None:
    out, drawn = tmp_path / "results.jsonl", tmp_path / "drawn"
    rc = main(["--checkpoint", str(ckpt), "--task", "refexp", "--text", "the red circle", str(folder),
               "--out", str(out), "--draw", str(drawn), "--batch-size", "2", "--skip-bad"])
    err = capsys.readouterr().err
    assert rc == 0
    assert "2 images predicted" in err and "2 skipped" in err
    skips = [r.getMessage() for r in caplog.records if r.getMessage().startswith("skipped ")]
    assert len(skips) == 2 and "b_truncated.png: cannot decode image (truncated" in skips[0]
    assert "c_text.png: cannot read image: not a recognised image format" in skips[1]
    recs = _lines(out)
    assert [Path(r["image"]).name for r in recs] == ["a_good.png", "d_good.jpg"]
    for r, size in zip(recs, [(96, 96), (120, 60)]):
        assert r["task"] == "refexp" and r["prompt"] == "the red circle" and (r["width"], r["height"]) == size
        [ph] = r["phrases"]
        [(x1, y1, x2, y2)] = ph["boxes"]
        assert 0 <= x1 < x2 <= size[0] and 0 <= y1 < y2 <= size[1]
        assert len(ph["scores"]) == 1 and 0 < ph["scores"][0] <= 1
        assert r["sequence"].startswith("<obj>") and r["errors"] == []
    assert sorted(p.name for p in drawn.iterdir()) == ["a_good.png", "d_good.png"]
    with Image.open(drawn / "d_good.png") as pic:
        assert pic.format == "PNG" and pic.size == (384, 192)  # upscaled, aspect kept


def test_detect_to_stdout_with_categories(ckpt, folder, capsys) -> None:
    rc = main(["--checkpoint", str(ckpt), "--task", "detect", str(folder / "a_good.png"), "--categories", "circle,",
               "square"])
    cap = capsys.readouterr()
    assert rc == 0
    [rec] = [json.loads(l) for l in cap.out.splitlines()]
    assert rec["prompt"] == "detect: circle, square"
    assert all(p["text"] in ("circle", "square") for p in rec["phrases"])
    assert "1 images predicted, 0 skipped" in cap.err


def test_usage_errors(ckpt, folder, tmp_path, capsys) -> None:
    out = tmp_path / "never.jsonl"
    assert main(["--checkpoint", str(ckpt), "--task", "vqa", str(folder), "--out", str(out)]) == 2
    assert "needs text=" in capsys.readouterr().err and not out.exists()
    assert main(["--checkpoint", str(ckpt), "--task", "caption", str(tmp_path / "nowhere")]) == 2
    assert "nowhere: no such file" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["--checkpoint", str(ckpt), "--task", "caption", str(empty)]) == 2
    assert "no image files" in capsys.readouterr().err
    assert main(["--checkpoint", str(ckpt), "--task", "region_caption", "--region", "0", "0", "100", "50",
                 str(folder / "a_good.png")]) == 1
    assert "a_good.png: region" in capsys.readouterr().err


def test_drawing_names_are_distinct() -> None:
    paths = [Path("x/a.png"), Path("y/a.jpg"), Path("x/b.png"), Path("y/a.png")]
    names = drawing_names(paths)
    assert names[:3] == ["a.png", "y_a.png", "b.png"] and len(set(names)) == 4


@pytest.fixture(scope="module")
def image_ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "images", image_tokenizer=True)


def test_generate_image_writes_the_png(image_ckpt, tmp_path, capsys) -> None:
    out, drawn = tmp_path / "gen.jsonl", tmp_path / "drawn"
    rc = main(["--checkpoint", str(image_ckpt), "--task", "generate_image", "--text", "a red circle.", "--out", str(out),
               "--draw", str(drawn)])
    assert rc == 0, capsys.readouterr().err
    [rec] = _lines(out)
    assert rec["caption"] == "a red circle." and rec["output_image"] == str(drawn / "generated.png")
    assert rec["output_image_size"] == [32, 32] and rec["sequence"].count("<img_") == 16
    with Image.open(drawn / "generated.png") as im:
        assert im.size == (384, 384)
    # what is missing is said before anything runs
    assert main(["--checkpoint", str(image_ckpt), "--task", "generate_image", "--text", "x"]) == 2
    assert "give --draw DIR" in capsys.readouterr().err
    assert main(["--checkpoint", str(image_ckpt), "--task", "generate_image", "--draw", str(drawn)]) == 2
    assert "only --text" in capsys.readouterr().err


def test_edit_image_and_masks(image_ckpt, ckpt, folder, tmp_path, capsys) -> None:
    out, drawn = tmp_path / "edit.jsonl", tmp_path / "edited"
    rc = main(["--checkpoint", str(image_ckpt), "--task", "edit_image", "--text", "make the circle blue.",
               str(folder / "a_good.png"), str(folder / "d_good.jpg"), "--out", str(out), "--draw", str(drawn)])
    assert rc == 0, capsys.readouterr().err
    recs = _lines(out)
    assert [Path(r["output_image"]).name for r in recs] == ["a_good.png", "d_good.png"]
    assert all(Path(r["output_image"]).is_file() and r["output_image_size"] == [32, 32] for r in recs)
    # instance masks: polygons in the JSON, drawn translucent
    out = tmp_path / "seg.jsonl"
    assert main(["--checkpoint", str(ckpt), "--task", "instance_segment", str(folder / "a_good.png"), "--out", str(out),
                 "--draw", str(tmp_path / "seg")]) == 0
    [rec] = _lines(out)
    assert rec["phrases"] and all(len(p["polygons"][0]) >= 3 for p in rec["phrases"])
    assert (tmp_path / "seg" / "a_good.png").is_file()
    # a checkpoint without an image tokenizer says so
    assert main(["--checkpoint", str(ckpt), "--task", "edit_image", "--text", "x", str(folder / "a_good.png"),
                 "--draw", str(tmp_path / "x")]) == 2
    assert "has no image tokenizer" in capsys.readouterr().err


def test_attention_sheets_show_where_each_coordinate_looked(ckpt, folder, tmp_path, capsys) -> None:
    pointer_ckpt = make_checkpoint(tmp_path / "pointer", pointer="cell_offset")
    att = tmp_path / "att"
    rc = main(["--checkpoint", str(pointer_ckpt), "--task", "refexp", "--text", "the red circle",
               str(folder / "a_good.png"), "--attention", str(att), "--out", str(tmp_path / "r.jsonl")])
    assert rc == 0
    [rec] = _lines(tmp_path / "r.jsonl")
    assert len(rec["phrases"][0]["boxes"]) == 1
    sheet = Image.open(att / "a_good.png")
    assert sheet.size == (4 * 128, 128 + 14)  # one box: x1 y1 x2 y2 side by side
    # a checkpoint without a pointer head: one clear line, nothing written
    rc = main(["--checkpoint", str(ckpt), "--task", "refexp", "--text", "the red circle", str(folder / "a_good.png"),
               "--attention", str(tmp_path / "none")])
    assert rc == 2 and "no" in capsys.readouterr().err and not (tmp_path / "none").exists()


def test_story_choices_and_history(ckpt, tmp_path, capsys) -> None:
    d = tmp_path / "story"
    d.mkdir()
    for i in (1, 2):
        Image.fromarray(scene_image(i, size=48)).save(d / f"{i}.png")
    assert main(["--checkpoint", str(ckpt), "--task", "story", str(d), "--out", str(tmp_path / "s.jsonl")]) == 0
    [line] = _lines(tmp_path / "s.jsonl")  # two images, one story
    assert line["task"] == "story" and line["images"] == [str(d / "1.png"), str(d / "2.png")] and "text" in line
    out = tmp_path / "d.jsonl"
    assert main(["--checkpoint", str(ckpt), "--task", "dialog", "--text", "is there a circle?", "--choices", "yes", "no",
                 "--history", "what shape is left?", "circle", "--out", str(out), str(d / "1.png")]) == 0
    assert _lines(out)[0]["text"] in ("yes", "no")


# ------------------------------------------------------------------ devices, selection, result files


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """A synthetic world's val split of 32 px images: instances, VQA questions, refexp and grounding files."""
    out = tmp_path_factory.mktemp("w") / "world"
    assert synth_main(["--out", str(out), "--train", "1", "--val", "3", "--test", "1", "--test-heldout", "0", "--size",
                       "32", "--workers", "1", "--no-progress", "--no-contact-sheet"]) == 0
    return out / "val"


def test_coco_results_load_and_score_in_pycocotools(ckpt, world, tmp_path, capsys) -> None:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    res, ann = tmp_path / "dets.json", world / "instances.json"
    rc = main(["--checkpoint", str(ckpt), "--task", "detect", str(world / "images"), "--annotations", str(ann),
               "--results", str(res), "--out", str(tmp_path / "d.jsonl"), "--dtype", "bfloat16"])
    err = capsys.readouterr().err
    assert rc == 0, err
    records = json.loads(res.read_text())
    doc = json.loads(ann.read_text())
    assert records and {r["image_id"] for r in records} <= {i["id"] for i in doc["images"]}
    assert {r["category_id"] for r in records} <= {c["id"] for c in doc["categories"]}
    assert all(len(r["bbox"]) == 4 and 0 < r["score"] <= 1 for r in records)
    # the folder holds images of other tasks too: said, not silently left out
    n_other = len(list((world / "images").iterdir())) - len(doc["images"])
    assert f"{res}: {len(records)} coco results" in err and (f"{n_other} inputs not in the annotation file" in err) == bool(n_other)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(ann))
        ev = COCOeval(gt, gt.loadRes(str(res)), "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    assert len(ev.stats) == 12 and all(isinstance(float(v), float) for v in ev.stats)


def test_vqa_results_answer_every_question_once(ckpt, world, tmp_path, capsys) -> None:
    res, out, qfile = tmp_path / "answers.json", tmp_path / "v.jsonl", world / "vqa_questions.json"
    rc = main(["--checkpoint", str(ckpt), "--task", "vqa", "--annotations", str(qfile), "--results", str(res),
               "--out", str(out), "--batch-size", "4"])
    assert rc == 0, capsys.readouterr().err
    qids = [q["question_id"] for q in json.loads(qfile.read_text())["questions"]]
    records = json.loads(res.read_text())
    assert sorted(r["question_id"] for r in records) == sorted(qids) and len(set(qids)) == len(qids)
    assert all(isinstance(r["answer"], str) for r in records)
    lines = _lines(out)  # one line per question, with its id and its own prompt
    questions = {q["question_id"]: q["question"] for q in json.loads(qfile.read_text())["questions"]}
    assert [line["question_id"] for line in lines] == qids
    assert all(line["prompt"] == " ".join(questions[line["question_id"]].split()) for line in lines)


def test_refexp_results_keep_the_record_ids(ckpt, world, tmp_path, capsys) -> None:
    res, ref = tmp_path / "refs.json", world / "refexp.json"
    assert main(["--checkpoint", str(ckpt), "--task", "refexp", "--annotations", str(ref), "--results", str(res),
                 str(world), "--top-k", "1"]) == 0, capsys.readouterr().err
    doc = json.loads(ref.read_text())
    records = json.loads(res.read_text())
    by_record = {i["id"]: i for i in doc["images"]}
    assert sorted(r["record_id"] for r in records) == sorted(by_record)
    for r in records:
        rec = by_record[r["record_id"]]
        assert r["image_id"] == rec["original_id"] and r["sentence_id"] == rec["sentence_id"]
        assert r["expression"] == " ".join(rec["caption"].split()) and len(r["bbox"]) == 4 and 0 < r["score"] <= 1


def test_top_k_and_threshold_flags(ckpt, folder, capsys) -> None:
    img = str(folder / "a_good.png")
    assert main(["--checkpoint", str(ckpt), "--task", "detect", img, "--top-k", "1", "--device", "cpu"]) == 0
    [rec] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(len(p["boxes"]) for p in rec["phrases"]) == 1
    assert main(["--checkpoint", str(ckpt), "--task", "detect", img, "--score-threshold", "1"]) == 0
    [rec] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rec["phrases"] == []  # no box of a random model is certain


@pytest.mark.parametrize("extra,message", [
    (["--task", "detect", "--results", "r.json"], "--results needs --annotations FILE"),
    (["--task", "caption", "--results", "r.json", "--annotations", "a.json"], "task caption has no result format"),
    (["--task", "vqa", "--results", "r.json", "--results-format", "coco"], "task vqa has no result format"),
    (["--task", "detect", "--results-format", "coco"], "--results-format needs --results FILE"),
    (["--task", "detect", "--results", "r.json", "--annotations", "nowhere.json"], "nowhere.json: no such file"),
    (["--task", "detect", "--top-k", "0"], "top_k must be an integer >= 1"),
    (["--task", "detect", "--beams", "2", "--score-threshold", "0.5"], "only greedy decoding gives"),
    (["--task", "detect", "--device", "gpu"], "device 'gpu' is not one of auto, cpu, cuda, cuda:N or mps"),
])
def test_option_mistakes_are_one_line_before_anything_runs(ckpt, folder, tmp_path, monkeypatch, capsys, extra,
                                                           message) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.json").write_text("{}")
    assert main(["--checkpoint", str(ckpt), str(folder / "a_good.png"), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and not (tmp_path / "r.json").exists()


def test_prompts_from_the_file_take_no_text(ckpt, world, capsys) -> None:
    assert main(["--checkpoint", str(ckpt), "--task", "vqa", "--annotations", str(world / "vqa_questions.json"),
                 "--text", "why?"]) == 2
    assert "prompts come from" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="float16 is refused on the CPU only")
def test_float16_on_cpu_is_refused(ckpt, folder, capsys) -> None:
    assert main(["--checkpoint", str(ckpt), "--task", "detect", str(folder / "a_good.png"), "--dtype", "float16"]) == 2
    assert "float16 is not run on the CPU" in capsys.readouterr().err
