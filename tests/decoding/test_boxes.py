"""Box positions of a row (``box_slots``) and per-box scores (``box_scores``) read through the parser.

Each row is built from parts that carry, for every id, the slot expected there and the probability
given to it, so a test states in one place what the row is and what must be read from it. Every
test also checks the slots against what :func:`vlseq.codec.parse` keeps from the decoded row: the
coordinates at slots 0..3 are exactly the parsed boxes, in order.
"""

from __future__ import annotations

import pytest

from vlseq.codec.coords import dequantize_box
from vlseq.codec.parser import Parsed, parse
from vlseq.decoding.boxes import LABEL, box_scores, box_slots
from vlseq.tokenizer import VLTokenizer

B = 32
TEXTS = ["a cat and two dogs on grass", "a dog", "a traffic light", "top tail", "a bird", "x < y > z object"]
Part = list[tuple[int, int, float]]  # (id, expected slot, probability) per position


@pytest.fixture(scope="module")
def tok() -> VLTokenizer:
    return VLTokenizer.train(TEXTS, num_bins=B, num_image_tokens=0)


def mark(tok: VLTokenizer, token: str, p: float = 1.0) -> Part:
    """A special token (markup, ``</s>``): never a slot."""
    return [(tok.special_ids[token], -1, p)]


def text(tok: VLTokenizer, s: str, slot: int = -1, p: float = 1.0) -> Part:
    """Text pieces: ``slot`` LABEL for an object's label, -1 for anything else (plain text, keypoint names)."""
    ids = tok.encode(s)
    assert ids and all(i not in tok.special_ids.values() for i in ids), s
    return [(i, slot, p) for i in ids]


def label(tok: VLTokenizer, s: str, p: float = 1.0) -> Part:
    return text(tok, s, LABEL, p)


def box(tok: VLTokenizer, *ks: int, probs: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0)) -> Part:
    """A box the parser keeps: its 4 coordinates are slots 0..3."""
    assert len(ks) == 4
    return [(tok.loc_id(k), slot, p) for slot, (k, p) in enumerate(zip(ks, probs))]


def locs(tok: VLTokenizer, *ks: int) -> Part:
    """Coordinates that are not a kept box's (polygon, keypoint, dropped fragment): never slots."""
    return [(tok.loc_id(k), -1, 1.0) for k in ks]


def row(*parts: Part) -> tuple[list[int], list[int], list[float]]:
    cells = [c for part in parts for c in part]
    return [c[0] for c in cells], [c[1] for c in cells], [c[2] for c in cells]


def parsed_and_checked(ids: list[int], slots: list[int], tok: VLTokenizer) -> Parsed:
    """Parse the row as generation does, and check the slots point at exactly the boxes parse kept."""
    p = parse(tok.decode_markup(ids), B, B, B)
    read, current = [], []
    for pos, slot in enumerate(slots):
        if slot >= 0:
            assert slot == len(current), slots  # x1 y1 x2 y2, in order
            current.append(ids[pos] - tok.loc_offset)
            if slot == 3:
                read.append(dequantize_box(current, B, B, B))
                current = []
    assert current == []
    assert read == [b for _, b in p.objects]
    return p


def test_detection_list(tok: VLTokenizer) -> None:
    ids, want, probs = row(
        mark(tok, "<obj>"), label(tok, "cat", 0.5), box(tok, 1, 2, 5, 6, probs=(0.1, 0.2, 0.3, 0.4)), mark(tok, "</obj>"),
        mark(tok, "<obj>"), label(tok, "traffic light", 0.5), box(tok, 0, 0, 31, 31, probs=(1.0, 1.0, 0.5, 0.5)),
        mark(tok, "</obj>"),
        mark(tok, "<obj>"), label(tok, "dog", 0.8), box(tok, 3, 3, 9, 9, probs=(0.2,) * 4), mark(tok, "</obj>"),
        mark(tok, "</s>"), mark(tok, "<obj>"), locs(tok, 1, 1, 2, 2),  # after </s>: not read
    )
    assert box_slots(ids, tok) == want
    p = parsed_and_checked(ids, want, tok)
    assert [lab for lab, _ in p.objects] == ["cat", "traffic light", "dog"]
    n_light = len(tok.encode("traffic light"))  # a label's probability is the product over its tokens
    assert box_scores(ids, probs, tok) == pytest.approx([0.5 * 0.25, 0.5**n_light * 0.75, 0.8 * 0.2])


def test_box_first_detection_list(tok: VLTokenizer) -> None:
    """``<obj> box label </obj>``: the label's words follow the box, and the score still takes them."""
    ids, want, probs = row(
        mark(tok, "<obj>"), box(tok, 1, 2, 5, 6, probs=(0.1, 0.2, 0.3, 0.4)), label(tok, "cat", 0.5), mark(tok, "</obj>"),
        mark(tok, "<obj>"), box(tok, 0, 0, 31, 31, probs=(1.0, 1.0, 0.5, 0.5)), label(tok, "traffic light", 0.5),
        mark(tok, "</obj>"), mark(tok, "</s>"),
    )
    assert box_slots(ids, tok) == want
    p = parsed_and_checked(ids, want, tok)
    assert [lab for lab, _ in p.objects] == ["cat", "traffic light"]
    n_light = len(tok.encode("traffic light"))
    assert box_scores(ids, probs, tok) == pytest.approx([0.5 * 0.25, 0.5**n_light * 0.75])


def test_grounded_caption_with_two_boxes_in_one_phrase(tok: VLTokenizer) -> None:
    ids, want, probs = row(
        text(tok, "a", p=0.0), mark(tok, "<obj>"), label(tok, "cat", 0.5),
        box(tok, 1, 1, 5, 5, probs=(0.4,) * 4), box(tok, 6, 6, 9, 9, probs=(0.8,) * 4), mark(tok, "</obj>"),
        text(tok, "and two", p=0.0), mark(tok, "<obj>"), label(tok, "dogs", 0.5), box(tok, 2, 3, 4, 5),
        mark(tok, "</obj>"), text(tok, "on grass", p=0.0), mark(tok, "</s>"),
    )
    assert box_slots(ids, tok) == want
    p = parsed_and_checked(ids, want, tok)
    assert p.text == "a cat and two dogs on grass" and [len(ph.boxes) for ph in p.phrases] == [2, 1]
    # both boxes of a phrase share its label's probability; words outside <obj> take no part
    n_dogs = len(tok.encode("dogs"))
    assert box_scores(ids, probs, tok) == pytest.approx([0.5 * 0.4, 0.5 * 0.8, 0.5**n_dogs])


def test_polygons_and_keypoints_are_not_boxes(tok: VLTokenizer) -> None:
    ids, want, probs = row(
        mark(tok, "<obj>"), label(tok, "cat", 0.5), box(tok, 2, 2, 8, 8, probs=(0.6,) * 4),
        mark(tok, "<poly>"), locs(tok, 2, 2, 8, 2, 5, 8), mark(tok, "</poly>"),
        text(tok, "top", p=0.0), locs(tok, 5, 2), text(tok, "tail", p=0.0), locs(tok, 5, 8), mark(tok, "</obj>"),
        mark(tok, "<obj>"), label(tok, "bird", 0.5), box(tok, 1, 1, 3, 3, probs=(0.2,) * 4),
        text(tok, "top", p=0.0), locs(tok, 2, 1),  # a box may follow keypoints
        box(tok, 4, 4, 6, 6, probs=(0.4,) * 4), mark(tok, "</obj>"), mark(tok, "</s>"),
    )
    assert box_slots(ids, tok) == want
    p = parsed_and_checked(ids, want, tok)
    assert len(p.polygons) == 1 and [[name for name, _ in kps] for _, kps in p.keypoints] == [["top", "tail"], ["top"]]
    assert box_scores(ids, probs, tok) == pytest.approx([0.5 * 0.6, 0.5 * 0.2, 0.5 * 0.4])


def test_dropped_fragments_get_no_slots(tok: VLTokenizer) -> None:
    """Only boxes parse keeps have slots and scores: one score per parsed box, which generation needs."""
    ids, want, probs = row(
        locs(tok, 1, 2, 3, 4),  # coordinates outside <obj>
        mark(tok, "<obj>"), label(tok, "cat", 0.5),
        locs(tok, 5, 1, 3, 9),  # x2 <= x1: dropped, the next box is the phrase's first
        box(tok, 1, 1, 5, 5, probs=(0.2,) * 4),
        locs(tok, 7, 7),  # a partial box
        mark(tok, "</obj>"),
        mark(tok, "<obj>"), locs(tok, 1, 1, 5, 5), mark(tok, "</obj>"),  # a box without words
        mark(tok, "<obj>"), text(tok, "dog"), mark(tok, "</obj>"),  # words without a box
        mark(tok, "<obj>"), label(tok, "bird", 0.5), box(tok, 2, 2, 4, 4, probs=(0.8,) * 4), mark(tok, "</obj>"),
        mark(tok, "<obj>"), text(tok, "cat"), locs(tok, 1, 1, 4, 4, 2),  # unclosed <obj> with an unfinished box
        mark(tok, "</s>"),
    )
    assert box_slots(ids, tok) == want
    p = parsed_and_checked(ids, want, tok)
    assert [lab for lab, _ in p.objects] == ["cat", "bird"] and len(p.errors) == 10, p.errors
    assert box_scores(ids, probs, tok) == pytest.approx([0.5 * 0.2, 0.5 * 0.8])


def test_row_cut_inside_an_object(tok: VLTokenizer) -> None:
    """A row without ``</s>`` that stops inside ``<obj>`` (a token budget, a truncated target): the
    parser drops that object, so its complete box gets no slots either."""
    ids, want, _ = row(
        mark(tok, "<obj>"), label(tok, "cat"), box(tok, 1, 1, 5, 5), mark(tok, "</obj>"),
        mark(tok, "<obj>"), text(tok, "dog"), locs(tok, 2, 2, 6, 6, 3),
    )
    assert box_slots(ids, tok) == want
    parsed_and_checked(ids, want, tok)


def test_markup_spelled_by_text_pieces_does_not_shift_positions(tok: VLTokenizer) -> None:
    """Pieces ``<`` ``##o`` ``##b`` ``##j`` ``##>`` decode to the text ``<obj>``: read as text, not as
    an ``<obj>`` token, the ``<obj>`` and ``<loc_k>`` tokens of the row keep their ordinals."""
    vocab = tok.hf.get_vocab()
    spelled = [(vocab[piece], -1, 1.0) for piece in ("<", "##o", "##b", "##j", "##>")]
    assert tok.decode_markup([i for i, _, _ in spelled]) == "<obj>"
    ids, want, probs = row(
        spelled, mark(tok, "<obj>"), label(tok, "cat", 0.5), box(tok, 1, 1, 5, 5, probs=(0.4,) * 4),
        mark(tok, "</obj>"), mark(tok, "</s>"),
    )
    assert box_slots(ids, tok) == want
    assert box_scores(ids, probs, tok) == pytest.approx([0.5 * 0.4])


def test_scores_stop_where_probabilities_end(tok: VLTokenizer) -> None:
    ids, _, probs = row(
        mark(tok, "<obj>"), label(tok, "cat"), box(tok, 1, 1, 5, 5), box(tok, 2, 2, 6, 6), mark(tok, "</obj>"),
    )
    assert len(box_scores(ids, probs, tok)) == 2
    assert len(box_scores(ids, probs[:-3], tok)) == 1
