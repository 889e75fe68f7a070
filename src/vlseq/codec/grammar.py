"""Decoding grammars: small state machines over token ids that keep every output parseable.

A grammar answers two questions about a partial output: which token ids may come next
(:meth:`Grammar.fill_allowed`) and which state a token leads to (:meth:`Grammar.advance`).
A state is a small tuple of ints, so a decoder can keep one per row (or per prefix, for beam
search) and advance it one token per step. Every grammar guarantees:

* no dead state: some token is always allowed;
* termination within a budget: each state knows the fewest tokens that still finish the output
  (:meth:`Grammar.min_to_finish`, ``</s>`` included); given the number of tokens still allowed,
  only tokens from which the output can be finished in time are allowed;
* a finished output (up to ``</s>``) parses with zero errors under :func:`vlseq.codec.parse`.

Grammars: :class:`TextGrammar` (plain text), :class:`GroundedTextGrammar` (text with grounded
phrases), :class:`ObjectListGrammar` (detection), :class:`SingleBoxGrammar` (referring
expressions, localisation, segmentation), :class:`ChoiceGrammar` (a closed answer set),
:class:`ImageGrammar` (exactly ``n`` image-code tokens, for image outputs). The object
grammars optionally add polygons and named keypoints (``name <loc_x><loc_y>``, names from a fixed,
ordered list) after an object's box.

Ids come from a :class:`VocabLayout`, never from constants. Plain Python + numpy, no torch.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from . import tokens as T

State = tuple[int, ...]
#: A remaining-token budget that never binds.
UNBOUNDED = 1 << 30

# Phases: the first element of every state tuple.
DONE, OUT, LIST, END, START, CHOICE, OBJ_START, OBJ_WORDS, LABEL = range(9)
Y1, X2, Y2, AFTER_BOX, POLY, AFTER_POLY = range(9, 15)
KP, KP_Y = 15, 16  # keypoints: a name from the name trie, then x, then y
IMG = 17  # image codes: (IMG, codes emitted so far)
DONE_STATE: State = (DONE,)
_NO_BOX = (0, 0, 0, 0)
_MIN_POLY_COORDS = 6  # parse drops polygons of fewer than 3 points


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
    sequence (0 at an end). Children are kept sorted by their depth so that the ones that fit a
    budget are a prefix of ``child_ids[n]``.
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
        for n in range(len(children) - 1, -1, -1):
            depth[n] = 0 if terminal[n] else 1 + min(depth[c] for c in children[n].values())
        self.children = children
        self.terminal = terminal
        self.depth = depth
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


# --------------------------------------------------------------------------- base


class Grammar:
    """Base class: a state machine over token ids (see the module docstring).

    Subclasses implement ``initial_state``, ``_advance``, ``_dist`` and ``_fill`` for states
    other than the finished state ``(DONE,)``, which accepts anything (padding after ``</s>``)
    and allows ``</s>`` and ``<pad>``.
    """

    def __init__(self, layout: VocabLayout) -> None:
        self.layout = layout
        self._b = layout.num_bins
        self._lo = layout.loc_offset
        self._text = layout.text_mask
        self._word = layout.word_mask
        self._eos = layout.eos_id

    # -- public API
    def initial_state(self) -> State:
        raise NotImplementedError

    def advance(self, state: State, token: int) -> State:
        """The state after ``token``; :class:`GrammarError` if ``token`` is not allowed (budget ignored)."""
        if state[0] == DONE:
            return state
        token = int(token)
        nxt = self._advance(state, token) if 0 <= token < self.layout.vocab_size else None
        if nxt is None:
            raise GrammarError(f"{type(self).__name__}: token {int(token)} not allowed in state {state}")
        return nxt

    def min_to_finish(self, state: State) -> int:
        """Fewest tokens, ``</s>`` included, that complete an output from ``state`` (0 when finished)."""
        return 0 if state[0] == DONE else self._dist(state)

    def fill_allowed(self, state: State, remaining: int, out: np.ndarray) -> None:
        """Set ``out[t] = True`` for each allowed next token ``t``.

        ``out``: bool array of shape ``(vocab_size,)``, all False on entry. ``remaining``: tokens
        that may still be generated, this one included. Only tokens after which the output can be
        finished within ``remaining`` are allowed; a budget below :meth:`min_to_finish` is raised
        to it, so the shortest completion stays allowed and the mask is never empty.
        """
        if state[0] == DONE:
            out[self._eos] = True
            out[self.layout.pad_id] = True
            return
        d = self._dist(state)
        self._fill(state, remaining if remaining > d else d, out)

    def allowed(self, state: State, remaining: int = UNBOUNDED) -> np.ndarray:
        """Bool mask ``(vocab_size,)`` of the allowed next tokens (a fresh array)."""
        out = np.zeros(self.layout.vocab_size, dtype=bool)
        self.fill_allowed(state, remaining, out)
        return out

    def is_done(self, state: State) -> bool:
        return state[0] == DONE

    def replay(self, ids: Sequence[int], state: State | None = None) -> State:
        """Advance from ``state`` (default: the initial state) through ``ids``."""
        s = self.initial_state() if state is None else state
        for t in ids:
            s = self.advance(s, t)
        return s

    def accepts(self, ids: Sequence[int]) -> bool:
        """Whether ``ids`` is a complete output (``</s>`` reached) of this grammar."""
        try:
            return self.replay(ids)[0] == DONE
        except GrammarError:
            return False

    # -- helpers for subclasses
    def _loc(self, token: int) -> int:
        """Bin of a coordinate token, -1 for any other token."""
        k = token - self._lo
        return k if 0 <= k < self._b else -1

    def _locs(self, out: np.ndarray, first: int, last: int) -> None:
        """Allow bins ``first..last`` (inclusive)."""
        out[self._lo + first : self._lo + last + 1] = True

    def _advance(self, state: State, token: int) -> State | None:
        raise NotImplementedError

    def _dist(self, state: State) -> int:
        raise NotImplementedError

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        raise NotImplementedError


class TextGrammar(Grammar):
    """Plain text: text ids, then ``</s>``; never a coordinate or markup token."""

    def initial_state(self) -> State:
        return (OUT,)

    def _advance(self, state: State, token: int) -> State | None:
        if token == self._eos:
            return DONE_STATE
        return state if self._text[token] else None

    def _dist(self, state: State) -> int:
        return 1

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        if r >= 2:
            out |= self._text
        out[self._eos] = True


class ChoiceGrammar(Grammar):
    """One of a closed set of token-id sequences (a prefix trie), then ``</s>``."""

    def __init__(self, layout: VocabLayout, choices: Sequence[Sequence[int]]) -> None:
        super().__init__(layout)
        self.trie = TokenTrie(choices, layout, what="choice")

    def initial_state(self) -> State:
        return (CHOICE, 0)

    def _advance(self, state: State, token: int) -> State | None:
        node = state[1]
        if token == self._eos:
            return DONE_STATE if self.trie.terminal[node] else None
        child = self.trie.children[node].get(token)
        return None if child is None else (CHOICE, child)

    def _dist(self, state: State) -> int:
        return self.trie.depth[state[1]] + 1

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        node = state[1]
        self.trie.fill_children(node, r - 2, out)  # 1 (the child) + depth + 1 (</s>) <= r
        if self.trie.terminal[node]:
            out[self._eos] = True


class ImageGrammar(Grammar):
    """Exactly ``n_tokens`` image codes ``<img_k>`` (any codes, a fixed grid), then ``</s>``.

    States: ``(IMG, i)`` after ``i`` codes. The budget never binds below ``n_tokens + 1``: the
    grid has a fixed size, so a shorter output would not decode to an image at all.
    """

    def __init__(self, layout: VocabLayout, n_tokens: int) -> None:
        super().__init__(layout)
        if layout.num_image_tokens < 1:
            raise ValueError("ImageGrammar: the layout has no image tokens (num_image_tokens = 0)")
        if n_tokens < 1:
            raise ValueError(f"ImageGrammar: n_tokens must be >= 1, got {n_tokens}")
        self.n_tokens = int(n_tokens)
        self._io, self._ni = layout.img_offset, layout.num_image_tokens

    def initial_state(self) -> State:
        return (IMG, 0)

    def _advance(self, state: State, token: int) -> State | None:
        i = state[1]
        if i < self.n_tokens:
            return (IMG, i + 1) if self._io <= token < self._io + self._ni else None
        return DONE_STATE if token == self._eos else None

    def _dist(self, state: State) -> int:
        return self.n_tokens - state[1] + 1

    def _fill(self, state: State, r: int, out: np.ndarray) -> None:
        if state[1] < self.n_tokens:
            out[self._io : self._io + self._ni] = True
        else:
            out[self._eos] = True


# --------------------------------------------------------------------------- objects


class _ObjectGrammar(Grammar):
    """Shared machinery for ``<obj> LABEL box+ [polygons] [keypoints] </obj>``.

    Inside-object states carry a context int ``ctx`` (what the enclosing grammar needs back at
    ``</obj>``, e.g. the object count) at index 1. States::

        (OBJ_START, ctx)                   after <obj>, free label, no word yet
        (OBJ_WORDS, ctx)                   free label with a word
        (LABEL, ctx, node)                 in the label trie
        (Y1, ctx, nbox, x1) / (X2, ctx, nbox, x1, y1) / (Y2, ctx, nbox, x1, y1, x2)
        (AFTER_BOX, ctx, nbox, x1, y1, x2, y2)
        (POLY, ctx, npoly, ncoords, x1, y1, x2, y2)
        (AFTER_POLY, ctx, npoly, x1, y1, x2, y2)
        (KP, ctx, i, node)                 in keypoint name ``node`` of the name trie (0: between
                                           keypoints); names ``i..`` of the ordered list remain
        (KP_Y, ctx, i)                     a keypoint's x given, its y next

    The box is kept only when polygon points must lie inside it (zeros otherwise, so states
    stay few); ``nbox`` only when boxes per object are bounded.

    Keypoints (``keypoints``: the names as token-id sequences, in their fixed order): after the
    box(es) and polygons, each name at most once and in list order, each followed by exactly two
    coordinates (any bins). ``all_keypoints`` requires every name, so the names are forced.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None, max_boxes: int | None,
                 polygons: bool, max_polygon_points: int, max_polygons: int, polygon_inside_box: bool,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False) -> None:
        super().__init__(layout)
        if max_boxes is not None and max_boxes < 1:
            raise ValueError(f"max boxes per object must be >= 1 or None, got {max_boxes}")
        if max_polygon_points < 3:
            raise ValueError(f"max_polygon_points must be >= 3 (parse needs 3 points), got {max_polygon_points}")
        if max_polygons < 1:
            raise ValueError(f"max_polygons must be >= 1, got {max_polygons}")
        self.trie = None if labels is None else TokenTrie(labels, layout, what="label", need_word=True)
        self._label_min = 1 if self.trie is None else self.trie.depth[0]
        self.max_boxes = max_boxes
        self.polygons = polygons
        self._max_poly_coords = 2 * max_polygon_points
        self._max_polys = max_polygons
        self._inside = polygon_inside_box
        nonword = layout.text_mask & ~layout.word_mask
        nonword.setflags(write=False)
        self._nonword = nonword
        self._open_id, self._close_id = layout.obj_open, layout.obj_close
        self._popen, self._pclose = layout.poly_open, layout.poly_close
        self._init_keypoints(keypoints, all_keypoints)

    def _init_keypoints(self, names: Sequence[Sequence[int]] | None, all_keypoints: bool) -> None:
        self.kp_trie = None if not names else TokenTrie(names, self.layout, what="keypoint name", need_word=True)
        seqs = [tuple(int(t) for t in n) for n in (names or ())]
        if len(set(seqs)) != len(seqs):
            raise ValueError("keypoint names must be distinct")
        n = len(seqs)
        self._kp_all = all_keypoints
        self._kp_index: dict[int, int] = {}  # terminal node -> name index
        # node -> {name index j: tokens from the node to the end of name j}, for the names below it
        self._kp_reach: list[dict[int, int]] = [dict() for _ in range(len(self.kp_trie or ()))]
        for j, seq in enumerate(seqs):
            node = 0
            path = [0]
            for t in seq:
                node = self.kp_trie.children[node][t]
                path.append(node)
            self._kp_index[node] = j
            for m, nd in enumerate(path):
                self._kp_reach[nd][j] = len(seq) - m
        # rest[i]: fewest tokens for the names still required from index i (0 unless all are required)
        rest = [0] * (n + 1)
        if all_keypoints:
            for j in range(n - 1, -1, -1):
                rest[j] = rest[j + 1] + len(seqs[j]) + 2
        self._kp_rest = rest
        self._kp_min = rest[0]  # added to every distance before the keypoints
        self._kp_cost_memo: dict[tuple[int, int], int] = {}

    def _kp_valid(self, i: int, j: int) -> bool:
        return j == i if self._kp_all else j >= i

    def _kp_cost(self, node: int, i: int) -> int:
        """Fewest tokens from trie ``node`` through a valid name's two coordinates and the names still
        required after it (``</obj>`` excluded); UNBOUNDED when no valid name lies below ``node``."""
        key = (node, i)
        hit = self._kp_cost_memo.get(key)
        if hit is None:
            costs = [d + 2 + self._kp_rest[j + 1] for j, d in self._kp_reach[node].items() if self._kp_valid(i, j)]
            hit = self._kp_cost_memo[key] = min(costs) if costs else UNBOUNDED
        return hit

    def _kp_enter(self, ctx: int, i: int, node: int, tok: int) -> State | None:
        """State after name token ``tok`` from trie ``node`` (None if it leads to no valid name)."""
        child = self.kp_trie.children[node].get(tok) if self.kp_trie is not None else None
        if child is None or self._kp_cost(child, i) >= UNBOUNDED:
            return None
        return (KP, ctx, i, child)

    def _kp_fill_names(self, node: int, i: int, r: int, tail: int, out: np.ndarray) -> None:
        """Allow the name tokens from ``node`` after which a valid name still fits in ``r``."""
        if self.kp_trie is None:
            return
        for tok, child in self.kp_trie.children[node].items():
            if 1 + self._kp_cost(child, i) + 1 + tail <= r:
                out[tok] = True

    # -- hooks of the enclosing grammar
    def _close(self, ctx: int) -> State:
        """State after ``</obj>``."""
        raise NotImplementedError

    def _tail(self, ctx: int) -> int:
        """``min_to_finish`` of the state after ``</obj>``."""
        raise NotImplementedError

    def _open(self, ctx: int) -> State:
        """State after ``<obj>``."""
        return (OBJ_START, ctx) if self.trie is None else (LABEL, ctx, 0)

    def _open_cost(self, ctx: int) -> int:
        """Tokens for a whole shortest object, ``<obj>`` through ``</obj>``, plus what follows."""
        return 1 + self._label_min + 5 + self._kp_min + self._tail(ctx)

    # -- inside an object
    def _advance_obj(self, s: State, tok: int) -> State | None:
        ph, ctx = s[0], s[1]
        if ph == OBJ_START:
            if self._word[tok]:
                return (OBJ_WORDS, ctx)
            return s if self._text[tok] else None
        k = self._loc(tok)
        if ph == OBJ_WORDS or ph == LABEL:
            if ph == OBJ_WORDS:
                if self._text[tok]:
                    return s
                label_done = True
            else:
                child = self.trie.children[s[2]].get(tok)
                if child is not None:
                    return (LABEL, ctx, child)
                label_done = self.trie.terminal[s[2]]
            return (Y1, ctx, 0, k) if label_done and 0 <= k < self._b - 1 else None
        if ph == Y1:  # x1 and y1 can never be the last bin: x2 > x1, y2 > y1 must stay possible
            return (X2, ctx, s[2], s[3], k) if 0 <= k < self._b - 1 else None
        if ph == X2:
            return (Y2, ctx, s[2], s[3], s[4], k) if k > s[3] else None
        if ph == Y2:
            if k <= s[4]:
                return None
            nbox = 0 if self.max_boxes is None else s[2] + 1
            return (AFTER_BOX, ctx, nbox) + ((s[3], s[4], s[5], k) if self._inside else _NO_BOX)
        if ph == AFTER_BOX:
            if tok == self._close_id:
                return self._close(ctx) if not self._kp_min else None
            if tok == self._popen and self.polygons:
                return (POLY, ctx, 0, 0) + s[3:7]
            if 0 <= k < self._b - 1 and (self.max_boxes is None or s[2] < self.max_boxes):
                return (Y1, ctx, s[2], k)
            return self._kp_enter(ctx, 0, 0, tok)
        if ph == POLY:
            n = s[3]
            if k >= 0:
                if n >= self._max_poly_coords:
                    return None
                if self._inside:
                    lo, hi = (s[4], s[6]) if n % 2 == 0 else (s[5], s[7])
                    if not lo <= k <= hi:
                        return None
                return (POLY, ctx, s[2], n + 1) + s[4:8]
            if tok == self._pclose and n % 2 == 0 and n >= _MIN_POLY_COORDS:
                return (AFTER_POLY, ctx, s[2] + 1) + s[4:8]
            return None
        if ph == AFTER_POLY:
            if tok == self._close_id:
                return self._close(ctx) if not self._kp_min else None
            if tok == self._popen and s[2] < self._max_polys:
                return (POLY, ctx, s[2], 0) + s[3:7]
            return self._kp_enter(ctx, 0, 0, tok)
        if ph == KP:
            i, node = s[2], s[3]
            if node == 0 and tok == self._close_id:
                return self._close(ctx) if self._kp_rest[i] == 0 else None
            if k >= 0:
                j = self._kp_index.get(node)
                return (KP_Y, ctx, j + 1) if j is not None and self._kp_valid(i, j) else None
            return self._kp_enter(ctx, i, node, tok)
        if ph == KP_Y:
            return (KP, ctx, s[2], 0) if k >= 0 else None
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    @staticmethod
    def _poly_dist(n: int) -> int:
        """Tokens to close a polygon holding ``n`` coordinates, through ``</obj>`` (tail excluded)."""
        return max(_MIN_POLY_COORDS, n + (n & 1)) - n + 2

    def _dist_obj(self, s: State) -> int:
        ph, tail = s[0], self._tail(s[1])
        if ph == KP:
            return (self._kp_rest[s[2]] if s[3] == 0 else self._kp_cost(s[3], s[2])) + 1 + tail
        if ph == KP_Y:
            return 1 + self._kp_rest[s[2]] + 1 + tail
        tail += self._kp_min  # every other state comes before the keypoints
        if ph == OBJ_START:
            return 6 + tail  # a word, 4 coordinates, </obj>
        if ph == OBJ_WORDS:
            return 5 + tail
        if ph == LABEL:
            return self.trie.depth[s[2]] + 5 + tail
        if ph == Y1:
            return 4 + tail
        if ph == X2:
            return 3 + tail
        if ph == Y2:
            return 2 + tail
        if ph == AFTER_BOX or ph == AFTER_POLY:
            return 1 + tail
        if ph == POLY:
            return self._poly_dist(s[3]) + tail
        raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")

    def _fill_obj(self, s: State, r: int, out: np.ndarray) -> None:
        ph, tail, last = s[0], self._tail(s[1]), self._b - 1
        if ph == KP:
            i, node = s[2], s[3]
            if node == 0 and self._kp_rest[i] == 0:
                out[self._close_id] = True
            self._kp_fill_names(node, i, r, tail, out)
            j = self._kp_index.get(node)
            if j is not None and self._kp_valid(i, j) and r >= 2 + self._kp_rest[j + 1] + 1 + tail:
                self._locs(out, 0, last)
            return
        if ph == KP_Y:
            self._locs(out, 0, last)
            return
        tail += self._kp_min  # every other state comes before the keypoints
        if ph == OBJ_START:
            out |= self._word
            if r >= 7 + tail:
                out |= self._nonword
        elif ph == OBJ_WORDS:
            self._locs(out, 0, last - 1)
            if r >= 6 + tail:
                out |= self._text
        elif ph == LABEL:
            node = s[2]
            self.trie.fill_children(node, r - 6 - tail, out)  # 1 + depth(child) + 5 + tail <= r
            if self.trie.terminal[node]:
                self._locs(out, 0, last - 1)
        elif ph == Y1:
            self._locs(out, 0, last - 1)
        elif ph == X2:
            self._locs(out, s[3] + 1, last)
        elif ph == Y2:
            self._locs(out, s[4] + 1, last)
        elif ph == AFTER_BOX:
            if not self._kp_min:
                out[self._close_id] = True
            self._kp_fill_names(0, 0, r, tail - self._kp_min, out)
            if r >= 5 + tail and (self.max_boxes is None or s[2] < self.max_boxes):
                self._locs(out, 0, last - 1)
            if self.polygons and r >= 1 + self._poly_dist(0) + tail:
                out[self._popen] = True
        elif ph == POLY:
            n = s[3]
            if n >= _MIN_POLY_COORDS and n % 2 == 0:
                out[self._pclose] = True
            if n < self._max_poly_coords and r >= 1 + self._poly_dist(n + 1) + tail:
                if self._inside:
                    self._locs(out, *((s[4], s[6]) if n % 2 == 0 else (s[5], s[7])))
                else:
                    self._locs(out, 0, last)
        elif ph == AFTER_POLY:
            if not self._kp_min:
                out[self._close_id] = True
            self._kp_fill_names(0, 0, r, tail - self._kp_min, out)
            if s[2] < self._max_polys and r >= 1 + self._poly_dist(0) + tail:
                out[self._popen] = True
        else:
            raise ValueError(f"{type(self).__name__}: not a state of this grammar: {s}")


class GroundedTextGrammar(_ObjectGrammar):
    """Free text with grounded phrases ``<obj> words <loc>x4 [more boxes] [<poly>...</poly>] </obj>``.

    Inside ``<obj>``: at least one word before the first coordinate, exactly four coordinates
    per box with ``x2 > x1`` and ``y2 > y1``, no text after a coordinate, ``</obj>`` only after
    a whole box (or polygon). ``</s>`` only outside ``<obj>``.
    """

    def __init__(self, layout: VocabLayout, polygons: bool = False, max_polygon_points: int = 32,
                 max_polygons: int = 1, polygon_inside_box: bool = False,
                 max_boxes_per_phrase: int | None = None) -> None:
        super().__init__(layout, None, max_boxes_per_phrase, polygons, max_polygon_points, max_polygons,
                         polygon_inside_box)

    def initial_state(self) -> State:
        return (OUT,)

    def _close(self, ctx: int) -> State:
        return (OUT,)

    def _tail(self, ctx: int) -> int:
        return 1

    def _advance(self, s: State, tok: int) -> State | None:
        if s[0] != OUT:
            return self._advance_obj(s, tok)
        if tok == self._eos:
            return DONE_STATE
        if tok == self._open_id:
            return self._open(0)
        return s if self._text[tok] else None

    def _dist(self, s: State) -> int:
        return 1 if s[0] == OUT else self._dist_obj(s)

    def _fill(self, s: State, r: int, out: np.ndarray) -> None:
        if s[0] != OUT:
            return self._fill_obj(s, r, out)
        if r >= 2:
            out |= self._text
        if r >= self._open_cost(0):
            out[self._open_id] = True
        out[self._eos] = True


class ObjectListGrammar(_ObjectGrammar):
    """Detection output: ``(<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>)*`` then ``</s>``.

    ``labels``: the allowed labels as token-id sequences (a trie; one may prefix another), or
    None for free-text labels. Between ``min_objects`` and ``max_objects`` (None: unbounded)
    objects, one box each. ``keypoints``: the keypoint names (token-id sequences, as tokenized
    after a coordinate) in their fixed order; see :class:`_ObjectGrammar`.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None,
                 max_objects: int | None = None, min_objects: int = 0, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1, polygon_inside_box: bool = False,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons, polygon_inside_box,
                         keypoints, all_keypoints)
        if min_objects < 0 or (max_objects is not None and max_objects < min_objects):
            raise ValueError(f"need 0 <= min_objects <= max_objects, got {min_objects}, {max_objects}")
        self.min_objects, self.max_objects = min_objects, max_objects
        # The count only matters up to max (or min, when unbounded): saturate so states stay few.
        self._cap = max_objects if max_objects is not None else min_objects
        self._per_object = 1 + self._label_min + 5 + self._kp_min

    def initial_state(self) -> State:
        return (LIST, 0)

    def _close(self, ctx: int) -> State:
        return (LIST, min(ctx + 1, self._cap))

    def _tail(self, ctx: int) -> int:
        return 1 + max(0, self.min_objects - ctx - 1) * self._per_object

    def _advance(self, s: State, tok: int) -> State | None:
        if s[0] != LIST:
            return self._advance_obj(s, tok)
        n = s[1]
        if tok == self._eos:
            return DONE_STATE if n >= self.min_objects else None
        if tok == self._open_id and (self.max_objects is None or n < self.max_objects):
            return self._open(n)
        return None

    def _dist(self, s: State) -> int:
        if s[0] != LIST:
            return self._dist_obj(s)
        return 1 + max(0, self.min_objects - s[1]) * self._per_object

    def _fill(self, s: State, r: int, out: np.ndarray) -> None:
        if s[0] != LIST:
            return self._fill_obj(s, r, out)
        n = s[1]
        if n >= self.min_objects:
            out[self._eos] = True
        if (self.max_objects is None or n < self.max_objects) and r >= self._open_cost(n):
            out[self._open_id] = True


class SingleBoxGrammar(_ObjectGrammar):
    """Exactly one object ``<obj> LABEL <loc>x4 [<poly>...</poly>] [name <loc>x2 ...] </obj>`` then ``</s>``.

    ``labels``: allowed labels as token-id sequences (a single forced one for a referring
    expression or a class name to localise), or None for a free-text label.
    """

    def __init__(self, layout: VocabLayout, labels: Sequence[Sequence[int]] | None = None, polygons: bool = False,
                 max_polygon_points: int = 32, max_polygons: int = 1, polygon_inside_box: bool = False,
                 keypoints: Sequence[Sequence[int]] | None = None, all_keypoints: bool = False) -> None:
        super().__init__(layout, labels, 1, polygons, max_polygon_points, max_polygons, polygon_inside_box,
                         keypoints, all_keypoints)

    def initial_state(self) -> State:
        return (START,)

    def _close(self, ctx: int) -> State:
        return (END,)

    def _tail(self, ctx: int) -> int:
        return 1

    def _advance(self, s: State, tok: int) -> State | None:
        if s[0] == START:
            return self._open(0) if tok == self._open_id else None
        if s[0] == END:
            return DONE_STATE if tok == self._eos else None
        return self._advance_obj(s, tok)

    def _dist(self, s: State) -> int:
        if s[0] == START:
            return self._open_cost(0)
        return 1 if s[0] == END else self._dist_obj(s)

    def _fill(self, s: State, r: int, out: np.ndarray) -> None:
        if s[0] == START:
            out[self._open_id] = True
        elif s[0] == END:
            out[self._eos] = True
        else:
            self._fill_obj(s, r, out)
