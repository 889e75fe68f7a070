"""Candidate scoring: the log-likelihood a model gives each candidate output of an example (VisDial ranking).

:func:`candidate_loglikelihoods` scores every candidate of an example (``Example.options``) by
teacher forcing, never by generation: the images and the prompt are encoded once per example, then
the candidates go through the decoder in chunks of ``batch_size``, each a batch row holding the
candidate as the target (``<s> candidate </s>``, as the Processor builds training targets).

A candidate's score is the **sum** of its target tokens' log-probabilities, ``</s>`` included: the
log-probability of the whole output, which is what VisDial's generative models rank by. It is not
divided by the length, so a longer candidate must earn its extra tokens (a length-normalised score
would favour long answers that start well).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..data.example import Example
from ..processing import Encoded, Processor
from ..tasks import Task


def candidate_targets(processor: Processor, task: Task, ex: Example) -> list[list[int]]:
    """``<s> target </s>`` ids of each candidate: the task's target of ``ex`` with the candidate as its
    answer, truncated as the Processor truncates training targets."""
    tok = processor.tokenizer
    out = []
    for option in ex.options:
        body = tok.encode(task.target(replace(ex, answers=[option]), processor.bins))[: processor.max_target_tokens - 2]
        out.append([tok.bos_id, *body, tok.eos_id])
    return out


def _targets_batch(targets: Sequence[Sequence[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """decoder_input_ids and labels (-100 on padding), shifted as :meth:`Processor.collate` does."""
    width = max(len(t) for t in targets) - 1
    dec = torch.full((len(targets), width), pad, dtype=torch.long)
    labels = torch.full((len(targets), width), -100, dtype=torch.long)
    for i, t in enumerate(targets):
        ids = torch.tensor(t, dtype=torch.long)
        dec[i, : len(t) - 1] = ids[:-1]
        labels[i, : len(t) - 1] = ids[1:]
    return dec, labels


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B,) sum over each row of the log-probabilities of its labels (-100 ignored)."""
    logp = F.log_softmax(logits.float(), dim=-1)
    picked = logp.gather(-1, labels.clamp(min=0)[..., None]).squeeze(-1)
    return (picked * (labels != -100)).sum(-1)


def _encodes_once(model: Any) -> bool:
    """Whether the model exposes its encoder, so one example's images are encoded once for all candidates."""
    return all(hasattr(model, a) for a in ("encoder_inputs", "encode", "pointing", "lm", "tokens_per_image"))


def _score_example(model: Any, processor: Processor, base: dict[str, torch.Tensor], targets: list[list[int]],
                   batch_size: int, device: torch.device) -> list[float]:
    pad = processor.tokenizer.pad_id
    inputs = {k: v.to(device) for k, v in base.items()}
    scores: list[float] = []
    if _encodes_once(model):
        embeds, mask = model.encoder_inputs(inputs["pixel_values"], inputs["input_ids"], inputs["attention_mask"],
                                            inputs["image_mask"])
        n_img = inputs["pixel_values"].shape[1] * model.tokens_per_image
        enc = model.encode(embeds, mask, n_img)
    for start in range(0, len(targets), batch_size):
        chunk = targets[start:start + batch_size]
        dec, labels = _targets_batch(chunk, pad)
        dec, labels = dec.to(device), labels.to(device)
        c = len(chunk)
        if _encodes_once(model):
            # The candidates share the example's encoder states: expand them (a view, no copy) to the chunk.
            hidden = enc.last_hidden_state.expand(c, -1, -1)
            chunk_enc = type(enc)(last_hidden_state=hidden)
            chunk_mask = mask.expand(c, -1)
            dec_mask = (dec != pad).long()
            dec_mask[:, 0] = 1
            with model.pointing(chunk_enc, chunk_mask, n_img):
                logits = model.lm(encoder_outputs=chunk_enc, attention_mask=chunk_mask, decoder_input_ids=dec,
                                  decoder_attention_mask=dec_mask, use_cache=False).logits
        else:  # any model of the VLModel interface: the example's inputs repeated per candidate
            rep = {k: v.expand(c, *v.shape[1:]) for k, v in inputs.items()}
            logits = model(pixel_values=rep["pixel_values"], input_ids=rep["input_ids"],
                           attention_mask=rep["attention_mask"], decoder_input_ids=dec,
                           image_mask=rep["image_mask"])["logits"]
        scores += sequence_logprobs(logits, labels).tolist()
    return scores


@torch.no_grad()
def candidate_loglikelihoods(model: Any, processor: Processor, task: Task, examples: Sequence[Example],
                             batch_size: int = 32) -> list[list[float]]:
    """One list per example: the summed log-probability of each of its ``options`` (see the module
    docstring), in the options' order. The model is scored in eval mode (dropout off) and left in
    the mode it was in. An example without options gets an empty list."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    device = next(model.parameters()).device
    was_training = bool(getattr(model, "training", False))
    model.eval()
    try:
        out = []
        for ex in examples:
            if not ex.options:
                out.append([])
                continue
            enc = processor.encode(task, ex, with_target=False)
            base = processor.collate([Encoded(enc.images, enc.prompt, [])])
            out.append(_score_example(model, processor, base, candidate_targets(processor, task, ex), batch_size,
                                      device))
        return out
    finally:
        model.train(was_training)
