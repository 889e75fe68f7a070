"""Helpers shared by test modules: a debug checkpoint in seconds and a synthetic-world picture.

pytest puts this folder on ``sys.path`` (tests/conftest.py lives here), so any test imports
``from helpers import make_checkpoint``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

BINS = 32
SIZE = 32
IMAGE_CODEBOOK = 16


def make_checkpoint(path: Path, categories: bool = True, image_tokenizer: bool = False, pointer: str = "none") -> Path:
    """A debug checkpoint (random weights, WordPiece trained on synthetic-world prompts) in seconds.

    Its outputs are nonsense, but every output has content: detect emits objects (up to the
    token budget), refexp its box, text tasks words. ``image_tokenizer``: with 16 ``<img_k>``
    tokens and a random 32 px -> 4x4-code image tokenizer saved with it (generate_image, edit_image).
    """
    import torch

    from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render
    from vlseq.data.world import categories as world_categories
    from vlseq.models.config import ModelConfig, VisionConfig
    from vlseq.models.io import save_pretrained
    from vlseq.models.vlseq_model import VLSeqModel
    from vlseq.tasks import get_task, task_names
    from vlseq.tokenizer import VLTokenizer

    cfg = WorldConfig(size=SIZE, max_objects=3)
    texts = ["the red circle", "what colour is the circle?", "there is a red circle"]
    for s in range(4):
        scene = generate_scene(s, cfg)
        for e in examples_for_scene(scene, render(scene), np.random.default_rng(s), cfg, image_id=str(s)):
            if e.task in task_names() and get_task(e.task).output != "image":  # image targets need an image tokenizer
                t = get_task(e.task)
                texts += [t.prompt(e, BINS), t.target(e, BINS)] + list(e.answers)
    n_img = IMAGE_CODEBOOK if image_tokenizer else 0
    tok = VLTokenizer.train(texts, num_bins=BINS, num_image_tokens=n_img)
    torch.manual_seed(0)
    mc = ModelConfig(vocab_size=len(tok), d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64,
                     image_size=SIZE, num_bins=BINS, max_positions=256, vision=VisionConfig(channels=(8, 16, 32)),
                     pad_token_id=tok.pad_id, bos_token_id=tok.bos_id, eos_token_id=tok.eos_id, num_image_tokens=n_img,
                     loc_offset=tok.loc_offset, loc_pointer=pointer)
    settings = {"num_bins": BINS, "image_size": SIZE, "tasks": task_names(), "max_prompt_tokens": 64,
                "max_target_tokens": 32, "coordinate_frame": "box"}
    if categories:
        settings["categories"] = world_categories(cfg)
    model = VLSeqModel(mc)
    with torch.no_grad():  # random weights end most outputs at once; make </s> unlikely so outputs have content
        model.lm.final_logits_bias[0, tok.eos_id] = -8.0
    it = None
    if image_tokenizer:
        from vlseq.models.image_tokenizer import ImageTokenizer, ImageTokenizerConfig

        it = ImageTokenizer(ImageTokenizerConfig(image_size=SIZE, downsample=8, channels=8, dim=8,
                                                 codebook_size=IMAGE_CODEBOOK))
    return save_pretrained(model, tok, path, settings, it)


def world_examples(n_scenes: int, size: int = 64, tasks: tuple[str, ...] | None = None,
                   max_objects: int | None = None) -> list:
    """The synthetic world's examples of scenes ``0 .. n_scenes - 1`` (of ``tasks``; None: all), each
    scene's examples drawn with its own seed, as the world writer does."""
    from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render

    cfg = WorldConfig(size=size) if max_objects is None else WorldConfig(size=size, max_objects=max_objects)
    out = []
    for s in range(n_scenes):
        scene = generate_scene(s, cfg)
        out += [e for e in examples_for_scene(scene, render(scene), np.random.default_rng(s), cfg, image_id=str(s))
                if tasks is None or e.task in tasks]
    return out


def world_with_tokenizer(n_scenes: int, tasks: tuple[str, ...], bins: int) -> tuple[list, object]:
    """The synthetic world's examples of ``tasks`` in scenes ``0 .. n_scenes - 1`` (64 px), and a
    tokenizer at ``bins`` trained on their prompts and targets."""
    from vlseq.tasks import get_task
    from vlseq.tokenizer import VLTokenizer

    exs = world_examples(n_scenes, tasks=tasks)
    texts = [t for e in exs for t in (get_task(e.task).prompt(e, bins), get_task(e.task).target(e, bins))]
    return exs, VLTokenizer.train(texts, num_bins=bins)


def small_world_model(n_scenes: int, vocab_tasks: tuple[str, ...], **model: object) -> tuple[list, object, object]:
    """Every example of ``n_scenes`` 32 px scenes of up to 3 objects, a tokenizer trained on the
    prompts, targets and answers of ``vocab_tasks``, and a one-layer 64-wide ``ModelConfig`` at 32
    bins filled from it, with ``model`` as its extra fields (the auxiliary-loss tests' setting)."""
    from vlseq.models.config import ModelConfig, VisionConfig
    from vlseq.tasks import get_task
    from vlseq.tokenizer import VLTokenizer

    exs = world_examples(n_scenes, size=SIZE, max_objects=3)
    texts: list[str] = []
    for e in exs:
        if e.task in vocab_tasks:
            t = get_task(e.task)
            texts += [t.prompt(e, BINS), t.target(e, BINS)] + list(e.answers)
    tok = VLTokenizer.train(texts, num_bins=BINS)
    mc = ModelConfig(vocab_size=len(tok), d_model=64, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=128,
                     image_size=SIZE, num_bins=BINS, max_positions=256, vision=VisionConfig(channels=(16, 32, 64)),
                     **model).fill_from_tokenizer(tok)  # type: ignore[arg-type]
    return exs, tok, mc


def scene_image(seed: int, size: int = 96) -> np.ndarray:
    """A synthetic-world picture ``(size, size, 3)`` uint8."""
    from vlseq.data.world import WorldConfig, generate_scene, render

    return render(generate_scene(seed, WorldConfig(size=size, max_objects=4)))


ROOT = Path(__file__).resolve().parents[1]


def load_script(folder: str, name: str) -> ModuleType:
    """A script of ``bench/`` or ``experiments/`` loaded by path (they are scripts, not package
    modules), once per process; ``bench/`` is put on ``sys.path`` for the shared ``_common``."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def synth_shards(root: Path) -> tuple[Path, Path]:
    """A 12-scene synthetic train split of 32 px images and its shards of 10 examples, written under
    ``root``: ``(split folder, shard folder)``."""
    from vlseq.cli import synth
    from vlseq.cli.shard import main as shard_main

    assert synth.main(["--out", str(root / "world"), "--train", "12", "--val", "1", "--test", "1", "--test-heldout",
                       "0", "--size", "32", "--workers", "1", "--no-progress", "--no-contact-sheet"]) == 0
    split = root / "world" / "train"
    assert shard_main(["--data", str(split), "--out", str(root / "shards"), "--shard-size", "10"]) == 0
    return split, root / "shards"
