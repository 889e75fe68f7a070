"""Smoke runs of the experiments (seconds each): they run end to end and write well-formed rows."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from helpers import load_script


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def load(name: str):
    return load_script("experiments", name)


def test_image_use_quick(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    assert load("image_use").main(["--quick", "--threads", "1", "--json", str(out), "--variant", "default=",
                                         "--variant", "old=init_std=0.02,vision.blocks=1"]) == 0
    rows = json.loads(out.read_text())
    assert [(r["variant"], r["step"]) for r in rows] == [("default", 2), ("default", 4), ("old", 2), ("old", 4)]
    assert all(r["gap"] == r["val_loss_shuffled"] - r["val_loss"] for r in rows)


def test_stem_probe_quick(tmp_path: Path) -> None:
    out = tmp_path / "rows.json"
    assert load("stem_probe").main(["--quick", "--threads", "1", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 6 and all(0.0 <= r["accuracy"] <= 1.0 and 0.0 < r["prior"] < 1.0 for r in rows)


def test_raster_baseline_scores_the_first_object(tmp_path: Path, capsys) -> None:
    from vlseq.data.synth import SynthOptions, write_world

    write_world(tmp_path, SynthOptions(train=2, val=6, test=2, size=32, workers=1, no_progress=True))
    mod = load("raster_baseline")
    r = mod.raster_baseline(str(tmp_path / "val"), n=50)
    assert set(r) == {"localize", "refexp"} and all(0 < v["n"] <= 50 and v["objects"] >= 1 for v in r.values())
    assert all(0.0 <= v["first"] <= 1.0 for v in r.values())
    # one object per image: the first object is always the answer
    one = tmp_path / "one"
    write_world(one, SynthOptions(train=2, val=4, test=2, size=32, objects=(1, 1), workers=1, no_progress=True))
    assert all(v["first"] == 1.0 for v in mod.raster_baseline(str(one / "val")).values())
    assert mod.main([str(one / "val")]) == 0 and "Acc@0.5 1.000" in capsys.readouterr().out


def test_screen_plots_and_tables_finished_runs(tmp_path: Path, capsys) -> None:
    """``--plot-only`` over runs that exist: the curves and the table come from each run's log."""
    for name, acc in (("a", 0.25), ("b", 0.5)):
        run = tmp_path / name
        run.mkdir()
        rows = [{"step": 10, "loss": 1.0}, {"step": 20, "eval": {"refexp/acc@0.5": acc / 2}},
                {"step": 40, "eval": {"refexp/acc@0.5": acc}}]
        (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load("screen").main(["--out", str(tmp_path), "--plot-only", "--variant", "a=", "--variant", "b=x=1"]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 0
    table = (tmp_path / "table.md").read_text()
    assert "| a | 40 | 0.250 |" in table and "| b | 40 | 0.500 |" in table


def test_shape_probe_runs_on_a_checkpoint(tmp_path: Path) -> None:
    from helpers import make_checkpoint
    from vlseq.data.synth import SynthOptions, write_world

    ckpt = make_checkpoint(tmp_path / "ckpt")
    write_world(tmp_path / "w", SynthOptions(train=8, val=4, test=2, size=32, workers=1, no_progress=True))
    out = tmp_path / "rows.json"
    assert load("shape_probe").main(["--checkpoint", str(ckpt), "--data", str(tmp_path / "w"), "--n", "40",
                                     "--n-val", "12", "--fresh", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert {(r["target"], r["depth"]) for r in rows} <= {(t, d) for t in ("shape", "colour", "size")
                                                         for d in ("first", "stem", "projected", "encoder")}
    assert rows and all(0.0 <= r["accuracy"] <= 1.0 and r["val_objects"] > 0 for r in rows)


def test_identity_peer_trains_and_scores_by_size(tmp_path: Path) -> None:
    from vlseq.data.synth import SynthOptions, write_world

    write_world(tmp_path / "w", SynthOptions(train=8, val=4, test=2, size=32, workers=1, no_progress=True))
    out = tmp_path / "peer.json"
    assert load("identity_peer").main(["--data", str(tmp_path / "w"), "--size", "32", "--channels", "8,16,32",
                                       "--steps", "3", "--batch", "4", "--eval-every", "2", "--skip",
                                       "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    assert [c["step"] for c in res["curve"]] == [0, 2, 3]
    assert res["grid"] == [4, 4] and res["stem_gflops_per_image"] > 0
    last = res["curve"][-1]
    assert 0.0 <= last["centre"] <= 1.0 and 0.0 <= last["pooled"] <= 1.0
    assert any(k.startswith("centre@") for k in last)  # by size bucket


def test_vqa_misses_tells_another_objects_word_from_one_not_in_the_image(tmp_path: Path, capsys) -> None:
    """Each shape or colour question answered three ways: right, with a word of another object of
    the image, with a word of no object of it; the counts come back in those three columns."""
    from vlseq.data.synth import SynthOptions, write_world

    write_world(tmp_path, SynthOptions(train=2, val=12, test=2, size=32, workers=1, no_progress=True))
    val = tmp_path / "val"
    questions = json.loads((val / "vqa_questions.json").read_text())["questions"]
    notes = {a["question_id"]: a for a in json.loads((val / "vqa_annotations.json").read_text())["annotations"]}
    words: dict[str, set[str]] = {}
    for line in (val / "region_captions.jsonl").read_text().splitlines():
        r = json.loads(line)
        words.setdefault(str(r["image_id"]), set()).update(r["phrase"].split())
    rows, want = [], {"shape": [0, 0, 0], "colour": [0, 0, 0]}
    for i, q in enumerate(questions):
        ann = notes[q["question_id"]]
        kind, truth = ann["question_type"], ann["multiple_choice_answer"]
        if kind not in want:
            continue
        other = sorted(words[str(q["image_id"])] - {truth, "a", "an", "large", "small"})
        way = i % 3 if other else 0
        text = [truth, other[0] if other else truth, "zebra"][way]
        want[kind][way] += 1
        rows.append({"source": "vqa", "image_id": str(q["image_id"]), "prompt": q["question"], "text": text})
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mod = load("vqa_misses")
    got = mod.misses(preds, val)
    assert {k: [c["right"], c["another object"], c["not in the image"]] for k, c in got.items() if k in want} == want
    assert sum(map(sum, want.values())) > 0
    for kind in want:  # the split by naming adds up to its question type
        parts = [c for k, c in got.items() if k.startswith(f"{kind}, named by ")]
        assert sum(parts, Counter()) == got[kind]
    assert [mod.naming(q) for q in ("what shape is the red object?", "what shape is the small red object?",
                                    "what shape is the red object left of the star?",
                                    "what colour is the topmost small star?")] == ["attribute", "size", "relation", "relation"]
    assert mod.main(["--predictions", str(preds), "--world", str(val)]) == 0
    assert "| shape |" in capsys.readouterr().out
    assert [mod.expression_kind(q) for q in ("what shape is the leftmost red object?", "what shape is the object "
            "left of the star?", "what shape is the large red object?", "what shape is the object above the circle?")] \
        == ["superlative", "relation", "attribute", "relation"]
    assert [mod.count_form(q) for q in ("how many objects are there?", "how many green objects are there?",
                                        "how many stars are there?", "how many white hexagons are there?")] \
        == list(mod.COUNT_FORMS)


def test_vqa_misses_scores_count_questions_by_form(tmp_path: Path, capsys) -> None:
    """Every count question answered right except those of one form: that form alone scores 0."""
    from vlseq.data.synth import SynthOptions, write_world

    write_world(tmp_path, SynthOptions(train=2, val=24, test=2, size=32, workers=1, no_progress=True))
    val = tmp_path / "val"
    mod = load("vqa_misses")
    questions = json.loads((val / "vqa_questions.json").read_text())["questions"]
    notes = {a["question_id"]: a for a in json.loads((val / "vqa_annotations.json").read_text())["annotations"]}
    counts = [(q, notes[q["question_id"]]) for q in questions if notes[q["question_id"]]["question_type"] == "count"]
    wrong = mod.count_form(counts[0][0]["question"])
    rows = [{"source": "vqa", "image_id": str(q["image_id"]), "prompt": q["question"],
             "text": "99" if mod.count_form(q["question"]) == wrong else a["multiple_choice_answer"]} for q, a in counts]
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got = mod.count_accuracy(preds, val)
    assert sum(n for n, _ in got.values()) == len(counts)
    assert {f: acc for f, (_, acc) in got.items()} == {f: 0.0 if f == wrong else 1.0 for f in got}
    assert mod.main(["--predictions", str(preds), "--world", str(val), "--counts"]) == 0
    assert f'| "{wrong}" |' in capsys.readouterr().out
    with pytest.raises(SystemExit, match="vqa_questions.json: not found"):
        mod.misses(preds, tmp_path / "missing")
    with pytest.raises(SystemExit, match="nothing.jsonl: not found"):
        mod.misses(tmp_path / "nothing.jsonl", val)


def test_shape_misses_splits_wrong_pointed_answers_into_which_and_what(tmp_path: Path, capsys) -> None:
    """Each shape question answered one of three ways: right at the object's box, a wrong word at the
    object's box (WHAT), a wrong word at a box off it (WHICH); the rows and table say which."""
    from vlseq.data.synth import SynthOptions, write_world

    write_world(tmp_path, SynthOptions(train=2, val=12, test=2, size=32, workers=1, no_progress=True))
    val = tmp_path / "val"
    questions = json.loads((val / "vqa_questions.json").read_text())["questions"]
    notes = {a["question_id"]: a for a in json.loads((val / "vqa_annotations.json").read_text())["annotations"]}
    rows, want = [], []
    for i, q in enumerate(questions):
        ann = notes[q["question_id"]]
        if ann["question_type"] != "shape":
            continue
        x, y, w, h = ann["objects"][0]["bbox"]
        truth, way = ann["multiple_choice_answer"], i % 3
        wrong = "circle" if truth != "circle" else "square"
        box = [x, y, x + w, y + h] if way < 2 else [x + 2 * w, y + 2 * h, x + 3 * w, y + 3 * h]
        rows.append({"source": "vqa", "image_id": str(q["image_id"]), "prompt": q["question"],
                     "text": truth if way == 0 else wrong, "phrases": [{"boxes": [box]}]})
        want.append((way == 0, way < 2))
    other = next(q for q in questions if notes[q["question_id"]]["question_type"] != "shape")
    rows.append({"source": "vqa", "image_id": str(other["image_id"]), "prompt": other["question"], "text": "2"})
    preds = tmp_path / "predictions.jsonl"
    preds.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    mod = load("shape_misses")
    got = mod.shape_rows(preds, val, grid=4)
    assert len(want) > 2 and [(r["said"] == r["truth"], r["found"]) for r in got] == want
    assert mod.main(["--pair", str(preds), str(val), "--grid", "4"]) == 0
    out = capsys.readouterr().out
    assert "| cells | n | accuracy |" in out and "WHAT misses" in out and "| cells, pair |" in out
    assert "| expression | n |" in out and {r["expression"] for r in got} <= set(mod.EXPRESSION_KINDS)
    assert "| expression | the object |" in out
    assert [r["landed"] == mod.LANDINGS[0] for r in got] == [found for _, found in want]
    # off the object: on a red one when the question named red, on another, on none
    boxes, colour = [(0, 0, 4, 4), (10, 10, 4, 4), (20, 20, 4, 4)], {(7, 10, 10, 4, 4): "red", (7, 20, 20, 4, 4): "blue"}
    assert mod.landed([10, 10, 14, 14], (0, 0, 4, 4), boxes, colour, 7, {"red"}) == mod.LANDINGS[1]
    assert mod.landed([20, 20, 24, 24], (0, 0, 4, 4), boxes, colour, 7, {"red"}) == mod.LANDINGS[2]
    assert mod.landed([20, 20, 24, 24], (0, 0, 4, 4), boxes, colour, 7, set()) == mod.LANDINGS[1]
    assert mod.landed([30, 0, 31, 1], (0, 0, 4, 4), boxes, colour, 7, {"red"}) == mod.LANDINGS[3]
    assert mod.landed(None, (0, 0, 4, 4), boxes, colour, 7, set()) == mod.LANDINGS[3]
    assert mod.landed([0, 0, 4, 4], (0, 0, 4, 4), boxes, colour, 7, set()) == mod.LANDINGS[0]
    colours = mod.object_colours(val)  # every object of the world's region captions has its colour word
    held = {tuple(p) for p in json.loads((val / "manifest.json").read_text())["heldout_pairs"]}
    for q, r in zip((notes[q["question_id"]] for q in questions if notes[q["question_id"]]["question_type"] == "shape"), got):
        c = colours[(int(q["image_id"]), *q["objects"][0]["bbox"])]
        assert r["heldout"] is ((c, q["multiple_choice_answer"]) in held)
    with pytest.raises(SystemExit, match="missing/vqa_questions.json: not found"):
        mod.shape_rows(preds, tmp_path / "missing", 4)
    preds.write_text(json.dumps({**rows[0], "prompt": "what shape is the zebra?"}) + "\n")
    with pytest.raises(SystemExit, match="line 1: question 'what shape is the zebra"):
        mod.shape_rows(preds, val, 4)


def test_pool_identity_weights_each_split_by_its_count(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = {"vqa/identity/acc@shape@<1": 1.0, "vqa/identity/n@shape@<1": 3, "detect/identity/label_given_hit": 0.5,
         "detect/identity/hits": 10, "vqa/accuracy": 0.7}
    b = {"vqa/identity/acc@shape@<1": 0.0, "vqa/identity/n@shape@<1": 1, "detect/identity/label_given_hit": 1.0,
         "detect/identity/hits": 30, "localize/identity/acc@<1": 0.5, "localize/identity/n@<1": 2,
         "localize/acc@0.5": 0.9, "localize/n": 10}
    mod = load("pool_identity")
    pooled = mod.pool([a, b])
    assert pooled["vqa/identity/acc@shape@<1"] == 0.75 and pooled["vqa/identity/n@shape@<1"] == 4
    assert pooled["detect/identity/label_given_hit"] == 0.875 and pooled["detect/identity/hits"] == 40
    assert "vqa/accuracy" not in pooled  # not an identity score: nothing to pool it by
    # a pointed answer's word is scored over the questions whose box found the object: pooled by those hits
    pointed = mod.pool([{"vqa/identity/acc_given_point@shape@1-4": 1.0, "vqa/identity/hits@shape@1-4": 1,
                         "vqa/identity/n@shape@1-4": 9},
                        {"vqa/identity/acc_given_point@shape@1-4": 0.0, "vqa/identity/hits@shape@1-4": 3,
                         "vqa/identity/n@shape@1-4": 3}])
    assert pointed["vqa/identity/acc_given_point@shape@1-4"] == 0.25 and pointed["vqa/identity/hits@shape@1-4"] == 4
    assert pooled["localize/acc@0.5"] == 0.9 and pooled["localize/n"] == 10  # the only split that has it
    files = []
    for i, m in enumerate((a, b)):
        files.append(tmp_path / f"m{i}.json")
        files[-1].write_text(json.dumps(m))
    assert mod.main([str(f) for f in files]) == 0
    assert "vqa/identity/acc@shape@<1: 0.750 (n=4)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="not found"):
        mod.main([str(tmp_path / "none.json")])


def test_loss_curves_draws_and_tables_each_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, scale in (("a", 1.0), ("b", 2.0)):
        run = tmp_path / name
        run.mkdir()
        rows = [{"step": s, "loss": scale, "loss/vqa": scale, "loss/detect": scale / 2} for s in range(1, 21)]
        (run / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "loss.png"
    assert load("loss_curves").main([f"a={tmp_path / 'a'}", f"b={tmp_path / 'b'}", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    printed = capsys.readouterr().out
    assert "| detect | 0.500 | 1.000 |" in printed and "| vqa | 1.000 | 2.000 |" in printed
    with pytest.raises(SystemExit):
        load("loss_curves").main([f"c={tmp_path / 'missing'}", "--out", str(out)])
