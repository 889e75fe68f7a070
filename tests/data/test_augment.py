"""The colour swap: only where no word names a colour, a channel order that is never the identity,
the same for every image of an example, and never on an image target or without a generator."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vlseq.data.augment import CHANNEL_ORDERS, maybe_swap_colours, names_colour, places_something, swap_channels


@pytest.mark.parametrize("text, says", [
    ("what shape is the object left of the star?", False),
    ("<obj> circle <loc_3><loc_4><loc_10><loc_12> </obj>", False),
    ("what color is the circle?", True),
    ("a large Green hexagon", True),
    ("is there a red star?", True),
    ("<obj> <loc_1><loc_2><loc_3><loc_4> greenish </obj>", True),
    ("the redwood tree", False),  # whole words only
])
def test_names_colour_reads_whole_words_outside_markup(text: str, says: bool) -> None:
    assert names_colour(text) is says


def test_swap_is_a_non_identity_channel_order_shared_by_every_image() -> None:
    images = np.random.default_rng(0).integers(0, 255, (2, 8, 8, 3), dtype=np.uint8)
    before = images.copy()
    seen = set()
    for seed in range(60):
        out = swap_channels(images, random.Random(seed))
        order = next(o for o in CHANNEL_ORDERS if np.array_equal(out, images[..., list(o)]))
        assert np.array_equal(out[1], images[1][..., list(order)])  # the same order for the second image
        seen.add(order)
    assert seen == set(CHANNEL_ORDERS) and (0, 1, 2) not in seen
    assert np.array_equal(images, before)  # the input (perhaps a cached image) is untouched


def test_swap_needs_rgb() -> None:
    with pytest.raises(ValueError, match="RGB"):
        swap_channels(np.zeros((4, 4, 1), dtype=np.uint8), random.Random(0))


def test_maybe_swap_leaves_colour_words_evaluation_and_p0_alone() -> None:
    images = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(1, 2, 2, 3)
    shape_only = ("detect the objects.", "<obj> circle <loc_1><loc_2><loc_3><loc_4> </obj>")
    assert maybe_swap_colours(images, ("what color is it?", "red"), 1.0, random.Random(0)) is images
    assert maybe_swap_colours(images, shape_only, 1.0, None) is images
    rng = random.Random(0)
    assert maybe_swap_colours(images, shape_only, 0.0, rng) is images
    assert rng.random() == random.Random(0).random()  # p = 0 draws nothing
    assert not np.array_equal(maybe_swap_colours(images, shape_only, 1.0, random.Random(0)), images)
    swapped = sum(maybe_swap_colours(images, shape_only, 0.5, random.Random(s)) is not images for s in range(400))
    assert 160 < swapped < 240


def test_located_swaps_only_targets_that_place_something() -> None:
    images = np.arange(2 * 4 * 4 * 3, dtype=np.uint8).reshape(2, 4, 4, 3)
    count = ("how many circles are there?", "2")
    boxes = ("detect the objects.", "circle<loc_1><loc_2><loc_5><loc_6>")
    assert places_something(boxes[1]) and not places_something(count[1]) and not places_something("<img_3>")
    assert maybe_swap_colours(images, count, 1.0, random.Random(0), where="located") is images
    assert maybe_swap_colours(images, count, 1.0, random.Random(0)) is not images  # the default rule swaps it
    assert maybe_swap_colours(images, boxes, 1.0, random.Random(0), where="located") is not images
    # a located target that names a colour is still left alone
    assert maybe_swap_colours(images, ("find it.", "red circle<loc_1><loc_2><loc_5><loc_6>"), 1.0, random.Random(0),
                              where="located") is images


def test_on_located_targets_both_rules_make_the_same_swaps_and_an_unknown_rule_is_named() -> None:
    images = np.arange(3 * 4 * 4 * 3, dtype=np.uint8).reshape(3, 4, 4, 3)
    boxes = ("detect the objects.", "circle<loc_1><loc_2><loc_5><loc_6>")
    a, b = random.Random(3), random.Random(3)
    for _ in range(50):
        x = maybe_swap_colours(images, boxes, 0.5, a)
        y = maybe_swap_colours(images, boxes, 0.5, b, where="located")
        assert (x is images) == (y is images) and np.array_equal(x, y)
    with pytest.raises(ValueError, match="'where' must be one of uncoloured, located"):
        maybe_swap_colours(images, ("a", "b"), 0.5, random.Random(0), where="somewhere")
