"""Where and in which precision a checkpoint runs: one reading of ``--device`` and ``--dtype``.

``vlseq predict``, ``vlseq eval``, ``vlseq demo`` and :meth:`~vlseq.inference.pipeline.Pipeline.from_pretrained`
all take ``device="auto"`` (CUDA when there is a GPU, else the CPU) and ``dtype="float32"``;
this module is the one place that turns those strings into torch objects and says what is wrong
with a bad one.

Apple's ``mps`` is taken when asked for by name, never chosen by ``auto``: some operators the
model uses fall back to the CPU there, so ``auto`` would pick a device that is slower or differs
from the CPU without saying so.

Precision: ``bfloat16`` runs on both the CPU and a GPU (its float32 range keeps the grammar's
``-inf`` masks and the pointer's logits finite). ``float16`` is refused on the CPU: PyTorch's CPU
half-precision kernels are missing for some operators and far slower than float32 for the rest,
so a CPU run in float16 would be both slower and less exact than the default.
"""

from __future__ import annotations

from typing import Any

import torch

#: ``--dtype`` names -> torch dtypes (the first is the default)
DTYPES: dict[str, torch.dtype] = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

#: the device names ``--device`` takes, for help and error messages
DEVICE_CHOICES = "auto, cpu, cuda, cuda:N or mps"


def resolve_device(spec: str | torch.device = "auto") -> torch.device:
    """The torch device ``spec`` names: ``"auto"`` (CUDA when available, else the CPU), ``"cpu"``,
    ``"cuda"``, ``"cuda:N"`` or ``"mps"``.

    Raises ``ValueError`` naming the problem: an unknown name, CUDA (or MPS) asked for on a machine
    without it, or a GPU index past the machine's count.
    """
    if isinstance(spec, torch.device):
        text = str(spec)
    elif isinstance(spec, str):
        text = spec.strip().lower()
    else:
        raise ValueError(f"device must be a string ({DEVICE_CHOICES}), got {spec!r}")
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError):
        raise ValueError(f"device {spec!r} is not one of {DEVICE_CHOICES}") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {spec!r} asks for CUDA, but this machine has no CUDA GPU "
                             f"(or this PyTorch, {torch.__version__}, was built without CUDA); use --device auto or cpu")
        n = torch.cuda.device_count()
        if dev.index is not None and dev.index >= n:
            raise ValueError(f"device {spec!r}: this machine has {n} CUDA GPU(s), numbered 0 to {n - 1}")
        return dev
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError(f"device {spec!r} asks for Apple's MPS, which this machine does not have; use auto or cpu")
        return dev
    raise ValueError(f"device {spec!r} is not one of {DEVICE_CHOICES}")


def resolve_dtype(spec: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """The torch dtype ``spec`` names (``"float32"``, ``"bfloat16"``, ``"float16"``; None: float32),
    checked against ``device``.

    Raises ``ValueError`` for an unknown name and for float16 on the CPU (see the module docstring:
    use bfloat16 there).
    """
    if spec is None:
        return torch.float32
    if isinstance(spec, torch.dtype):
        dtype = spec
        name = next((k for k, v in DTYPES.items() if v == spec), None)
        if name is None:
            raise ValueError(f"dtype {spec} is not one of {', '.join(DTYPES)}")
    else:
        name = str(spec).strip().lower()
        if name not in DTYPES:
            raise ValueError(f"dtype {spec!r} is not one of {', '.join(DTYPES)}")
        dtype = DTYPES[name]
    if dtype == torch.float16 and device.type == "cpu":
        raise ValueError("dtype float16 is not run on the CPU (PyTorch's CPU half-precision kernels are slow or "
                         "missing); use bfloat16 or float32 there, or float16 on a GPU")
    return dtype


def place(module: Any, device: torch.device, dtype: torch.dtype = torch.float32) -> Any:
    """``module`` moved to ``device`` and cast to ``dtype`` (its floating weights and buffers); returned.

    The model's image input follows its weights (``VLSeqModel.encode_images`` casts the pixels), so
    nothing else needs casting: token ids stay integers, and the decoding code reads scores as
    float32 before any softmax.
    """
    return module.to(device=device, dtype=dtype)
