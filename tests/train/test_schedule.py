"""Training schedules (stages of task weights), fine-tuning from a checkpoint, the per-slot diagnostic."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vlseq.data.mixture import MixtureSampler
from vlseq.train.config import Stage, load_config, parse_stages
from vlseq.train.loop import Trainer

TASKS = ["caption", "vqa", "refexp", "detect"]


def _cfg(tmp: Path, synth: Path, *over: str):
    base = [f"out_dir={tmp}", f"data.synth={synth}", "max_steps=6", "save_every=3", "keep_last=5", "log_every=2",
            'data.synth_generate={"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0}']
    return load_config("debug", base + list(over))


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("synth") / "world"


def test_parse_schedule_checks_each_stage() -> None:
    stages = parse_stages([{"until_frac": 0.3, "tasks": ["refexp", "detect"]},
                             {"task_weights": {"refexp": 3}}], TASKS)
    assert stages[0] == Stage(until_frac=0.3, tasks=("refexp", "detect"))
    assert stages[0].weight("vqa", {}) == 0 and stages[0].weight("refexp", {"refexp": 2.0}) == 2.0
    assert stages[1].weight("refexp", {"refexp": 2.0}) == 3.0 and stages[1].weight("vqa", {}) == 1.0
    assert parse_stages([], TASKS) == [Stage()]
    for bad, msg in [([{"until_frac": 1.5}], "until_frac"), ([{"until_step": 0}], "until_step"),
                     ([{"tasks": ["refexp"]}, {}], r"stages\[0\]: only the last stage"),
                     ([{"until_step": 3, "tasks": ["segment"]}], "not among the run's tasks"),
                     ([{"until_step": 3, "task_weights": {"vqa": -1}}], ">= 0"),
                     ([{"until_step": 3, "tasks": []}], "samples no task"),
                     ([{"until_step": 3, "until_frac": 0.5}], "not both"),
                     ([{"until_step": 3, "weights": {}}], "unknown keys")]:
        with pytest.raises(ValueError, match=msg):
            parse_stages(bad, TASKS)


def test_bad_schedule_or_object_order_fails_when_the_config_is_read(tmp_path) -> None:
    with pytest.raises(ValueError, match="object_order"):
        load_config("debug", ["object_order=size"])
    with pytest.raises(ValueError, match=r"stages\[0\]: unknown keys"):
        load_config("debug", ['stages=[{"until_step": 3, "weights": {}}]'])


def test_mixture_set_weights_switches_sources_deterministically() -> None:
    srcs = {"a": list(range(10)), "b": list(range(10)), "c": list(range(10))}

    def run() -> list[str]:
        m = MixtureSampler(srcs, weights={"a": 1, "b": 0, "c": 0}, seed=3)
        first = [n for n, _ in m.take(50)]
        m.set_weights({"a": 0, "b": 1, "c": 1})
        return first + [n for n, _ in m.take(200)]

    names = run()
    assert set(names[:50]) == {"a"} and "a" not in names[50:]
    assert Counter(names[50:])["b"] > 60 and names == run()


def test_a_stage_change_trains_and_resumes_exactly(tmp_path, synth) -> None:
    sched = 'stages=[{"until_step": 2, "tasks": ["refexp", "detect"]}, {"task_weights": {"vqa": 5}}]'
    a = tmp_path / "a"
    Trainer(_cfg(a, synth, sched), evaluate_at_end=False).run()
    recs = [json.loads(line) for line in (a / "log.jsonl").read_text().splitlines()]
    first = next(r for r in recs if "loss" in r)
    assert first["step"] == 2 and {k for k in first if k.startswith("loss/")} <= {"loss/refexp", "loss/detect"}
    assert {"step": 2, "stage": 1} in recs
    state = json.loads((a / "checkpoints" / "step_0000003" / "trainer_state.json").read_text())
    assert state["stage"] == 1
    b = tmp_path / "b"
    shutil.copytree(a, b)
    shutil.rmtree(b / "checkpoints" / "step_0000006")
    shutil.rmtree(b / "final")
    resumed = Trainer(_cfg(b, synth, sched), evaluate_at_end=False)
    assert resumed.step == 3 and resumed.stage == 1
    resumed.run()
    wa, wb = load_file(str(a / "final" / "model.safetensors")), load_file(str(b / "final" / "model.safetensors"))
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_init_from_fine_tunes_a_checkpoint_with_its_tokenizer(tmp_path, synth) -> None:
    pre = tmp_path / "pre"
    Trainer(_cfg(pre, synth, "max_steps=2", "save_every=0"), evaluate_at_end=False).run()
    tuned = Trainer(_cfg(tmp_path / "ft", synth, "max_steps=1", "save_every=0", f"init_from={pre / 'final'}",
                         "model.d_model=96", 'tasks=["detect"]'), evaluate_at_end=False)
    assert tuned.cfg.model.d_model == 64  # the checkpoint's architecture, not the preset's override
    assert len(tuned.tokenizer) == tuned.cfg.model.vocab_size
    start = load_file(str(pre / "final" / "model.safetensors"))
    for name, p in tuned.raw_model.state_dict().items():
        if name in start:
            assert torch.equal(p, start[name]), name
    assert not (tmp_path / "ft" / "tokenizer").exists()  # no new tokenizer was trained
    tuned.run()
    with pytest.raises(ValueError, match="init_from"):
        Trainer(_cfg(tmp_path / "bad", synth, f"init_from={tmp_path / 'nope'}"), evaluate_at_end=False)


def test_slot_accuracy_reports_each_corner(tmp_path, synth) -> None:
    from vlseq.evaluation.diagnostics import format_slot_accuracy, slot_accuracy

    trainer = Trainer(_cfg(tmp_path / "s", synth, "max_steps=1", "save_every=0"), evaluate_at_end=False)
    val = trainer.val_examples()
    rows = slot_accuracy(trainer.raw_model, trainer.processor, val, n=4)
    assert {"refexp", "detect", "localize"} <= set(rows) and "vqa" not in rows and "caption" not in rows
    for r in rows.values():
        assert set(r) == {"x1", "y1", "x2", "y2", "n"} and all(0 <= r[k] <= 1 for k in ("x1", "y1", "x2", "y2"))
    assert rows["refexp"]["n"] == 4
    assert "| refexp |" in format_slot_accuracy(rows)
    chunked = slot_accuracy(trainer.raw_model, trainer.processor, val, n=4, chunk=3)  # chunks of 3 and 1
    assert chunked["refexp"]["n"] == 4 and chunked["detect"]["n"] == rows["detect"]["n"]


def test_object_order_position_gives_the_evaluation_order_in_training(tmp_path, synth) -> None:
    import random

    from vlseq.processing import Processor
    from vlseq.tasks import get_task

    trainer = Trainer(_cfg(tmp_path / "o", synth, "max_steps=1", "save_every=0"), evaluate_at_end=False)
    tok, detect = trainer.tokenizer, get_task("detect")
    ex = max(trainer.train_data["detect"], key=lambda e: len(e.objects))
    assert len(ex.objects) >= 2
    assert trainer.processor.object_order == "position"  # the default: train in the order evaluation writes
    # the checkpoint's categories keep the training prompts' order (a Pipeline builds its detect prompt from them)
    assert trainer.settings["categories"] == list(trainer.train_data["detect"][0].options)
    fixed = trainer.processor
    shuffled = Processor(tok, 32, 32, object_order="random")
    want = tok.encode(detect.target(ex, 32))  # rng None: by position
    # a detection target's first object was a random one of the image's: the first label was the
    # marginal over the objects, nearly the same for every image (the model wrote "cross" x4 everywhere)
    targets = {tuple(fixed.encode(detect, ex, random.Random(s)).target[1:-1]) for s in range(8)}
    assert targets == {tuple(want)}
    assert len({tuple(shuffled.encode(detect, ex, random.Random(s)).target) for s in range(8)}) > 1
    with pytest.raises(ValueError, match="object_order"):
        Processor(tok, 32, 32, object_order="size")


def test_object_order_class_lists_by_the_prompt_categories_then_position(tmp_path) -> None:
    import random

    import numpy as np

    from vlseq.data.example import Example, Object
    from vlseq.processing import Processor
    from vlseq.tasks import get_task
    from vlseq.tasks.detection import order_objects
    from vlseq.tokenizer import VLTokenizer

    objs = [Object("triangle", (1, 1, 5, 5)), Object("circle", (30, 30, 40, 40)), Object("kite", (2, 2, 4, 4)),
            Object("square", (2, 40, 9, 50)), Object("circle", (0, 20, 9, 29)), Object("bell", (9, 9, 12, 12))]
    cats = ["circle", "square", "triangle"]
    got = [(o.label, o.box[0]) for o in order_objects(objs, cats, "class")]
    # listed classes in the prompt's order, each top to bottom; unlisted labels last, alphabetically
    assert got == [("circle", 0), ("circle", 30), ("square", 2), ("triangle", 1), ("bell", 9), ("kite", 2)]
    assert [o.box for o in order_objects(objs, cats, "position")] == [o.box for o in sorted(
        objs, key=lambda o: (o.box[1], o.box[0]))]
    assert order_objects(objs, cats, "random") == order_objects(objs, cats, "position")  # no rng: evaluation's order
    assert sorted(map(id, order_objects(objs, cats, "random", random.Random(0)))) == sorted(map(id, objs))
    with pytest.raises(ValueError, match="object order must be one of"):
        order_objects(objs, cats, "size")

    ex = Example(task="detect", images=[np.zeros((64, 64, 3), dtype=np.uint8)], image_id="0", width=64, height=64,
                 options=cats, objects=objs[:2])
    tok = VLTokenizer.train(["detect: circle, square, triangle"], num_bins=64)
    proc = Processor(tok, 64, 64, object_order="class")
    target = tok.decode_markup(proc.encode(get_task("detect"), ex, random.Random(0), with_target=True).target[1:-1])
    assert target.index("circle") < target.index("triangle")  # the class order, though the triangle is higher
    assert load_config("debug", ["object_order=class"]).object_order == "class"


def test_a_checkpoint_processor_keeps_the_training_object_order() -> None:
    from vlseq.processing import Processor
    from vlseq.tokenizer import VLTokenizer

    tok = VLTokenizer.train(["detect: circle"], num_bins=16)
    base = {"num_bins": 16, "image_size": 32}
    assert Processor.from_settings(tok, {**base, "train_config": {"object_order": "class"}}).object_order == "class"
    # no training config: the constructor's default, which is the training config's
    assert Processor.from_settings(tok, base).object_order == "position"
    kept = Processor.from_settings(tok, {**base, "train_config": {"object_order": "class"}}, object_order="position")
    assert kept.object_order == "position"
