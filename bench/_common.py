"""Shared pieces of the model benchmarks: threads, timing, markdown tables, synthetic batches and
the models under test, all built from config with random weights (nothing from the hub).

The models under test (:class:`Subject`) share one interface so a benchmark times them with the
same code: ``train_inputs(batch) -> kwargs``, ``loss(kwargs) -> scalar``, ``generate(batch, n)``.

* ``vlseq``: :class:`vlseq.models.vlseq_model.VLSeqModel` from a preset's model section.
* ``florence2``: transformers' native ``Florence2ForConditionalGeneration`` with the *same* BART
  language model (width, layers, ffn, vocabulary) and a DaViT vision tower sized so the whole model
  has vlseq's parameter count within 10% (see :func:`florence2_config_like`), or, with
  ``florence2="base"``, Florence-2-base's own DaViT (see :func:`florence2_base_config`).
* ``vit+bart``: transformers' ``VisionEncoderDecoderModel`` (ViT encoder of vlseq's encoder shape
  and stem stride as patch size, BART decoder); the prompt goes in as a decoder prefix because
  this architecture has no text encoder.

All three use one small vocabulary (:data:`VOCAB`: 9 control/markup ids, 1000 ``<loc>`` ids, text
ids), not Florence-2's 51k BPE, so the output layer weighs the same in every model.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vlseq.codec.tokens import BASE_TOKENS  # noqa: E402
from vlseq.models.config import ModelConfig  # noqa: E402
from vlseq.models.vlseq_model import VLSeqModel, bart_config  # noqa: E402
from vlseq.train.config import load_config  # noqa: E402

#: Vocabulary of every model here: control/markup ids, NUM_BINS coordinate ids, then text ids.
VOCAB = 1100
NUM_BINS = 1000
LOC_OFFSET = len(BASE_TOKENS)
PAD, BOS, EOS = 0, 1, 2
#: Florence-2 marks image positions in ``input_ids`` with this id (the last one, never sampled).
IMAGE_TOKEN = VOCAB - 1

#: Named model shapes: a preset plus overrides of its model section. ``34m`` is about the size of
#: a Florence-2-small-sized config (33.9M parameters): the small preset made wider.
CONFIGS: dict[str, tuple[str, tuple[str, ...]]] = {
    "debug": ("debug", ()),
    "tiny": ("tiny", ()),
    "small": ("small", ()),
    "base": ("base", ()),
    "34m": ("small", ("model.d_model=512", "model.heads=8", "model.ffn_dim=2048", "model.encoder_layers=5")),
}


# --------------------------------------------------------------------------- command line, threads


def base_parser(doc: str | None) -> argparse.ArgumentParser:
    """The flags every benchmark takes: ``--threads``, ``--quick``, ``--seed``."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, few steps: a seconds-long smoke run")
    ap.add_argument("--seed", type=int, default=0)
    return ap


def set_threads(n: int) -> int:
    """Use ``n`` torch threads; every number printed afterwards is for that setting."""
    if n < 1:
        raise ValueError(f"--threads must be >= 1, got {n}")
    torch.set_num_threads(n)
    return torch.get_num_threads()


def config_names(text: str) -> list[str]:
    """``"tiny,34m"`` -> ``["tiny", "34m"]``, each checked against :data:`CONFIGS`."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in CONFIGS]
    if bad or not names:
        raise ValueError(f"unknown config(s) {bad or text!r}; known: {', '.join(CONFIGS)}")
    return names


# --------------------------------------------------------------------------- timing and tables


def synchronize(device: torch.device | str | None) -> None:
    """Wait for the accelerator's queued work: GPU kernels run asynchronously, so a clock read
    without this would time the launches, not the work."""
    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def time_calls(fn: Callable[[], Any], repeats: int, warmup: int = 1,
               device: torch.device | str | None = None) -> list[float]:
    """Seconds of each of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls (each call
    synchronised with ``device`` when that is a GPU)."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(repeats):
        synchronize(device)
        t0 = time.perf_counter()
        fn()
        synchronize(device)
        out.append(time.perf_counter() - t0)
    return out


def time_interleaved(fns: dict[str, Callable[[], Any]], repeats: int, warmup: int = 1,
                     device: torch.device | str | None = None) -> dict[str, list[float]]:
    """Like :func:`time_calls` for several functions, taking turns (a, b, c, a, b, c, ...).

    Taking turns spreads any drift in machine load evenly over the contenders, so their ratio
    stays meaningful even when the absolute numbers move.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            synchronize(device)
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            out[k].append(time.perf_counter() - t0)
    return out


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def fmt(x: float | int | None, digits: int = 3) -> str:
    """A number with ``digits`` significant digits (thousands separated); ``-`` for None."""
    if x is None:
        return "-"
    if isinstance(x, int):
        return f"{x:,}"
    if x == 0 or abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    return f"{x:.{digits}g}"


def ratio(a: float | None, b: float | None) -> str:
    """``a / b`` as ``"1.53x"`` (``-`` when either is missing)."""
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; cells are ``str()``-ed, numbers right-aligned."""
    cells = [[str(c) for c in r] for r in rows]
    for r in cells:
        if len(r) != len(headers):
            raise ValueError(f"row {r} has {len(r)} cells for {len(headers)} headers")
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(headers))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in cells]
    return "\n".join(lines)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    print(f"\n### {title}\n\n{markdown_table(headers, rows)}\n", flush=True)


# --------------------------------------------------------------------------- synthetic data


@dataclass(frozen=True)
class Batch:
    """One synthetic batch: images ``(B, 3, S, S)``, prompt ids ``(B, L)``, target ids ``(B, T)``.

    Prompt ids are text ids; targets mix text and coordinate ids (like grounded outputs) and end
    with ``</s>``.
    """

    pixel_values: torch.Tensor
    prompt: torch.Tensor
    target: torch.Tensor

    @property
    def size(self) -> int:
        return int(self.prompt.shape[0])

    def to(self, device: torch.device | str) -> "Batch":
        """The same batch on ``device``."""
        return Batch(self.pixel_values.to(device), self.prompt.to(device), self.target.to(device))


def synthetic_batch(batch: int, image_size: int, prompt_len: int, target_len: int, seed: int = 0) -> Batch:
    """Random pixels and ids in :data:`VOCAB` (never :data:`IMAGE_TOKEN`), fixed by ``seed``."""
    g = torch.Generator().manual_seed(seed)
    text_lo = LOC_OFFSET + NUM_BINS
    pix = torch.randn(batch, 3, image_size, image_size, generator=g)
    prompt = torch.randint(text_lo, IMAGE_TOKEN, (batch, prompt_len), generator=g)
    text = torch.randint(text_lo, IMAGE_TOKEN, (batch, target_len), generator=g)
    loc = torch.randint(LOC_OFFSET, text_lo, (batch, target_len), generator=g)
    target = torch.where(torch.rand(batch, target_len, generator=g) < 0.5, loc, text)
    target[:, -1] = EOS
    return Batch(pix, prompt, target)


def shift_right(ids: torch.Tensor) -> torch.Tensor:
    """Decoder inputs for teacher forcing: ``<s>`` then ``ids[:, :-1]``."""
    return torch.cat([torch.full_like(ids[:, :1], BOS), ids[:, :-1]], dim=1)


# --------------------------------------------------------------------------- models under test


def model_config(name: str, image_size: int | None = None) -> ModelConfig:
    """vlseq's model config for a :data:`CONFIGS` name, on the benchmark vocabulary."""
    preset, overrides = CONFIGS[name]
    extra = [f"model.vocab_size={VOCAB}", f"model.num_bins={NUM_BINS}", f"model.loc_offset={LOC_OFFSET}"]
    if image_size:
        extra.append(f"model.image_size={image_size}")
    return load_config(preset, list(overrides) + extra).model


def n_params(model: torch.nn.Module) -> int:
    """Distinct parameters (tied weights once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


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

    def __init__(self, cfg: ModelConfig) -> None:
        self.model = VLSeqModel(cfg)
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
                                   min_new_tokens=new_tokens)


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
                   florence2: str = "matched") -> list[Subject]:
    """The models ``which`` (``vlseq``, ``florence2``, ``vit+bart``) at config ``name``, vlseq first.

    ``florence2``: ``"matched"`` sizes its vision tower to vlseq's parameter count
    (:func:`florence2_config_like`), ``"base"`` takes Florence-2-base's (:func:`florence2_base_config`).
    """
    if florence2 not in ("matched", "base"):
        raise ValueError(f"florence2 must be 'matched' or 'base', got {florence2!r}")
    cfg = model_config(name, image_size)
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


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> ContextManager[Any]:
    """Mixed precision as the trainer runs it (fp32 weights, ops in ``dtype``); None: off."""
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def train_step_fn(subject: Subject, inputs: dict[str, torch.Tensor], amp: torch.dtype | None = None,
                  loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None = None) -> Callable[[], float]:
    """One training step (forward, backward, AdamW step), the same for every model.

    ``amp``: autocast dtype of forward and backward (None: fp32). ``loss_fn``: replaces
    ``subject.loss``, e.g. a ``torch.compile``'d version of it. The returned float syncs the
    device, so a GPU step is over when the call returns.
    """
    subject.model.train()
    opt = torch.optim.AdamW(subject.model.parameters(), lr=1e-4)
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


# --------------------------------------------------------------------------- FLOPs and the peak

_aten = torch.ops.aten
#: Attention on CPU runs this kernel, which FlopCounterMode does not know; same count as on GPU.
CPU_SDPA_FLOPS = {
    _aten._scaled_dot_product_flash_attention_for_cpu: lambda q, k, v, *a, out_shape=None, **kw: sdpa_flop_count(q, k, v),
    _aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda g, q, k, v, *a, out_shape=None, **kw: sdpa_backward_flop_count(g, q, k, v),
}


def matmul_gflops(n: int, repeats: int, dtype: torch.dtype = torch.float32,
                  device: torch.device | str = "cpu") -> float:
    """Best GFLOP/s of ``torch.mm`` at ``n x n`` in ``dtype`` on ``device`` (2 n^3 FLOPs per product)."""
    # Drawn on the device itself: filling 16k x 16k matrices on the host would take longer than timing them.
    g = torch.Generator(device=device).manual_seed(0)
    a, b = (torch.randn(n, n, generator=g, device=device).to(dtype) for _ in range(2))
    best = min(time_calls(lambda: torch.mm(a, b), repeats, warmup=1, device=device))
    return 2 * n**3 / best / 1e9


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
