"""The scene graph of the synthetic world: objects, placement with occlusion bookkeeping, rendering.

A :class:`Scene` is a list of :class:`SceneObject` in drawing order (a later object covers an
earlier one) over a procedural background. Every object carries the ground truth every task needs:

* ``mask``: ``(H, W)`` bool, the pixels of the whole shape; ``visible``: the pixels not covered by
  a later object. A pixel belongs to a shape when its *centre* ``(x + 0.5, y + 0.5)`` lies inside
  the shape's polygon, so the mask area is an unbiased estimate of the polygon area.
* ``box``: the tight ``(x1, y1, x2, y2)`` of the visible pixels, ``x2`` = last column + 1.
* ``polygon``: the outline of the visible region: the shape's own vertices when nothing covers it,
  otherwise a contour traced along the pixel edges of the visible mask (simplified).

Placement rejects a position that would leave any object less than ``min_visible`` visible, or
split its visible region in two, so every object of a scene can be asked about and referred to.
Everything is deterministic given the seed (``numpy.random.Generator``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np
from PIL import Image

from ..example import Object
from .contour import simplify_closed, trace_outline

#: Colour name -> base RGB; far apart in RGB and from the muted backgrounds.
COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 30, 30),
    "green": (30, 170, 50),
    "blue": (30, 70, 230),
    "yellow": (240, 220, 30),
    "purple": (150, 40, 200),
    "orange": (250, 135, 20),
    "cyan": (30, 215, 225),
    "white": (250, 250, 250),
}

SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "hexagon", "cross")

#: Size name -> shape radius as a fraction of the image side (jittered by +-8 %).
SIZES: dict[str, float] = {"small": 0.075, "large": 0.135}
SIZES_3: dict[str, float] = {"small": 0.07, "medium": 0.1, "large": 0.14}

BACKGROUNDS: tuple[str, ...] = ("gradient", "noise", "stripes", "checker")


def _regular(n: int, radius: float, phase: float) -> np.ndarray:
    a = phase + np.arange(n) * 2 * math.pi / n
    return np.stack([radius * np.cos(a), radius * np.sin(a)], axis=1)


def _star() -> np.ndarray:
    outer = _regular(5, 1.08, -math.pi / 2)
    inner = _regular(5, 0.48, -math.pi / 2 + math.pi / 5)
    pts = np.empty((10, 2))
    pts[0::2], pts[1::2] = outer, inner
    return pts + np.array([0.0, 0.1])  # the centroid of the star's box sits a bit low


def _cross() -> np.ndarray:
    a, b = 0.32, 0.95
    return np.array([(-a, -b), (a, -b), (a, -a), (b, -a), (b, a), (a, a), (a, b), (-a, b),
                     (-a, a), (-b, a), (-b, -a), (-a, -a)], dtype=float)


#: Unit outlines (radius about 1, y down), clockwise on screen. No rotation: a square and a
#: diamond differ only by one.
UNIT_SHAPES: dict[str, np.ndarray] = {
    "circle": _regular(20, 1.0, 0.0),
    "square": np.array([(-0.82, -0.82), (0.82, -0.82), (0.82, 0.82), (-0.82, 0.82)]),
    "triangle": _regular(3, 1.15, -math.pi / 2) + np.array([0.0, 0.2]),
    "diamond": np.array([(0.0, -1.05), (0.8, 0.0), (0.0, 1.05), (-0.8, 0.0)]),
    "star": _star(),
    "hexagon": _regular(6, 0.98, 0.0),
    "cross": _cross(),
}


@dataclass
class WorldConfig:
    """Everything that shapes the world; stored in ``manifest.json``."""

    size: int = 128
    min_objects: int = 1
    max_objects: int = 5
    shapes: tuple[str, ...] = SHAPES
    colours: tuple[str, ...] = tuple(COLOURS)
    sizes: dict[str, float] = field(default_factory=lambda: dict(SIZES))
    backgrounds: tuple[str, ...] = BACKGROUNDS
    min_visible: float = 0.6  # smallest visible fraction of an object's pixels
    occlusion: bool = True  # allow overlaps at all
    #: (colour, shape) pairs a scene must not contain (the train split's held-out combinations)
    exclude_pairs: tuple[tuple[str, str], ...] = ()
    #: (colour, shape) pairs of which a scene must contain at least one (the held-out test split)
    require_pairs: tuple[tuple[str, str], ...] = ()
    captions_per_image: int = 5
    questions_per_image: int = 6
    refexps_per_image: int = 3
    choice_questions_per_image: int = 2  # multiple_choice: each question is two examples (qa, qar)
    detect_labels: str = "shape"  # "shape" or "colour_shape"

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"image size {self.size} is too small (need >= 32)")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f"need 1 <= min_objects <= max_objects, got {self.min_objects}-{self.max_objects}")
        for s in self.shapes:
            if s not in UNIT_SHAPES:
                raise ValueError(f"unknown shape {s!r}; known: {sorted(UNIT_SHAPES)}")
        for c in self.colours:
            if c not in COLOURS:
                raise ValueError(f"unknown colour {c!r}; known: {sorted(COLOURS)}")
        if self.detect_labels not in ("shape", "colour_shape"):
            raise ValueError(f"detect_labels must be 'shape' or 'colour_shape', got {self.detect_labels!r}")
        self.exclude_pairs = tuple(tuple(p) for p in self.exclude_pairs)  # type: ignore[misc]
        self.require_pairs = tuple(tuple(p) for p in self.require_pairs)  # type: ignore[misc]

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SceneObject:
    """One shape. ``mask``/``visible`` are ``(H, W)`` bool; ``polygon`` is the visible outline."""

    shape: str
    colour: str
    size: str
    cx: float
    cy: float
    radius: float
    rgb: tuple[int, int, int]
    mask: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    visible: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    polygon: list[tuple[float, float]] = field(default_factory=list)
    area: int = 0
    visible_fraction: float = 1.0

    @property
    def outline(self) -> np.ndarray:
        """``(K, 2)`` float vertices of the whole shape in pixels."""
        return UNIT_SHAPES[self.shape] * self.radius + np.array([self.cx, self.cy])

    @property
    def centre(self) -> tuple[float, float]:
        """Centre of the visible box: what relations and positions are judged by."""
        x1, y1, x2, y2 = self.box
        return (x1 + x2) / 2, (y1 + y2) / 2

    @property
    def occluded(self) -> bool:
        return self.visible_fraction < 1.0


@dataclass
class Scene:
    """Objects in drawing order over a background described by ``background`` (kind, seed)."""

    width: int
    height: int
    objects: list[SceneObject]
    background: dict
    seed: int = 0
    #: memo of derived language (e.g. referring expressions per object); never compared or saved
    cache: dict = field(default_factory=dict, repr=False, compare=False)


# --------------------------------------------------------------------------- rasterising


def rasterize(poly: np.ndarray, width: int, height: int) -> np.ndarray:
    """``(H, W)`` bool mask of the pixels whose centres lie inside ``poly`` (``(K, 2)``, even-odd)."""
    mask = np.zeros((height, width), dtype=bool)
    x0 = max(int(math.floor(poly[:, 0].min())), 0)
    x1 = min(int(math.ceil(poly[:, 0].max())), width)
    y0 = max(int(math.floor(poly[:, 1].min())), 0)
    y1 = min(int(math.ceil(poly[:, 1].max())), height)
    if x1 <= x0 or y1 <= y0:
        return mask
    xs = np.arange(x0, x1, dtype=np.float64) + 0.5
    ys = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5
    a, b = poly, np.roll(poly, -1, axis=0)
    xa, ya, xb, yb = (v[:, None, None] for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    crosses = (ya > ys) != (yb > ys)  # (E, h, 1): the edge spans this row
    with np.errstate(divide="ignore", invalid="ignore"):
        xint = xa + (ys - ya) * (xb - xa) / (yb - ya)
    inside = np.logical_and(crosses, xs < xint).sum(axis=0) % 2 == 1
    mask[y0:y1, x0:x1] = inside
    return mask


def tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    """``(x1, y1, x2, y2)`` of the True pixels, ``x2``/``y2`` exclusive; ``(0,0,0,0)`` if empty."""
    cols = np.flatnonzero(mask.any(axis=0))
    if cols.size == 0:
        return (0, 0, 0, 0)
    rows = np.flatnonzero(mask.any(axis=1))
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def polygon_area(poly: Sequence[tuple[float, float]] | np.ndarray) -> float:
    """Shoelace area (absolute) of a closed polygon."""
    p = np.asarray(poly, dtype=float)
    if len(p) < 3:
        return 0.0
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


# --------------------------------------------------------------------------- bookkeeping


def update_visibility(objects: list[SceneObject], min_visible: float, polygons: bool = True) -> bool:
    """Recompute ``visible``/``box``/``polygon``/``area`` of every object, in place.

    ``polygons=False`` skips simplifying the traced outlines (placement only needs the checks).

    Returns False (leaving the objects half-updated) when some object is less than
    ``min_visible`` visible or its visible region is not one piece; the caller then rejects.
    """
    covered = np.zeros_like(objects[0].mask) if objects else None
    for o in reversed(objects):
        full = int(o.mask.sum())
        if full == 0:
            return False
        o.visible = o.mask & ~covered
        o.area = int(o.visible.sum())
        o.visible_fraction = o.area / full
        if o.visible_fraction < min_visible:
            return False
        o.box = tight_box(o.visible)
        if o.area == full:
            if polygons:
                o.polygon = [(round(float(x), 2), round(float(y), 2)) for x, y in o.outline]
        else:
            x1, y1, x2, y2 = o.box
            traced = trace_outline(o.visible[y1:y2, x1:x2])
            if polygon_area(traced) != o.area:  # split in pieces (or a hole): not one region
                return False
            if polygons:
                o.polygon = [(float(x + x1), float(y + y1)) for x, y in simplify_closed(traced, 0.6)]
        covered |= o.mask
    return True


def _allowed(colour: str, shape: str, cfg: WorldConfig) -> bool:
    return (colour, shape) not in cfg.exclude_pairs


def _sample_object(rng: np.random.Generator, cfg: WorldConfig, pair: tuple[str, str] | None) -> SceneObject:
    size_names = list(cfg.sizes)
    size = size_names[int(rng.integers(len(size_names)))]
    if pair is None:
        while True:
            colour = cfg.colours[int(rng.integers(len(cfg.colours)))]
            shape = cfg.shapes[int(rng.integers(len(cfg.shapes)))]
            if _allowed(colour, shape, cfg):
                break
    else:
        colour, shape = pair
    r = cfg.sizes[size] * cfg.size * float(rng.uniform(0.92, 1.08))
    margin = r * 1.15 + 1
    cx = float(rng.uniform(margin, cfg.size - margin))
    cy = float(rng.uniform(margin, cfg.size - margin))
    # a small brightness jitter: the same colour name is never exactly one RGB
    jitter = int(rng.integers(-18, 19))
    rgb = tuple(int(min(max(c + jitter, 0), 255)) for c in COLOURS[colour])
    return SceneObject(shape, colour, size, cx, cy, r, rgb)  # type: ignore[arg-type]


def place(objects: list[SceneObject], obj: SceneObject, cfg: WorldConfig) -> bool:
    """Append ``obj`` (its mask computed here) if the scene stays valid; return whether it did."""
    obj.mask = rasterize(obj.outline, cfg.size, cfg.size)
    if not cfg.occlusion and any((o.mask & obj.mask).any() for o in objects):
        return False
    trial = objects + [obj]
    if update_visibility(trial, cfg.min_visible, polygons=False):
        objects.append(obj)
        return True
    if objects:
        update_visibility(objects, cfg.min_visible, polygons=False)  # restore the kept objects' bookkeeping
    return False


def generate_scene(seed: int | np.random.Generator | np.random.SeedSequence, config: WorldConfig | None = None) -> Scene:
    """A random scene: ``min_objects..max_objects`` shapes (fewer only if placement keeps failing)."""
    cfg = config or WorldConfig()
    if isinstance(seed, np.random.Generator):
        rng = seed
        scene_seed = int(rng.integers(2**31))
    else:
        rng = np.random.default_rng(seed)
        scene_seed = int(seed.entropy) if isinstance(seed, np.random.SeedSequence) else int(seed)  # type: ignore[arg-type]
    n = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    required: list[tuple[str, str]] = []
    if cfg.require_pairs:
        required.append(cfg.require_pairs[int(rng.integers(len(cfg.require_pairs)))])
    objects: list[SceneObject] = []
    for i in range(n):
        pair = required[i] if i < len(required) else None
        for _ in range(30):
            if place(objects, _sample_object(rng, cfg, pair), cfg):
                break
    if not objects:  # cannot happen with sane sizes; a clear error beats an empty scene
        raise RuntimeError(f"could not place any object at size {cfg.size} with sizes {cfg.sizes}")
    update_visibility(objects, cfg.min_visible)  # the final polygons
    kind = cfg.backgrounds[int(rng.integers(len(cfg.backgrounds)))]
    background = {"kind": kind, "seed": int(rng.integers(2**31))}
    return Scene(cfg.size, cfg.size, objects, background, scene_seed)


def rebuild(scene: Scene, objects: list[SceneObject], min_visible: float) -> Scene | None:
    """A copy of ``scene`` with ``objects`` (masks recomputed), or None if it breaks the rules."""
    objs = [replace(o) for o in objects]
    for o in objs:
        o.mask = rasterize(o.outline, scene.width, scene.height)
    if not objs or not update_visibility(objs, min_visible):
        return None
    return Scene(scene.width, scene.height, objs, dict(scene.background), scene.seed)


# --------------------------------------------------------------------------- rendering


def render_background(kind: str, seed: int, width: int, height: int) -> np.ndarray:
    """``(H, W, 3)`` uint8 muted texture: a base tone plus a low-contrast pattern and grain."""
    rng = np.random.default_rng(seed)
    base = rng.uniform(85, 165) + rng.uniform(-18, 18, size=3)
    ys = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    xs = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    if kind == "gradient":
        a = rng.uniform(0, 2 * math.pi)
        pattern = (math.cos(a) * (xs - 0.5) + math.sin(a) * (ys - 0.5)) * rng.uniform(30, 60)
    elif kind == "noise":
        low = rng.uniform(-1, 1, size=(6, 6)).astype(np.float32)
        up = Image.fromarray(low, mode="F").resize((width, height), Image.BILINEAR)
        pattern = np.asarray(up) * rng.uniform(14, 24)
    elif kind == "stripes":
        a = rng.uniform(0, math.pi)
        period = rng.uniform(0.08, 0.2)
        pattern = np.sin((math.cos(a) * xs + math.sin(a) * ys) / period * 2 * math.pi) * rng.uniform(7, 13)
    elif kind == "checker":
        cells = int(rng.integers(4, 9))
        pattern = (((xs * cells).astype(np.int32) + (ys * cells).astype(np.int32)) % 2 - 0.5).astype(np.float32) * rng.uniform(12, 22)
    else:
        raise ValueError(f"unknown background kind {kind!r}; known: {BACKGROUNDS}")
    tex = pattern + rng.standard_normal((height, width), dtype=np.float32) * 4  # (H, W) plus grain
    img = np.empty((height, width, 3), dtype=np.uint8)
    for c in range(3):  # per channel: cheaper than broadcasting a (H, W, 3) float image
        img[..., c] = np.clip(tex + np.float32(base[c]), 0, 255)
    return img


def render(scene: Scene) -> np.ndarray:
    """``(H, W, 3)`` uint8 image of the scene; same background and objects -> same pixels."""
    img = render_background(scene.background["kind"], scene.background["seed"], scene.width, scene.height)
    for o in scene.objects:  # drawing order: later objects cover earlier ones
        img[o.mask] = o.rgb
    return img


def category(o: SceneObject, cfg: WorldConfig) -> str:
    """The detection class of an object: its shape, or ``"red circle"`` with colour categories."""
    return o.shape if cfg.detect_labels == "shape" else f"{o.colour} {o.shape}"


def categories(cfg: WorldConfig) -> list[str]:
    """Every detection class of the world, in a fixed order (COCO category ids are 1 + index)."""
    if cfg.detect_labels == "shape":
        return list(cfg.shapes)
    return [f"{c} {s}" for s in cfg.shapes for c in cfg.colours]


def to_object(o: SceneObject, label: str) -> Object:
    """The Example-level object: float xyxy box, visible polygon, attributes incl. the mask area."""
    return Object(label=label, box=tuple(float(v) for v in o.box), polygon=list(o.polygon),  # type: ignore[arg-type]
                  attributes={"shape": o.shape, "colour": o.colour, "size": o.size, "area": o.area,
                              "visible_fraction": round(o.visible_fraction, 4)})
