"""The models a benchmark compares, each behind one small :class:`Subject` interface (inputs, loss,
generate): vlseq, built by ``vlseq.models.factory`` like every vlseq model, and its peers --
transformers' native Florence-2 and a ViT + BART -- which vlseq does not wrap (they are measured,
not trained). Timing and FLOP counting of a subject live here too.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from _common import (
    BOS,
    CPU_SDPA_FLOPS,
    EOS,
    IMAGE_TOKEN,
    PAD,
    Batch,
    autocast,
    median,
    model_config,
    model_device,
    n_params,
    shift_right,
    time_interleaved,
)
from vlseq.models.config import ModelConfig
from vlseq.models.factory import build_model
from vlseq.models.vlseq_model import bart_config
from vlseq.train.optim import fused_supported


class Subject:
    """A model under test. Subclasses fill in how inputs look and how to call it."""

    name: str = ""
    model: torch.nn.Module
    #: the language model's transformers config (attention implementation, layer counts)
    lm_config: Any = None
    #: encoder positions one image takes
    image_tokens: int = 0

    @property
    def params(self) -> int:
        return n_params(self.model)

    @property
    def attn_impl(self) -> str:
        """The attention kernel transformers picked (``sdpa``, ``eager``, ...)."""
        return str(getattr(self.lm_config, "_attn_implementation", "?"))

    def train_inputs(self, b: Batch) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def loss(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def generate(self, b: Batch, new_tokens: int, processors: Sequence[Any] = ()) -> torch.Tensor:
        """Greedy with the KV cache and exactly ``new_tokens`` new tokens (``</s>`` held back)."""
        raise NotImplementedError


class VLSeqSubject(Subject):
    name = "vlseq"
    #: greedy decoding by the model's hand-written step (True) or by transformers' generate()
    fast = True

    def __init__(self, cfg: ModelConfig) -> None:
        self.model = build_model(cfg)
        self.image_tokens = self.model.tokens_per_image
        self.lm_config = self.model.lm.config

    def train_inputs(self, b: Batch) -> dict[str, torch.Tensor]:
        return {"pixel_values": b.pixel_values[:, None], "input_ids": b.prompt,
                "attention_mask": torch.ones_like(b.prompt), "decoder_input_ids": shift_right(b.target),
                "labels": b.target}

    def loss(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**inputs)["loss"]

    def generate(self, b: Batch, new_tokens: int, processors: Sequence[Any] = ()) -> torch.Tensor:
        return self.model.generate(b.pixel_values[:, None], b.prompt, torch.ones_like(b.prompt),
                                   logits_processor=list(processors) or None, max_new_tokens=new_tokens,
                                   min_new_tokens=new_tokens, fast=self.fast)


def florence2_vision(width: int, depths: tuple[int, ...], proj: int) -> dict[str, Any]:
    """A DaViT config with Florence-2's stage layout, last-stage width ``width``, head size <= 32."""
    dims = [width // 8, width // 4, width // 2, width]
    heads = []
    for d in dims:
        h = max(1, d // 32)
        while d % h:
            h -= 1
        heads.append(h)
    return {"embed_dim": dims, "num_heads": heads, "num_groups": heads, "depths": list(depths),
            "projection_dim": proj, "drop_path_rate": 0.0}


def florence2_base_config(cfg: ModelConfig) -> Any:
    """A ``Florence2Config`` with Florence-2-base's vision tower and ``cfg``'s language model.

    transformers' ``Florence2VisionConfig`` defaults are Florence-2-base's DaViT (widths 128-1024,
    depths 1-1-9-1, window 12); its projection goes to the language model's width (768 for
    Florence-2-base). With vlseq's ``base`` preset the BART is Florence-2-base's too (768 wide,
    6 + 6 layers, 12 heads, ffn 3072); only the vocabulary is the benchmark's (:data:`VOCAB`).
    Stochastic depth is off, as in every benchmark model.
    """
    from transformers import Florence2Config, Florence2VisionConfig

    vision = Florence2VisionConfig(projection_dim=cfg.d_model, drop_path_rate=0.0).to_dict()
    return Florence2Config(text_config=bart_config(cfg).to_dict(), vision_config=vision, image_token_id=IMAGE_TOKEN)


def florence2_config_like(cfg: ModelConfig, target: int, tol: float = 0.10):
    """A ``Florence2Config`` with vlseq's language model and ``target`` parameters within ``tol``.

    The DaViT keeps Florence-2's depth pattern ``(1, 1, 9, 1)`` when some width lands within
    ``tol``, else shallower patterns are tried; the closest width wins. Counted on the meta device.
    """
    from transformers import Florence2Config, Florence2ForConditionalGeneration

    text = bart_config(cfg).to_dict()
    best = None
    for depths in ((1, 1, 9, 1), (1, 1, 3, 1), (1, 1, 1, 1)):
        for width in range(32, 2049, 32):
            fc = Florence2Config(text_config=text, vision_config=florence2_vision(width, depths, cfg.d_model),
                                 image_token_id=IMAGE_TOKEN)
            with torch.device("meta"):
                n = n_params(Florence2ForConditionalGeneration(fc))
            err = abs(n - target) / target
            if best is None or err < best[0]:
                best = (err, fc)
            if n > target * (1 + tol):
                break
        if best[0] <= tol:
            return best[1]
    raise ValueError(f"no Florence-2 vision tower brings the model within {tol:.0%} of {target:,} parameters "
                     f"(closest is {best[0]:.1%} off)")


class Florence2Subject(Subject):
    name = "florence2"

    def __init__(self, cfg: ModelConfig, config: Any) -> None:
        """``config``: the ``Florence2Config`` (:func:`florence2_config_like` or :func:`florence2_base_config`)."""
        from transformers import Florence2ForConditionalGeneration

        self.model = Florence2ForConditionalGeneration(config)
        self.lm_config = self.model.config.text_config
        with torch.no_grad():
            feats = self.model.get_image_features(torch.zeros(1, 3, cfg.image_size, cfg.image_size)).pooler_output
        self.image_tokens = int(feats.shape[1])  # grid at stride 32, plus one pooled token

    def _encoder_ids(self, b: Batch) -> torch.Tensor:
        img = torch.full((b.size, self.image_tokens), IMAGE_TOKEN, dtype=torch.long, device=b.prompt.device)
        return torch.cat([img, b.prompt], dim=1)

    def train_inputs(self, b: Batch) -> dict[str, torch.Tensor]:
        ids = self._encoder_ids(b)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "pixel_values": b.pixel_values,
                "decoder_input_ids": shift_right(b.target), "labels": b.target}

    def loss(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**inputs, use_cache=False).loss

    def generate(self, b: Batch, new_tokens: int, processors: Sequence[Any] = ()) -> torch.Tensor:
        from transformers import LogitsProcessorList

        ids = self._encoder_ids(b)
        return self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), pixel_values=b.pixel_values,
                                   max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                                   num_beams=1, decoder_start_token_id=BOS, bos_token_id=BOS, eos_token_id=EOS,
                                   pad_token_id=PAD, logits_processor=LogitsProcessorList(list(processors)))


class ViTBartSubject(Subject):
    name = "vit+bart"

    def __init__(self, cfg: ModelConfig, stride: int) -> None:
        from transformers import BartForCausalLM, VisionEncoderDecoderModel, ViTConfig, ViTModel

        vit = ViTConfig(hidden_size=cfg.d_model, num_hidden_layers=cfg.encoder_layers,
                        num_attention_heads=cfg.heads, intermediate_size=cfg.ffn_dim, image_size=cfg.image_size,
                        patch_size=stride, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
        dec = bart_config(cfg)
        dec.is_decoder, dec.add_cross_attention = True, True
        self.model = VisionEncoderDecoderModel(encoder=ViTModel(vit, add_pooling_layer=False),
                                               decoder=BartForCausalLM(dec))
        self.model.config.decoder_start_token_id, self.model.config.pad_token_id = BOS, PAD
        self.lm_config = self.model.config.decoder
        self.image_tokens = (cfg.image_size // stride) ** 2 + 1  # patches + CLS

    def train_inputs(self, b: Batch) -> dict[str, torch.Tensor]:
        # The prompt is a decoder prefix; only the target is scored.
        ignore = torch.full_like(b.prompt, -100)
        return {"pixel_values": b.pixel_values, "decoder_input_ids": shift_right(torch.cat([b.prompt, b.target], 1)),
                "labels": torch.cat([ignore, b.target], 1)}

    def loss(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.model(**inputs, use_cache=False).loss


def build_subjects(name: str, which: Sequence[str], image_size: int | None = None, seed: int = 0,
                   florence2: str = "matched", overrides: Sequence[str] = ()) -> list[Subject]:
    """The models ``which`` (``vlseq``, ``florence2``, ``vit+bart``) at config ``name``, vlseq first.

    ``overrides``: ``model.KEY=VALUE`` settings of vlseq's model (one lever changed).
    ``florence2``: ``"matched"`` sizes its vision tower to vlseq's parameter count
    (:func:`florence2_config_like`), ``"base"`` takes Florence-2-base's (:func:`florence2_base_config`).
    """
    if florence2 not in ("matched", "base"):
        raise ValueError(f"florence2 must be 'matched' or 'base', got {florence2!r}")
    cfg = model_config(name, image_size, overrides)
    torch.manual_seed(seed)
    vl = VLSeqSubject(cfg)
    out: list[Subject] = [vl]
    for w in which:
        torch.manual_seed(seed)
        if w == "florence2":
            fc = florence2_base_config(cfg) if florence2 == "base" else florence2_config_like(cfg, vl.params)
            out.append(Florence2Subject(cfg, fc))
        elif w == "vit+bart":
            out.append(ViTBartSubject(cfg, vl.model.vision.stride))
        elif w != "vlseq":
            raise ValueError(f"unknown model {w!r} (vlseq, florence2, vit+bart)")
    return out


def train_step_fn(subject: Subject, inputs: dict[str, torch.Tensor], amp: torch.dtype | None = None,
                  loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None) -> Callable[[], float]:
    """One training step (forward, backward, AdamW step), the same for every model.

    ``amp``: autocast dtype of forward and backward (None: fp32). ``loss_fn``: replaces
    ``subject.loss``, e.g. a ``torch.compile``'d version of it. The returned float syncs the
    device, so a GPU step is over when the call returns.
    """
    subject.model.train()
    params = list(subject.model.parameters())
    # fused where torch has the kernel, as vlseq's trainer builds it (vlseq.train.optim), for every model alike
    opt = torch.optim.AdamW(params, lr=1e-4, fused=fused_supported(params))
    loss_of = loss_fn or subject.loss
    device = model_device(subject.model)

    def step() -> float:
        opt.zero_grad(set_to_none=True)
        with autocast(device, amp):
            loss = loss_of(inputs)
        loss.backward()
        opt.step()
        return float(loss.detach())

    return step


def time_training(subjects: Sequence[Subject], batch: Batch, steps: int, warmup: int,
                  amp: torch.dtype | None = None) -> dict[str, dict[str, float]]:
    """Median training-step seconds and last loss per model, the models taking turns step by step
    (a change in machine load hits all of them alike). Raises when a loss is not finite."""
    losses: dict[str, list[float]] = {s.name: [] for s in subjects}

    def stepper(s: Subject) -> Callable[[], None]:
        step = train_step_fn(s, s.train_inputs(batch), amp)
        return lambda: losses[s.name].append(step())

    device = model_device(subjects[0].model)
    times = time_interleaved({s.name: stepper(s) for s in subjects}, steps, warmup, device)
    for name, ls in losses.items():
        if not all(math.isfinite(x) for x in ls):
            raise RuntimeError(f"{name}: non-finite training loss {ls}")
    return {name: {"step_s": median(times[name]), "loss": losses[name][-1]} for name in losses}


def generator(s: Subject, batch: Batch, new_tokens: int, processors: Sequence[Any] = (),
              amp: torch.dtype | None = None) -> Callable[[], None]:
    """One ``generate()`` call (under autocast ``amp``), checked to make exactly ``new_tokens``
    tokens per row."""
    device = model_device(s.model)

    def run() -> None:
        s.model.eval()
        with torch.no_grad(), autocast(device, amp):
            out = s.generate(batch, new_tokens, processors)
        if out.shape != (batch.size, new_tokens + 1):
            raise RuntimeError(f"{s.name}: generate() gave shape {tuple(out.shape)}, expected "
                               f"({batch.size}, {new_tokens + 1})")

    return run


def train_flops(subject: Subject, inputs: dict[str, torch.Tensor], amp: torch.dtype | None = None) -> int:
    """FLOPs of one forward + backward (matmuls, convolutions, attention) by ``FlopCounterMode``."""
    subject.model.train()
    with FlopCounterMode(display=False, custom_mapping=CPU_SDPA_FLOPS) as fc:
        with autocast(model_device(subject.model), amp):
            loss = subject.loss(inputs)
        loss.backward()
    subject.model.zero_grad(set_to_none=True)
    return fc.get_total_flops()


def count_flops(subject: VLSeqSubject, inputs: dict[str, torch.Tensor],
                amp: torch.dtype | None = None) -> tuple[int, dict[str, int]]:
    """FLOPs of one forward + backward, and the forward's FLOPs per top-level part of the model.

    The parts come from a forward alone: FlopCounterMode's module attribution of backward ops is
    unreliable (gradients flowing through a module are charged to modules still on its stack).
    """
    total = train_flops(subject, inputs, amp)
    with torch.no_grad(), autocast(model_device(subject.model), amp), \
            FlopCounterMode(display=False, depth=4, custom_mapping=CPU_SDPA_FLOPS) as fwd:
        subject.loss(inputs)
    counts = fwd.get_flop_counts()
    parts = {"vision": "VLSeqModel.vision", "encoder": "VLSeqModel.lm.model.encoder",
             "decoder": "VLSeqModel.lm.model.decoder", "output head": "VLSeqModel.lm.lm_head"}
    per = {k: sum(counts.get(v, {}).values()) for k, v in parts.items()}
    per["other"] = fwd.get_total_flops() - sum(per.values())
    return total, per
