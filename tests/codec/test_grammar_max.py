"""The longest output a grammar accepts (:meth:`Grammar.max_to_finish`): no sampled output is longer,
and a decoder that always keeps the longest continuation open reaches it exactly."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from grammar_driver import LABELS, LAYOUT, TEXT, budgets_for, check_distances_masks_and_advance, sample_outputs

from vlseq.codec.grammar import (
    UNBOUNDED,
    BoxFirstListGrammar,
    ChoiceGrammar,
    Grammar,
    GroundedTextGrammar,
    ImageGrammar,
    ObjectListGrammar,
    SingleBoxGrammar,
    TextGrammar,
    TokenTrie,
    VocabLayout,
)

NAMES = [[TEXT[6]], [TEXT[6], TEXT[8]], [TEXT[9]]]  # "t6" prefixes "t6 t8"; both are names
IMAGE_LAYOUT = VocabLayout.standard(num_bins=8, num_text_tokens=10, num_image_tokens=6)
POLYS = dict(polygons=True, max_polygon_points=5, max_polygons=2)

GRAMMARS: dict[str, Callable[[], Grammar]] = {
    "text": lambda: TextGrammar(LAYOUT),
    "choice": lambda: ChoiceGrammar(LAYOUT, [[TEXT[7]], [TEXT[7], TEXT[8]], [TEXT[9], TEXT[10], TEXT[11]]]),
    "image": lambda: ImageGrammar(IMAGE_LAYOUT, 9),
    "grounded": lambda: GroundedTextGrammar(LAYOUT, max_boxes_per_phrase=2, **POLYS),
    "objects_open": lambda: ObjectListGrammar(LAYOUT, LABELS, min_objects=1),
    "objects": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, **POLYS),
    "objects_keypoints": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, keypoints=NAMES),
    "objects_all_keypoints": lambda: ObjectListGrammar(LAYOUT, LABELS, max_objects=2, min_objects=1, keypoints=NAMES,
                                                       all_keypoints=True, require_polygon=True, **POLYS),
    "box_first": lambda: BoxFirstListGrammar(LAYOUT, LABELS, max_objects=3, min_objects=1),
    "box_first_open": lambda: BoxFirstListGrammar(LAYOUT, LABELS),
    "single_free_label": lambda: SingleBoxGrammar(LAYOUT, None),
    "single": lambda: SingleBoxGrammar(LAYOUT, LABELS, keypoints=NAMES, **POLYS),
    "single_forced": lambda: SingleBoxGrammar(LAYOUT, [LABELS[2]], polygons=True, max_polygon_points=4,
                                              require_polygon=True),
}
UNBOUNDED_GRAMMARS = {"text", "grounded", "objects_open", "single_free_label", "box_first_open"}


def _longest_output(g: Grammar) -> list[int]:
    """An output built by always taking a token after which the longest continuation is one shorter."""
    s, ids = g.initial_state(), []
    while not g.is_done(s):
        most = g.max_to_finish(s)
        nxt = [int(t) for t in np.flatnonzero(g.allowed(s)) if g.max_to_finish(g.advance(s, int(t))) == most - 1]
        assert nxt, f"no token keeps {most} tokens to finish from {s}"
        tok = max(nxt)  # the last of them: markup ids and </s> come first, so this takes a content token
        ids.append(tok)
        s = g.advance(s, tok)
    return ids


@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_no_sampled_output_is_longer_than_max_to_finish(name: str) -> None:
    g = GRAMMARS[name]()
    most = g.max_to_finish()
    assert (most >= UNBOUNDED) == (name in UNBOUNDED_GRAMMARS)
    assert g.min_to_finish() <= most and g.max_to_finish(g.initial_state()) == most
    # budgets up to the longest output (bounded) so that budgets never hide an over-long one
    budgets = budgets_for(g, 400, 20, high=most if most < UNBOUNDED else 64)
    outputs = sample_outputs(g, budgets, 21)
    for ids in outputs:
        assert g.accepts(ids) and len(ids) <= most
        # along the output: the tokens still to come lie between the fewest and most from each state
        s = g.initial_state()
        for i, t in enumerate(ids):
            assert g.min_to_finish(s) <= len(ids) - i <= g.max_to_finish(s), (ids, i)
            s = g.advance(s, t)
        assert g.max_to_finish(s) == 0
    if most < UNBOUNDED:
        longest = _longest_output(g)
        assert g.accepts(longest) and len(longest) == most
        assert max(len(ids) for ids in outputs) <= most


def test_max_to_finish_counts_every_part() -> None:
    one = SingleBoxGrammar(LAYOUT, [LABELS[2]], polygons=True, max_polygon_points=5, max_polygons=2, keypoints=NAMES)
    # <obj>, a 3-token label, 4 coordinates, 2 polygons of 5 points in <poly></poly>, the names (1, 2, 1
    # tokens) with 2 coordinates each, </obj>, </s>
    assert one.max_to_finish() == 1 + 3 + 4 + 2 * (2 + 10) + (3 + 4 + 3) + 1 + 1
    lst = ObjectListGrammar(LAYOUT, LABELS, max_objects=3)
    assert lst.max_to_finish() == 3 * (1 + 3 + 4 + 1) + 1
    assert ChoiceGrammar(LAYOUT, [[TEXT[0]], [TEXT[1], TEXT[2]]]).max_to_finish() == 3
    assert ImageGrammar(IMAGE_LAYOUT, 9).max_to_finish() == 10


def test_tiny_image_grammar_exact() -> None:
    lay = VocabLayout.standard(num_bins=2, num_text_tokens=2, num_image_tokens=3)
    check_distances_masks_and_advance(ImageGrammar(lay, 3))


def test_trie_height() -> None:
    trie = TokenTrie([[15, 19], [15], [17, 18, 19]], VocabLayout.standard(2, 20))  # text ids are 11..30
    assert trie.height[0] == 3 and trie.height[trie.children[0][15]] == 1 and trie.depth[0] == 1
    assert all(trie.height[n] == 0 for n in range(len(trie)) if not trie.children[n])
