"""Image augmentation that keeps an example's text true: a colour swap where nothing names a colour.

Why: the synthetic world holds some (colour, shape) pairs out of training (a green hexagon never
appears there; the val and test worlds draw every pair). In the pointed quickstart, the 1-4 cell
shape questions about a held-out pair were answered right 0.53-0.83 of the time against 0.93-0.97
for pairs seen in training, and most of the misses named a green hexagon a circle: the image path
had learned shape partly through colour. Swapping the RGB channels of an example whose prompt and
target say nothing of colour (a detection list of shape names, "what shape is the object left of the
star?") shows each shape in colours it is never drawn in, with a target that stays right, so shape
has to be read from the outline alone. An example that names a colour anywhere, or whose target is
an image, is left as it is: its words would then be wrong.

Pure numpy, no model: a swap is one of the five non-identity orders of the three channels, the same
for every image of one example.
"""

from __future__ import annotations

import random
import re

import numpy as np

#: Words that name a colour, or ask about one ("what color is ..."). English basic colour terms, the
#: synthetic world's palette, and common variants; matched as whole lower-case words.
COLOUR_WORDS: frozenset[str] = frozenset({
    "red", "green", "blue", "yellow", "purple", "orange", "cyan", "white", "black", "gray", "grey", "pink",
    "brown", "magenta", "violet", "gold", "golden", "silver", "beige", "tan", "maroon", "navy", "teal", "turquoise",
    "lime", "olive", "indigo", "crimson", "scarlet", "blond", "blonde", "colour", "color", "colours", "colors",
    "coloured", "colored", "colourful", "colorful", "reddish", "greenish", "bluish", "yellowish", "greyish", "grayish",
})

#: The orders of (R, G, B) a swap draws from: every one but the identity.
CHANNEL_ORDERS: tuple[tuple[int, int, int], ...] = ((0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))

#: Which examples a swap may touch (``colour_swap_where``): ``uncoloured``, every one whose prompt and
#: target name no colour; ``located``, of those only the ones whose target places something (holds a
#: ``<loc_k>`` token: a detection list, a box, a pointed answer), so that counts and yes/no answers,
#: which place nothing, always see the world's own colours.
SWAP_WHERE: tuple[str, ...] = ("uncoloured", "located")

_WORD = re.compile(r"[a-z]+")
_LOCATION = re.compile(r"<loc_\d+>")
_MARKUP = re.compile(r"<[^>]*>")


def names_colour(*texts: str) -> bool:
    """Whether any of ``texts`` holds a word of :data:`COLOUR_WORDS` (case-insensitive, whole words;
    markup such as ``<loc_12>`` is not a word)."""
    return any(w in COLOUR_WORDS for t in texts for w in _WORD.findall(_MARKUP.sub(" ", t.lower())))


def swap_channels(images: np.ndarray, rng: random.Random) -> np.ndarray:
    """``images`` (..., 3) with its channels in one order drawn from :data:`CHANNEL_ORDERS` (a new
    array; the input, which may be a cached image, is not touched)."""
    if images.shape[-1] != 3:
        raise ValueError(f"swap_channels needs RGB images (..., 3), got shape {images.shape}")
    order = CHANNEL_ORDERS[rng.randrange(len(CHANNEL_ORDERS))]
    return np.ascontiguousarray(images[..., list(order)])


def check_swap_where(where: str, name: str) -> str:
    """``where`` if it is one of :data:`SWAP_WHERE`, else a ValueError that says so under ``name``
    (the training config's key, the Processor's argument)."""
    if where not in SWAP_WHERE:
        raise ValueError(f"{name} must be one of {', '.join(SWAP_WHERE)}, got {where!r}")
    return where


def places_something(target: str) -> bool:
    """Whether a target text holds a location token (``<loc_k>``)."""
    return _LOCATION.search(target) is not None


def maybe_swap_colours(images: np.ndarray, texts: tuple[str, ...], p: float, rng: random.Random | None,
                       where: str = "uncoloured") -> np.ndarray:
    """``images`` with their channels swapped with probability ``p``, where none of ``texts`` (the
    example's prompt and target, the target last) names a colour and, with ``where="located"``, the
    target places something; as they are otherwise, and always without ``rng`` (evaluation) or with
    ``p`` 0. No random number is drawn when ``p`` is 0, so a run without the swap keeps its exact
    sequence of draws; with ``p`` > 0 one is drawn per example whichever ``where``, so the two rules
    see the same draws."""
    check_swap_where(where, "colour swap 'where'")
    if rng is None or p <= 0 or rng.random() >= p or names_colour(*texts):
        return images
    if where == "located" and not places_something(texts[-1]):
        return images
    return swap_channels(images, rng)
