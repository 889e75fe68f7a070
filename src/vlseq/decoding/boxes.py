"""Where the boxes of a generated row are: which position is which coordinate, and each box's score."""

from __future__ import annotations

from typing import Sequence

from ..codec.tokens import OBJ_CLOSE, OBJ_OPEN, POLY_CLOSE, POLY_OPEN

LABEL = -2  #: box_slots' mark for a word of an object's label / phrase (inside <obj>, before its first coordinate)


def box_slots(ids: Sequence[int], tokenizer) -> list[int]:
    """Which box coordinate each position of a row is: 0..3 for ``x1 y1 x2 y2``, :data:`LABEL` for
    the words of an object's label before its first coordinate, -1 for anything else.

    ``ids`` are decoder ids (no start token). Boxes are read the way :func:`vlseq.codec.parse`
    reads them: inside ``<obj>``, four coordinates at a time, in sequence order; coordinates inside
    ``<poly>`` and the two after a keypoint name (text after a coordinate) are not box coordinates;
    the row ends at ``</s>``. An unfinished last box keeps its slots.
    """
    obj_open, obj_close = tokenizer.special_ids[OBJ_OPEN], tokenizer.special_ids[OBJ_CLOSE]
    poly_open, poly_close = tokenizer.special_ids[POLY_OPEN], tokenizer.special_ids[POLY_CLOSE]
    lo, hi = tokenizer.loc_offset, tokenizer.loc_offset + tokenizer.num_bins
    special = set(tokenizer.special_ids.values()) | set(tokenizer.hf.all_special_ids)
    out = [-1] * len(ids)
    slot = 0
    in_obj = in_poly = seen_coord = False
    kp_coords: int | None = None  # coordinates read of the pending keypoint (None: no keypoint pending)
    for pos, i in enumerate(ids):
        i = int(i)
        if i == tokenizer.eos_id:
            break
        if i == obj_open or i == obj_close:
            in_obj, in_poly, seen_coord, kp_coords, slot = i == obj_open, False, False, None, 0
        elif not in_obj:
            continue
        elif i == poly_open:
            in_poly, kp_coords, slot = True, None, 0
        elif i == poly_close:
            in_poly, seen_coord = False, True
        elif in_poly:
            continue
        elif lo <= i < hi:
            seen_coord = True
            if kp_coords is not None:
                kp_coords = None if kp_coords == 1 else kp_coords + 1
            else:
                out[pos] = slot
                slot = (slot + 1) % 4
        elif i not in special and seen_coord:  # a keypoint's name (or more of it): its 2 coordinates follow
            kp_coords, slot = 0, 0
        elif i not in special:
            out[pos] = LABEL
    return out


def box_scores(ids: Sequence[int], probs: Sequence[float], tokenizer) -> list[float]:
    """Per-box scores of one generated row: the probability of the object's label (the product over
    its tokens) times the mean probability of the box's 4 coordinate tokens.

    ``ids`` are the generated ids after the decoder start token and ``probs[i]`` the probability
    ``ids[i]`` had when it was chosen; boxes and labels are found by :func:`box_slots`. The label
    factor is Pix2Seq's detection score: a box in the right place under an unsure class then ranks
    below one whose class the model is sure of (which is what COCO AP, ranked per class, rewards).
    """
    out: list[float] = []
    group: list[float] = []
    label, in_label = 1.0, False
    for slot, p in zip(box_slots(ids, tokenizer), probs):
        if slot == LABEL:
            label, in_label = (label if in_label else 1.0) * float(p), True
            continue
        in_label = False
        if slot == 0:
            group = []
        if slot >= 0:
            group.append(float(p))
            if slot == 3 and len(group) == 4:
                out.append(label * sum(group) / 4)
    return out


SLOTS = ("x1", "y1", "x2", "y2")
