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
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager, Sequence

import torch
from torch.utils.flop_counter import sdpa_backward_flop_count, sdpa_flop_count

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vlseq.codec.tokens import BASE_TOKENS  # noqa: E402
from vlseq.models.config import ModelConfig  # noqa: E402
from vlseq.train.config import load_config  # noqa: E402

#: Vocabulary of every model here: control/markup ids, NUM_BINS coordinate ids, then text ids.
VOCAB = 1100
#: near Florence-2's 1000, and a multiple of every preset's image grid (8, 12, 24): the presets'
#: pointer offsets split the bins evenly among the grid's cells
NUM_BINS = 1008
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


def model_config(name: str, image_size: int | None = None, overrides: Sequence[str] = ()) -> ModelConfig:
    """vlseq's model config for a :data:`CONFIGS` name, on the benchmark vocabulary, with
    ``overrides`` (``model.KEY=VALUE``) applied last."""
    preset, base = CONFIGS[name]
    extra = [f"model.vocab_size={VOCAB}", f"model.num_bins={NUM_BINS}", f"model.loc_offset={LOC_OFFSET}"]
    if image_size:
        extra.append(f"model.image_size={image_size}")
    return load_config(preset, list(base) + extra + list(overrides)).model


def n_params(model: torch.nn.Module) -> int:
    """Distinct parameters (tied weights once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


def autocast(device: torch.device | str, dtype: torch.dtype | None) -> ContextManager[Any]:
    """Mixed precision as the trainer runs it (fp32 weights, ops in ``dtype``); None: off."""
    if dtype is None or dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=dtype)


def model_device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


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


