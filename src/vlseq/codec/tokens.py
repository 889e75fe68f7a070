"""The special tokens of the unified vocabulary and their documented order.

A tokenizer trained by vlseq gives these tokens the ids 0, 1, 2, ... in exactly the order of
:func:`special_tokens`, so ``<loc_k>`` has id ``LOC_OFFSET + k``. A tokenizer loaded from a
user's directory appends them after its own vocabulary; :class:`vlseq.tokenizer.VLTokenizer`
records the actual ids either way, and nothing else in vlseq assumes fixed numbers.
"""

from __future__ import annotations

import re

PAD = "<pad>"
BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
OBJ_OPEN = "<obj>"
OBJ_CLOSE = "</obj>"
POLY_OPEN = "<poly>"
POLY_CLOSE = "</poly>"
SEP = "<sep>"

#: Control and markup tokens, in id order, before the coordinate tokens.
BASE_TOKENS: tuple[str, ...] = (PAD, BOS, EOS, UNK, OBJ_OPEN, OBJ_CLOSE, POLY_OPEN, POLY_CLOSE, SEP)
MARKUP_TOKENS: tuple[str, ...] = (OBJ_OPEN, OBJ_CLOSE, POLY_OPEN, POLY_CLOSE, SEP)

#: Id of ``<loc_0>`` in a tokenizer trained by vlseq.
LOC_OFFSET = len(BASE_TOKENS)

LOC_RE = re.compile(r"<loc_(\d+)>")
IMG_RE = re.compile(r"<img_(\d+)>")
#: Every special token as spelled in a sequence: the base tokens, ``<loc_k>`` and ``<img_k>``. Built
#: from the definitions above, so a token added there is split out of text, escaped in data text and
#: left out of the tokenizer's word counts without a second list to keep in step. No special token
#: contains ``>`` before its end, so at any position at most one alternative can match.
SPECIAL_TOKEN_RE = re.compile("|".join([*map(re.escape, BASE_TOKENS), LOC_RE.pattern, IMG_RE.pattern]))


def loc_token(k: int) -> str:
    """The coordinate token of bin ``k`` (same spelling as Florence-2's tokenizer)."""
    return f"<loc_{k}>"


def img_token(k: int) -> str:
    """The image token of VQ code ``k``."""
    return f"<img_{k}>"


def special_tokens(num_bins: int, num_image_tokens: int = 0) -> list[str]:
    """All special tokens in id order: control + markup, ``num_bins`` coordinates, image codes."""
    if num_bins < 2:
        raise ValueError(f"num_bins must be >= 2, got {num_bins}")
    if num_image_tokens < 0:
        raise ValueError(f"num_image_tokens must be >= 0, got {num_image_tokens}")
    return (
        list(BASE_TOKENS)
        + [loc_token(k) for k in range(num_bins)]
        + [img_token(k) for k in range(num_image_tokens)]
    )
