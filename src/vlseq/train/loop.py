"""The training loop: Accelerate, one loss over a task mixture, periodic evaluation, exact resume.

Every process draws the same global batch from the (seeded) task mixture and takes its own
slice, so a run on N processes sees exactly the examples of a 1-process run with the same global
batch; Accelerate's DDP averages the gradients.
"""

from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm

from ..data.mixture import MixtureSampler
from ..data.readers.validate import DataError, RecordGuard
from ..models.factory import build_model
from ..models.image_tokenizer import ImageTokenizer
from ..models.io import atomic_dir_write, save_pretrained
from ..models.vlseq_model import VLSeqModel
from ..processing import Processor
from ..tasks import get_task
from ..tokenizer import VLTokenizer
from .checkpoint import list_checkpoints, load_checkpoint, prune, save_checkpoint
from .config import TrainConfig, parse_schedule
from .data import ensure_synth, load_examples, source_task
from .optim import build_ema, build_optimizer, build_scheduler

log = logging.getLogger(__name__)


def corpus(examples: dict[str, list], bins: int, limit: int = 20000) -> list[str]:
    """Prompt and target texts to train the tokenizer on (markup tokens are added separately)."""
    rng = random.Random(0)
    texts = []
    for source, exs in examples.items():
        task = get_task(source_task(source))
        for ex in exs[:limit]:
            texts.append(task.prompt(ex, bins))
            if task.output != "image":  # an image target is <img_k> tokens only, special tokens already
                texts.append(task.target(ex, bins, rng))
            texts.extend(ex.answers[:5])
    return texts


def image_tokenizer_for(cfg: TrainConfig) -> ImageTokenizer | None:
    """The image tokenizer of a run whose tasks write images (None when none does).

    Sets ``cfg.model.num_image_tokens`` to its codebook size (one ``<img_k>`` token per code).
    Raises ``ValueError`` naming the config key when an image task has no ``image_tokenizer``, when
    the directory holds none, or when ``max_target_tokens`` cannot hold an image's codes.
    """
    image_tasks = [t for t in cfg.tasks if get_task(t).output == "image"]
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
    cfg.model.num_image_tokens = it.config.codebook_size
    return it


def build_tokenizer(cfg: TrainConfig, train: dict[str, list], out: Path, accelerator: Accelerator) -> VLTokenizer:
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


def model_settings(cfg: TrainConfig, tasks: list[str], train: dict[str, list] | None = None,
                   image_tokenizer: ImageTokenizer | None = None) -> dict[str, Any]:
    """What a checkpoint needs besides weights: bins, image size, tasks, the category list
    of object-list tasks (so a Pipeline can run detection without being told the categories), and
    the shape of the image tokenizer saved with it (when the model writes images)."""
    # in the order the training prompts list them (first seen), not sorted: a Pipeline's detect prompt is
    # built from this list and must read as the prompts the model was trained on
    cats = list(dict.fromkeys(o for s, exs in (train or {}).items() if get_task(source_task(s)).output == "objects"
                              for ex in exs[:2000] for o in ex.options))
    return {"num_bins": cfg.model.num_bins, "image_size": cfg.model.image_size, "tasks": tasks, "categories": cats,
            "max_prompt_tokens": cfg.max_prompt_tokens, "max_target_tokens": cfg.max_target_tokens,
            **({"image_tokenizer_config": image_tokenizer.config.to_dict()} if image_tokenizer is not None else {}),
            "train_config": cfg.to_dict()}


class Trainer:
    """Holds everything of one run; :meth:`run` trains until ``max_steps`` or the time budget."""

    def __init__(self, cfg: TrainConfig, resume: bool = True, evaluate_at_end: bool = True) -> None:
        self.cfg = cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.accelerator = Accelerator(mixed_precision=cfg.mixed_precision, cpu=not torch.cuda.is_available())
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        random.seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        # Before any data is read: a missing image tokenizer should fail at once.
        self.image_tokenizer = image_tokenizer_for(cfg)
        if cfg.data.shards:
            from .streaming import corpus_examples

            self.train_data = corpus_examples(cfg.data.shards, cfg.tasks)
        else:
            if cfg.data.synth:
                if self.accelerator.is_main_process:
                    ensure_synth(Path(cfg.data.synth), cfg.data.synth_generate)
                self.accelerator.wait_for_everyone()
            self.train_data = load_examples(cfg, cfg.data.train_split)
        if not self.train_data:
            raise ValueError(f"no training examples for tasks {cfg.tasks}")
        if cfg.init_from:
            self.model, self.tokenizer = init_from_checkpoint(cfg)  # cfg.model becomes the checkpoint's
        else:
            self.tokenizer = build_tokenizer(cfg, self.train_data, self.out, self.accelerator)
            cfg.model.fill_from_tokenizer(self.tokenizer)
            torch.manual_seed(cfg.seed)
            self.model = build_model(cfg.model)
        mc = cfg.model
        self.processor = Processor(self.tokenizer, mc.image_size, mc.num_bins, cfg.max_prompt_tokens, cfg.max_target_tokens,
                                   image_tokenizer=self.image_tokenizer, object_order=cfg.object_order)
        if self.accelerator.num_processes > 1 and self.accelerator.device.type == "cuda":
            # One set of BatchNorm statistics over the global batch (torch's SyncBatchNorm is GPU-only;
            # on CPU each process normalises its own slice, as plain DDP training does).
            self.model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(self.model)
        self.tasks = sorted({source_task(s) for s in self.train_data})
        self.settings = model_settings(cfg, self.tasks, self.train_data, self.image_tokenizer)
        self.optimizer = build_optimizer(self.model, cfg.lr, cfg.weight_decay)
        self.schedule_total = cfg.max_steps
        self.scheduler = build_scheduler(self.optimizer, cfg.warmup_steps, cfg.max_steps, cfg.min_lr_ratio)
        self.ema = build_ema(self.model, cfg.ema_decay)
        self.stages = parse_schedule(cfg.schedule, self.tasks)
        if len(self.stages) > 1 and cfg.data.shards:
            raise ValueError("a training schedule of several stages is not supported with data.shards (streamed data)")
        self.stage = 0
        weights = self.stage_weights()
        self.mixture = MixtureSampler(self.train_data, weights=weights, seed=cfg.seed)
        self.step = 0
        self.elapsed = 0.0
        self.best: float | None = None
        self.evaluate_at_end = evaluate_at_end
        self.model, self.optimizer = self.accelerator.prepare(self.model, self.optimizer)
        if cfg.compile != "no":
            # Compiled here, not through Accelerator(dynamo_backend=...): Accelerate keeps one shared state
            # per process, so a second Trainer in the same process would silently inherit the first's.
            self.model = torch.compile(self.model, backend=cfg.compile)
        self.rng = random.Random(cfg.seed + 1)
        # Decode-time failures (readers check headers only) go through the readers' strict/skip rule.
        self.skip_guard = RecordGuard("training images", skip_bad=cfg.data.skip_bad)
        self.stream = None
        self._val: dict[str, list] | None = None
        self._stream_resume: dict | None = None
        if resume:
            self._resume()
        if cfg.data.shards:
            from .streaming import ShardBatches

            self.stream = ShardBatches(cfg.data.shards, self.tasks, weights, self.processor,
                                       cfg.batch_size // self.accelerator.num_processes, cfg.seed,
                                       cfg.data.loader_workers, cfg.data.shuffle_buffer, self._stream_resume)

    # ------------------------------------------------------------------ state

    @property
    def raw_model(self) -> VLSeqModel:
        return self.accelerator.unwrap_model(self.model, keep_torch_compile=False)

    def _trainer_state(self) -> dict[str, Any]:
        return {"step": self.step, "elapsed": self.elapsed, "schedule_total": self.schedule_total, "stage": self.stage,
                "mixture": self.mixture.state_dict(), "aug_rng": _py_state(self.rng), "best": self.best,
                "stream": self.stream.state(self.accelerator) if self.stream is not None else None}

    def _resume(self) -> None:
        ckpts = list_checkpoints(self.out / "checkpoints")
        if not ckpts:
            return
        state = load_checkpoint(ckpts[-1], self.raw_model, self.optimizer, self.scheduler, self.ema)
        self.step, self.elapsed, self.best = state["step"], state["elapsed"], state.get("best")
        self._set_schedule_total(state["schedule_total"])
        self.stage = int(state.get("stage", 0))
        self.mixture.set_weights(self.stage_weights())  # the stage's weights, then its position
        self.mixture.load_state_dict(state["mixture"])
        self._stream_resume = state.get("stream")
        self.rng.setstate(_py_from(state["aug_rng"]))
        self.accelerator.print(f"resumed from {ckpts[-1]} at step {self.step}")

    def stage_weights(self) -> dict[str, float]:
        """Sampling weight of each source in the current stage."""
        stage = self.stages[self.stage]
        return {s: stage.weight(source_task(s), self.cfg.task_weights) for s in self.train_data}

    def progress(self) -> float:
        """How far the run is, 0..1: the larger of the step and the time fractions."""
        budget_s = self.cfg.time_budget_min * 60 if self.cfg.time_budget_min else math.inf
        return max(self.step / max(1, self.cfg.max_steps), self.elapsed / budget_s)

    def advance_stage(self) -> bool:
        """Move to the next stage(s) whose predecessors have ended; True when the stage changed."""
        changed = False
        while self.stage < len(self.stages) - 1 and self.stages[self.stage].done(self.step, self.progress()):
            self.stage += 1
            changed = True
        if changed:
            self.mixture.set_weights(self.stage_weights())
        return changed

    def _set_schedule_total(self, total: int) -> None:
        self.schedule_total = total
        for fn in self.scheduler.lr_lambdas:
            fn.total = max(1, total)

    def save(self) -> None:
        self.accelerator.wait_for_everyone()
        state = self._trainer_state()  # on every rank: the stream position is gathered
        if self.accelerator.is_main_process:
            path = self.out / "checkpoints" / f"step_{self.step:07d}"
            save_checkpoint(path, self.raw_model, self.tokenizer, self.settings, self.optimizer, self.scheduler, self.ema,
                            state, self.image_tokenizer)
            prune(self.out / "checkpoints", self.cfg.keep_last)
        self.accelerator.wait_for_everyone()

    def eval_model(self) -> VLSeqModel:
        return self.ema.module if self.ema is not None else self.raw_model

    def save_final(self) -> Path:
        path = self.out / "final"
        if self.accelerator.is_main_process:
            save_pretrained(self.eval_model(), self.tokenizer, path, self.settings, self.image_tokenizer)
        self.accelerator.wait_for_everyone()
        return path

    # ------------------------------------------------------------------ steps

    def _micro_batch(self, n_global: int) -> tuple[dict[str, torch.Tensor], list[str]]:
        """Draw the global batch (identical on every rank) and encode this rank's slice.

        From shards, each rank instead takes its own next micro-batch from its part of the stream.
        """
        if self.stream is not None:
            batch, sources = self.stream.next()
            return {k: v.to(self.accelerator.device) for k, v in batch.items()}, sources
        drawn = self.mixture.take(n_global)
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        items, sources = [], []
        for i, (source, ex) in enumerate(drawn):
            # Augmentation choices are drawn for every example on every rank, keeping ranks in step.
            seed = self.rng.getrandbits(32)
            if i % world != rank:
                continue
            try:
                items.append(self.processor.encode(get_task(source_task(source)), ex, random.Random(seed)))
            except DataError as e:  # an image that fails only at pixel decode time (truncated, ...)
                self.skip_guard.handle(e)  # strict: raise; skip_bad: log, count, and leave it out
                continue
            sources.append(source_task(source))
        if not items:
            raise DataError(self.cfg.data.synth or "data", None, "bad_image",
                            f"every example of a {n_global}-example batch failed to decode")
        batch = self.processor.collate(items)
        return {k: v.to(self.accelerator.device) for k, v in batch.items()}, sources

    def train_step(self) -> tuple[float, dict[str, list[float]]]:
        cfg = self.cfg
        self.model.train()
        per_task: dict[str, list[float]] = defaultdict(list)
        total = 0.0
        for micro in range(cfg.grad_accum):
            batch, sources = self._micro_batch(cfg.batch_size)
            sync = micro == cfg.grad_accum - 1
            ctx = self.accelerator.no_sync(self.model) if not sync else _null()
            with ctx, self.accelerator.autocast():
                out = self.model(**batch)
                loss = out["loss"] / cfg.grad_accum
            with ctx:
                self.accelerator.backward(loss)
            total += float(loss.detach())
            for s, l in zip(sources, out["sample_loss"].tolist()):
                per_task[s].append(l)
        if cfg.clip_grad:
            self.accelerator.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update_parameters(self.raw_model)
        self.step += 1
        return total, per_task

    def run(self) -> dict[str, Any]:
        cfg, acc = self.cfg, self.accelerator
        writer = None
        if acc.is_main_process:
            from torch.utils.tensorboard import SummaryWriter

            writer = SummaryWriter(str(self.out / "tb"))
            acc.print(f"vlseq train: {cfg.name}, {self.raw_model.num_parameters() / 1e6:.2f}M parameters, tasks {', '.join(self.tasks)}; "
                      f"global batch {cfg.batch_size} x accum {cfg.grad_accum} = {cfg.batch_size * cfg.grad_accum} "
                      f"over {acc.num_processes} process(es) ({cfg.batch_size // acc.num_processes} per process)")
        log_path = self.out / "log.jsonl"
        budget_s = cfg.time_budget_min * 60 if cfg.time_budget_min else math.inf
        # With a time budget the bar counts seconds of it (a step count would show the unreachable max_steps).
        timed = budget_s < math.inf
        bar = tqdm(total=round(budget_s) if timed else cfg.max_steps, initial=round(self.elapsed) if timed else self.step,
                   unit="s" if timed else "step", disable=not acc.is_main_process, dynamic_ncols=True, desc="train",
                   bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} s [{elapsed}<{remaining}{postfix}]" if timed else None)
        window: dict[str, list[float]] = defaultdict(list)
        losses: list[float] = []
        t_log, n_log = time.time(), 0
        metrics: dict[str, Any] = {}
        while self.step < cfg.max_steps and self.elapsed < budget_s:
            t0 = time.time()
            loss, per_task = self.train_step()
            dt = time.time() - t0
            self.elapsed += dt
            if self.advance_stage() and acc.is_main_process:
                acc.print(f"step {self.step}: schedule stage {self.stage + 1}/{len(self.stages)}")
                with log_path.open("a") as f:
                    f.write(json.dumps({"step": self.step, "stage": self.stage}) + "\n")
            if self.step == 20 and budget_s < math.inf and self.schedule_total == cfg.max_steps:
                # Fit the cosine schedule to the time budget from the measured step time.
                est = int(budget_s / (self.elapsed / 20))
                self._set_schedule_total(min(cfg.max_steps, max(est, cfg.warmup_steps + 1)))
            losses.append(loss)
            n_log += cfg.batch_size * cfg.grad_accum
            for k, v in per_task.items():
                window[k].extend(v)
            bar.update(min(dt, max(0.0, bar.total - bar.n)) if timed else 1)
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                rate = n_log / max(time.time() - t_log, 1e-9)
                rec = {"step": self.step, "loss": sum(losses) / len(losses), "lr": self.scheduler.get_last_lr()[0],
                       "samples_per_s": rate, "elapsed_s": self.elapsed,
                       **{f"loss/{k}": sum(v) / len(v) for k, v in sorted(window.items())}}
                bar.set_postfix(step=self.step, loss=f"{rec['loss']:.3f}", sps=f"{rate:.0f}")
                if acc.is_main_process:
                    with log_path.open("a") as f:
                        f.write(json.dumps(rec) + "\n")
                    for k, v in rec.items():
                        if k != "step":
                            writer.add_scalar(k if "/" in k else f"train/{k}", v, self.step)
                window.clear()
                losses.clear()
                t_log, n_log = time.time(), 0
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                metrics = self.evaluate(cfg.eval_examples, writer)
            if cfg.save_every and self.step % cfg.save_every == 0:
                self.save()
        bar.close()
        in_sync = self.ranks_in_sync()
        if acc.is_main_process and acc.num_processes > 1:
            with log_path.open("a") as f:
                f.write(json.dumps({"step": self.step, "ranks_in_sync": in_sync}) + "\n")
        self.save()
        final = self.save_final()
        if self.evaluate_at_end:
            metrics = self.evaluate(cfg.eval_examples, writer)
        if writer is not None:
            writer.close()
        return {"step": self.step, "elapsed_s": self.elapsed, "final": str(final), "metrics": metrics}

    def val_examples(self) -> dict[str, list]:
        """The validation split, read once per run (periodic evaluations reuse it)."""
        if self._val is None:
            self._val = load_examples(self.cfg, self.cfg.data.val_split)
        return self._val

    def ranks_in_sync(self) -> bool:
        """True when every process holds bitwise-identical weights (compared through a checksum)."""
        if self.accelerator.num_processes == 1:
            return True
        with torch.no_grad():
            flat = torch.cat([p.detach().reshape(-1).double() for p in self.raw_model.parameters()])
            sums = torch.stack([flat.sum(), (flat * torch.arange(flat.numel(), dtype=torch.float64) % 7.0).sum()])
        gathered = self.accelerator.gather(sums.to(self.accelerator.device)[None]).cpu()
        return bool((gathered == gathered[0]).all())

    def evaluate(self, per_task: int, writer=None) -> dict[str, float]:
        """Constrained generation + each task's metric on the validation split (main process)."""
        from ..evaluation.diagnostics import slot_accuracy
        from ..evaluation.evaluate import evaluate_examples

        metrics: dict[str, float] = {}
        if per_task <= 0:  # evaluation switched off (eval_examples=0)
            return metrics
        if self.accelerator.is_main_process:
            val = self.val_examples()
            val = {s: exs[:per_task] for s, exs in val.items() if source_task(s) in self.tasks}
            metrics = evaluate_examples(self.eval_model(), self.processor, val, categories=self.settings["categories"])
            for source, row in slot_accuracy(self.eval_model(), self.processor, val, n=min(per_task, 64)).items():
                metrics.update({f"{source}/slot_{k}": v for k, v in row.items() if k != "n"})
            for k, v in metrics.items():
                if writer is not None and isinstance(v, (int, float)):
                    writer.add_scalar(f"val/{k}", v, self.step)
            with (self.out / "log.jsonl").open("a") as f:
                f.write(json.dumps({"step": self.step, "eval": metrics}) + "\n")
            key = self.cfg.best_metric
            if key and key in metrics and (self.best is None or metrics[key] > self.best):
                self.best = metrics[key]
                save_pretrained(self.eval_model(), self.tokenizer, self.out / "best", self.settings, self.image_tokenizer)
        self.accelerator.wait_for_everyone()
        return metrics


def init_from_checkpoint(cfg: TrainConfig) -> tuple[torch.nn.Module, VLTokenizer]:
    """The model and tokenizer of ``cfg.init_from`` (a fine-tune's start); ``cfg.model`` becomes the
    checkpoint's model config, since the weights fix the architecture."""
    from ..models.io import from_pretrained

    try:
        model, tok, _ = from_pretrained(cfg.init_from)
    except (FileNotFoundError, ValueError) as e:
        raise ValueError(f"config key 'init_from' = {cfg.init_from!r}: {e}") from None
    if cfg.model.num_image_tokens and tok.num_image_tokens != cfg.model.num_image_tokens:
        raise ValueError(f"init_from {cfg.init_from}: its tokenizer has {tok.num_image_tokens} image tokens, "
                         f"this run's image tokenizer needs {cfg.model.num_image_tokens}")
    cfg.model = model.config
    model.train()
    return model, tok


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _py_state(r: random.Random) -> list:
    s = r.getstate()
    return [s[0], list(s[1]), s[2]]


def _py_from(s: list) -> tuple:
    return (s[0], tuple(s[1]), s[2])


def train(cfg: TrainConfig, resume: bool = True) -> dict[str, Any]:
    """Train (resuming from ``cfg.out_dir`` when a checkpoint is there) and return a summary."""
    os.makedirs(cfg.out_dir, exist_ok=True)
    return Trainer(cfg, resume=resume).run()
