"""Grammar-constrained generation: a ``transformers`` logits processor over :mod:`vlseq.codec.grammar`.

Each step masks every token the row's grammar does not allow (score ``-inf``), so greedy, beam
search and sampling in ``model.generate()`` only produce outputs that parse. Usage::

    proc = GrammarLogitsProcessor(grammar, prompt_length=1, max_new_tokens=64)
    model.generate(..., max_new_tokens=64, logits_processor=LogitsProcessorList([proc]))

Grammar states are kept per generated prefix, not per row index: beam search reorders rows
between steps, but every row's prefix minus its last token is a prefix seen at the previous step,
so each step advances one token from the parent's state (replaying from scratch only for an
unknown prefix). In transformers' generate(), sampling warpers (temperature, top-k, top-p) run
after custom processors, so they see the grammar's mask.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor

from ..codec.grammar import DONE_STATE, UNBOUNDED, Grammar, GrammarError, State


class GrammarLogitsProcessor(LogitsProcessor):
    """Set the scores of tokens a grammar forbids to ``-inf``.

    Args:
        grammars: one grammar for all rows, or one per batch item; the ``batch * k`` rows that
            generate() passes (``k`` beams or return sequences per item, item-major) share their
            item's grammar.
        prompt_length: decoder tokens before the first generated one (1 for an encoder-decoder's
            ``decoder_start_token_id``; the prompt length for a decoder-only model).
        max_new_tokens: the generation budget; outputs are steered to end with ``</s>`` within it.
            None: no budget. Must match (or exceed) generate()'s own limit to be useful.

    ``invalid_tokens`` counts tokens found in a prefix that its grammar forbids (beam search
    fills beams that cannot continue with ``-inf``-scored tokens); such a row is treated as
    finished (only ``</s>``/``<pad>`` allowed).
    """

    def __init__(self, grammars: Grammar | Sequence[Grammar], prompt_length: int = 1,
                 max_new_tokens: int | None = None) -> None:
        self.grammars: list[Grammar] = [grammars] if isinstance(grammars, Grammar) else list(grammars)
        if not self.grammars:
            raise ValueError("GrammarLogitsProcessor: no grammar given")
        sizes = {g.layout.vocab_size for g in self.grammars}
        if len(sizes) != 1:
            raise ValueError(f"GrammarLogitsProcessor: grammars disagree on the vocabulary size: {sorted(sizes)}")
        if prompt_length < 0:
            raise ValueError(f"GrammarLogitsProcessor: prompt_length must be >= 0, got {prompt_length}")
        self.vocab_size = sizes.pop()
        self.prompt_length = prompt_length
        self.max_new_tokens = max_new_tokens
        if max_new_tokens is not None:
            for i, g in enumerate(self.grammars):
                need = g.min_to_finish(g.initial_state())
                if need > max_new_tokens:
                    raise ValueError(f"GrammarLogitsProcessor: grammar {i} ({type(g).__name__}) needs at least {need} "
                                     f"tokens, but max_new_tokens={max_new_tokens}")
        self.invalid_tokens = 0
        self._states: dict[tuple[int, bytes], State] = {}

    def reset(self) -> None:
        """Forget all prefixes (done automatically at the first step of each generation)."""
        self._states = {}

    def _state(self, g_idx: int, prefix: np.ndarray, key: bytes) -> State:
        """The state after ``prefix`` (int64 ``(n,)``): parent's state + one token, or a replay."""
        g = self.grammars[g_idx]
        parent = self._states.get((g_idx, key[:-8])) if len(prefix) else None
        try:
            if parent is not None:
                return g.advance(parent, prefix[-1])
            return g.replay(prefix.tolist())
        except GrammarError:
            self.invalid_tokens += 1
            return DONE_STATE

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """``input_ids``: ``(rows, cur_len)``; ``scores``: ``(rows, vocab)``; returns masked scores."""
        return self.apply(scores, self.banned(input_ids, scores.shape[-1]))

    def banned(self, input_ids: torch.LongTensor, columns: int) -> np.ndarray:
        """(rows, columns) bool: the tokens each row's grammar forbids after ``input_ids`` (rows, cur_len).

        The mask depends on the prefixes alone, not on the scores, so a decoder may ask for it
        before it computes the step's logits (the greedy decoder skips the pointer head where no
        coordinate is allowed) and then :meth:`apply` it; one call per step, as ``__call__``.
        """
        rows, cur_len = input_ids.shape
        n = cur_len - self.prompt_length
        if n < 0:
            raise ValueError(f"GrammarLogitsProcessor: input of length {cur_len} is shorter than prompt_length="
                             f"{self.prompt_length}")
        if rows % len(self.grammars):
            raise ValueError(f"GrammarLogitsProcessor: {rows} rows is not a multiple of the {len(self.grammars)} grammars")
        per_item = rows // len(self.grammars)
        if n == 0:
            self.reset()
        remaining = UNBOUNDED if self.max_new_tokens is None else self.max_new_tokens - n
        # int64 so that a parent's key is the child's key minus its last 8 bytes.
        ids = np.ascontiguousarray(input_ids[:, self.prompt_length :].detach().cpu().numpy(), dtype=np.int64)
        vocab = min(self.vocab_size, columns)
        mask = np.zeros((rows, max(self.vocab_size, columns)), dtype=bool)
        states: dict[tuple[int, bytes], State] = {}
        for i in range(rows):
            g_idx = i // per_item
            key = ids[i].tobytes()
            st = states.get((g_idx, key))
            if st is None:
                st = self._state(g_idx, ids[i], key)
                states[(g_idx, key)] = st
            self.grammars[g_idx].fill_allowed(st, remaining, mask[i, : self.vocab_size])
        # Only the previous step's prefixes can be parents of the next step's.
        self._states = states
        if vocab < self.vocab_size and not mask[:, :vocab].any(axis=1).all():
            raise ValueError(f"GrammarLogitsProcessor: scores have {columns} columns but the grammar's "
                             f"vocabulary has {self.vocab_size}")
        return np.logical_not(mask[:, :columns], out=mask[:, :columns])

    @staticmethod
    def apply(scores: torch.Tensor, banned: np.ndarray) -> torch.Tensor:
        """``scores`` (rows, vocab) with ``banned`` (:meth:`banned`) set to ``-inf``; a new tensor."""
        return _mask_scores(scores, banned)


_NUMPY_DTYPES = (torch.float32, torch.float64, torch.float16)


def _mask_scores(scores: torch.Tensor, banned: np.ndarray) -> torch.Tensor:
    """``scores`` with ``banned`` (bool ``(rows, vocab)``) set to ``-inf``; a new tensor.

    On CPU this runs in numpy: torch splits an op this size over its threads, which costs
    milliseconds per step when the cores are shared. If another processor (e.g. min_new_tokens on
    ``</s>``) already ruled out every token the grammar allows, the grammar wins: the row's allowed
    tokens get score 0 instead of leaving an all ``-inf`` row (NaN when sampling).
    """
    if scores.device.type == "cpu" and scores.dtype in _NUMPY_DTYPES:
        arr = np.where(banned, np.array(-np.inf, dtype=scores.numpy().dtype), scores.detach().numpy())
        dead = np.isneginf(arr.max(axis=1))
        if dead.any():
            arr[dead] = np.where(banned[dead], -np.inf, 0.0)
        return torch.from_numpy(arr)
    banned_t = torch.from_numpy(banned).to(scores.device, non_blocking=True)
    out = scores.masked_fill(banned_t, float("-inf"))
    dead = out.amax(dim=-1) == float("-inf")
    if bool(dead.any()):
        out[dead] = torch.zeros_like(out[dead]).masked_fill(banned_t[dead], float("-inf"))
    return out
