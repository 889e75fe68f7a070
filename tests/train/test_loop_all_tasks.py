"""Every task in one run: the debug preset with a tiny image tokenizer trains a few steps on all 14
tasks, saves the image tokenizer with the checkpoint, and evaluation reports every new metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vlseq.train.config import CORE_TASKS, EXTRA_TASKS, load_config
from vlseq.train.loop import Trainer

EVERY_TASK = list(CORE_TASKS + EXTRA_TASKS)

#: the metrics the new tasks must report (per task, as ``task/metric``)
NEW_METRICS = {
    "segment": ("miou", "ciou", "box_acc@0.5"),
    "instance_segment": ("mask_map", "mask_map_50", "box_map"),
    "keypoints": ("pck@0.1", "matched"),
    **{t: ("psnr", "valid_rate", "recon_psnr", "check_objects", "check_counts", "check_colours", "check_all",
           "check_all_truth") for t in ("generate_image", "edit_image")},
}


@pytest.fixture(scope="module")
def image_tokenizer(tmp_path_factory) -> Path:
    """A 32 px -> 4x4-code image tokenizer with 16 codes, trained for 3 steps (seconds)."""
    from vlseq.cli.image_tokenizer import main

    out = tmp_path_factory.mktemp("image_tokenizer")
    assert main(["--data", "synth", "--out", str(out), "--size", "32", "--downsample", "8", "--codebook", "16",
                 "--channels", "8", "--dim", "8", "--steps", "3", "--max-images", "16", "--heldout", "4",
                 "--batch", "4", "--threads", "1"]) == 0
    return out


def _cfg(tmp: Path, synth: Path, *extra: str):
    return load_config("debug", [f"out_dir={tmp}", f"data.synth={synth}", "max_steps=3", "save_every=0",
                                 "eval_examples=2", "max_target_tokens=128", "threads=1",
                                 'data.synth_generate={"train": 16, "val": 6, "test": 2, "size": 32, "seed": 0}',
                                 *extra])


def test_debug_trains_every_task_and_scores_the_new_ones(tmp_path, image_tokenizer) -> None:
    from vlseq.models.io import from_pretrained, load_image_tokenizer

    cfg = _cfg(tmp_path / "run", tmp_path / "synth", f"image_tokenizer={image_tokenizer}",
               f"tasks={json.dumps(EVERY_TASK)}")
    trainer = Trainer(cfg)
    assert sorted(trainer.tasks) == sorted(EVERY_TASK)
    # the run's config takes the codebook size; the caller's config is left as it was
    assert trainer.cfg.model.num_image_tokens == 16 and trainer.tokenizer.num_image_tokens == 16
    assert cfg.model.num_image_tokens == 0
    summary = trainer.run()
    metrics = summary["metrics"]
    for task, keys in NEW_METRICS.items():
        for k in keys:
            assert f"{task}/{k}" in metrics, f"{task}/{k}"
        assert metrics[f"{task}/parse_error_rate"] == 0.0  # grammar-constrained: every output parses
    assert metrics["generate_image/valid_rate"] == 1.0  # the image grammar always completes the grid
    for t in ("generate_image", "edit_image"):
        assert 0.0 <= metrics[f"{t}/check_all"] <= 1.0 and metrics[f"{t}/recon_psnr"] > 5.0
    # the checkpoint carries its image tokenizer, and loading finds it
    final = Path(summary["final"])
    model, tok, settings = from_pretrained(final)
    it = load_image_tokenizer(final, tok.num_image_tokens)
    assert it is not None and it.num_codes == 16 and settings["image_tokenizer_config"]["codebook_size"] == 16
    assert set(settings["tasks"]) == set(EVERY_TASK)
    # vlseq eval on the checkpoint: the same metrics, and the report shows the written image beside the target
    from PIL import Image

    from vlseq.cli.eval import main as eval_main

    ev = tmp_path / "eval"
    assert eval_main(["--checkpoint", str(final), "--data", str(tmp_path / "synth" / "val"), "--max-per-task", "2",
                      "--tasks", "generate_image", "instance_segment", "--out", str(ev)]) == 0
    scored = json.loads((ev / "metrics.json").read_text())
    assert {f"generate_image/{k}" for k in NEW_METRICS["generate_image"]} <= set(scored)
    assert "instance_segment/mask_map" in scored
    with Image.open(ev / "img" / "generate_image_0.png") as tile:
        assert tile.size == (512, 256)


def test_image_task_without_image_tokenizer_names_the_config_key(tmp_path) -> None:
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", 'tasks=["caption", "generate_image"]')
    with pytest.raises(ValueError, match=r"\['generate_image'\].*config key 'image_tokenizer'"):
        Trainer(cfg)
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", 'tasks=["edit_image"]', f"image_tokenizer={tmp_path / 'absent'}")
    with pytest.raises(ValueError, match=r"config key 'image_tokenizer' = .*absent.*image_tokenizer.json"):
        Trainer(cfg)


def test_target_limit_must_hold_an_image(tmp_path, image_tokenizer) -> None:
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", 'tasks=["edit_image"]', f"image_tokenizer={image_tokenizer}",
               "max_target_tokens=10")
    with pytest.raises(ValueError, match="writes 16 codes per image: max_target_tokens=10 must be >= 18"):
        Trainer(cfg)


def test_tiny_text_preset_has_room_for_the_text_families() -> None:
    from vlseq.train.config import TEXT_FAMILY_TASKS

    cfg = load_config("tiny_text")
    assert set(TEXT_FAMILY_TASKS) <= set(cfg.tasks) and {"caption", "vqa", "refexp", "detect"} <= set(cfg.tasks)
    m, base = cfg.model, load_config("tiny")
    assert m.max_images >= 5 and cfg.max_prompt_tokens >= 144 and cfg.max_target_tokens >= 130
    grid = (m.image_size // 8) ** 2  # the conv stem's stride-8 grid
    assert m.max_positions >= m.max_images * grid + cfg.max_prompt_tokens  # a 5-image story and its prompt
    # tiny's world (seed, size, counts) without its large-object scenes, in its own directory
    default_world = {k: v for k, v in base.data.synth_generate.items() if k not in ("scale", "scale_frac")}
    assert cfg.data.synth_generate == default_world and cfg.data.synth != base.data.synth


def test_tiny_all_preset_names_every_task() -> None:
    cfg = load_config("tiny_all")
    assert sorted(cfg.tasks) == sorted(EVERY_TASK) and cfg.image_tokenizer
    base = load_config("tiny")
    assert cfg.model == base.model  # the tiny run, with more tasks,
    # on the same world (seed, size, counts) written to its own directory: an older data/synth-tiny lacks
    # the new tasks' files, and tiny's data stays untouched; without tiny's large-object scenes
    assert cfg.data.synth_generate == {**base.data.synth_generate, "scale": None, "scale_frac": None}
    assert base.data.synth_generate["scale_frac"] and cfg.data.synth != base.data.synth
    for t in EXTRA_TASKS:
        assert 0 < cfg.task_weights[t] < 1, t


def test_the_text_families_train_with_the_others_and_score(tmp_path) -> None:
    """paragraph, story, multiple_choice and dialog join a multi-task run and report their metrics."""
    from vlseq.train.config import TEXT_FAMILY_TASKS

    tasks = ["caption", "vqa", "refexp", *TEXT_FAMILY_TASKS]
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", f"tasks={json.dumps(tasks)}", "model.max_images=5",
               "model.max_positions=512", "max_prompt_tokens=160", "max_target_tokens=130")
    trainer = Trainer(cfg)
    assert sorted(trainer.tasks) == sorted(tasks)
    metrics = trainer.run()["metrics"]
    for key in ("paragraph/cider", "paragraph/meteor", "story/cider", "story/meteor", "multiple_choice/q_ar",
                "multiple_choice/q_a", "multiple_choice/qa_r", "dialog/mrr", "dialog/r@1", "dialog/mean_rank"):
        assert key in metrics, key
    for task in TEXT_FAMILY_TASKS:
        assert metrics[f"{task}/parse_error_rate"] == 0.0
    # each beside its trivial baseline (Task.baseline): multiple choice's is the exact random-choice expectation
    assert metrics["multiple_choice/baseline/q_a"] == pytest.approx(0.25)
    assert metrics["multiple_choice/baseline/q_ar"] == pytest.approx(0.0625)
    assert {"paragraph/baseline/cider", "story/baseline/cider", "dialog/baseline/mrr"} <= set(metrics)


def test_a_missing_image_tokenizer_is_trained_when_the_config_says_how(tmp_path) -> None:
    """``image_tokenizer_train``: the run trains its image tokenizer into ``image_tokenizer`` first."""
    it_dir = tmp_path / "it"
    train = {"size": 32, "downsample": 8, "codebook": 16, "channels": 8, "dim": 8, "steps": 2, "max_images": 12,
             "heldout": 4, "batch": 4}
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", 'tasks=["caption", "generate_image"]',
               f"image_tokenizer={it_dir}", f"image_tokenizer_train={json.dumps(train)}")
    trainer = Trainer(cfg)
    assert (it_dir / "image_tokenizer.json").exists() and (it_dir / "train_log.json").exists()
    assert trainer.cfg.model.num_image_tokens == 16
    # a second run finds it and trains none: the directory is left as it was
    stamp = (it_dir / "model.safetensors").stat().st_mtime_ns
    Trainer(_cfg(tmp_path / "run2", tmp_path / "synth", 'tasks=["generate_image"]', f"image_tokenizer={it_dir}",
                 f"image_tokenizer_train={json.dumps(train)}"))
    assert (it_dir / "model.safetensors").stat().st_mtime_ns == stamp


@pytest.mark.parametrize("bad, match", [({"out": "x"}, "must not set 'out'"), ({"codebok": 16}, "codebok"),
                                        ({"size": 64}, "size 64 is not the model's image size 32")])
def test_bad_image_tokenizer_settings_name_the_key(tmp_path, bad, match) -> None:
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", 'tasks=["generate_image"]', f"image_tokenizer={tmp_path / 'it'}",
               f"image_tokenizer_train={json.dumps(bad)}")
    with pytest.raises(ValueError, match=f"image_tokenizer_train.*{match}"):
        Trainer(cfg)


def test_the_all_preset_names_all_eighteen_tasks_with_room_for_each() -> None:
    from vlseq.tasks import task_names
    from vlseq.train.config import TEXT_FAMILY_TASKS

    cfg, text, every = load_config("all"), load_config("tiny_text"), load_config("tiny_all")
    assert sorted(cfg.tasks) == sorted(task_names()) and len(cfg.tasks) == 18
    assert set(TEXT_FAMILY_TASKS) <= set(cfg.tasks)
    # tiny's model, with tiny_text's room for stories and tiny_all's for polygons
    assert cfg.model.d_model == every.model.d_model and cfg.model.vision == every.model.vision
    assert cfg.model.max_images >= text.model.max_images and cfg.model.max_positions >= text.model.max_positions
    assert cfg.max_prompt_tokens >= text.max_prompt_tokens and cfg.max_target_tokens >= every.max_target_tokens
    assert cfg.image_tokenizer and cfg.image_tokenizer_train["size"] == cfg.model.image_size
    assert all(cfg.task_weights.get(t, 0) > 0 for t in cfg.tasks)
    # keypoints start with the last stage and are drawn there above tiny_all's weight
    from vlseq.train.config import parse_stages
    first, last = parse_stages(cfg.stages, cfg.tasks)
    assert first.weight("keypoints", cfg.task_weights) == 0
    assert last.weight("keypoints", cfg.task_weights) == 3 * every.task_weights["keypoints"]
    assert last.weight("segment", cfg.task_weights) == every.task_weights["segment"]


def test_gradient_masking_trains_text_and_image_outputs_apart(tmp_path, image_tokenizer, monkeypatch) -> None:
    from vlseq.train.grad_mask import GradientMask

    calls: list[float] = []
    real = GradientMask.backward

    def counted(self, loss, image_share, scale=1.0):  # type: ignore[no-untyped-def]
        calls.append(float(image_share))
        return real(self, loss, image_share, scale)

    monkeypatch.setattr(GradientMask, "backward", counted)
    cfg = _cfg(tmp_path / "run", tmp_path / "synth", f"image_tokenizer={image_tokenizer}", "grad_mask=0.5",
               'tasks=["caption", "generate_image"]', "batch_size=8", "grad_accum=2")
    trainer = Trainer(cfg, evaluate_at_end=False)
    start = {k: v.clone() for k, v in trainer.raw_model.state_dict().items()}
    trainer.run()
    # batches of 8 drawn from two tasks hold both kinds of sample: the masked backward ran, with a
    # share of the loss strictly between none and all of it
    assert calls and all(0.0 < c for c in calls)
    moved = [k for k, v in trainer.raw_model.state_dict().items() if v.is_floating_point() and not torch.equal(v, start[k])]
    assert moved
    # under fp16 (a loss scaler: GPUs only, so one is set here by hand) the masked passes are scaled
    # as acc.backward scales the loss, so the optimiser's unscaling gives the same gradient
    batch, sources = trainer._micro_batch(8)
    group = [t == "generate_image" for t in sources]
    assert any(group) and not all(group)
    batch["loss_group"] = torch.tensor(group)

    def grads(scaler) -> list[torch.Tensor]:  # type: ignore[no-untyped-def]
        trainer.optimizer.zero_grad(set_to_none=True)
        trainer.accelerator.scaler = scaler
        trainer._backward(trainer.model(**batch), masked=True)
        return [p.grad.clone() for p in trainer.raw_model.parameters() if p.grad is not None]

    trainer.model.eval()  # no dropout: the two passes see the same graph
    plain = grads(None)
    scaled = grads(torch.amp.GradScaler("cpu", init_scale=8.0))
    trainer.accelerator.scaler = None
    assert len(plain) == len(scaled) and all(torch.allclose(8 * a, b, atol=1e-6) for a, b in zip(plain, scaled))
    with pytest.raises(ValueError, match="grad_mask"):
        load_config("debug", ["grad_mask=1.5"])
