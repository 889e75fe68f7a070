"""Training configuration: a preset JSON file (``vlseq/configs/NAME.json``) plus ``key=value`` overrides."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from ..models.config import ModelConfig

PRESET_DIR = Path(__file__).resolve().parent.parent / "configs"

ALL_TASKS = ("caption", "vqa", "classify", "refexp", "ground", "grounded_caption", "detect", "localize", "region_caption")
#: Tasks beyond boxes and text: polygons, keypoints, and images as VQ codes (these need ``image_tokenizer``).
EXTRA_TASKS = ("segment", "instance_segment", "keypoints", "generate_image", "edit_image")


@dataclass
class DataConfig:
    """Where examples come from.

    ``synth``: a synthetic-world directory (made by ``vlseq synth``; generated on first use when
    ``synth_generate`` is set). ``datasets``: extra split directories in the readers' formats,
    each ``{"path": DIR, "tasks": [...] or null, "weight": w}``, alone or mixed with the world.
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


@dataclass
class TrainConfig:
    name: str = "custom"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    tasks: list[str] = field(default_factory=lambda: list(ALL_TASKS))
    #: sampling weight per task (missing = 1); the mixture samples tasks, then examples
    task_weights: dict[str, float] = field(default_factory=dict)
    tokenizer: str | None = None  # a local tokenizer dir; None = train one on the training corpus
    tokenizer_vocab: int = 2000
    #: a trained image tokenizer directory (``vlseq train-image-tokenizer --out DIR``); needed by
    #: generate_image / edit_image: its codes are the ``<img_k>`` tokens and it is saved with the checkpoint
    image_tokenizer: str | None = None
    batch_size: int = 64  # global batch per optimiser step (split across processes)
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup_steps: int = 200
    max_steps: int = 10000
    time_budget_min: float | None = None  # stop (and evaluate) when this wall time is spent
    min_lr_ratio: float = 0.05
    clip_grad: float = 1.0
    ema_decay: float = 0.0  # 0 = off; UniTAB uses 0.9998
    mixed_precision: str = "no"  # "bf16"/"fp16" on GPUs; never on this CPU (bf16 matmul is 300x slower)
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

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training config keys: {unknown}")
        model = ModelConfig.from_dict(d.pop("model", {}))
        data_d = d.pop("data", {})
        dknown = {f.name for f in dataclasses.fields(DataConfig)}
        if set(data_d) - dknown:
            raise ValueError(f"unknown data config keys: {sorted(set(data_d) - dknown)}")
        return cls(model=model, data=DataConfig(**data_d), **d)


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
    return sorted(p.stem for p in PRESET_DIR.glob("*.json"))


def load_config(preset_or_file: str, overrides: Sequence[str] = ()) -> TrainConfig:
    """A preset name (``debug``, ``tiny``, ...) or a JSON file path, then overrides."""
    path = Path(preset_or_file)
    if not path.suffix:
        path = PRESET_DIR / f"{preset_or_file}.json"
        if not path.exists():
            raise ValueError(f"unknown preset {preset_or_file!r}; presets: {', '.join(preset_names())}")
    try:
        d = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"config file {path} does not exist") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    full = TrainConfig.from_dict(d).to_dict()  # fill defaults so overrides can name any key
    for item in overrides:
        apply_override(full, item)
    return TrainConfig.from_dict(full)
