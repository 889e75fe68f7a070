"""Vocabulary side of the decoding grammars: where their tokens live (:class:`VocabLayout`), label
and choice tries over token ids (:class:`TokenTrie`), and :class:`GrammarError`.

See :mod:`vlseq.codec.grammar`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from .. import tokens as T


class GrammarError(ValueError):
    """A token that the grammar does not allow in the given state."""


# --------------------------------------------------------------------------- vocabulary


@dataclass(frozen=True, eq=False)
class VocabLayout:
    """Where the grammar's tokens live in a vocabulary.

    Coordinates are the contiguous ids ``loc_offset .. loc_offset + num_bins - 1``.
    ``text_ids`` are the plain-text ids a grammar may emit (no markup, coordinate, image,
    ``<unk>`` or control ids); ``word_ids`` (default: ``text_ids``) those that carry a visible
    character, required as the first word of a phrase so that its label is never empty.
    Image codes (when ``num_image_tokens > 0``) are the contiguous ids ``img_offset ..
    img_offset + num_image_tokens - 1``.
    Build one with :meth:`standard` (vlseq's own id order) or :meth:`from_vocab`.
    """

    vocab_size: int
    eos_id: int
    pad_id: int
    bos_id: int
    obj_open: int
    obj_close: int
    poly_open: int
    poly_close: int
    sep: int
    loc_offset: int
    num_bins: int
    text_ids: np.ndarray
    word_ids: np.ndarray | None = None
    unk_id: int | None = None
    img_offset: int = -1
    num_image_tokens: int = 0
    #: Read-only bool masks ``(vocab_size,)`` of ``text_ids`` / ``word_ids``, built on construction.
    text_mask: np.ndarray = field(init=False, repr=False)
    word_mask: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        v, b = int(self.vocab_size), int(self.num_bins)
        if b < 2:
            raise ValueError(f"VocabLayout: num_bins must be >= 2, got {b}")
        if not (0 <= self.loc_offset and self.loc_offset + b <= v):
            raise ValueError(f"VocabLayout: coordinate ids {self.loc_offset}..{self.loc_offset + b - 1} outside vocab of {v}")
        named = {"eos_id": self.eos_id, "pad_id": self.pad_id, "bos_id": self.bos_id, "obj_open": self.obj_open,
                 "obj_close": self.obj_close, "poly_open": self.poly_open, "poly_close": self.poly_close, "sep": self.sep}
        if self.unk_id is not None:
            named["unk_id"] = self.unk_id
        for name, i in named.items():
            if not 0 <= i < v:
                raise ValueError(f"VocabLayout: {name}={i} outside [0, {v})")
            if self.loc_offset <= i < self.loc_offset + b:
                raise ValueError(f"VocabLayout: {name}={i} falls among the coordinate ids")
        n_img, io = int(self.num_image_tokens), int(self.img_offset)
        if n_img < 0 or (n_img and not (0 <= io and io + n_img <= v)):
            raise ValueError(f"VocabLayout: image ids {io}..{io + n_img - 1} outside vocab of {v}")
        if n_img:
            if io < self.loc_offset + b and self.loc_offset < io + n_img:
                raise ValueError("VocabLayout: image ids overlap the coordinate ids")
            inside = [name for name, i in named.items() if io <= i < io + n_img]
            if inside:
                raise ValueError(f"VocabLayout: {inside} fall among the image ids")
        markup = [self.eos_id, self.obj_open, self.obj_close, self.poly_open, self.poly_close, self.sep]
        if len(set(markup)) != len(markup):
            raise ValueError(f"VocabLayout: eos and markup ids must be distinct, got {markup}")
        text = self._ids("text_ids", self.text_ids, v)
        if text.size == 0:
            raise ValueError("VocabLayout: text_ids is empty")
        clash = set(text.tolist()) & set(named.values())
        if clash:
            raise ValueError(f"VocabLayout: text_ids contain control/markup ids {sorted(clash)}")
        if np.any((text >= self.loc_offset) & (text < self.loc_offset + b)):
            raise ValueError("VocabLayout: text_ids contain coordinate ids")
        if n_img and np.any((text >= io) & (text < io + n_img)):
            raise ValueError("VocabLayout: text_ids contain image ids")
        words = text if self.word_ids is None else self._ids("word_ids", self.word_ids, v)
        if words.size == 0 or not np.isin(words, text).all():
            raise ValueError("VocabLayout: word_ids must be a non-empty subset of text_ids")
        object.__setattr__(self, "text_ids", text)
        object.__setattr__(self, "word_ids", words)
        object.__setattr__(self, "text_mask", self._mask(text))
        object.__setattr__(self, "word_mask", self._mask(words))

    @staticmethod
    def _ids(name: str, ids: object, v: int) -> np.ndarray:
        arr = np.unique(np.asarray(ids, dtype=np.int64).reshape(-1))
        if arr.size and (arr[0] < 0 or arr[-1] >= v):
            raise ValueError(f"VocabLayout: {name} has ids outside [0, {v})")
        return arr

    def _mask(self, ids: np.ndarray) -> np.ndarray:
        m = np.zeros(self.vocab_size, dtype=bool)
        m[ids] = True
        m.setflags(write=False)
        return m

    @classmethod
    def standard(cls, num_bins: int, num_text_tokens: int, num_image_tokens: int = 0) -> "VocabLayout":
        """vlseq's own order: :func:`vlseq.codec.special_tokens` first, then ``num_text_tokens`` text ids."""
        specials = T.special_tokens(num_bins, num_image_tokens)
        ids = {t: i for i, t in enumerate(specials)}
        size = len(specials) + num_text_tokens
        return cls.from_vocab(ids, size, num_bins, np.arange(len(specials), size), num_image_tokens=num_image_tokens)

    @classmethod
    def from_vocab(
        cls,
        token_to_id: Mapping[str, int] | Callable[[str], int | None],
        vocab_size: int,
        num_bins: int,
        text_ids: Sequence[int] | np.ndarray,
        word_ids: Sequence[int] | np.ndarray | None = None,
        num_image_tokens: int | None = None,
    ) -> "VocabLayout":
        """Look the special tokens up by name (a dict or a ``token_to_id`` function).

        ``num_image_tokens``: how many ``<img_k>`` tokens there are (None: count the contiguous
        ``<img_0>``, ``<img_1>``, ... the vocabulary has).
        """
        lookup = token_to_id.get if isinstance(token_to_id, Mapping) else token_to_id

        def get(tok: str) -> int:
            i = lookup(tok)
            if i is None:
                raise ValueError(f"VocabLayout: the vocabulary has no {tok} token")
            return int(i)

        offset = get(T.loc_token(0))
        for k in range(num_bins):
            if get(T.loc_token(k)) != offset + k:
                raise ValueError(f"VocabLayout: {T.loc_token(k)} has id {get(T.loc_token(k))}, expected {offset + k} "
                                 "(coordinate ids must be contiguous)")
        img0 = lookup(T.img_token(0))
        if num_image_tokens is None:
            num_image_tokens = 0
            while img0 is not None and lookup(T.img_token(num_image_tokens)) == img0 + num_image_tokens:
                num_image_tokens += 1
        for k in range(num_image_tokens):
            if img0 is None or get(T.img_token(k)) != img0 + k:
                raise ValueError(f"VocabLayout: {T.img_token(k)} missing or not contiguous with {T.img_token(0)} "
                                 "(image ids must be contiguous)")
        return cls(
            vocab_size=vocab_size, eos_id=get(T.EOS), pad_id=get(T.PAD), bos_id=get(T.BOS), obj_open=get(T.OBJ_OPEN),
            obj_close=get(T.OBJ_CLOSE), poly_open=get(T.POLY_OPEN), poly_close=get(T.POLY_CLOSE), sep=get(T.SEP),
            loc_offset=offset, num_bins=num_bins, text_ids=np.asarray(text_ids), unk_id=lookup(T.UNK),
            word_ids=None if word_ids is None else np.asarray(word_ids),
            img_offset=int(img0) if num_image_tokens else -1, num_image_tokens=num_image_tokens,
        )

    def render(self, ids: Sequence[int], text: Callable[[int], str] | None = None) -> str:
        """The markup string of ``ids`` (for tests and debugging): coordinates as ``<loc_k>``,
        markup verbatim, text ids through ``text`` (default ``" w{id} "``), other ids as ``<unk>``."""
        names = {self.eos_id: T.EOS, self.pad_id: T.PAD, self.bos_id: T.BOS, self.obj_open: T.OBJ_OPEN,
                 self.obj_close: T.OBJ_CLOSE, self.poly_open: T.POLY_OPEN, self.poly_close: T.POLY_CLOSE, self.sep: T.SEP}
        out = []
        for i in ids:
            i = int(i)
            if self.loc_offset <= i < self.loc_offset + self.num_bins:
                out.append(T.loc_token(i - self.loc_offset))
            elif self.num_image_tokens and self.img_offset <= i < self.img_offset + self.num_image_tokens:
                out.append(T.img_token(i - self.img_offset))
            elif i in names:
                out.append(names[i])
            elif 0 <= i < self.vocab_size and self.text_mask[i]:
                out.append(text(i) if text else f" w{i} ")
            else:
                out.append(T.UNK)
        return "".join(out)


# --------------------------------------------------------------------------- trie


class TokenTrie:
    """A prefix tree over token-id sequences; a sequence may be a prefix of another.

    Node 0 is the root. ``depth[n]`` is the fewest tokens from node ``n`` to the end of some
    sequence (0 at an end), ``height[n]`` the most (0 at a leaf; every leaf ends a sequence).
    Children are kept sorted by their depth so that the ones that fit a budget are a prefix of
    ``child_ids[n]``.
    """

    def __init__(self, sequences: Sequence[Sequence[int]], layout: VocabLayout, what: str = "sequence",
                 need_word: bool = False) -> None:
        if len(sequences) == 0:
            raise ValueError(f"no {what}s given")
        children: list[dict[int, int]] = [{}]
        terminal = [False]
        for i, seq in enumerate(sequences):
            ids = [int(t) for t in seq]
            if not ids:
                raise ValueError(f"{what} {i} is empty")
            bad = [t for t in ids if not (0 <= t < layout.vocab_size and layout.text_mask[t])]
            if bad:
                raise ValueError(f"{what} {i} {ids} contains id {bad[0]}, which is not a text id of the layout")
            if need_word and not any(layout.word_mask[t] for t in ids):
                raise ValueError(f"{what} {i} {ids} has no word id (its text would be empty)")
            node = 0
            for t in ids:
                nxt = children[node].get(t)
                if nxt is None:
                    nxt = len(children)
                    children[node][t] = nxt
                    children.append({})
                    terminal.append(False)
                node = nxt
            terminal[node] = True
        # Children are created after their parent, so reverse creation order is a post-order.
        depth = [0] * len(children)
        height = [0] * len(children)
        for n in range(len(children) - 1, -1, -1):
            depth[n] = 0 if terminal[n] else 1 + min(depth[c] for c in children[n].values())
            height[n] = max((1 + height[c] for c in children[n].values()), default=0)
        self.children = children
        self.terminal = terminal
        self.depth = depth
        self.height = height
        self.child_ids: list[np.ndarray] = []
        self.child_depth: list[list[int]] = []
        for n in range(len(children)):
            items = sorted(children[n].items(), key=lambda kv: depth[kv[1]])
            self.child_ids.append(np.array([t for t, _ in items], dtype=np.int64))
            self.child_depth.append([depth[c] for _, c in items])

    def __len__(self) -> int:
        return len(self.children)

    def fill_children(self, node: int, max_depth: int, out: np.ndarray) -> None:
        """Set ``out[t]`` for every child token ``t`` whose subtree ends within ``max_depth`` more tokens."""
        k = bisect_right(self.child_depth[node], max_depth)
        if k:
            out[self.child_ids[node][:k]] = True
