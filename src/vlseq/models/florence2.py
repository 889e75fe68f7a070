"""Florence-2 as a vlseq model: transformers' native ``Florence2ForConditionalGeneration`` behind
the interface of :class:`~vlseq.models.vlseq_model.VLSeqModel`, so vlseq's tasks, training loop,
grammar-constrained decoding and evaluation fine-tune a Florence-2 checkpoint unchanged.

::

    pixel_values (B, I, 3, S, S), vlseq-normalised (:mod:`vlseq.codec.pixels`)
        -> Florence-2 normalisation (ImageNet mean/std) -> I images tiled side by side
        -> DaViT vision tower + projector -> (B, 1 + h * I*w, d) image tokens --+
    input_ids (B, L) -> <s> prompt </s> -> shared embeddings -------------------+-> BART encoder
    decoder_input_ids (B, T) -> </s> prepended -> BART decoder -> logits (B, T, V)

The input layout is Florence-2's own (its processor builds ``<image>*N <s> prompt </s>`` and its
decoder starts with ``</s> <s>``), so pretrained weights see what they were trained on; vlseq's
prompts and targets replace Florence-2's task tokens.

Where the architecture comes from:

* ``cfg.lm_pretrained``: a local Florence-2 directory (``config.json`` + weights, as transformers
  saves it). The weights are loaded from it (float32), the token embeddings grown to the
  tokenizer's size, and the resulting ``Florence2Config`` is stored in ``cfg.vision.hf_config``
  so that a vlseq checkpoint rebuilds the architecture without the original directory.
* otherwise ``cfg.vision.hf_config``: a ``Florence2Config`` dict (random initialisation, or the
  architecture of a vlseq checkpoint being loaded).

``cfg.vision.hf_config`` may also carry ``image_mean`` / ``image_std`` (3 floats each, Florence-2's
pixel statistics); they default to the directory's ``preprocessor_config.json`` or ImageNet's.

Several images per example (NLVR2-style pairs) are tiled side by side into one ``S x k*S`` image,
which Florence-2's convolutional, windowed vision tower and its 2-D position table take natively;
when that many image tokens would not fit the position tables (e.g. two 768 px images: 1153
tokens > BART's 1024 positions), the tiled image is squeezed to ``S x S`` instead (each image
``S/k`` wide). Rows with fewer real images are encoded at their own width and their encoder
sequence padded at the end, so a row's result does not depend on its batch.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from transformers import (
    Florence2Config,
    Florence2ForConditionalGeneration,
    GenerationConfig,
    LogitsProcessor,
    LogitsProcessorList,
)
from transformers.modeling_outputs import BaseModelOutput

from ..codec.pixels import PIXEL_MEAN, PIXEL_STD
from .config import ModelConfig
from .loss import balanced_loss_split

#: Florence-2's image processor statistics (ImageNet's), used when the directory names none.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
#: Encoder positions kept free for the prompt when deciding whether tiled images fit side by side.
PROMPT_RESERVE = 128
#: Keys of ``vision.hf_config`` that are not Florence2Config fields.
STAT_KEYS = ("image_mean", "image_std")


def _read_stats(directory: Path) -> dict[str, list[float]]:
    """``image_mean`` / ``image_std`` from a checkpoint's ``preprocessor_config.json``, if present."""
    path = directory / "preprocessor_config.json"
    if not path.exists():
        return {}
    try:
        d = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None
    return {k: [float(v) for v in d[k]] for k in STAT_KEYS if k in d}


def load_florence2(cfg: ModelConfig) -> tuple[Florence2ForConditionalGeneration, dict[str, list[float]]]:
    """The transformers model a config names (weights from ``cfg.lm_pretrained`` or built from
    ``cfg.vision.hf_config``) and the pixel statistics."""
    hf = dict(cfg.vision.hf_config or {})
    stats = {k: [float(v) for v in hf.pop(k)] for k in STAT_KEYS if k in hf}
    if cfg.lm_pretrained:
        path = Path(cfg.lm_pretrained)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"model.lm_pretrained={cfg.lm_pretrained}: not a Florence-2 model directory "
                                    "(no config.json); put the checkpoint there (see docs/florence2.md)")
        model, info = Florence2ForConditionalGeneration.from_pretrained(
            str(path), local_files_only=True, dtype=torch.float32, output_loading_info=True)
        # transformers only logs weights it could not place; a half-initialised model would then
        # fine-tune silently from noise (e.g. a checkpoint in the original remote-code layout).
        bad = {k: sorted(info.get(k) or ()) for k in ("missing_keys", "unexpected_keys", "mismatched_keys")}
        if any(bad.values()):
            summary = "; ".join(f"{len(v)} {k.replace('_', ' ')} (e.g. {v[:2]})" for k, v in bad.items() if v)
            raise ValueError(f"model.lm_pretrained={cfg.lm_pretrained}: weights do not match transformers' "
                             f"Florence2ForConditionalGeneration: {summary}. A transformers-native Florence-2 "
                             "checkpoint is needed (see docs/florence2.md)")
        stats = {**_read_stats(path), **stats}
    elif hf:
        try:
            config = Florence2Config.from_dict(hf)
        except (TypeError, ValueError) as e:
            raise ValueError(f"model.vision.hf_config is not a valid Florence2Config: {e}") from None
        model = Florence2ForConditionalGeneration(config)
    else:
        raise ValueError("model_type florence2 needs model.lm_pretrained (a local Florence-2 directory) or "
                         "model.vision.hf_config (a Florence2Config dict)")
    for k in STAT_KEYS:
        if k in stats and len(stats[k]) != 3:
            raise ValueError(f"Florence-2 {k} must have 3 values (RGB), got {stats[k]}")
    stats.setdefault("image_mean", list(IMAGENET_MEAN))
    stats.setdefault("image_std", list(IMAGENET_STD))
    return model, stats


def _conv_out(n: int, kernel: int, stride: int, padding: int) -> int:
    return (n + 2 * padding - kernel) // stride + 1


class _SkipFirst(LogitsProcessor):
    """Show a wrapped processor the decoder ids without their first column (Florence-2's ``</s>``
    start token), so vlseq's processors see ``<s> generated...`` as with :class:`VLSeqModel`."""

    def __init__(self, inner: LogitsProcessor) -> None:
        self.inner = inner

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        return self.inner(input_ids[:, 1:], scores)


class Florence2Model(nn.Module):
    """A Florence-2 checkpoint with VLSeqModel's interface (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (from the tokenizer)")
        self.config = cfg
        self.florence, stats = load_florence2(cfg)
        if self.florence.get_input_embeddings().num_embeddings < cfg.vocab_size:
            # vlseq's markup tokens (<obj>, </obj>, ...) are appended to Florence-2's vocabulary.
            self.florence.resize_token_embeddings(cfg.vocab_size)
        self.florence.tie_weights()
        # The checkpoint's generation defaults (beam search, no_repeat_ngram_size, forced </s>)
        # would fight the grammar; generation settings come only from generate()'s arguments.
        self.florence.generation_config = GenerationConfig(
            decoder_start_token_id=cfg.eos_token_id, bos_token_id=cfg.bos_token_id,
            eos_token_id=cfg.eos_token_id, pad_token_id=cfg.pad_token_id)
        fc = self.florence.config
        tc, vc = fc.text_config, fc.vision_config
        # Store the architecture (vocabulary already resized) so a checkpoint rebuilds it without the
        # original directory; the size fields mirror it (informational: they are not read back).
        cfg.vision.hf_config = {**fc.to_dict(), **stats}
        cfg.d_model, cfg.encoder_layers, cfg.decoder_layers = tc.d_model, tc.encoder_layers, tc.decoder_layers
        cfg.heads, cfg.ffn_dim = tc.encoder_attention_heads, tc.encoder_ffn_dim
        cfg.max_positions = tc.max_position_embeddings
        # Pixel conversion (x_vlseq * a + b == (x - mean) / std), per channel, from vlseq's input scale
        # x_vlseq = (x - PIXEL_MEAN) / PIXEL_STD.
        mean = torch.tensor(stats["image_mean"]).view(1, 3, 1, 1)
        std = torch.tensor(stats["image_std"]).view(1, 3, 1, 1)
        self.register_buffer("pixel_scale", PIXEL_STD / std, persistent=False)
        self.register_buffer("pixel_shift", (PIXEL_MEAN - mean) / std, persistent=False)
        self._stages = list(zip(vc.patch_size, vc.patch_stride, vc.patch_padding))
        self._max_cells = vc.max_position_embeddings
        self._max_positions = tc.max_position_embeddings
        side = self.feature_side(cfg.image_size)
        if side > self._max_cells:
            raise ValueError(f"image_size {cfg.image_size} gives a {side}x{side} feature grid; Florence-2's position "
                             f"table has {self._max_cells} cells per side")
        self.tokens_per_image = side * side + 1  # + Florence-2's pooled image token
        if self.tokens_per_image + 2 >= self._max_positions:
            raise ValueError(f"{self.tokens_per_image} image tokens leave no room for the prompt within "
                             f"max_position_embeddings={self._max_positions}")
        #: Width in pixels of the tiled image of k images: k*S side by side, or squeezed into S when
        #: that would not fit the position tables with PROMPT_RESERVE positions left for the prompt.
        self.tile_width: dict[int, int] = {}
        for k in range(1, cfg.max_images + 1):
            cells = self.feature_side(k * cfg.image_size)
            fits = cells <= self._max_cells and side * cells + 1 + PROMPT_RESERVE <= self._max_positions
            self.tile_width[k] = k * cfg.image_size if fits or k == 1 else cfg.image_size

    def feature_side(self, n: int) -> int:
        """Cells of the vision tower's output along an input side of ``n`` pixels."""
        for k, s, p in self._stages:
            n = _conv_out(n, k, s, p)
        return n

    # ------------------------------------------------------------------ encoder inputs

    def to_florence_pixels(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """vlseq-normalised (..., 3, H, W) -> Florence-2-normalised, same shape."""
        return pixel_values * self.pixel_scale.to(pixel_values.dtype) + self.pixel_shift.to(pixel_values.dtype)

    def encode_images(self, pixel_values: torch.Tensor, image_mask: torch.Tensor | None = None) -> list[torch.Tensor]:
        """(B, I, 3, S, S) -> per row (1 + h * k*w, d) image tokens, k = that row's real images tiled side by side.

        Real images must come first in each row (as vlseq's Processor collates them).
        """
        b, n_img, _, s, _ = pixel_values.shape
        if s != self.config.image_size or pixel_values.shape[-1] != s:
            raise ValueError(f"pixel_values of {tuple(pixel_values.shape[-2:])} px; the model takes "
                             f"{self.config.image_size}x{self.config.image_size}")
        if image_mask is None:
            counts = torch.full((b,), n_img, dtype=torch.long)
        else:
            counts = image_mask.long().sum(1).cpu()
            prefix = torch.arange(n_img)[None, :] < counts[:, None]
            if not torch.equal(prefix, image_mask.bool().cpu()):
                raise ValueError("image_mask: real images must come first in each row")
        if int(counts.min()) < 1:
            raise ValueError("Florence-2 needs at least one image per example")
        if int(counts.max()) > self.config.max_images:
            raise ValueError(f"{int(counts.max())} images per example; the model takes at most "
                             f"{self.config.max_images} (model.max_images)")
        # The pixels follow the weights' dtype (the buffers move with them), as in VLSeqModel.encode_images.
        pix = self.to_florence_pixels(pixel_values.to(self.pixel_scale.dtype))
        out: list[torch.Tensor | None] = [None] * b
        for k in sorted(set(counts.tolist())):
            rows = (counts == k).nonzero().flatten().tolist()
            tiles = pix[rows, :k]  # (r, k, 3, S, S) -> (r, 3, S, k*S)
            tiles = tiles.permute(0, 2, 3, 1, 4).reshape(len(rows), 3, s, k * s)
            if self.tile_width[k] != k * s:
                tiles = F.interpolate(tiles, size=(s, self.tile_width[k]), mode="bilinear", antialias=True,
                                      align_corners=False)
            feats = self.florence.model.get_image_features(tiles).pooler_output
            for j, r in enumerate(rows):
                out[r] = feats[j]
        return out  # type: ignore[return-value]

    def _wrap_prompt(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Right-padded prompts (B, L) -> ``<s> prompt </s>`` (B, L + 2), Florence-2's text layout."""
        c = self.config
        b, length = input_ids.shape
        lens = attention_mask.long().sum(1)
        ids = torch.full((b, length + 2), c.pad_token_id, dtype=input_ids.dtype, device=input_ids.device)
        ids[:, 0] = c.bos_token_id
        ids[:, 1 : length + 1] = input_ids.masked_fill(~attention_mask.bool(), c.pad_token_id)
        ids.scatter_(1, (lens + 1)[:, None], c.eos_token_id)
        mask = (torch.arange(length + 2, device=ids.device)[None, :] < (lens + 2)[:, None]).to(attention_mask.dtype)
        return ids, mask

    def encoder_inputs(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image tokens then ``<s> prompt </s>``, each row packed and right-padded.

        Args:
            pixel_values: (B, I, 3, S, S) vlseq-normalised; input_ids, attention_mask: (B, L).
            image_mask: (B, I) bool, False for padding images.
        Returns:
            embeds (B, N, d) and mask (B, N).
        """
        images = self.encode_images(pixel_values, image_mask)
        ids, mask = self._wrap_prompt(input_ids, attention_mask)
        txt = self.florence.get_input_embeddings()(ids)
        lens = mask.sum(1).tolist()
        rows = [torch.cat([img.to(txt.dtype), txt[i, : lens[i]]]) for i, img in enumerate(images)]
        n = max(r.shape[0] for r in rows)
        if n > self._max_positions:
            raise ValueError(f"encoder input of {n} tokens (image tokens + <s> prompt </s>) exceeds Florence-2's "
                             f"max_position_embeddings={self._max_positions}; shorten max_prompt_tokens")
        embeds = txt.new_zeros(len(rows), n, txt.shape[-1])
        enc_mask = mask.new_zeros(len(rows), n)
        for i, r in enumerate(rows):
            embeds[i, : r.shape[0]] = r
            enc_mask[i, : r.shape[0]] = 1
        return embeds, enc_mask

    # ------------------------------------------------------------------ training

    def forward(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        decoder_input_ids: torch.Tensor,
        labels: torch.Tensor | None = None,
        image_mask: torch.Tensor | None = None,
        sample_weight: torch.Tensor | None = None,
        loss_group: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Teacher-forced logits (B, T, V) and, with ``labels`` (B, T; -100 = ignored), the loss.

        ``decoder_input_ids`` are vlseq's (``<s> target``); Florence-2's start token ``</s>`` is
        prepended and its logits (which predict ``<s>``) dropped, so logits align with ``labels``.
        The loss is balanced per sample exactly as in :class:`VLSeqModel` (weighted by
        ``sample_weight`` (B,)); ``sample_loss`` (B,) is returned for per-task logging, and with
        ``loss_group`` (B,) bool, ``loss_group_share``: the part of ``loss`` those samples make.
        """
        c = self.config
        embeds, mask = self.encoder_inputs(pixel_values, input_ids, attention_mask, image_mask)
        start = torch.full_like(decoder_input_ids[:, :1], c.eos_token_id)
        dec = torch.cat([start, decoder_input_ids], dim=1)
        dec_mask = (dec != c.pad_token_id).long()
        dec_mask[:, :2] = 1
        out = self.florence(inputs_embeds=embeds, attention_mask=mask, decoder_input_ids=dec,
                            decoder_attention_mask=dec_mask, use_cache=False)
        logits = out.logits[:, 1:]
        result = {"logits": logits}
        if labels is not None:
            result["loss"], result["sample_loss"], share = balanced_loss_split(logits, labels, sample_weight, loss_group)
            if share is not None:
                result["loss_group_share"] = share
        return result

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def generate(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_mask: torch.Tensor | None = None,
        logits_processor: Sequence[Any] | None = None,
        max_new_tokens: int = 64,
        **generate_kwargs: Any,
    ) -> torch.Tensor:
        """transformers ``generate()`` from ``</s> <s>``; returns (B*num_return_sequences, T) ids
        whose first id is ``<s>`` (vlseq's decoder start), as :meth:`VLSeqModel.generate` does.

        ``logits_processor`` entries see the ids from ``<s>`` on (the ``</s>`` column hidden).
        """
        c = self.config
        embeds, mask = self.encoder_inputs(pixel_values, input_ids, attention_mask, image_mask)
        encoder = self.florence.model.get_encoder()
        enc = encoder(inputs_embeds=embeds, attention_mask=mask, return_dict=True)
        prefix = torch.tensor([[c.eos_token_id, c.bos_token_id]], device=embeds.device).expand(embeds.shape[0], 2)
        kwargs: dict[str, Any] = dict(
            encoder_outputs=BaseModelOutput(last_hidden_state=enc.last_hidden_state), attention_mask=mask,
            decoder_input_ids=prefix.contiguous(), max_new_tokens=max_new_tokens,
            decoder_start_token_id=c.eos_token_id, eos_token_id=c.eos_token_id, pad_token_id=c.pad_token_id,
            do_sample=False, num_beams=1,
        )
        kwargs.update(generate_kwargs)
        if logits_processor:
            kwargs["logits_processor"] = LogitsProcessorList([_SkipFirst(p) for p in logits_processor])
        return self.florence.generate(**kwargs)[:, 1:]

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
