"""The model's configuration: one JSON-serialisable dataclass, saved as ``config.json``."""

from __future__ import annotations

import dataclasses
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: config keys renamed in 0.2, old dotted path -> new dotted path (paths from the top of a training
#: config; a model's own ``config.json`` is the ``model.`` section). The old names are read for one
#: release with a warning that names the new key (CHANGELOG.md).
RENAMED_KEYS: dict[str, str] = {
    "model.image_skip": "model.encoder_skip",
    "model.vision.skip": "model.vision.stem_skip",
}


def renamed_key(path: str, table: dict[str, str] | None = None) -> str:
    """The current name of the dotted config key ``path``, warning once per use when it is an old one."""
    new = (RENAMED_KEYS if table is None else table).get(path)
    if new is None:
        return path
    warnings.warn(f"config key {path!r} is now {new!r}; the old name is read until the next release",
                  FutureWarning, stacklevel=3)
    return new


def rename_section(d: dict[str, Any], section: str, table: dict[str, str] | None = None) -> dict[str, Any]:
    """A copy of the config section ``d`` found at dotted path ``section`` ("" for the top), with its
    renamed keys (:data:`RENAMED_KEYS`, or ``table``) brought up to date, each with a warning. A
    section holding both the old and the new key is refused."""
    prefix = f"{section}." if section else ""
    out = {}
    for key, value in d.items():
        new = renamed_key(prefix + key, table)[len(prefix):]
        if new != key and new in d:
            raise ValueError(f"config holds both {prefix + key!r} and its new name {prefix + new!r}")
        out[new] = value
    return out


def check_bool_fields(cfg: Any, section: str) -> None:
    """Refuse a non-boolean value in a field of the config dataclass ``cfg`` declared ``bool``
    (``"maybe"`` or ``1`` from an override or a JSON file), naming the dotted key (``section`` is
    its prefix, ``""`` at the top): Python would read any non-empty string as true."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.type in ("bool", bool) and not isinstance(value, bool):
            raise ValueError(f"config key {section + f.name!r} must be true or false, got {value!r}")


#: ``model.vision.skip_kind``
SKIP_KINDS = ("pool", "patch")


@dataclass
class VisionConfig:
    """The vision tower.

    ``kind``: ``conv`` (a small stride-``2**len(channels)`` conv stem, the fastest on CPU), or one of
    transformers' backbones built from config: ``resnet``, ``convnext``, ``vit``, ``swin``.
    ``hf_config`` holds that backbone's config fields; ``pretrained`` a local HF directory to
    initialise it from (never a hub name).
    """

    kind: str = "conv"
    channels: tuple[int, ...] = (32, 64, 128)
    #: conv stem: convs per stage (the first of each has stride 2), one count or one per stage, and the
    #: norm, ``batch`` or ``group``
    blocks: int | tuple[int, ...] = 2
    norm: str = "batch"
    #: conv stem: concatenate the first stage's features, pooled to the grid, to the last stage's
    #: (carries colour and fine detail the deep stages drop; see ``models.vision.ConvStem``)
    stem_skip: bool = False
    #: conv stem, with ``stem_skip``: how the first stage reaches the grid, ``pool`` (its mean over
    #: each cell) or ``patch`` (a learned stride-``cell`` conv over each cell, which keeps where in
    #: the cell an edge is; see ``models.vision.ConvStem``)
    skip_kind: str = "pool"
    hf_config: dict[str, Any] = field(default_factory=dict)
    pretrained: str | None = None

    def __post_init__(self) -> None:
        check_bool_fields(self, "model.vision.")
        if isinstance(self.blocks, list):  # JSON and overrides give a list
            self.blocks = tuple(self.blocks)
        if self.skip_kind not in SKIP_KINDS:
            raise ValueError(f"model.vision.skip_kind must be one of {', '.join(SKIP_KINDS)}, not {self.skip_kind!r}")


@dataclass
class ModelConfig:
    """Encoder-decoder settings; the language model is a transformers BART built from these."""

    vocab_size: int = 0  # filled from the tokenizer
    d_model: int = 128
    encoder_layers: int = 2
    decoder_layers: int = 2
    heads: int = 4
    ffn_dim: int = 512
    dropout: float = 0.0
    max_positions: int = 512
    max_images: int = 2
    #: LayerNorm after the image projection (off: the encoder's own embedding LayerNorm normalises)
    proj_norm: bool = True
    #: add the image tokens the encoder took to its outputs at those tokens (a residual around the
    #: whole encoder): linear probes found an object's colour and shape readable from the image
    #: tokens but near chance in the encoder's output at the same cell (``experiments/shape_probe.py``)
    encoder_skip: bool = False
    #: std of the normal init of every linear and embedding weight; None: ``d_model ** -0.5``
    init_std: float | None = None
    #: side of a coarse grid of image tokens beside the fine one (0: none; 1: one global token per
    #: image; 2 or 4: a 2x2 or 4x4 grid), one conv stage deeper than the stem (:mod:`vlseq.models.coarse`)
    coarse_grid: int = 0
    #: init of the image grid's row/column position embeddings (learned either way): ``sincos``, the
    #: 2-D sine-cosine table at the scale of the normalised image features, or ``normal`` at
    #: ``weight_std`` (about 1/11 of the features' norm at d_model 128)
    pos_init: str = "sincos"
    image_size: int = 64
    num_bins: int = 64
    #: id of ``<loc_0>`` (filled from the tokenizer by :meth:`fill_from_tokenizer`; -1: unknown)
    loc_offset: int = -1
    #: width in bins of the Gaussian soft target of coordinate tokens in the loss; 0: one-hot
    loc_sigma: float = 2.0
    #: weight of the expected-distance term on coordinate targets in the loss (0: off; see models/loss.py)
    loc_distance: float = 0.0
    #: weight of the cell identity loss (0: off): the encoder's output at the cell that holds a
    #: labelled object's centre must name its class through the tied output head (cross-entropy on
    #: the label's first token), for the box and object-list tasks whose objects carry class names.
    #: The sequence loss reaches an object's cells only through the decoder's cross-attention, and
    #: the model placed objects long before it named them; see ``VLSeqModel.cell_identity_loss``
    cell_loss: float = 0.0
    #: weight of the same cell identity loss read one step earlier, at the image tokens the encoder
    #: takes in (the stem's features with their positions; 0: off). ``encoder_skip`` adds those
    #: tokens to the encoder's outputs, so what the stem names reaches the decoder and the pointer
    #: unchanged, while the encoder's own part of each cell stays free for finding the object a
    #: prompt asks about: raising ``cell_loss`` itself named small shapes better and found them
    #: worse (BENCHMARKS.md, "The cell loss at 0.5")
    cell_loss_stem: float = 0.0
    #: what the cell identity loss asks a cell to name: ``label`` (the class name's first token, of
    #: box and object-list tasks) or ``all`` (every content word of every box an example describes:
    #: class names, grounded phrases, region captions; colour and size beside the class, each word
    #: in a softmax that leaves the object's other words out)
    cell_words: str = "label"
    #: with ``cell_words="all"``: the weight of the words of boxes described by tasks whose output is
    #: not a box or an object list (grounded phrases, region captions) against the class names of
    #: box and object-list tasks (1.0). Below 1, colour and size reach the cell without outweighing
    #: the class name (``all`` at 1.0 brought colour back and cost identity, BENCHMARKS.md)
    cell_words_weight: float = 1.0
    #: the cell identity loss reads a learned linear map of the cell (initialised to the identity)
    #: rather than the cell itself, so the cell need not turn towards its label's embedding
    cell_head: bool = False
    #: weight of the referent loss (0: off): where an output is about one box (the object a VQA
    #: question asks of, a region caption's region, a referring expression's object:
    #: ``Task.referent``), a score over the image cells must pick the cell that holds that box's
    #: centre (which score: ``referent_via``; see ``VLSeqModel.referent_loss``). A question that
    #: names its object by colour and size taught finding it only through the answer word, and the
    #: model answered with another object's attribute. At 0.1 with ``referent_via="encoder"`` (on in
    #: ``tiny``, ``_levers.json``) the quickstart's VQA went 0.60 -> 0.78, shape questions 0.57 ->
    #: 0.94, refexp 0.84 -> 0.90 (BENCHMARKS.md); the pointer form cost the questions it was for
    referent_loss: float = 0.0
    #: what the referent loss trains to find the referent's cell: ``pointer`` (the output head's
    #: pointer, read from the answer state; the form screened above), ``encoder`` (a linear score
    #: per cell of the encoder's output, so the encoder marks the cell a prompt is about where a
    #: fixed decoder query can read it) or ``attention`` (one cross-attention head of the last
    #: decoder layer at the first output position, the path that carries the object's features to
    #: the answer); see ``VLSeqModel.referent_loss``
    referent_via: str = "pointer"
    #: init of the ``<loc_k>`` rows of the tied embedding: ``normal`` (as every other row) or
    #: ``sincos`` (the image grid's sine-cosine code of the bin's position, :func:`vlseq.models.positions.sincos_coordinates`)
    loc_init: str = "normal"
    #: a pointer into the image grid added to the coordinate logits (:mod:`vlseq.models.pointer`):
    #: ``none``; ``cell`` (which cell); ``cell_offset`` (which cell, then which bin inside it)
    loc_pointer: str = "none"
    #: where the pointer runs: ``all`` decoder positions, or only ``coords``, the positions that
    #: write a coordinate (teacher forcing knows them; at inference, where the token head puts half
    #: its mass on the coordinate tokens). ``coords`` spends the pointer's cost only where it is used
    loc_pointer_at: str = "all"
    #: scale the pointer's term by a gate read from the decoder state, sigmoid(w . h + 4) (so 0.98
    #: at the start): where a coordinate is not a place in the image (a polygon vertex or keypoint
    #: in its box's frame) the decoder can shut the image pointer off instead of flattening its attention
    loc_pointer_gate: bool = False
    #: ``<img_k>`` output tokens (the image tokenizer's codebook size; 0: the model writes no image).
    #: Not the encoder's tokens per image, which is ``VLSeqModel.tokens_per_image``.
    num_image_tokens: int = 0
    #: id of ``<img_0>`` (filled from the tokenizer; -1 when unknown or without image tokens)
    img_offset: int = -1
    #: rank of the modality experts in the decoder's feed-forward layers (0: fully shared): one
    #: low-rank term per kind of token a position reads, words / coordinates / image codes
    #: (:mod:`vlseq.models.experts`)
    modality_experts: int = 0
    pad_token_id: int = 0
    bos_token_id: int = 1
    eos_token_id: int = 2
    vision: VisionConfig = field(default_factory=VisionConfig)
    #: the encoder-decoder: ``bart`` (post-LN, BART's own) or ``mbart`` (the same with pre-LN layers)
    lm: str = "bart"
    #: local HF directory of a BART-style model to initialise the language model from
    lm_pretrained: str | None = None
    model_type: str = "vlseq"

    @property
    def weight_std(self) -> float:
        """The init std in use. BART's own 0.02 suits d_model 1024; at d_model 128 it makes the
        cross-attention path from the image ~16x weaker than a Xavier init (two projections), and
        a from-scratch model learned its text prior and never used the image (validation loss
        equal to 4 decimals with shuffled images after 1,800 steps). ``d_model ** -0.5`` is the
        Xavier std of a square layer; with it the image is used within 50 steps."""
        return self.init_std if self.init_std is not None else self.d_model ** -0.5

    @property
    def cell_labels(self) -> bool:
        """Does either form of the cell identity loss train (so batches must carry each object's
        cell and naming tokens, ``Processor(cell_labels=True)``)?"""
        return self.cell_loss > 0 or self.cell_loss_stem > 0

    def __post_init__(self) -> None:
        check_bool_fields(self, "model.")
        for key in ("pos_init", "loc_init"):
            if getattr(self, key) not in ("sincos", "normal"):
                raise ValueError(f"model.{key} must be 'sincos' or 'normal', got {getattr(self, key)!r}")
        if self.lm not in ("bart", "mbart"):
            raise ValueError(f"model.lm must be 'bart' or 'mbart', got {self.lm!r}")
        if self.loc_pointer is True or self.loc_pointer is False:  # the boolean form of an earlier version
            self.loc_pointer = "cell" if self.loc_pointer else "none"
        if self.loc_pointer == "offset":  # renamed in 0.2: it points at a cell, then an offset inside it
            warnings.warn("model.loc_pointer='offset' is now 'cell_offset'; the old value is read until the next "
                          "release", FutureWarning, stacklevel=3)
            self.loc_pointer = "cell_offset"
        if self.loc_pointer not in ("none", "cell", "cell_offset"):
            raise ValueError(f"model.loc_pointer must be 'none', 'cell' or 'cell_offset', got {self.loc_pointer!r}")
        if self.cell_loss < 0 or self.cell_loss_stem < 0:
            raise ValueError(f"model.cell_loss and model.cell_loss_stem must be >= 0, got {self.cell_loss} and {self.cell_loss_stem}")
        if self.referent_via not in ("pointer", "encoder", "attention"):
            raise ValueError(f"model.referent_via must be 'pointer', 'encoder' or 'attention', got {self.referent_via!r}")
        if self.modality_experts < 0:
            raise ValueError(f"model.modality_experts is a rank, 0 or more, got {self.modality_experts!r}")
        if not isinstance(self.coarse_grid, int) or isinstance(self.coarse_grid, bool) or self.coarse_grid < 0:
            raise ValueError(f"model.coarse_grid is a grid side, 0 (none) or more, got {self.coarse_grid!r}")
        if self.loc_pointer_at not in ("all", "coords"):
            raise ValueError(f"model.loc_pointer_at must be 'all' or 'coords', got {self.loc_pointer_at!r}")

    def fill_from_tokenizer(self, tokenizer: Any) -> "ModelConfig":
        """Take the vocabulary size and the special ids from a :class:`vlseq.tokenizer.VLTokenizer`."""
        self.vocab_size, self.pad_token_id = len(tokenizer), tokenizer.pad_id
        self.bos_token_id, self.eos_token_id = tokenizer.bos_id, tokenizer.eos_id
        self.loc_offset = tokenizer.loc_offset
        self.img_offset = getattr(tokenizer, "img_offset", -1)
        return self

    def with_tokenizer(self, tokenizer: Any) -> "ModelConfig":
        """A copy with the vocabulary size and special ids of ``tokenizer`` (this config is unchanged)."""
        return dataclasses.replace(self).fill_from_tokenizer(tokenizer)

    @property
    def loc_range(self) -> tuple[int, int] | None:
        """``(id of <loc_0>, num_bins)`` for the loss, or None when the ids are not known."""
        return (self.loc_offset, self.num_bins) if self.loc_offset >= 0 else None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        d = rename_section(d, "model")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        vision = rename_section(d.pop("vision", {}) or {}, "model.vision")
        vknown = {f.name for f in dataclasses.fields(VisionConfig)}
        if set(vision) - vknown:
            raise ValueError(f"unknown vision config keys: {sorted(set(vision) - vknown)}")
        if "channels" in vision:
            vision["channels"] = tuple(vision["channels"])
        return cls(vision=VisionConfig(**vision), **d)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "ModelConfig":
        try:
            data = json.loads(Path(path).read_text())
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(data)
