"""Resolving a run before anything is built: the final configs and what fixed them.

A training config leaves some model settings open until other inputs are read: the image tokenizer
fixes the number of ``<img_k>`` tokens, the text tokenizer the vocabulary size and special ids, and
an ``init_from`` checkpoint the whole architecture. :func:`resolve_run` reads those inputs and the
training data and returns a :class:`RunSetup` whose config has every such setting filled in; the
caller's config is never modified (copies are changed with ``dataclasses.replace``).
:func:`start_model` then builds the run's model from it.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence, cast

import torch
from accelerate import Accelerator

from ..models.config import ModelConfig
from ..models.factory import build_model
from ..models.image_tokenizer import CONFIG_FILE as IMAGE_TOKENIZER_CONFIG
from ..models.image_tokenizer import ImageTokenizer
from ..models.io import CONFIG, atomic_dir_write, from_pretrained, is_checkpoint
from ..models.protocol import VLModel
from ..processing import CheckpointSettings
from ..tasks import get_task, task_of
from ..tokenizer import VLTokenizer
from .config import Stage, TrainConfig, parse_stages
from .data import ensure_synth, load_examples

log = logging.getLogger(__name__)


def corpus(examples: Mapping[str, list], bins: int, limit: int = 20000) -> list[str]:
    """Prompt and target texts to train the tokenizer on (markup tokens are added separately)."""
    rng = random.Random(0)
    texts = []
    options: set[str] = set()
    for source, exs in examples.items():
        task = get_task(task_of(source))
        for ex in exs[:limit]:
            texts.append(task.prompt(ex, bins))
            if task.output != "image":  # an image target is <img_k> tokens only, special tokens already
                texts.append(task.target(ex, bins, rng))
            texts.extend(ex.answers[:5])
            options.update(ex.options)
    # every candidate a choice grammar may have to spell (a dialog round's answer options, once each):
    # a word the tokenizer never saw would be <unk>, which no choice may contain
    return texts + sorted(options)


@dataclass(frozen=True)
class RunSetup:
    """What a run trains, resolved: its final config and the inputs that fixed it.

    ``cfg.model`` has the image tokenizer's codebook size, the tokenizer's vocabulary and special
    ids, or (with ``init_from``) the checkpoint's architecture. ``tasks`` are the tasks the training
    data provides (sorted), ``stages`` the schedule parsed against them.
    """

    cfg: TrainConfig
    train_data: Mapping[str, list]
    tokenizer: VLTokenizer
    image_tokenizer: ImageTokenizer | None
    tasks: tuple[str, ...]
    stages: tuple[Stage, ...]


def open_accelerator(cfg: TrainConfig) -> Accelerator:
    """This process's Accelerator, after fixing the thread count.

    It accumulates ``grad_accum`` micro-batches per optimiser step (its ``backward`` divides each
    micro-batch's loss by that count).
    """
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    return Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available(),
                       gradient_accumulation_steps=cfg.grad_accum)


def seed_run(seed: int) -> None:
    """Seed Python's and torch's global RNGs (torch's gives the model init and dropout)."""
    random.seed(seed)
    torch.manual_seed(seed)


def image_tasks_of(cfg: TrainConfig) -> list[str]:
    """The run's tasks that write images (as the image tokenizer's codes)."""
    return [t for t in cfg.tasks if get_task(t).output == "image"]


def image_tokenizer_for(cfg: TrainConfig) -> ImageTokenizer | None:
    """The image tokenizer of a run whose tasks write images (None when none does).

    Its codebook size is the run's ``model.num_image_tokens`` (one ``<img_k>`` token per code).
    Raises ``ValueError`` naming the config key when an image task has no ``image_tokenizer``, when
    the directory holds none, or when ``max_target_tokens`` cannot hold an image's codes.
    """
    image_tasks = image_tasks_of(cfg)
    if not image_tasks:
        return None
    if not cfg.image_tokenizer:
        raise ValueError(f"tasks {image_tasks} write images as VQ codes: set the training config key "
                         "'image_tokenizer' to a trained image tokenizer directory "
                         "(vlseq train-image-tokenizer --data DATA --out DIR, then image_tokenizer=DIR)")
    try:
        it = ImageTokenizer.from_pretrained(cfg.image_tokenizer)
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"config key 'image_tokenizer' = {cfg.image_tokenizer!r}: {e}") from None
    if cfg.max_target_tokens < it.num_codes + 2:
        raise ValueError(f"image_tokenizer {cfg.image_tokenizer} writes {it.num_codes} codes per image: "
                         f"max_target_tokens={cfg.max_target_tokens} must be >= {it.num_codes + 2} (codes + <s> + </s>)")
    return it


def needs_image_tokenizer_trained(cfg: TrainConfig) -> bool:
    """Whether the run writes images, says how to train its image tokenizer, and has none yet."""
    return (cfg.image_tokenizer_train is not None and bool(cfg.image_tokenizer) and bool(image_tasks_of(cfg))
            and not (Path(cfg.image_tokenizer) / IMAGE_TOKENIZER_CONFIG).exists())


def train_missing_image_tokenizer(cfg: TrainConfig) -> None:
    """Train the run's image tokenizer into ``cfg.image_tokenizer`` with ``cfg.image_tokenizer_train``
    (on the synthetic world's renders), so that a preset with image tasks runs from one command."""
    from .image_tokenizer import ImageTokenizerTraining, train_image_tokenizer

    opts = dict(cfg.image_tokenizer_train or {})
    for key in ("data", "out"):
        if key in opts:
            raise ValueError(f"config key 'image_tokenizer_train' must not set {key!r}: it trains on the "
                             "synthetic world into 'image_tokenizer'")
    try:
        training = ImageTokenizerTraining(data="synth", out=str(cfg.image_tokenizer), **opts)
    except TypeError as e:
        raise ValueError(f"config key 'image_tokenizer_train': {e}") from None
    if training.size != cfg.model.image_size:
        raise ValueError(f"config key 'image_tokenizer_train': size {training.size} is not the model's image size "
                         f"{cfg.model.image_size}")
    log.info("image tokenizer: none at %s; training one (%s)", cfg.image_tokenizer, opts)
    train_image_tokenizer(training)


def load_training_data(cfg: TrainConfig, accelerator: Accelerator) -> dict[str, list]:
    """Training examples per source: a sample of the shards when streaming, else the whole split
    (the synthetic world is written first when missing, by the main process only)."""
    if not (cfg.data.synth or cfg.data.datasets or cfg.data.shards):
        # a preset for real data (coco) names none of its own: say where it goes, not "no examples"
        raise ValueError(f"config {cfg.name!r} names no training data (data.synth is null, data.datasets and "
                         "data.shards are empty): give --dataset-config FILE or --data DIR, or set data.datasets")
    if cfg.data.shards:
        from .streaming import corpus_examples

        return corpus_examples(cfg.data.shards, cfg.tasks)
    if cfg.data.synth:
        if accelerator.is_main_process:
            ensure_synth(Path(cfg.data.synth), cfg.data.synth_generate, cfg.model.num_bins)
        accelerator.wait_for_everyone()
    return load_examples(cfg, cfg.data.train_split)


def build_tokenizer(cfg: TrainConfig, train: Mapping[str, list], out: Path, accelerator: Accelerator) -> VLTokenizer:
    """``cfg.tokenizer`` when set, else the one trained on ``train`` (once, in ``out/tokenizer``)."""
    if cfg.tokenizer:
        return VLTokenizer.from_pretrained(cfg.tokenizer, num_bins=cfg.model.num_bins, num_image_tokens=cfg.model.num_image_tokens)
    tok_dir = out / "tokenizer"
    if accelerator.is_main_process and not (tok_dir / "tokenizer.json").exists():
        tok = VLTokenizer.train(corpus(train, cfg.model.num_bins), cfg.model.num_bins, vocab_size=cfg.tokenizer_vocab,
                                num_image_tokens=cfg.model.num_image_tokens)
        atomic_dir_write(tok_dir, tok.save_pretrained)  # a kill mid-write never leaves a half tokenizer
    accelerator.wait_for_everyone()
    tok = VLTokenizer.from_pretrained(tok_dir)
    if tok.num_image_tokens != cfg.model.num_image_tokens:
        raise ValueError(f"{tok_dir}: the tokenizer of an earlier run has {tok.num_image_tokens} image tokens, this run "
                         f"needs {cfg.model.num_image_tokens} (a different image_tokenizer?): use a new out_dir")
    return tok


def checkpoint_start(cfg: TrainConfig) -> tuple[ModelConfig, VLTokenizer]:
    """The model config and tokenizer of ``cfg.init_from`` (a fine-tune's start), without its weights.

    The checkpoint's config replaces the run's, since its weights fix the architecture; like
    :func:`~vlseq.models.io.from_pretrained`, it drops the pretrained sources the config names
    (the weights come from the checkpoint).
    """
    path = Path(cfg.init_from or "")
    if not is_checkpoint(path):
        raise ValueError(f"config key 'init_from' = {cfg.init_from!r}: not a complete vlseq checkpoint directory")
    try:
        mc = ModelConfig.load(path / CONFIG)
        tok = VLTokenizer.from_pretrained(path)
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"config key 'init_from' = {cfg.init_from!r}: {e}") from None
    if cfg.model.num_image_tokens and tok.num_image_tokens != cfg.model.num_image_tokens:
        raise ValueError(f"init_from {cfg.init_from}: its tokenizer has {tok.num_image_tokens} image tokens, "
                         f"this run's image tokenizer needs {cfg.model.num_image_tokens}")
    mc = dataclasses.replace(mc, lm_pretrained=None, vision=dataclasses.replace(mc.vision, pretrained=None))
    return mc, tok


def vocabulary_report(init_from: str, tokenizer: VLTokenizer, train: Mapping[str, list], bins: int) -> str:
    """One line: how the ``init_from`` checkpoint's tokenizer reads the words of the training prompts
    and targets. Its vocabulary is fixed (the weights index it): a word it never saw is split into
    word pieces, which the fine-tune must learn to put together, or, with a character it lacks, is
    the unknown token, which the model can neither read nor write back."""
    return f"init_from {init_from}: its tokenizer reads the training prompts and targets: " + \
        tokenizer.word_coverage(corpus(train, bins)).summary()


def resolve_run(cfg: TrainConfig, accelerator: Accelerator, out: Path) -> RunSetup:
    """Read what fixes the run's open settings (image tokenizer, data, tokenizer or ``init_from``)
    and return the resolved run. ``cfg`` is left as it was."""
    cfg = copy.deepcopy(cfg)  # nothing resolved below may share a mutable part with the caller's config
    # Before any data is read: a missing image tokenizer should fail at once (or be trained first).
    if needs_image_tokenizer_trained(cfg):
        if accelerator.is_main_process:
            train_missing_image_tokenizer(cfg)
        accelerator.wait_for_everyone()
    image_tokenizer = image_tokenizer_for(cfg)
    if image_tokenizer is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(
            cfg.model, num_image_tokens=image_tokenizer.config.codebook_size))
    train_data = load_training_data(cfg, accelerator)
    if not train_data:
        raise ValueError(f"no training examples for tasks {cfg.tasks}")
    if cfg.init_from:
        model_cfg, tokenizer = checkpoint_start(cfg)
        if accelerator.is_main_process:
            log.info("%s", vocabulary_report(cfg.init_from, tokenizer, train_data, model_cfg.num_bins))
    else:
        tokenizer = build_tokenizer(cfg, train_data, out, accelerator)
        model_cfg = cfg.model.with_tokenizer(tokenizer)
    cfg = dataclasses.replace(cfg, model=model_cfg)
    tasks = tuple(sorted({task_of(s) for s in train_data}))
    check_metrics_can_run(cfg, tasks)
    stages = tuple(parse_stages(cfg.stages, tasks))
    if len(stages) > 1 and cfg.data.shards:
        raise ValueError("a training schedule of several stages is not supported with data.shards (streamed data)")
    return RunSetup(cfg, train_data, tokenizer, image_tokenizer, tasks, stages)


def check_metrics_can_run(cfg: TrainConfig, tasks: Sequence[str]) -> None:
    """Stop before the first step when an evaluation the run will make cannot be scored: METEOR
    (paragraphs, stories) needs Java, and a run that found out at its first evaluation would have
    spent its steps and saved no checkpoint."""
    if cfg.eval_examples <= 0:
        return
    from ..metrics.meteor import meteor_missing

    meteor = [t for t in tasks if "meteor" in get_task(t).headline]
    missing = meteor_missing() if meteor else None
    if missing:
        raise ValueError(f"tasks {', '.join(meteor)} are scored with METEOR at each evaluation, and {missing}; "
                         "or set eval_examples=0 to train without evaluating")


def start_model(setup: RunSetup) -> VLModel:
    """The run's model, in training mode: the ``init_from`` checkpoint's weights, or a fresh one
    initialised from ``seed``. It gets its own copy of the config (a wrapped native model records
    the architecture it loaded there), so ``setup`` stays as resolved."""
    cfg = setup.cfg
    if cfg.init_from:
        try:
            model, _, _ = from_pretrained(cfg.init_from)
        except (FileNotFoundError, ValueError) as e:
            raise ValueError(f"config key 'init_from' = {cfg.init_from!r}: {e}") from None
        model.train()
        return cast(VLModel, model)
    torch.manual_seed(cfg.seed)
    return cast(VLModel, build_model(copy.deepcopy(cfg.model)))


def model_settings(cfg: TrainConfig, tasks: list[str], train: Mapping[str, list] | None = None,
                   image_tokenizer: ImageTokenizer | None = None) -> dict[str, Any]:
    """What a checkpoint needs besides weights: bins, image size, tasks, the category list
    of object-list tasks (so a Pipeline can run detection without being told the categories), and
    the shape of the image tokenizer saved with it (when the model writes images)."""
    # in the order the training prompts list them (first seen), not sorted: a Pipeline's detect prompt is
    # built from this list and must read as the prompts the model was trained on
    cats = list(dict.fromkeys(o for s, exs in (train or {}).items() if get_task(task_of(s)).output == "objects"
                              for ex in exs[:2000] for o in ex.options))
    return CheckpointSettings(
        num_bins=cfg.model.num_bins, image_size=cfg.model.image_size, tasks=tuple(tasks), categories=tuple(cats),
        max_prompt_tokens=cfg.max_prompt_tokens, max_target_tokens=cfg.max_target_tokens,
        image_tokenizer_config=image_tokenizer.config.to_dict() if image_tokenizer is not None else None,
        train_config=cfg.to_dict()).to_dict()
