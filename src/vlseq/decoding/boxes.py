"""Where the boxes of a generated row are: which position is which coordinate, and each box's score.

The parser is the one reader of the sequence format: a row of ids is decoded to its markup string,
read by :func:`vlseq.codec.parse`, and each kept box's :class:`~vlseq.codec.parser.BoxSource` (the
ordinals of its ``<loc_k>`` tokens and of its phrase's ``<obj>``) is mapped back onto positions of
the row. Only boxes the parser keeps have positions: a box of a dropped fragment (a partial box, one
with ``x2 <= x1``, any box of an unclosed ``<obj>``) has none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ..codec.markup import escape_markup
from ..codec.parser import parse
from ..codec.tokens import OBJ_OPEN

LABEL = -2  #: box_slots' mark for a word of an object's label / phrase (inside <obj>, before its first coordinate or, box first, after its box)


@dataclass(frozen=True)
class _BoxPositions:
    """Positions in a row of one box the parser kept: its label's words and its 4 coordinates."""

    label: tuple[int, ...]
    coords: tuple[int, int, int, int]


def _markup(row: Sequence[int], tokenizer) -> str:
    """The sequence string of ``row`` (ids before ``</s>``) whose markup tokens are exactly its markup ids.

    Text runs and special tokens are decoded by :meth:`~vlseq.tokenizer.VLTokenizer.decode_markup`,
    with two differences that keep the parser's token ordinals in step with the ids: markup spelled
    by text pieces is escaped (unconstrained decoding can spell ``<obj>`` out of ``<``, ``obj``,
    ``>``), and ``<pad>`` / ``<s>`` are left out before decoding rather than splitting a text run in
    two (the halves could join into such a spelling once decoded).
    """
    non_text = set(tokenizer.special_ids.values()) | set(tokenizer.hf.all_special_ids)
    skip = {tokenizer.pad_id, tokenizer.bos_id}
    parts: list[str] = []
    run: list[int] = []
    for i in row:
        if i in skip:
            continue
        if i in non_text:
            if run:
                parts.append(escape_markup(tokenizer.decode_markup(run)))
                run = []
            parts.append(tokenizer.decode_markup([i]))
        else:
            run.append(i)
    if run:
        parts.append(escape_markup(tokenizer.decode_markup(run)))
    return "".join(parts)


def _box_positions(ids: Sequence[int], tokenizer) -> list[_BoxPositions]:
    """The positions of every box :func:`vlseq.codec.parse` keeps from ``ids``, in its reading order
    (aligned with ``Parsed.objects``). ``ids``: decoder ids without the start token; the row ends at ``</s>``.
    """
    row = [int(i) for i in ids]
    if tokenizer.eos_id in row:
        row = row[: row.index(tokenizer.eos_id)]
    lo, hi = tokenizer.loc_offset, tokenizer.loc_offset + tokenizer.num_bins
    obj_open = tokenizer.special_ids[OBJ_OPEN]
    non_text = set(tokenizer.special_ids.values()) | set(tokenizer.hf.all_special_ids)
    locs = [pos for pos, i in enumerate(row) if lo <= i < hi]  # position of the k-th <loc_k> token
    objs = [pos for pos, i in enumerate(row) if i == obj_open]  # position of the k-th <obj> token
    # Positions do not depend on the image size; with bins = num_bins every coordinate id is in range.
    nb = tokenizer.num_bins
    parsed = parse(_markup(row, tokenizer), nb, nb, nb)
    out: list[_BoxPositions] = []
    labels: dict[int, tuple[int, ...]] = {}  # per phrase (its <obj> ordinal): its label's positions
    for src in parsed.box_sources:
        coords = (locs[src.locs[0]], locs[src.locs[1]], locs[src.locs[2]], locs[src.locs[3]])
        if src.obj not in labels:  # the phrase's first box: its words lie between <obj> and this box
            # The record names a phrase's boxes, not its words: where the parser read text before the
            # first box as something else (a keypoint name after a partial box or a polygon, both
            # outside every grammar), that text counts as label here.
            labels[src.obj] = tuple(pos for pos in range(objs[src.obj] + 1, coords[0]) if row[pos] not in non_text)
        if not labels[src.obj]:  # box first (``<obj> box words </obj>``): the words after the box
            after = []
            for pos in range(coords[3] + 1, len(row)):
                if row[pos] in non_text:
                    break
                after.append(pos)
            labels[src.obj] = tuple(after)
        out.append(_BoxPositions(labels[src.obj], coords))
    return out


def box_slots(ids: Sequence[int], tokenizer) -> list[int]:
    """Which box coordinate each position of a row is: 0..3 for ``x1 y1 x2 y2``, :data:`LABEL` for
    the words of an object's label (before its first box, or after it in the box-first form), -1
    for anything else.

    ``ids`` are decoder ids (no start token); the row ends at ``</s>``. Exactly the boxes
    :func:`vlseq.codec.parse` keeps get slots, at the tokens it read them from; coordinates of a
    polygon or keypoint, outside ``<obj>`` or of a dropped fragment get -1. A teacher-forced target
    is well formed, so every box of it gets slots, except in a target cut short by the token limit:
    its last ``<obj>`` is unclosed and the parser drops it, boxes and all.
    """
    out = [-1] * len(ids)
    for box in _box_positions(ids, tokenizer):
        for pos in box.label:
            out[pos] = LABEL
        for slot, pos in enumerate(box.coords):
            out[pos] = slot
    return out


def box_scores(ids: Sequence[int], probs: Sequence[float], tokenizer) -> list[float]:
    """Per-box scores of one generated row: the probability of the object's label (the product over
    its tokens) times the mean probability of the box's 4 coordinate tokens.

    ``ids`` are the generated ids after the decoder start token and ``probs[i]`` the probability
    ``ids[i]`` had when it was chosen. One score per box :func:`vlseq.codec.parse` keeps from the
    row, in its order (a box whose positions lie past the end of ``probs`` ends the list). The label
    factor is Pix2Seq's detection score: a box in the right place under an unsure class then ranks
    below one whose class the model is sure of (which is what COCO AP, ranked per class, rewards).
    """
    out: list[float] = []
    for box in _box_positions(ids, tokenizer):
        if max(box.coords) >= len(probs):
            break
        label = 1.0
        for pos in box.label:
            label *= float(probs[pos])
        out.append(label * sum(float(probs[pos]) for pos in box.coords) / 4)
    return out


SLOTS = ("x1", "y1", "x2", "y2")
