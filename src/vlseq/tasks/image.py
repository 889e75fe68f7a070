"""Tasks whose output is an image: a fixed grid of VQ codes ``<img_k>`` (OFA-style image tokens).

* ``generate_image``: prompt = a caption, input image = a blank grey canvas (the encoder-decoder
  always gets an image; a constant one carries no information), target = the codes of the image
  the caption describes. :func:`generation_examples` turns caption Examples into these.
* ``edit_image``: prompt = the instruction, input image = the source, target = the codes of the
  edited image (``ex.target_image``; the world's ``edits.jsonl`` via :mod:`vlseq.data.readers`).

Tasks stay pure (no torch): the codes of the target image are computed outside, by the
:class:`~vlseq.processing.Processor` given an ``image_tokenizer``, and arrive as
``ex.meta["target_codes"]`` (a list of ``num_codes`` ints). :func:`bind_image_tokenizer` sets a
task's ``num_codes`` (the grid) and ``decode_image`` (``codes -> (S, S, 3) uint8``) from an image
tokenizer; the Processor does it for the tasks it encodes. :meth:`ImageTask.evaluate` scores PSNR
against the target image; the render-and-check scores (the model's own detector and VQA on the
decoded image, :mod:`vlseq.evaluation.render_check`) need the model and live outside the task.
"""

from __future__ import annotations

import dataclasses
import math
import random
from typing import Callable, Sequence

import numpy as np

from ..codec.markup import escape_markup
from ..codec.tokens import img_token
from ..data.example import Example
from ..data.images import CANVAS_GREY, blank_canvas, load_rgb
from .base import GrammarSpec, Prediction, Task

#: Meta key under which the Processor passes the target image's codes to the task.
TARGET_CODES = "target_codes"
def image_tokens(codes: Sequence[int]) -> str:
    """The target string of a code grid: ``<img_c0><img_c1>...`` (row-major)."""
    return "".join(img_token(int(c)) for c in codes)


def generation_examples(captions: Sequence[Example], all_captions: bool = False) -> list[Example]:
    """``generate_image`` Examples from caption Examples: text = a caption, target = the captioned image.

    ``all_captions``: one example per reference caption (default: the first only).
    """
    out = []
    for ex in captions:
        if not ex.answers or not ex.images:
            raise ValueError(f"{ex.source or ex.image_id}: a caption example needs answers and an image")
        for cap in (ex.answers if all_captions else ex.answers[:1]):
            out.append(Example(task="generate_image", images=[blank_canvas(ex.width, ex.height)], width=ex.width,
                               height=ex.height, image_id=ex.image_id, text=cap, target_image=ex.images[0],
                               source=ex.source, meta={k: v for k, v in ex.meta.items() if k != TARGET_CODES}))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two uint8 images of one shape (capped at 100 dB when equal)."""
    if a.shape != b.shape:
        raise ValueError(f"psnr: shapes differ, {a.shape} vs {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse <= 1e-10 else min(100.0, 10.0 * math.log10(255.0**2 / mse))


class ImageTask(Task):
    """Output = exactly ``num_codes`` image tokens (the image tokenizer's ``h * w``), then ``</s>``."""

    output = "image"
    needs = ("text", "target_image")
    headline = ("check_all", "check_all_truth", "psnr", "recon_psnr")
    # no baseline (a constant image has no single meaningful form) and no verdict on a sheet: the
    # written image is shown beside its target
    #: Codes per image (h * w of the image tokenizer's grid); set it from the tokenizer in use.
    num_codes: int = 64
    #: ``codes (num_codes,) -> (S, S, 3) uint8``; needed by :meth:`evaluate` only.
    decode_image: Callable[[Sequence[int]], np.ndarray] | None = None
    #: Codes are sampled, not taken by their argmax: on a world of small objects the likeliest code
    #: is background at nearly every place, and greedy decoding wrote one code 64 times over (every
    #: image blank); sampling at temperature 1 drew the asked-for objects where greedy drew none
    #: (experiments/image_decoding.py, BENCHMARKS.md). Top-k 20 lost them again.
    sampling = {"do_sample": True, "temperature": 1.0, "top_k": 0}

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(ex.text)

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        codes = ex.meta.get(TARGET_CODES)
        if codes is None:
            raise ValueError(f"{ex.source or ex.image_id}: task {self.name!r} needs ex.meta[{TARGET_CODES!r}] "
                             "(give the Processor an image_tokenizer)")
        if len(codes) != self.num_codes:
            raise ValueError(f"{ex.source or ex.image_id}: target image has {len(codes)} codes but task {self.name!r} "
                             f"has num_codes={self.num_codes} (set it to the image tokenizer's num_codes)")
        return image_tokens(codes)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("image", image_tokens=self.num_codes)

    def decoded(self, pred: Prediction) -> np.ndarray | None:
        """The ``(S, S, 3)`` uint8 image a prediction spells; None when it has not exactly ``num_codes`` codes."""
        if self.decode_image is None:
            raise ValueError(f"task {self.name!r}: set task.decode_image (codes -> uint8 image), "
                             "e.g. with bind_image_tokenizer(task, image_tokenizer)")
        codes = pred.parsed.image_codes
        return np.asarray(self.decode_image(codes), dtype=np.uint8) if len(codes) == self.num_codes else None

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        """Mean PSNR (dB) of the decoded predictions against the target images, and the rate of
        outputs with exactly ``num_codes`` codes (an output of another length scores as a grey canvas)."""
        if len(examples) != len(predictions):
            raise ValueError(f"{len(examples)} examples but {len(predictions)} predictions")
        scores, valid = [], 0
        for ex, pred in zip(examples, predictions):
            out = self.decoded(pred)
            valid += out is not None
            if ex.target_image is None:
                raise ValueError(f"{ex.source or ex.image_id}: no target_image to score against")
            size = (out.shape[1], out.shape[0]) if out is not None else (ex.width, ex.height)
            ref = load_rgb(ex.target_image, size)
            if out is None:
                out = np.full_like(ref, CANVAS_GREY)
            scores.append(psnr(out, ref))
        n = max(1, len(scores))
        return {"psnr": float(sum(scores) / n), "valid_rate": valid / n}


class GenerateImage(ImageTask):
    name = "generate_image"
    image_input = "canvas"  # drawn from the caption alone: the model reads a blank canvas
    files = ("generations.jsonl",)


class EditImage(ImageTask):
    name = "edit_image"
    needs = ("text", "target_image", "images")
    files = ("edits.jsonl",)


def bind_image_tokenizer(task: Task, image_tokenizer) -> Task:
    """Give an image task the grid size and decoder of ``image_tokenizer`` (returns ``task``; other tasks unchanged).

    ``image_tokenizer``: anything with ``num_codes`` and ``decode_to_arrays(codes (B, h*w)) -> (B, S, S, 3)``
    (an :class:`~vlseq.models.image_tokenizer.ImageTokenizer`); kept duck-typed so tasks stay torch-free.
    """
    if isinstance(task, ImageTask):
        task.num_codes = int(image_tokenizer.num_codes)
        task.decode_image = lambda codes: image_tokenizer.decode_to_arrays([list(codes)])[0]
    return task


def with_target_codes(ex: Example, codes: Sequence[int]) -> Example:
    """A copy of ``ex`` whose meta carries the target image's codes (``ex`` itself is not changed)."""
    return dataclasses.replace(ex, meta={**ex.meta, TARGET_CODES: [int(c) for c in codes]})


__all__ = ["ImageTask", "GenerateImage", "EditImage", "TARGET_CODES", "blank_canvas", "bind_image_tokenizer", "image_tokens",
           "generation_examples", "psnr", "load_rgb", "with_target_codes"]
