"""Options several verbs share, defined once so that their names, defaults and help stay alike."""

from __future__ import annotations

import argparse

#: the inference precisions (``vlseq.inference.device.resolve_dtype`` reads them); listed here so
#: that ``--help`` needs no torch import
DTYPES = ("float32", "bfloat16", "float16")


def add_device_args(ap: argparse.ArgumentParser) -> None:
    """``--device`` (default ``auto``: CUDA when present, else CPU) and ``--dtype`` of the model's weights."""
    ap.add_argument("--device", default="auto", help="auto (CUDA when present, else cpu), cpu, cuda, cuda:N or mps")
    ap.add_argument("--dtype", default="float32", choices=DTYPES,
                    help="precision of the model's weights (float16: GPU only)")
