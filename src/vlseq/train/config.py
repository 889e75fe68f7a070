"""Training configuration: a preset JSON file (``vlseq/configs/NAME.json``) plus ``key=value`` overrides.

A config file may name the one it builds on, ``"extends": "tiny"`` (a preset, or a JSON file
relative to its own folder), and state only what differs: :func:`read_config` merges the chain,
:func:`load_config` applies the overrides. :func:`resume_changes` names what a resume would change
(docs/configs.md).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..data.augment import check_swap_where
from ..data.readers.datasets import check_entries, resolve_paths
from ..models.config import RENAMED_KEYS, ModelConfig, check_bool_fields, rename_section, renamed_key
from ..tasks.detection import DEFAULT_OBJECT_ORDER, OBJECT_ORDERS
from .balance import LOSS_BALANCE_RULES

#: What a length-grouped pool may be sorted by (``train.batching.GROUP_KEYS`` has one key function each).
GROUP_BY = ("length", "images")

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"

#: training config keys renamed in 0.2 (old -> new), read for one release with a warning; the
#: model's own are :data:`vlseq.models.config.RENAMED_KEYS`
TRAIN_RENAMED_KEYS: dict[str, str] = {"group_by_length": "group_pool", "schedule": "stages", "label_last": "box_first"}
ALL_RENAMED_KEYS: dict[str, str] = {**RENAMED_KEYS, **TRAIN_RENAMED_KEYS}

CORE_TASKS = ("caption", "vqa", "classify", "refexp", "ground", "grounded_caption", "detect", "localize", "region_caption")
#: Tasks beyond boxes and text: polygons, keypoints, and images as VQ codes (these need ``image_tokenizer``).
EXTRA_TASKS = ("segment", "instance_segment", "keypoints", "generate_image", "edit_image")
#: Long text, image sequences, closed choices with rationales and dialog rounds. A run with them needs
#: room: ``model.max_images >= 5`` and ``model.max_positions`` for 5 images plus the prompt (stories),
#: ``max_prompt_tokens`` ~144 (multiple choice with rationales), ``max_target_tokens`` ~130 (paragraphs).
TEXT_FAMILY_TASKS = ("paragraph", "story", "multiple_choice", "dialog")


@dataclass
class DataConfig:
    """Where examples come from.

    ``synth``: a synthetic-world directory (made by ``vlseq synth``; generated on first use when
    ``synth_generate`` is set; null: none). ``datasets``: your data, alone or mixed with the world;
    each entry a split-directory layout ``{"path": DIR, "tasks": [...] or null, "weight": w}``,
    and/or its files named per split as downloaded (``{"name": N, "train": {"instances": FILE,
    "image_root": DIR}, "val": {...}}``; see :mod:`vlseq.data.readers.datasets`). Relative paths
    of a config file's entries are under the file's folder.
    """

    synth: str | None = "data/synth"
    synth_generate: dict[str, Any] = field(default_factory=lambda: {"train": 20000, "val": 500, "test": 500, "size": 64, "seed": 0})
    train_split: str = "train"
    val_split: str = "val"
    datasets: list[dict[str, Any]] = field(default_factory=list)
    #: WebDataset shard directories (``vlseq shard``), streamed instead of loaded into memory
    shards: list[str] = field(default_factory=list)
    loader_workers: int = 2
    shuffle_buffer: int = 2000
    skip_bad: bool = False
    #: memory of the Processor's cache of decoded, resized images, in MiB, per process and loader
    #: worker (0: off); bounded in bytes because one image count fits no image size
    image_cache_mb: float = 2048


@dataclass
class TrainConfig:
    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    tasks: list[str] = field(default_factory=lambda: list(CORE_TASKS))
    #: sampling weight per task (missing = 1); the mixture samples tasks, then examples
    task_weights: dict[str, float] = field(default_factory=dict)
    #: temperature sampling: each task's weight is also multiplied by its training set's size to the
    #: power ``1 / task_temperature`` (1: in proportion to size; large: the weights alone, as null)
    task_temperature: float | None = None
    #: per-task loss weights during training: ``none``, or ``inverse_loss`` (each task's samples
    #: weighted by 1 / its moving-average loss, uncertainty weighting's fixed point; see
    #: :mod:`vlseq.train.balance`)
    loss_balance: str = "none"
    #: gradient masking between image-output samples (generate_image, edit_image) and the rest:
    #: the share in (0, 1) of each shared parameter's elements that the rest's gradient updates;
    #: the image outputs' gradient updates the others (:mod:`vlseq.train.grad_mask`). null: off.
    grad_mask: float | None = None
    #: training stages, in order; each ``{"until_frac": f}`` (of the run: the larger of steps/max_steps
    #: and time/time_budget_min) or ``{"until_step": n}`` (the last stage may omit both), with
    #: optional ``"tasks"`` (sampled in this stage; default all) and ``"task_weights"`` (override
    #: the top-level weights). Empty: one stage with ``task_weights``. See :class:`Stage`.
    stages: list[dict[str, Any]] = field(default_factory=list)
    #: order of object lists in training targets: ``position`` (top to bottom, left to right: the
    #: order evaluation writes), ``class`` (by the prompt's category list, then position) or
    #: ``random`` (Pix2Seq: a new order each time). Random order made
    #: the first label of a list the marginal over the image's objects, nearly the same for every
    #: image, and greedy decoding then listed one class again and again (BENCHMARKS.md)
    object_order: str = DEFAULT_OBJECT_ORDER
    #: write each detection object box first, ``<obj> box LABEL </obj>`` (Pix2Seq's order), so its
    #: label is read where the model has just pointed; false: ``<obj> LABEL box </obj>``
    box_first: bool = False
    #: write a VQA answer about one object after that object's box, ``<obj> box answer </obj>``
    #: (questions about no single object stay plain text), so the model says which object before
    #: what it is; evaluation reads the answer's words (``Processor(point_answers=True)``)
    point_answers: bool = False
    #: with ``point_answers``, also write a count or yes/no answer after the boxes (and labels) of
    #: the objects it rests on, where its annotation carries them, ``<obj> box label </obj> ... 2``:
    #: the model finds what it counts or compares before it answers (``Processor(point_evidence=True)``)
    point_evidence: bool = False
    #: the probability of swapping the RGB channels of a training example whose prompt and target
    #: name no colour (``Processor(colour_swap=...)``, :mod:`vlseq.data.augment`): shows each shape
    #: in colours the world never draws it in, so shape is read from the outline, not the colour
    colour_swap: float = 0.0
    #: which of those examples the swap may touch: ``uncoloured`` (every one that names no colour) or
    #: ``located`` (only those whose target places something; counts and yes/no answers keep the
    #: world's colours)
    colour_swap_where: str = "uncoloured"
    #: start from this vlseq checkpoint's weights and tokenizer (a fine-tune; not a resume: the
    #: optimiser, schedule and step start afresh)
    init_from: str | None = None
    tokenizer: str | None = None  # a local tokenizer dir; None = train one on the training corpus
    tokenizer_vocab: int = 2000
    #: a trained image tokenizer directory (``vlseq train-image-tokenizer --out DIR``); needed by
    #: generate_image / edit_image: its codes are the ``<img_k>`` tokens and it is saved with the checkpoint
    image_tokenizer: str | None = None
    #: when ``image_tokenizer`` names a directory that holds none yet: train one there first, on
    #: the synthetic world's renders, with these ``vlseq train-image-tokenizer`` settings (for
    #: example ``{"minutes": 7, "size": 64, "downsample": 8, "codebook": 512}``); null: never (a
    #: missing directory is an error naming the key)
    image_tokenizer_train: dict[str, Any] | None = None
    batch_size: int = 64  # global batch per optimiser step (split across processes)
    grad_accum: int = 1
    #: the pool size of grouped batching: draw this many batches at once, sort them by ``group_by``
    #: and cut them into batches of like lengths, handed out in random order (0 or 1: off; each
    #: batch drawn as it comes). A mixed batch is mostly padding; grouping by length made a
    #: ``tiny`` step 1.75x faster, but such a batch holds few tasks and the nine-task run scored lower
    #: at equal minutes; grouping by image count alone (``group_by=images``, the ``tiny`` default)
    #: keeps the tasks mixed and still saves the classify pairs' image padding (see BENCHMARKS.md).
    #: In-memory data only: shards stream batch by batch
    group_pool: int = 0
    #: what the pool of ``group_pool`` is sorted by: ``length`` (images, then target and prompt length
    #: in buckets) or ``images`` (the image count alone: the mixture of tasks in a batch stands)
    group_by: str = "length"
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    max_steps: int = 10000
    time_budget_min: float | None = None  # stop (and evaluate) when this wall time is spent
    min_lr_ratio: float = 0.05
    clip_grad: float = 1.0
    ema_decay: float = 0.0  # 0 = off; UniTAB uses 0.9998
    mixed_precision: str = "no"  # "bf16"/"fp16" on GPUs; not on CPUs (bf16 matmul measured ~300x slower than fp32)
    #: torch.compile backend for the training model ("no", "inductor", ...). Off by default: on this
    #: CPU inductor compiled the tiny model in ~100 s for no step speed-up (bench/bench_gpu.py --compile
    #: measures it on a GPU).
    compile: str = "no"
    threads: int | None = None
    seed: int = 0
    max_prompt_tokens: int = 64
    max_target_tokens: int = 128
    log_every: int = 20
    eval_every: int = 0  # steps; 0 = only at the end
    eval_examples: int = 100  # per task, for periodic evaluation
    save_every: int = 500
    keep_last: int = 2
    best_metric: str | None = None  # e.g. "refexp/acc@0.5"
    out_dir: str = "runs/custom"

    def __post_init__(self) -> None:
        # Checked here, before any data is written or read: a typo fails at once, naming the key.
        check_bool_fields(self, "")
        check_bool_fields(self.data, "data.")
        if self.object_order not in OBJECT_ORDERS:
            raise ValueError(f"training config key 'object_order' must be one of {', '.join(OBJECT_ORDERS)}, "
                             f"got {self.object_order!r}")
        if self.group_by not in GROUP_BY:
            raise ValueError(f"training config key 'group_by' must be one of {', '.join(GROUP_BY)}, got {self.group_by!r}")
        if self.group_pool < 0:
            raise ValueError(f"training config key 'group_pool' must be >= 0 (0 or 1: off), got {self.group_pool}")
        if self.loss_balance not in LOSS_BALANCE_RULES:
            raise ValueError(f"training config key 'loss_balance' must be one of {', '.join(LOSS_BALANCE_RULES)}, "
                             f"got {self.loss_balance!r}")
        if not 0.0 <= self.colour_swap <= 1.0:
            raise ValueError(f"training config key 'colour_swap' must be a probability in [0, 1], got {self.colour_swap}")
        check_swap_where(self.colour_swap_where, "training config key 'colour_swap_where'")
        if self.grad_mask is not None and not 0.0 < self.grad_mask < 1.0:
            raise ValueError(f"training config key 'grad_mask' must be in (0, 1) or null, got {self.grad_mask}")
        if self.task_temperature is not None and not self.task_temperature > 0:
            raise ValueError(f"training config key 'task_temperature' must be > 0 or null, got {self.task_temperature}")
        if self.task_temperature is not None and self.data.shards:
            raise ValueError("training config key 'task_temperature' weighs tasks by their training set's size, "
                             "which streamed shards (data.shards) do not give: set task_weights instead")
        parse_stages(self.stages, self.tasks)  # the run re-parses against the tasks its data provides
        check_entries(self.data.datasets, "data.datasets")

    @property
    def time_budget_s(self) -> float:
        """The wall-time budget in seconds: ``math.inf`` when there is none (``time_budget_min`` unset or 0)."""
        return self.time_budget_min * 60 if self.time_budget_min else math.inf

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        d = rename_section(d, "", ALL_RENAMED_KEYS)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            hint = f" ({', '.join(FILE_KEYS)}: read from config files by load_config)" if set(unknown) & set(FILE_KEYS) else ""
            raise ValueError(f"unknown training config keys: {unknown}{hint}")
        model = ModelConfig.from_dict(d.pop("model", {}))
        data_d = d.pop("data", {})
        dknown = {f.name for f in dataclasses.fields(DataConfig)}
        if set(data_d) - dknown:
            raise ValueError(f"unknown data config keys: {sorted(set(data_d) - dknown)}")
        return cls(model=model, data=DataConfig(**data_d), **d)


@dataclass(frozen=True)
class Stage:
    """One stage of a training schedule: which tasks are sampled, how often, and until when."""

    until_frac: float | None = None
    until_step: int | None = None
    tasks: tuple[str, ...] | None = None
    task_weights: tuple[tuple[str, float], ...] = ()

    def weight(self, task: str, base: dict[str, float]) -> float:
        """Sampling weight of ``task`` in this stage (0 when the stage leaves it out)."""
        if self.tasks is not None and task not in self.tasks:
            return 0.0
        return dict(self.task_weights).get(task, base.get(task, 1.0))

    def done(self, step: int, progress: float) -> bool:
        """Has this stage ended at ``step`` / run ``progress`` (0..1)?"""
        if self.until_step is not None:
            return step >= self.until_step
        return self.until_frac is not None and progress >= self.until_frac


def parse_stages(items: Sequence[dict[str, Any]], tasks: Sequence[str]) -> list[Stage]:
    """Check and convert the ``stages`` config key; errors name the stage and the key."""
    stages: list[Stage] = []
    for i, item in enumerate(items):
        where = f"stages[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: expected an object, got {item!r}")
        unknown = set(item) - {"until_frac", "until_step", "tasks", "task_weights"}
        if unknown:
            raise ValueError(f"{where}: unknown keys {sorted(unknown)} (until_frac, until_step, tasks, task_weights)")
        if "until_frac" in item and "until_step" in item:
            raise ValueError(f"{where}: give until_frac or until_step, not both")
        frac, step = item.get("until_frac"), item.get("until_step")
        if frac is not None and not (isinstance(frac, (int, float)) and 0 < frac <= 1):
            raise ValueError(f"{where}: until_frac must be in (0, 1], got {frac!r}")
        if step is not None and not (isinstance(step, int) and step > 0):
            raise ValueError(f"{where}: until_step must be a positive integer, got {step!r}")
        if frac is None and step is None and i != len(items) - 1:
            raise ValueError(f"{where}: only the last stage may run to the end (give until_frac or until_step)")
        st_tasks = item.get("tasks")
        weights = item.get("task_weights", {}) or {}
        named = list(st_tasks or []) + list(weights)
        bad = [t for t in named if t not in tasks]
        if bad:
            raise ValueError(f"{where}: tasks {bad} are not among the run's tasks {list(tasks)}")
        if any(not isinstance(w, (int, float)) or w < 0 for w in weights.values()):
            raise ValueError(f"{where}: task_weights must be numbers >= 0, got {weights}")
        stage = Stage(frac, step, tuple(st_tasks) if st_tasks is not None else None,
                      tuple(sorted((k, float(v)) for k, v in weights.items())))
        if not any(stage.weight(t, {}) > 0 for t in tasks):
            raise ValueError(f"{where}: samples no task (every weight is 0)")
        stages.append(stage)
    return stages or [Stage()]


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def apply_override(d: dict[str, Any], item: str) -> None:
    """Apply one ``dotted.key=value`` override (value parsed as JSON when it parses, else a string)."""
    if "=" not in item:
        raise ValueError(f"override {item!r} is not key=value")
    key, value = item.split("=", 1)
    key = renamed_key(key, ALL_RENAMED_KEYS)
    node = d
    parts = key.split(".")
    for p in parts[:-1]:
        if not isinstance(node.get(p), dict):
            raise ValueError(f"override {item!r}: {p!r} is not a section")
        node = node[p]
    if parts[-1] not in node:
        raise ValueError(f"override {item!r}: unknown key {key!r}")
    node[parts[-1]] = _parse_value(value)


def preset_names() -> list[str]:
    """The presets ``--config`` may name. ``_*.json`` files are shared blocks that presets extend."""
    return sorted(p.stem for p in PRESET_DIR.glob("*.json") if not p.stem.startswith("_"))


#: keys of a config file that are about the file, not the run: read by :func:`read_config`, never
#: passed to :class:`TrainConfig` (so never saved with a checkpoint)
FILE_KEYS = ("extends", "comment")


def _config_path(name: str, extending: Path | None = None) -> Path:
    """The file a ``--config`` value or an ``extends`` names: a preset name (no suffix), else a
    JSON file; an ``extends`` path is relative to the folder of the file that names it."""
    path = Path(name)
    if not path.suffix:
        path = PRESET_DIR / f"{name}.json"
        if not path.exists():
            raise ValueError(f"unknown preset {name!r}; presets: {', '.join(preset_names())}")
    elif extending is not None and not path.is_absolute():
        path = (extending.parent / path).resolve()  # no "a/../b" in the datasets a checkpoint records
    return path


def _label(path: Path) -> str:
    """How an ``extends`` chain names a file: a preset by its name, any other file by its path."""
    return path.stem if path.resolve().parent == PRESET_DIR else str(path)


def _current_names(d: dict[str, Any], section: str = "") -> dict[str, Any]:
    """``d`` with the renamed keys of every nested section brought up to date (each with its
    warning). Done per file, before merging: a base's old name and the extending file's new name
    of one key then merge as one key instead of being refused as both names at once."""
    out = rename_section(d, section, ALL_RENAMED_KEYS)
    for key, value in out.items():
        if isinstance(value, dict):
            out[key] = _current_names(value, f"{section}.{key}" if section else key)
    return out


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: nested objects merge key by key; any other value (a list, a
    number, null) replaces the base's whole. Neither argument is changed."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merge(out[key], value) if both else value
    return out


def read_config(path: Path, chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The config file at ``path`` as one dict: the chain of files it ``extends`` merged under it
    (:func:`merge`), its own ``comment`` and ``extends`` dropped. ``chain``: the files that led
    here, to name a cycle."""
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(d, dict):
        raise ValueError(f"{path}: a config file holds one JSON object, got {type(d).__name__}")
    d = _current_names(d)
    comment = d.pop("comment", None)
    if comment is not None and not (isinstance(comment, str) or
                                    (isinstance(comment, list) and all(isinstance(c, str) for c in comment))):
        raise ValueError(f"{path}: 'comment' must be a string or a list of strings, got {comment!r:.80}")
    base = d.pop("extends", None)
    if path.resolve().parent != PRESET_DIR and isinstance(d.get("data"), dict):
        # A config file's datasets sit beside it: their relative paths are under its folder, wherever
        # the command runs (paths given as overrides stay relative to the working directory). Done per
        # file of a chain, so each entry is read from the folder of the file that names it.
        entries = d["data"].get("datasets")
        if isinstance(entries, list):
            d["data"]["datasets"] = [resolve_paths(e, path.absolute().parent) if isinstance(e, dict) else e
                                     for e in entries]
    if base is None:
        return d
    if not isinstance(base, str) or not base:
        raise ValueError(f"{path}: 'extends' must name a preset or a JSON file, got {base!r}")
    try:
        base_path = _config_path(base, path)
    except ValueError as e:
        raise ValueError(f"{path}: 'extends': {e}") from None
    chain = (*chain, path)
    if base_path.resolve() in {p.resolve() for p in chain}:
        names = " -> ".join(_label(p) for p in (*chain, base_path))
        raise ValueError(f"{path}: 'extends' makes a cycle: {names}")
    if not base_path.is_file():
        raise ValueError(f"{path}: 'extends': config file {base_path} does not exist")
    return merge(read_config(base_path, chain), d)


def load_config(preset_or_file: str, overrides: Sequence[str] = ()) -> TrainConfig:
    """A preset name (``debug``, ``tiny``, ...) or a JSON file path, resolved through its
    ``extends`` chain (:func:`read_config`), then ``key=value`` overrides."""
    d = read_config(_config_path(preset_or_file))
    full = TrainConfig.from_dict(d).to_dict()  # fill defaults so overrides can name any key
    for item in overrides:
        apply_override(full, item)
    return TrainConfig.from_dict(full)


#: settings a resumed run may change without :func:`resume_changes` naming them (dotted paths):
#: where the run is kept (a moved or copied run directory), how long it goes on (a resume usually
#: extends or ends a run; the cosine schedule keeps the end saved with the checkpoint), how it is
#: watched and saved, and how fast this machine runs it. None of them changes what a step learns.
RESUME_FREE_KEYS = frozenset({
    "out_dir", "max_steps", "time_budget_min",
    "log_every", "eval_every", "eval_examples", "save_every", "keep_last",
    "threads", "data.loader_workers", "data.image_cache_mb",
})


def _flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"dotted.key": value}`` of every leaf of nested dicts (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, value in d.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


def resume_changes(saved: Mapping[str, Any], config: TrainConfig,
                   ignore: frozenset[str] = RESUME_FREE_KEYS) -> list[str]:
    """``"dotted.key: old -> new"`` for each setting of ``config`` that differs from ``saved`` (a
    checkpoint's ``train_config``), leaving out ``ignore``. ``saved`` is read as this version reads
    a config file first (renamed keys, defaults of keys added since), so an older checkpoint is
    compared setting by setting, not by spelling."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # an old checkpoint's old key names
        try:
            old = TrainConfig.from_dict(copy.deepcopy(dict(saved))).to_dict()
        except (TypeError, ValueError):  # keys this version does not know: named as changes
            old = merge(TrainConfig().to_dict(), _current_names(copy.deepcopy(dict(saved))))
    # through JSON, as the checkpoint was written: tuples are lists there
    new = json.loads(json.dumps(config.to_dict()))
    old = json.loads(json.dumps(old))
    flat_old, flat_new = _flat(old), _flat(new)
    missing = object()
    out = []
    for key in sorted(set(flat_old) | set(flat_new)):
        if key in ignore:
            continue
        a, b = flat_old.get(key, missing), flat_new.get(key, missing)
        if a != b:
            show = [json.dumps(v) if v is not missing else "(absent)" for v in (a, b)]
            out.append(f"{key}: {show[0]} -> {show[1]}")
    return out
