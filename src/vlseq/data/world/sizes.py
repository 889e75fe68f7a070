"""How large the world's objects are, and the size word each one gets.

Three regimes, chosen by :class:`~vlseq.data.world.scene.WorldConfig`:

* the named ``sizes`` (the default world): each object takes one name and its radius, jittered;
* a ``scale`` range: every radius drawn log-uniformly from ``(lo, hi)``, and the names split that
  log range in equal parts (:func:`size_name`), so "large" means the upper part of *this* world's
  range;
* a ``scale`` range with ``scale_frac`` (a mixed world): a scene draws its radii from the range
  with that chance and is a default-world scene otherwise. Here a size word must mean one radius
  in every scene, so a drawn radius is named by the thresholds halfway (geometrically) between the
  named sizes (:func:`thresholds`): a "large" object of a large-object scene is larger than a
  "small" one of a default scene, as it is within either.

Radii within :data:`SIZE_GAP` of a threshold (a fraction of the range's log length) are never
drawn, so two neighbouring size words never name nearly equal radii.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # the config is built in scene.py, which imports this module
    from .scene import WorldConfig

#: A named size's radius is jittered by this fraction either way.
RADIUS_JITTER = 0.08
#: Size name -> shape radius as a fraction of the image side (jittered by :data:`RADIUS_JITTER`).
SIZES: dict[str, float] = {"small": 0.075, "large": 0.135}
SIZES_3: dict[str, float] = {"small": 0.07, "medium": 0.1, "large": 0.14}
#: Largest ``scale`` radius (fraction of the side: the shape spans about the whole image).
MAX_SCALE = 0.5
#: With ``scale``, radii within this fraction of the log range of a size-word threshold are not
#: drawn, so two neighbouring size words never name nearly equal radii.
SIZE_GAP = 0.04
#: Draws of a mixed world's radius before the gap rule gives way (each draw lands in a gap with
#: a chance of at most ``2 * SIZE_GAP`` per threshold, so this bound is never reached in practice).
MAX_REDRAWS = 64
#: The smallest pixel-sharp radius, in pixels, at which the shapes keep their identity: the best
#: possible reader of a lone drawing (``experiments/legibility.py``, exact pixel patterns, the
#: seven default shapes) names 0.994 of them at 3.8 px, 0.987 at 3.4 and 0.960 at 2.6, where a
#: circle and a hexagon light the same pixels in about one drawing of ten. Below it a shape
#: question can have no answer in the pixels.
LEGIBLE_RADIUS_PX = 3.8


def thresholds(sizes: dict[str, float]) -> list[float]:
    """The radii (fractions of the side) between neighbouring named sizes, smallest first: the
    geometric mean of each pair, so a radius is named by the nearest size on a log scale."""
    r = sorted(sizes.values())
    return [math.sqrt(a * b) for a, b in zip(r, r[1:])]


def size_name(radius: float, cfg: WorldConfig) -> str:
    """The size word of a ``scale`` radius (a fraction of the side).

    Without ``scale_frac`` the names of ``cfg.sizes`` (smallest first) split the log range
    ``scale`` in equal parts, e.g. geometric thirds with small/medium/large. With it (a mixed
    world) a name is the one whose named radius is nearest on a log scale (:func:`thresholds`)."""
    names = sorted(cfg.sizes, key=cfg.sizes.__getitem__)
    if cfg.scale_frac is not None:
        return names[sum(radius >= t for t in thresholds(cfg.sizes))]
    lo, hi = cfg.scale  # type: ignore[misc]
    u = math.log(radius / lo) / math.log(hi / lo)
    return names[min(max(int(u * len(names)), 0), len(names) - 1)]


def scale_radius(rng: np.random.Generator, cfg: WorldConfig) -> float:
    """A log-uniform radius fraction from ``cfg.scale``, avoiding :data:`SIZE_GAP` about each threshold."""
    lo, hi = cfg.scale  # type: ignore[misc]
    if cfg.scale_frac is not None:
        cuts = _cuts(cfg)
        for _ in range(MAX_REDRAWS):
            u = float(rng.uniform(0.0, 1.0))
            if all(abs(u - c) >= SIZE_GAP for c in cuts):
                break
        return lo * (hi / lo) ** u
    parts = _allowed_u(cfg)
    v = float(rng.uniform(0, sum(b - a for a, b in parts)))
    u = parts[-1][1]
    for a, b in parts:
        if v <= b - a:
            u = a + v
            break
        v -= b - a
    return lo * (hi / lo) ** u


def _cuts(cfg: WorldConfig) -> list[float]:
    """Where the size thresholds fall in a mixed world's ``scale`` range, as log positions in ``[0, 1]``."""
    lo, hi = cfg.scale  # type: ignore[misc]
    span = math.log(hi / lo)
    return [math.log(t / lo) / span for t in thresholds(cfg.sizes)]


def smallest_radius_px(cfg: WorldConfig) -> float:
    """The smallest radius, in pixels, that ``cfg`` can draw: a named size less its jitter, the
    ``scale`` range's low end, or (a mixed world, which draws both) the smaller of the two."""
    named = min(cfg.sizes.values()) * (1 - RADIUS_JITTER)
    if cfg.scale is None:
        return named * cfg.size
    if cfg.scale_frac is None:
        return cfg.scale[0] * cfg.size
    return min(cfg.scale[0], named) * cfg.size


def _allowed_u(cfg: WorldConfig) -> list[tuple[float, float]]:
    """The intervals of the log position ``u`` in ``[0, 1]`` that :func:`scale_radius` draws from
    (uniformly): the range less :data:`SIZE_GAP` about each size threshold."""
    n = len(cfg.sizes)
    if cfg.scale_frac is None:
        return [(k / n + (SIZE_GAP if k else 0.0), (k + 1) / n - (SIZE_GAP if k < n - 1 else 0.0)) for k in range(n)]
    edges = [0.0] + [e for c in sorted(_cuts(cfg)) for e in (c - SIZE_GAP, c + SIZE_GAP)] + [1.0]
    spans = [(min(max(a, 0.0), 1.0), min(max(b, 0.0), 1.0)) for a, b in zip(edges[::2], edges[1::2])]
    return [(a, b) for a, b in spans if b > a]


def illegible_share(cfg: WorldConfig) -> float:
    """The expected share of the radii ``cfg`` draws that are pixel-sharp and under
    :data:`LEGIBLE_RADIUS_PX`: 0.0 for an anti-aliased world, which keeps more of each outline.

    A named size's radius is uniform within its jitter, a ``scale`` radius log-uniform over the
    range less its gaps about the size thresholds (:func:`scale_radius`), and a mixed world weighs
    the two by ``scale_frac``. Among the objects a scene keeps the share is somewhat higher: a large object
    that finds no room is dropped."""
    if cfg.antialias > 1:
        return 0.0
    named = sum(min(max((LEGIBLE_RADIUS_PX / (r * cfg.size) - (1 - RADIUS_JITTER)) / (2 * RADIUS_JITTER), 0.0), 1.0)
                for r in cfg.sizes.values()) / len(cfg.sizes)
    if cfg.scale is None:
        return named
    lo, hi = cfg.scale
    below = math.log(LEGIBLE_RADIUS_PX / (lo * cfg.size)) / math.log(hi / lo)  # u under it is illegible
    allowed = _allowed_u(cfg)
    scaled = sum(max(min(b, below) - a, 0.0) for a, b in allowed) / sum(b - a for a, b in allowed)
    if cfg.scale_frac is None:
        return scaled
    return cfg.scale_frac * scaled + (1 - cfg.scale_frac) * named


def illegible_note(cfg: WorldConfig) -> str | None:
    """What share of ``cfg``'s objects are drawn too small to tell apart, or None when none are."""
    share = illegible_share(cfg)
    if share <= 0.0:
        return None
    return (f"about {share:.1%} of the objects are drawn pixel-sharp with a radius under {LEGIBLE_RADIUS_PX} px "
            f"(the smallest: {smallest_radius_px(cfg):.1f} px at size {cfg.size}), where some shapes (a circle and "
            f"a hexagon first) light the same pixels, so their names are not always in the image "
            f"(a higher --scale low end or --size, or --antialias, avoids it)")
