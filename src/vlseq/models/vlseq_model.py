"""The encoder-decoder: image grid tokens + prompt -> a transformers BART -> one token sequence.

::

    pixel_values (B, I, 3, S, S) --vision--> (B, I, h*w, C) --proj + 2-D pos + image index--+
                       (optional) --coarse stage--> (B, I, k, d) ------ + image index -----+
                                                                                          cat --> BART encoder
    input_ids (B, L) --------------------shared embeddings (tied to the output head)------+
    decoder_input_ids (B, T) --> BART decoder --> logits (B, T, V)

The model never sees a task name: tasks differ only in their prompt, target and grammar.
Greedy generation is a lean hand-written loop over the same decoder (:mod:`.greedy`, token for
token what transformers' ``generate()`` gives); beam search and sampling are ``generate()``.
"""

from __future__ import annotations

import contextlib
import math
from typing import Any, Sequence

import torch
from torch import nn
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    LogitsProcessorList,
    MBartConfig,
    MBartForConditionalGeneration,
)
from transformers.modeling_outputs import BaseModelOutput

from .coarse import CoarseTokens
from .config import ModelConfig
from .experts import TokenRouter, install_modality_experts
from .greedy import greedy_decode
from .loss import balanced_loss_split, cell_identity_loss, coordinate_mask
from .pointer import PointerHead
from .positions import sincos_2d, sincos_coordinates
from .vision import build_vision, grid_size

#: ``model.lm``: transformers' encoder-decoder classes; ``mbart`` is BART with pre-LN layers (a
#: LayerNorm before each sublayer and one after each stack), the same modules and inputs otherwise
LM_CLASSES = {"bart": (BartConfig, BartForConditionalGeneration), "mbart": (MBartConfig, MBartForConditionalGeneration)}


def bart_config(cfg: ModelConfig) -> BartConfig:
    return LM_CLASSES[cfg.lm][0](
        vocab_size=cfg.vocab_size,
        d_model=cfg.d_model,
        encoder_layers=cfg.encoder_layers,
        decoder_layers=cfg.decoder_layers,
        encoder_attention_heads=cfg.heads,
        decoder_attention_heads=cfg.heads,
        encoder_ffn_dim=cfg.ffn_dim,
        decoder_ffn_dim=cfg.ffn_dim,
        dropout=cfg.dropout,
        attention_dropout=0.0,
        activation_dropout=0.0,
        max_position_embeddings=cfg.max_positions,
        pad_token_id=cfg.pad_token_id,
        bos_token_id=cfg.bos_token_id,
        eos_token_id=cfg.eos_token_id,
        decoder_start_token_id=cfg.bos_token_id,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        scale_embedding=False,
        tie_word_embeddings=True,
        init_std=cfg.weight_std,
    )


class VLSeqModel(nn.Module):
    """Vision tower + BART encoder-decoder over the unified vocabulary."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.vocab_size <= 0:
            raise ValueError("ModelConfig.vocab_size must be set (from the tokenizer)")
        self.config = cfg
        self.vision = build_vision(cfg.vision, cfg.image_size)
        self.grid = grid_size(self.vision, cfg.image_size)
        c = self.vision.out_channels
        d = cfg.d_model
        self.proj = nn.Sequential(nn.Linear(c, d), nn.LayerNorm(d) if cfg.proj_norm else nn.Identity())
        # Factorised learned 2-D positions: row + column embeddings (h + w vectors, not h*w).
        std = cfg.weight_std
        if cfg.pos_init == "sincos":
            pos_row, pos_col = sincos_2d(self.grid, d)
        else:
            pos_row, pos_col = torch.randn(self.grid[0], d) * std, torch.randn(self.grid[1], d) * std
        self.pos_row, self.pos_col = nn.Parameter(pos_row), nn.Parameter(pos_col)
        self.coarse = CoarseTokens(c, d, cfg.coarse_grid, self.grid, cfg.vision.norm) if cfg.coarse_grid else None
        self.image_index = nn.Embedding(cfg.max_images, d)
        # Like the positions: nn.Embedding's N(0, 1) init would add a shared vector as large as the
        # image features themselves to every image token.
        nn.init.normal_(self.image_index.weight, std=std)
        if cfg.lm_pretrained:
            self.lm = LM_CLASSES[cfg.lm][1].from_pretrained(cfg.lm_pretrained, local_files_only=True)
            if self.lm.config.d_model != d:
                raise ValueError(f"{cfg.lm_pretrained}: d_model {self.lm.config.d_model} != config d_model {d}")
            if self.lm.config.vocab_size < cfg.vocab_size:
                self.lm.resize_token_embeddings(cfg.vocab_size)
        else:
            self.lm = LM_CLASSES[cfg.lm][1](bart_config(cfg))
        if cfg.referent_loss > 0 and cfg.referent_via == "pointer" and cfg.loc_pointer == "none":
            raise ValueError("model.referent_loss reads the pointer's attention: it needs model.loc_pointer")
        if cfg.referent_loss > 0 and cfg.referent_via == "encoder":
            # Zero weights: every cell scores alike at step 0, so the loss starts at log(h*w)
            # and sends nothing into the encoder until the score has a direction.
            self.referent_head = nn.Linear(d, 1)
            nn.init.zeros_(self.referent_head.weight)
            nn.init.zeros_(self.referent_head.bias)
        if cfg.cell_labels and cfg.cell_head:
            self.cell_head = nn.Linear(d, d)
            with torch.no_grad():
                self.cell_head.weight.copy_(torch.eye(d))
                self.cell_head.bias.zero_()
        if cfg.loc_pointer != "none":
            self.lm.lm_head = PointerHead(d, self.lm.config.vocab_size, self.grid, cfg.loc_offset, cfg.num_bins, std,
                                          offsets=cfg.loc_pointer == "cell_offset", only_coords=cfg.loc_pointer_at == "coords",
                                          gate=cfg.loc_pointer_gate)
        self.router: TokenRouter | None = None
        if cfg.modality_experts:
            self.router = TokenRouter(cfg.loc_offset, cfg.num_bins, cfg.img_offset, cfg.num_image_tokens)
            install_modality_experts(self.lm.get_decoder(), self.router, cfg.modality_experts)
        self.lm.tie_weights()
        if cfg.loc_init == "sincos" and not cfg.lm_pretrained:
            self._init_coordinates_sincos()
        if self.lm.lm_head.weight is not self.lm.get_input_embeddings().weight:
            raise RuntimeError("the output head is not tied to the input embeddings")
        n_img = (self.tokens_per_image + self.coarse_tokens) * cfg.max_images
        if n_img >= cfg.max_positions:
            raise ValueError(f"max_positions {cfg.max_positions} too small for {n_img} image tokens + the prompt")

    @torch.no_grad()
    def _init_coordinates_sincos(self) -> None:
        """Start the ``<loc_k>`` rows of the tied embedding as :func:`sincos_coordinates`, at the mean
        norm of the other rows (so they are neither louder nor quieter than words)."""
        cfg = self.config
        if cfg.loc_offset < 0:
            raise ValueError("model.loc_init='sincos' needs the coordinate token ids (ModelConfig.fill_from_tokenizer)")
        w = self.lm.get_input_embeddings().weight
        lo, n = cfg.loc_offset, cfg.num_bins
        table = sincos_coordinates(n, self.grid, cfg.d_model)
        others = torch.cat([w[:lo], w[lo + n:]]).norm(dim=1).mean()
        w[lo:lo + n] = table / table.norm(dim=1, keepdim=True) * others

    @property
    def tokens_per_image(self) -> int:
        """Encoder tokens per image (the vision grid's cells). Not ``config.num_image_tokens``, which
        counts the ``<img_k>`` output tokens of the image tokenizer's codebook."""
        return self.grid[0] * self.grid[1]

    @property
    def coarse_tokens(self) -> int:
        """Coarse encoder tokens per image (``model.coarse_grid`` squared; 0 without them). They
        follow all images' fine grids: image ``i``'s cells stay at ``i * tokens_per_image ..``."""
        return 0 if self.coarse is None else self.coarse.tokens

    # ------------------------------------------------------------------ encoder inputs

    def encode_images(self, pixel_values: torch.Tensor, image_mask: torch.Tensor | None = None) -> torch.Tensor:
        """(B, I, 3, S, S) -> (B, I * h * w + I * k, d): every image's fine grid, then (with
        ``model.coarse_grid``) every image's ``k`` coarse tokens.

        ``image_mask`` (B, I) bool marks the real images of a padded batch (a story beside
        single-image rows): only those go through the vision stem, so padding costs no stem time
        and stays out of its batch-norm statistics; a padding image's features are zeros (the
        encoder masks its tokens anyway).
        """
        b, n_img = pixel_values.shape[:2]
        if n_img > self.config.max_images:
            raise ValueError(f"{n_img} images per example; the model takes at most {self.config.max_images}")
        # The pixels follow the weights' dtype, so a model cast to bfloat16 / float16 for inference
        # takes the Processor's float32 pixels from every caller (generation, scoring, diagnostics).
        flat = pixel_values.flatten(0, 1).to(self.proj[0].weight.dtype)  # (B*I, 3, S, S)
        keep = None if image_mask is None else image_mask.flatten().to(flat.device)
        whole = keep is None or bool(keep.all())
        real = self.vision(flat if whole else flat[keep])  # (B*I or fewer, C, h, w)
        # the coarse stage sees the real images alone, like the stem (padding stays out of its norm)
        coarse = None if self.coarse is None else self.coarse(real)  # (B*I or fewer, k, d)
        if not whole:
            real = real.new_zeros((flat.shape[0], *real.shape[1:])).index_put((keep,), real)
            if coarse is not None:
                coarse = coarse.new_zeros((flat.shape[0], *coarse.shape[1:])).index_put((keep,), coarse)
        x = self.proj(real.flatten(2).transpose(1, 2))  # (B*I, h*w, d)
        pos = (self.pos_row[:, None, :] + self.pos_col[None, :, :]).reshape(-1, x.shape[-1])
        x = x + pos
        index = self.image_index.weight[:n_img, None, :]
        x = (x.view(b, n_img, -1, x.shape[-1]) + index).flatten(1, 2)
        if coarse is None:
            return x
        return torch.cat([x, (coarse.view(b, n_img, -1, x.shape[-1]) + index).flatten(1, 2)], dim=1)

    def encoder_inputs(
        self,
        pixel_values: torch.Tensor,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        image_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Image tokens then prompt tokens.

        Args:
            pixel_values: (B, I, 3, S, S) float.
            input_ids: (B, L) prompt ids; attention_mask: (B, L).
            image_mask: (B, I) bool, False for padding images of single-image rows in a pair batch.
        Returns:
            embeds (B, I*h*w + I*k + L, d) and mask (B, I*h*w + I*k + L), with ``k``
            :attr:`coarse_tokens`.
        """
        img = self.encode_images(pixel_values, image_mask)  # (B, I*h*w + I*k, d)
        b, n_img = pixel_values.shape[:2]
        if image_mask is None:
            image_mask = torch.ones(b, n_img, dtype=torch.bool, device=img.device)
        per_image = image_mask.to(attention_mask.dtype)
        img_mask = torch.cat([per_image.repeat_interleave(self.tokens_per_image, dim=1),
                              per_image.repeat_interleave(self.coarse_tokens, dim=1)], dim=1)
        txt = self.lm.get_input_embeddings()(input_ids)
        if not bool(image_mask.all()):
            k = n_img * self.coarse_tokens  # the coarse block, I * k tokens at the end of img
            shift = self._tail_position_shift(image_mask, k + input_ids.shape[1]).to(txt.dtype)  # (B, I*k + L, d)
            txt = txt + shift[:, k:]
            if k:
                img = torch.cat([img[:, :-k], img[:, -k:] + shift[:, :k]], dim=1)
        return torch.cat([img, txt], dim=1), torch.cat([img_mask, attention_mask], dim=1)

    def _tail_position_shift(self, image_mask: torch.Tensor, length: int) -> torch.Tensor:
        """(B, length, d): what moves each row's tokens after the fine grids (its coarse tokens, then
        its prompt) to the encoder positions they have when the row is alone.

        BART's encoder adds learned positions 0..N-1 over the whole input, so in a batch padded to
        I images a one-image row's prompt would sit at positions I*h*w.. instead of h*w..: its output
        would depend on its neighbours. A model trained on batches of one image count (length-grouped
        batches) then failed on mixed ones (close-set answers at chance, BENCHMARKS.md). This swaps
        the positions BART will add for those right after the row's real images (zero for full rows).
        A row's real images lead its padding ones, so its real coarse tokens lead that block too.
        """
        pos = self.lm.get_encoder().embed_positions
        m = torch.arange(length, device=image_mask.device)  # place in the tail: coarse block, then prompt
        t, k, n = self.tokens_per_image, self.coarse_tokens, image_mask.shape[1]
        count = image_mask.long().sum(1, keepdim=True)  # (B, 1) real images
        in_prompt = (m >= n * k).long()  # (length,)
        # alone: the fine grids of the real images, then (in the prompt) their coarse tokens before it
        alone = count * t + m - in_prompt * (n - count) * k  # (B, length)
        padded = n * t + m  # (length,)
        return pos.weight[alone + pos.offset] - pos.weight[padded + pos.offset][None]

    def encode(self, embeds: torch.Tensor, mask: torch.Tensor, n_image_tokens: int = 0) -> BaseModelOutput:
        """The BART encoder over (B, N, d) inputs; last_hidden_state (B, N, d).

        With ``encoder_skip``, the first ``n_image_tokens`` inputs (the image tokens) are added to the
        outputs at their places, so the decoder and the pointer read each cell's own features beside
        what the encoder mixed into it.
        """
        enc = self.lm.get_encoder()(inputs_embeds=embeds, attention_mask=mask)
        if self.config.encoder_skip and n_image_tokens:
            h = enc.last_hidden_state
            enc.last_hidden_state = torch.cat([h[:, :n_image_tokens] + embeds[:, :n_image_tokens], h[:, n_image_tokens:]], 1)
        return enc

    def pointing(self, enc: BaseModelOutput, mask: torch.Tensor, n_img: int, labels: torch.Tensor | None = None):
        """Context in which the pointer head (when there is one) looks at the first ``n_img``
        encoder outputs, the image tokens. ``labels`` (B, T), when given, name the positions that
        write a coordinate (for ``loc_pointer_at="coords"``)."""
        head = self.lm.lm_head
        if not isinstance(head, PointerHead):
            return contextlib.nullcontext()
        where = None
        if labels is not None and head.only_coords:
            where = coordinate_mask(labels, self.config.loc_offset, self.config.num_bins)
        return head.attach(enc.last_hidden_state[:, :n_img], mask[:, :n_img].bool(), where)

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
        cell_xy: torch.Tensor | None = None,
        cell_token: torch.Tensor | None = None,
        cell_weight: torch.Tensor | None = None,
        referent_xy: torch.Tensor | None = None,
        loss_group: torch.Tensor | None = None,
    ) -> dict[str, torch.Tensor]:
        """Teacher-forced logits and, with ``labels`` (B, T; -100 = ignored), the loss.

        The loss is balanced per sample: each sample's token losses are averaged first, then
        samples are averaged (weighted by ``sample_weight`` (B,) when given). A one-token VQA
        answer thus weighs as much as a 40-token object list (token-averaging starves short tasks).
        Also returns ``sample_loss`` (B,) for per-task logging. With ``model.cell_loss`` and the
        batch's ``cell_xy`` (B, K, 2) / ``cell_token`` (B, K) / ``cell_weight`` (B, K)
        (``Processor(cell_labels=True)``), the
        weighted :meth:`cell_identity_loss` is added to ``loss`` and returned as ``cell_loss`` (and,
        with ``model.cell_loss_stem``, the same loss read at the image tokens as ``cell_stem_loss``); with
        ``model.referent_loss`` and ``referent_xy`` (B, 2) (``Processor(referents=True)``), the
        weighted :meth:`referent_loss` likewise as ``referent_loss``. With ``loss_group`` (B,) bool,
        ``loss_group_share`` is the part of ``loss`` those samples' sequence losses make (the rest,
        auxiliary terms included, is ``loss - loss_group_share``).
        """
        embeds, mask = self.encoder_inputs(pixel_values, input_ids, attention_mask, image_mask)
        dec_mask = (decoder_input_ids != self.config.pad_token_id).long()
        dec_mask[:, 0] = 1
        n_img = pixel_values.shape[1] * self.tokens_per_image
        enc = self.encode(embeds, mask, n_img)
        refer = labels is not None and self.config.referent_loss > 0 and referent_xy is not None
        via = self.config.referent_via
        queries: list[torch.Tensor] = []
        with self.pointing(enc, mask, n_img, labels), self._cross_attention_queries(queries, refer and via == "attention"):
            out = self.lm(encoder_outputs=enc, attention_mask=mask, decoder_input_ids=decoder_input_ids,
                          decoder_attention_mask=dec_mask, use_cache=False,
                          output_hidden_states=refer and via == "pointer")
        result = {"logits": out.logits}
        if labels is not None:
            result["loss"], result["sample_loss"], share = balanced_loss_split(
                out.logits, labels, sample_weight, loss_group, self.config.loc_range, self.config.loc_sigma,
                self.config.loc_distance)
            if share is not None:
                result["loss_group_share"] = share
            if self.config.cell_loss > 0 and cell_token is not None and cell_xy is not None:
                result["cell_loss"] = self.cell_identity_loss(enc.last_hidden_state, cell_xy, cell_token, cell_weight)
                result["loss"] = result["loss"] + self.config.cell_loss * result["cell_loss"]
            if self.config.cell_loss_stem > 0 and cell_token is not None and cell_xy is not None:
                # the image tokens before the encoder (B, n_img, d): the first image's cells lead, as in hidden
                result["cell_stem_loss"] = self.cell_identity_loss(embeds[:, :n_img], cell_xy, cell_token, cell_weight)
                result["loss"] = result["loss"] + self.config.cell_loss_stem * result["cell_stem_loss"]
            if refer:
                state = None  # the encoder form reads no decoder state
                if via == "pointer":
                    state = out.decoder_hidden_states[-1][:, 0]
                elif via == "attention":
                    state = queries[0][:, 0]
                result["referent_loss"] = self.referent_loss(state, enc.last_hidden_state, mask, referent_xy)
                result["loss"] = result["loss"] + self.config.referent_loss * result["referent_loss"]
        return result

    def referent_loss(self, state: torch.Tensor | None, hidden: torch.Tensor, mask: torch.Tensor,
                      referent_xy: torch.Tensor) -> torch.Tensor:
        """Cross-entropy, over the first image's cells, of a score that should pick the cell holding
        the referent (the one box a text output is about, :meth:`vlseq.tasks.Task.referent`).

        Which score is ``model.referent_via``:

        - ``pointer``: the pointer head's attention, queried by ``state``, the last decoder layer's
          output at the answer's first position (the state the head reads). The cells' keys are
          held fixed: with gradients into them the loss pulled the encoder's outputs away from what
          the cell identity loss and the coordinates ask of them (at 300 steps of the screen the
          cell loss was 1.54 against 0.57, detection's label given a hit 0.11 against 0.51).
        - ``attention``: the first cross-attention head of the last decoder layer, queried by
          ``state``, that layer's input at the first output position. Its output is added to the
          residual stream, so what it finds is what the answer reads, and no state must both say
          the answer word and point (which is how the pointer form failed).
        - ``encoder``: ``referent_head`` on each cell of the encoder's output (``state`` unused).
          The first output position's query in the decoder's first layer sees only ``<s>``: it is
          the same for every prompt, so the cell a prompt is about must be marked by the encoder,
          where a fixed query can find it. This asks the encoder to mark it.

        Args:
            state: (B, d) the query state (see above) or None for ``encoder``.
            hidden: (B, N, d) encoder outputs, the first image's h*w cells first; mask: (B, N).
            referent_xy: (B, 2) the referent's centre as fractions of the image side; -1: none.
        Returns:
            () the mean over the batch's examples that have a referent (0 when none has).

        Why: a question about one object ("what shape is the large yellow object?") taught finding
        it only through the one answer word, and the model answered with the right attribute of
        another object of the image (every wrong shape and colour answer of the quickstart,
        ``experiments/vqa_misses.py``).
        """
        has = referent_xy[:, 0] >= 0  # (B,)
        if not bool(has.any()):
            return hidden.new_zeros(())
        h, w = self.grid
        cells = hidden[has, : h * w]  # (n, h*w, d)
        via = self.config.referent_via
        if via == "encoder":
            scores = self.referent_head(cells)[..., 0]  # (n, h*w)
        elif via == "attention":
            attn = self.lm.get_decoder().layers[-1].encoder_attn
            hd = attn.head_dim
            q = attn.q_proj(state[has])[:, :hd]  # (n, hd): head 0
            k = attn.k_proj(cells)[..., :hd]  # (n, h*w, hd)
            scores = (k @ q[..., None])[..., 0] * attn.scaling
        else:
            head = self.lm.lm_head
            with torch.no_grad():
                keys = head.key(cells)  # (n, h*w, d)
            scores = (head.query(state[has])[:, None] @ keys.transpose(1, 2))[:, 0] / math.sqrt(hidden.shape[-1])
        scores = scores.masked_fill(~mask[has, : h * w].bool(), float("-inf"))  # (n, h*w)
        target = self.cell_index(referent_xy[has])  # (n,)
        return torch.nn.functional.cross_entropy(scores, target.to(scores.device))

    @contextlib.contextmanager
    def _cross_attention_queries(self, into: list[torch.Tensor], on: bool):
        """While on, append the input of the last decoder layer's cross-attention, (B, T, d), to
        ``into`` at each forward (transformers' BART layer takes no argument that would return it)."""
        if not on:
            yield
            return
        attn = self.lm.get_decoder().layers[-1].encoder_attn
        handle = attn.register_forward_pre_hook(lambda _m, args: into.append(args[0]))
        try:
            yield
        finally:
            handle.remove()

    def cell_index(self, xy: torch.Tensor) -> torch.Tensor:
        """(..., 2) points as fractions of the image side (x, y) -> (...) long: the index of the grid
        cell that holds each, row-major over the first image's h*w cells."""
        h, w = self.grid
        col = (xy[..., 0] * w).long().clamp(0, w - 1)
        row = (xy[..., 1] * h).long().clamp(0, h - 1)
        return row * w + col

    def cell_identity_loss(self, hidden: torch.Tensor, cell_xy: torch.Tensor, cell_token: torch.Tensor,
                           cell_weight: torch.Tensor | None = None) -> torch.Tensor:
        """:func:`vlseq.models.loss.cell_identity_loss` of this model: the encoder's output (B, N, d)
        at the first image's cell holding each object's centre, ``cell_xy`` (B, K, 2), must name its
        ``cell_token`` (B, K) or (B, K, W) through the tied output head (or ``cell_head`` first)."""
        cells = self.cell_index(cell_xy).to(hidden.device)  # (B, K)
        head = self.cell_head if self.config.cell_head else None
        return cell_identity_loss(hidden, cells, cell_token, self.lm.get_input_embeddings().weight, cell_weight, head)

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
        """Decode from the images and prompt; returns (B*num_return_sequences, T) ids.

        The first id of each row is the decoder start token (``<s>``). Greedy decoding (the
        default: ``num_beams=1``, no sampling, optionally ``min_new_tokens``) runs
        :func:`~vlseq.models.greedy.greedy_decode`, token for token what transformers'
        ``generate()`` gives and faster; anything else (beams, sampling, several return
        sequences) is transformers' ``generate()``. ``fast=False`` forces ``generate()``.
        """
        embeds, mask = self.encoder_inputs(pixel_values, input_ids, attention_mask, image_mask)
        n_img = pixel_values.shape[1] * self.tokens_per_image
        enc = self.encode(embeds, mask, n_img)
        fast = generate_kwargs.pop("fast", True)
        greedy = (generate_kwargs.get("num_beams", 1) == 1 and not generate_kwargs.get("do_sample", False)
                  and generate_kwargs.get("num_return_sequences", 1) == 1
                  and set(generate_kwargs) <= {"num_beams", "do_sample", "num_return_sequences", "min_new_tokens"})
        with self.pointing(enc, mask, n_img):
            if fast and greedy:
                return greedy_decode(self.lm, enc.last_hidden_state, mask, self.config.bos_token_id,
                                     self.config.eos_token_id, self.config.pad_token_id, max_new_tokens,
                                     list(logits_processor or ()), generate_kwargs.get("min_new_tokens") or 0,
                                     on_token=self.router.set if self.router is not None else None)
            kwargs = dict(
                encoder_outputs=enc, attention_mask=mask, max_new_tokens=max_new_tokens,
                decoder_start_token_id=self.config.bos_token_id, eos_token_id=self.config.eos_token_id,
                pad_token_id=self.config.pad_token_id, do_sample=False, num_beams=1,
            )
            kwargs.update(generate_kwargs)
            if logits_processor:
                kwargs["logits_processor"] = LogitsProcessorList(list(logits_processor))
            return self.lm.generate(**kwargs)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
