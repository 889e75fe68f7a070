"""The training loop: Accelerate, one loss over a task mixture, periodic evaluation, exact resume.

Every process draws the same global batch from the (seeded) task mixture and takes its own
slice, so a run on N processes sees exactly the examples of a 1-process run with the same global
batch; Accelerate's DDP averages the gradients. With ``group_pool`` each process sorts its own
share of a pool of batches (:mod:`vlseq.train.batching`): the same examples per pool as one
process, grouped into batches per process.

A :class:`Trainer` is made in two phases: :func:`~vlseq.train.setup.resolve_run` settles what the
run is (final config, data, tokenizers) without touching the caller's config, then the trainer
builds the model, optimisation and sampling from that.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from tqdm.auto import tqdm

from ..data.mixture import MixtureSampler
from ..data.readers.datasets import dataset_weights
from ..data.readers.validate import DataError, RecordGuard
from ..models.io import save_pretrained
from ..models.protocol import VLModel
from ..processing import Processor, image_cache_bytes
from ..tasks import get_task, task_of
from .balance import build_balancer
from .batching import GROUP_KEYS, Item, LengthGroupedPool
from .checkpoint import (
    check_resume,
    list_checkpoints,
    load_checkpoint,
    prune,
    py_state_from_json,
    py_state_to_json,
    save_checkpoint,
)
from .config import TrainConfig
from .data import load_examples
from .grad_mask import GradientMask
from .losses import LossWindow, StepLosses
from .optim import WarmupCosine, build_ema, build_optimizer, schedule_lr
from .setup import RunSetup, model_settings, open_accelerator, resolve_run, seed_run, start_model
from .setup import corpus as corpus  # re-exported: tools build tokenizer corpora with it from here

if TYPE_CHECKING:
    from .streaming import ShardBatches

#: Steps after which a time-budgeted run fits its cosine schedule to the budget, from the mean step
#: time so far. Late enough that the first steps' one-off costs (memory allocation, kernel selection,
#: a compile on the first call) weigh little in that mean; early enough that the schedule has hardly
#: decayed when its end moves.
CALIBRATION_STEPS = 20


class Trainer:
    """Holds everything of one run; :meth:`run` trains until ``max_steps`` or the time budget.

    ``cfg`` is not modified: :attr:`cfg` is the run's resolved copy (the model settings the
    tokenizers or ``init_from`` fixed filled in). ``resume``: continue from the last checkpoint in
    ``out_dir``, if any; its saved config must match this one (:func:`~vlseq.train.checkpoint.check_resume`)
    unless ``resume_anyway``.
    """

    def __init__(self, cfg: TrainConfig, resume: bool = True, evaluate_at_end: bool = True,
                 resume_anyway: bool = False) -> None:
        self.accelerator = open_accelerator(cfg)
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        seed_run(cfg.seed)
        setup = resolve_run(cfg, self.accelerator, self.out)
        self.train_data, self.tasks, self.stages = setup.train_data, list(setup.tasks), list(setup.stages)
        self.tokenizer, self.image_tokenizer = setup.tokenizer, setup.image_tokenizer
        self.evaluate_at_end = evaluate_at_end
        model = start_model(setup)
        self.cfg = self._final_config(setup, model)
        self.processor = self._build_processor()
        model = self._sync_batch_norm(model)
        self.settings = model_settings(self.cfg, self.tasks, self.train_data, self.image_tokenizer)
        optimizer = build_optimizer(model, self.cfg.lr, self.cfg.weight_decay)
        self.lr_schedule, self.scheduler = self._build_schedule(optimizer)
        self.ema = build_ema(model, self.cfg.ema_decay)
        self.stage = 0
        self.balancer = build_balancer(self.cfg.loss_balance)
        self.mixture = MixtureSampler(self.train_data, weights=self.stage_weights(), seed=self.cfg.seed)
        self.model, self.optimizer = self._prepare(model, optimizer)
        self.grad_mask = self._build_grad_mask(model)
        self._start_progress()
        self.pool = self._open_pool()
        if resume:
            self._resume(resume_anyway)
        self.stream = self._open_stream() if self.cfg.data.shards else None

    # ------------------------------------------------------------------ build

    @staticmethod
    def _final_config(setup: RunSetup, model: VLModel) -> TrainConfig:
        """The resolved config with the model's own: the same, except that a wrapped native model
        (Florence-2) records there the architecture it loaded, which checkpoints must save."""
        return dataclasses.replace(setup.cfg, model=model.config)

    def _build_processor(self) -> Processor:
        cfg, mc = self.cfg, self.cfg.model
        return Processor(self.tokenizer, mc.image_size, mc.num_bins, cfg.max_prompt_tokens, cfg.max_target_tokens,
                         image_tokenizer=self.image_tokenizer, object_order=cfg.object_order,
                         box_first=cfg.box_first, point_answers=cfg.point_answers,
                         point_evidence=cfg.point_evidence, colour_swap=cfg.colour_swap,
                         colour_swap_where=cfg.colour_swap_where,
                         cell_labels=getattr(mc, "cell_labels", False),
                         cell_words=getattr(mc, "cell_words", "label"),
                         cell_words_weight=getattr(mc, "cell_words_weight", 1.0),
                         referents=getattr(mc, "referent_loss", 0.0) > 0,
                         cache_bytes=image_cache_bytes(cfg.data.image_cache_mb))

    def _sync_batch_norm(self, model: VLModel) -> VLModel:
        if self.accelerator.num_processes > 1 and self.accelerator.device.type == "cuda":
            # One set of BatchNorm statistics over the global batch (torch's SyncBatchNorm is GPU-only;
            # on CPU each process normalises its own slice, as plain DDP training does).
            return cast(VLModel, torch.nn.SyncBatchNorm.convert_sync_batchnorm(cast(torch.nn.Module, model)))
        return model

    def _build_schedule(self, optimizer: torch.optim.Optimizer) -> tuple[WarmupCosine, torch.optim.lr_scheduler.LambdaLR]:
        """Warmup + cosine ending at ``max_steps``; the trainer keeps the schedule to move its end
        (:meth:`set_schedule_total`)."""
        lr_schedule = WarmupCosine(self.cfg.warmup_steps, self.cfg.max_steps, self.cfg.min_lr_ratio)
        return lr_schedule, schedule_lr(optimizer, lr_schedule)

    def _prepare(self, model: VLModel, optimizer: torch.optim.Optimizer) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
        model, optimizer = self.accelerator.prepare(model, optimizer)
        if self.cfg.compile != "no":
            # Compiled here, not through Accelerator(dynamo_backend=...): Accelerate keeps one shared state
            # per process, so a second Trainer in the same process would silently inherit the first's.
            model = torch.compile(model, backend=self.cfg.compile)
        return model, optimizer

    def _build_grad_mask(self, model: VLModel) -> GradientMask | None:
        if self.cfg.grad_mask is None:
            return None
        if self.accelerator.num_processes > 1:
            # its two autograd.grad passes bypass the hooks by which DDP all-reduces gradients
            raise ValueError("training config key 'grad_mask' runs in one process only; "
                             f"this run has {self.accelerator.num_processes}")
        return GradientMask(cast(torch.nn.Module, model).parameters(), self.cfg.grad_mask, self.cfg.seed)

    def _start_progress(self) -> None:
        """Step 0 of the run: counters, the schedule's end, the augmentation RNG, the bad-record rule."""
        self.step = 0
        self.elapsed = 0.0
        self.schedule_total = self.cfg.max_steps
        self.best: float | None = None
        self.rng = random.Random(self.cfg.seed + 1)
        # Decode-time failures (readers check headers only) go through the readers' strict/skip rule.
        self.skip_guard = RecordGuard("training images", skip_bad=self.cfg.data.skip_bad)
        self._val: dict[str, list] | None = None
        self._stream_resume: dict | None = None

    def _open_pool(self) -> LengthGroupedPool | None:
        """The length-grouped pool of micro-batches (``group_pool`` > 1, in-memory data only:
        a shard stream batches as it reads)."""
        k = self.cfg.group_pool
        if k <= 1 or self.cfg.data.shards:
            return None
        return LengthGroupedPool(k, lambda n: self.draw_encoded(n * self.cfg.batch_size), self._sampler_state, self.rng,
                                 GROUP_KEYS[self.cfg.group_by])

    def _open_stream(self) -> ShardBatches:
        """This process's micro-batches from the shards (at the resumed position, if any)."""
        from .streaming import ShardBatches

        cfg = self.cfg
        return ShardBatches(cfg.data.shards, self.tasks, self.stage_weights(), self.processor,
                            cfg.batch_size // self.accelerator.num_processes, cfg.seed,
                            cfg.data.loader_workers, cfg.data.shuffle_buffer, self._stream_resume)

    # ------------------------------------------------------------------ state

    @property
    def raw_model(self) -> VLModel:
        return cast(VLModel, self.accelerator.unwrap_model(self.model, keep_torch_compile=False))

    def _sampler_state(self) -> dict[str, Any]:
        """Where the in-memory examples come from next: the mixture's position and the augmentation RNG."""
        return {"mixture": self.mixture.state_dict(), "aug_rng": py_state_to_json(self.rng.getstate())}

    def _load_sampler_state(self, state: dict[str, Any]) -> None:
        self.mixture.load_state_dict(state["mixture"])
        self.rng.setstate(py_state_from_json(state["aug_rng"]))

    def _trainer_state(self) -> dict[str, Any]:
        return {"step": self.step, "elapsed": self.elapsed, "schedule_total": self.schedule_total, "stage": self.stage,
                **self._sampler_state(), "best": self.best,
                "pool": self.pool.state() if self.pool is not None else None,
                "balance": self.balancer.state_dict() if self.balancer is not None else None,
                "stream": self.stream.state(self.accelerator) if self.stream is not None else None}

    def _resume(self, anyway: bool = False) -> None:
        ckpts = list_checkpoints(self.out / "checkpoints")
        if not ckpts:
            return
        check_resume(ckpts[-1], self.cfg, anyway)  # before the weights: a changed model is named, not a shape
        state = load_checkpoint(ckpts[-1], self.raw_model, self.optimizer, self.scheduler, self.ema)
        self.step, self.elapsed, self.best = state["step"], state["elapsed"], state.get("best")
        self.set_schedule_total(state["schedule_total"])
        self.stage = int(state.get("stage", 0))
        if self.balancer is not None:
            self.balancer.load_state_dict(state.get("balance"))
        self.mixture.set_weights(self.stage_weights())  # the stage's weights, then its position
        self._load_sampler_state(state)
        self._stream_resume = state.get("stream")
        if self.pool is not None and (start := self.pool.resume(state.get("pool"))) is not None:
            # mid-pool: draw that pool again from where it started, then skip its used batches
            self._load_sampler_state(start)
        self.accelerator.print(f"resumed from {ckpts[-1]} at step {self.step}")

    def stage_weights(self) -> dict[str, float]:
        """Sampling weight of each source in the current stage: its task's, times its dataset entry's
        ``weight`` (a ``task@name`` source)."""
        stage = self.stages[self.stage]
        per_dataset = dataset_weights(self.cfg.data.datasets)
        t = self.cfg.task_temperature
        return {s: stage.weight(task_of(s), self.cfg.task_weights) * per_dataset.get(s.partition("@")[2], 1.0)
                * (len(self.train_data[s]) ** (1.0 / t) if t else 1.0) for s in self.train_data}

    def progress(self) -> float:
        """How far the run is, 0..1: the larger of the step and the time fractions."""
        return max(self.step / max(1, self.cfg.max_steps), self.elapsed / self.cfg.time_budget_s)

    def advance_stage(self) -> bool:
        """Move to the next stage(s) whose predecessors have ended; True when the stage changed."""
        changed = False
        while self.stage < len(self.stages) - 1 and self.stages[self.stage].done(self.step, self.progress()):
            self.stage += 1
            changed = True
        if changed:
            self.mixture.set_weights(self.stage_weights())
            if self.pool is not None:
                self.pool.clear()  # its batches were drawn with the old stage's weights
        return changed

    def set_schedule_total(self, total: int) -> None:
        """End the cosine schedule at step ``total`` (saved with checkpoints as ``schedule_total``)."""
        self.schedule_total = total
        self.lr_schedule.set_total(total)

    def fit_schedule_to_budget(self, budget_s: float) -> None:
        """End the schedule where the time budget should run out at the mean step time of the first
        :data:`CALIBRATION_STEPS` steps (never after ``max_steps``, never inside the warmup)."""
        est = int(budget_s / (self.elapsed / CALIBRATION_STEPS))
        self.set_schedule_total(min(self.cfg.max_steps, max(est, self.cfg.warmup_steps + 1)))

    def save(self) -> None:
        self.accelerator.wait_for_everyone()
        state = self._trainer_state()  # on every rank: the stream position is gathered
        if self.accelerator.is_main_process:
            path = self.out / "checkpoints" / f"step_{self.step:07d}"
            save_checkpoint(path, self.raw_model, self.tokenizer, self.settings, self.optimizer, self.scheduler, self.ema,
                            state, self.image_tokenizer)
            prune(self.out / "checkpoints", self.cfg.keep_last)
        self.accelerator.wait_for_everyone()

    def eval_model(self) -> VLModel:
        return cast(VLModel, self.ema.module) if self.ema is not None else self.raw_model

    def save_final(self) -> Path:
        path = self.out / "final"
        if self.accelerator.is_main_process:
            save_pretrained(self.eval_model(), self.tokenizer, path, self.settings, self.image_tokenizer)
        self.accelerator.wait_for_everyone()
        return path

    # ------------------------------------------------------------------ steps

    def _micro_batch(self, n_global: int) -> tuple[dict[str, torch.Tensor], list[str]]:
        """This rank's next micro-batch of a global batch of ``n_global``: from the length-grouped
        pool, or drawn and encoded now.

        From shards, each rank instead takes its own next micro-batch from its part of the stream.
        """
        if self.stream is not None:
            batch, sources = self.stream.next()
            return {k: v.to(self.accelerator.device) for k, v in batch.items()}, sources
        items = self.pool.next() if self.pool is not None else self.draw_encoded(n_global)
        if not items:
            raise DataError(self.cfg.data.synth or "data", None, "bad_image",
                            f"every example of a {n_global}-example batch failed to decode")
        batch = self.processor.collate([enc for enc, _ in items])
        return {k: v.to(self.accelerator.device) for k, v in batch.items()}, [task for _, task in items]

    def draw_encoded(self, n_global: int) -> list[Item]:
        """Draw ``n_global`` examples (identical on every rank) and encode this rank's share, each
        with its task."""
        drawn = self.mixture.take(n_global)
        rank, world = self.accelerator.process_index, self.accelerator.num_processes
        items: list[Item] = []
        for i, (source, ex) in enumerate(drawn):
            # Augmentation choices are drawn for every example on every rank, keeping ranks in step.
            seed = self.rng.getrandbits(32)
            if i % world != rank:
                continue
            try:
                items.append((self.processor.encode(get_task(task_of(source)), ex, random.Random(seed)), task_of(source)))
            except DataError as e:  # an image that fails only at pixel decode time (truncated, ...)
                self.skip_guard.handle(e)  # strict: raise; skip_bad: log, count, and leave it out
        return items

    def train_step(self) -> StepLosses:
        """One optimiser step over ``grad_accum`` micro-batches; the losses are left on the device."""
        cfg, acc = self.cfg, self.accelerator
        self.model.train()
        # Accelerate keeps the accumulation count in state shared by every Accelerator of the process
        # (a later Trainer's, or ACCELERATE_GRADIENT_ACCUMULATION_STEPS, would replace it): this run's
        # config sets it for each of its steps.
        acc.gradient_accumulation_steps = cfg.grad_accum
        losses = StepLosses()
        for _ in range(cfg.grad_accum):
            batch, sources = self._micro_batch(cfg.batch_size)
            tasks = [task_of(s) for s in sources]
            if self.balancer is not None:  # the trainer knows the tasks; the model sees sample weights
                batch["sample_weight"] = batch["sample_weight"] * self.balancer.factors(tasks).to(batch["sample_weight"].device)
            masked = False
            if self.grad_mask is not None:  # and the model sees which samples are image outputs
                group = [get_task(t).output == "image" for t in tasks]
                masked = any(group) and not all(group)
                if masked:
                    batch["loss_group"] = torch.tensor(group, device=batch["labels"].device)
            # Gradients are all-reduced only in the step's last micro-batch (DDP's no_sync before it);
            # backward() divides the loss by grad_accum, so the step's gradient is the micro-batches' mean.
            with acc.accumulate(self.model):
                with acc.autocast():
                    out = self.model(**batch)
                self._backward(out, masked)
            losses.micro.append(out["loss"].detach() / cfg.grad_accum)
            if self.balancer is not None:
                self.balancer.update(tasks, out["sample_loss"])
            losses.samples.append((sources, out["sample_loss"].detach()))
            if "cell_loss" in out:  # logged as loss/cell, beside the tasks' losses
                losses.samples.append((["cell"], out["cell_loss"].detach().reshape(1)))
            if "cell_stem_loss" in out:  # logged as loss/cell_stem
                losses.samples.append((["cell_stem"], out["cell_stem_loss"].detach().reshape(1)))
            if "referent_loss" in out:  # logged as loss/referent
                losses.samples.append((["referent"], out["referent_loss"].detach().reshape(1)))
        if cfg.clip_grad:
            acc.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.update_parameters(self.raw_model)
        self.step += 1
        return losses

    def _backward(self, out: dict[str, torch.Tensor], masked: bool) -> None:
        """``acc.backward(loss)``, or gradient masking's two passes on a micro-batch of both kinds.

        The masked passes are scaled as ``acc.backward`` scales the loss: by ``1 / grad_accum``, and
        under fp16 by the loss scaler, whose scale the optimiser's step divides out again.
        """
        acc = self.accelerator
        if not masked:
            acc.backward(out["loss"])
            return
        loss, share = out["loss"], out["loss_group_share"]
        if acc.scaler is not None:
            loss, share = acc.scaler.scale(loss), acc.scaler.scale(share)
        cast(GradientMask, self.grad_mask).backward(loss, share, 1 / self.cfg.grad_accum)

    def _log(self, record: dict[str, Any]) -> None:
        """Append one line to ``log.jsonl`` (main process only)."""
        if self.accelerator.is_main_process:
            with (self.out / "log.jsonl").open("a") as f:
                f.write(json.dumps(record) + "\n")

    def _open_writer(self) -> Any:
        """The TensorBoard writer of the main process (None elsewhere), after the run's banner."""
        cfg, acc = self.cfg, self.accelerator
        if not acc.is_main_process:
            return None
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(self.out / "tb"))
        acc.print(f"vlseq train: {cfg.name}, {self.raw_model.num_parameters() / 1e6:.2f}M parameters, tasks {', '.join(self.tasks)}; "
                  f"global batch {cfg.batch_size} x accum {cfg.grad_accum} = {cfg.batch_size * cfg.grad_accum} "
                  f"over {acc.num_processes} process(es) ({cfg.batch_size // acc.num_processes} per process)")
        return writer

    def run(self) -> dict[str, Any]:
        cfg, acc = self.cfg, self.accelerator
        writer = self._open_writer()
        budget_s = cfg.time_budget_s
        # With a time budget the bar counts seconds of it (a step count would show the unreachable max_steps).
        timed = budget_s < math.inf
        bar = tqdm(total=round(budget_s) if timed else cfg.max_steps, initial=round(self.elapsed) if timed else self.step,
                   unit="s" if timed else "step", disable=not acc.is_main_process, dynamic_ncols=True, desc="train",
                   bar_format="{l_bar}{bar}| {n:.0f}/{total_fmt} s [{elapsed}<{remaining}{postfix}]" if timed else None)
        window = LossWindow()
        t_log, n_log = time.time(), 0
        metrics: dict[str, Any] = {}
        while self.step < cfg.max_steps and self.elapsed < budget_s:
            t0 = time.time()
            window.add(self.train_step())
            dt = time.time() - t0
            self.elapsed += dt
            if self.advance_stage():
                acc.print(f"step {self.step}: schedule stage {self.stage + 1}/{len(self.stages)}")
                self._log({"step": self.step, "stage": self.stage})
            if self.step == CALIBRATION_STEPS and timed and self.schedule_total == cfg.max_steps:
                self.fit_schedule_to_budget(budget_s)
            n_log += cfg.batch_size * cfg.grad_accum
            bar.update(min(dt, max(0.0, bar.total - bar.n)) if timed else 1)
            if self.step % cfg.log_every == 0 or self.step == cfg.max_steps:
                rate = n_log / max(time.time() - t_log, 1e-9)
                loss, per_task = window.means()  # the only wait for the device's losses
                rec = {"step": self.step, "loss": loss, "lr": self.scheduler.get_last_lr()[0],
                       "samples_per_s": rate, "elapsed_s": self.elapsed, **{f"loss/{k}": v for k, v in per_task.items()}}
                bar.set_postfix(step=self.step, loss=f"{rec['loss']:.3f}", sps=f"{rate:.0f}")
                self._log(rec)
                if writer is not None:
                    for k, v in rec.items():
                        if k != "step":
                            writer.add_scalar(k if "/" in k else f"train/{k}", v, self.step)
                window.clear()
                t_log, n_log = time.time(), 0
            if cfg.eval_every and self.step % cfg.eval_every == 0:
                try:
                    metrics = self.evaluate(cfg.eval_examples, writer)
                except Exception as e:
                    # A measurement that fails must not take the run's steps with it: save them, so the
                    # same command resumes here once the cause is fixed.
                    self.save()
                    raise RuntimeError(f"the evaluation at step {self.step} failed: {e}. The run is saved in "
                                       f"{self.out / 'checkpoints'}; the same command resumes from it") from e
            if cfg.save_every and self.step % cfg.save_every == 0:
                self.save()
        bar.close()
        in_sync = self.ranks_in_sync()
        if acc.num_processes > 1:
            self._log({"step": self.step, "ranks_in_sync": in_sync})
        self.save()
        final = self.save_final()
        if self.evaluate_at_end:
            metrics = self.evaluate(cfg.eval_examples, writer, baselines=True)
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

    def evaluate(self, per_task: int, writer: Any = None, baselines: bool = False) -> dict[str, float]:
        """Constrained generation + each task's metric on the validation split (main process)."""
        from ..evaluation.diagnostics import slot_accuracy
        from ..evaluation.evaluate import evaluate_examples

        metrics: dict[str, float] = {}
        if per_task <= 0:  # evaluation switched off (eval_examples=0)
            return metrics
        if self.accelerator.is_main_process:
            val = self.val_examples()
            val = {s: exs[:per_task] for s, exs in val.items() if task_of(s) in self.tasks}
            # baselines (constant over a run, priors from the training data) only where asked: the end of a run
            metrics = evaluate_examples(self.eval_model(), self.processor, val, categories=self.settings["categories"],
                                        baselines=baselines, baseline_examples=self.train_data)
            for source, row in slot_accuracy(self.eval_model(), self.processor, val, n=min(per_task, 64)).items():
                metrics.update({f"{source}/slot_{k}": v for k, v in row.items() if k != "n"})
            for k, v in metrics.items():
                if writer is not None and isinstance(v, (int, float)):
                    writer.add_scalar(f"val/{k}", v, self.step)
            self._log({"step": self.step, "eval": metrics})
            key = self.cfg.best_metric
            if key and key in metrics and (self.best is None or metrics[key] > self.best):
                self.best = metrics[key]
                save_pretrained(self.eval_model(), self.tokenizer, self.out / "best", self.settings, self.image_tokenizer)
        self.accelerator.wait_for_everyone()
        return metrics


def train(cfg: TrainConfig, resume: bool = True, resume_anyway: bool = False) -> dict[str, Any]:
    """Train (resuming from ``cfg.out_dir`` when a checkpoint is there, with the config it was saved
    with unless ``resume_anyway``) and return a summary."""
    os.makedirs(cfg.out_dir, exist_ok=True)
    return Trainer(cfg, resume=resume, resume_anyway=resume_anyway).run()
