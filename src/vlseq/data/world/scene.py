"""The scene graph of the synthetic world: objects, placement with occlusion bookkeeping.

A :class:`Scene` is a list of :class:`SceneObject` in drawing order (a later object covers an
earlier one) over a procedural background. Every object carries the ground truth every task needs:

* ``mask``: ``(H, W)`` bool, the pixels of the whole shape; ``visible``: the pixels not covered by
  a later object. A pixel belongs to a shape when its *centre* ``(x + 0.5, y + 0.5)`` lies inside
  the shape's polygon, so the mask area is an unbiased estimate of the polygon area.
* ``box``: the tight ``(x1, y1, x2, y2)`` of the visible pixels, ``x2`` = last column + 1.
* ``polygon``: the outline of the visible region: the shape's own vertices when nothing covers it
  (nor the image border clips it), otherwise a contour traced along the pixel edges of the visible
  mask (simplified).

Placement rejects a position that would leave any object less than ``min_visible`` visible, or
split its visible region in two, so every object of a scene can be asked about and referred to.
Everything is deterministic given the seed (``numpy.random.Generator``).

The world's look has options (:class:`WorldConfig`: ``scale`` and ``scale_frac`` (sizes in
:mod:`~vlseq.data.world.sizes`), ``rotation``, ``fill``,
``antialias``, ``backgrounds``, ``shapes``, ``colours``), all off by default. An option that is off
draws no random number, so the default world is, pixel for pixel, what it was before they existed.
A square turned 45 degrees is a diamond: with both among the shapes ``rotation`` stays below 22.5.
An ``outline`` object is drawn hollow but is as opaque as a solid one (its interior shows the
background), so its mask, box and occlusion are those of the whole shape. Rendering, with the
antialiased compositing, is in :mod:`~vlseq.data.world.rendering`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Sequence

import numpy as np

from ..example import Object
from .contour import simplify_closed, trace_outline

# SIZE_GAP and SIZES_3 are imported for the callers that knew them here (they moved to sizes.py)
from .sizes import MAX_SCALE, RADIUS_JITTER, SIZE_GAP, SIZES, SIZES_3, scale_radius, size_name  # noqa: F401

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

#: The default shapes; :data:`ALL_SHAPES` adds glyph-like ones that differ only in outline.
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "star", "hexagon", "cross")
ALL_SHAPES: tuple[str, ...] = SHAPES + ("pentagon", "arrow", "heart", "tee", "ell", "chevron")


#: The default background kinds; :data:`ALL_BACKGROUNDS` adds ``tinted`` (a saturated random hue
#: with a faint texture: a background may share an object's hue) and ``texture`` (contrasty
#: multi-scale noise).
BACKGROUNDS: tuple[str, ...] = ("gradient", "noise", "stripes", "checker")
ALL_BACKGROUNDS: tuple[str, ...] = BACKGROUNDS + ("tinted", "texture")
FILLS: tuple[str, ...] = ("solid", "outline", "mixed")
#: ``rotation`` at or above this makes a square and a diamond the same shape.
SQUARE_DIAMOND_ROTATION = 22.5


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


def _centred(pts: list[tuple[float, float]] | np.ndarray) -> np.ndarray:
    """``pts`` moved so the centre of their box is the origin."""
    p = np.asarray(pts, dtype=float)
    return p - (p.min(axis=0) + p.max(axis=0)) / 2


def _heart(n: int = 28) -> np.ndarray:
    t = np.arange(n) * 2 * math.pi / n
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))  # y down: the tip at the bottom
    p = _centred(np.stack([x, y], axis=1))
    return p / np.abs(p).max()


#: Unit outlines (radius about 1, y down), clockwise on screen. A square and a diamond differ only
#: by a 45 degree turn (hence the limit on ``rotation``); the shapes after ``cross`` fit the same
#: placement margin (extent at most 1) and are simple polygons.
UNIT_SHAPES: dict[str, np.ndarray] = {
    "circle": _regular(20, 1.0, 0.0),
    "square": np.array([(-0.82, -0.82), (0.82, -0.82), (0.82, 0.82), (-0.82, 0.82)]),
    "triangle": _regular(3, 1.15, -math.pi / 2) + np.array([0.0, 0.2]),
    "diamond": np.array([(0.0, -1.05), (0.8, 0.0), (0.0, 1.05), (-0.8, 0.0)]),
    "star": _star(),
    "hexagon": _regular(6, 0.98, 0.0),
    "cross": _cross(),
    "pentagon": _centred(_regular(5, 1.0, -math.pi / 2)),
    "arrow": np.array([(-0.95, -0.3), (0.15, -0.3), (0.15, -0.75), (0.95, 0.0), (0.15, 0.75), (0.15, 0.3),
                       (-0.95, 0.3)]),
    "heart": _heart(),
    "tee": _centred([(-0.95, -0.9), (0.95, -0.9), (0.95, -0.4), (0.28, -0.4), (0.28, 0.95), (-0.28, 0.95),
                     (-0.28, -0.4), (-0.95, -0.4)]),
    "ell": _centred([(-0.75, -0.95), (-0.2, -0.95), (-0.2, 0.4), (0.75, 0.4), (0.75, 0.95), (-0.75, 0.95)]),
    "chevron": _centred([(0.0, -0.85), (0.95, 0.1), (0.95, 0.75), (0.0, -0.2), (-0.95, 0.75), (-0.95, 0.1)]),
}


def rotated(points: np.ndarray, degrees: float) -> np.ndarray:
    """``points`` ``(K, 2)`` turned ``degrees`` about the origin (positive: clockwise on screen, y down)."""
    if not degrees:
        return points
    a = math.radians(degrees)
    c, s = math.cos(a), math.sin(a)
    return points @ np.array([[c, s], [-s, c]])


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
    #: (lo, hi) radius range as fractions of the side, drawn log-uniformly (None: the named ``sizes``;
    #: with a range only the names of ``sizes`` are used, see :func:`size_name`)
    scale: tuple[float, float] | None = None
    #: with ``scale``: the chance that a scene draws its radii from ``scale``; otherwise it is a scene
    #: of the named ``sizes``, and a drawn radius is named as those are (a mixed world; None: every
    #: scene from ``scale``, see :mod:`~vlseq.data.world.sizes`)
    scale_frac: float | None = None
    antialias: int = 0  # supersampling factor k (k x k samples per pixel); 0 or 1: pixel-sharp
    rotation: float = 0.0  # max degrees each outline is turned (uniform in -rotation..rotation)
    fill: str = "solid"  # "solid", "outline" or "mixed" (each object 50/50)
    #: the chance that a question or referring expression names its object by a superlative ("the
    #: leftmost red object") where one can; None: each kind of expression the object has (attribute,
    #: relation, superlative) equally likely, the default world's rule
    superlatives: float | None = None

    def __post_init__(self) -> None:
        if self.size < 32:
            raise ValueError(f"image size {self.size} is too small (need >= 32)")
        if not 1 <= self.min_objects <= self.max_objects:
            raise ValueError(f"need 1 <= min_objects <= max_objects, got {self.min_objects}-{self.max_objects}")
        self.shapes, self.colours, self.backgrounds = tuple(self.shapes), tuple(self.colours), tuple(self.backgrounds)
        for s in self.shapes:
            if s not in UNIT_SHAPES:
                raise ValueError(f"unknown shape {s!r}; known: {sorted(UNIT_SHAPES)}")
        for c in self.colours:
            if c not in COLOURS:
                raise ValueError(f"unknown colour {c!r}; known: {sorted(COLOURS)}")
        for name, values in (("shapes", self.shapes), ("colours", self.colours)):
            if len(set(values)) < 2 or len(set(values)) != len(values):
                raise ValueError(f"{name} must name at least two distinct {name} (the language asks which), "
                                 f"got {list(values)}")
        if not self.backgrounds or any(b not in ALL_BACKGROUNDS for b in self.backgrounds):
            raise ValueError(f"backgrounds must be one or more of {ALL_BACKGROUNDS}, got {list(self.backgrounds)}")
        if self.detect_labels not in ("shape", "colour_shape"):
            raise ValueError(f"detect_labels must be 'shape' or 'colour_shape', got {self.detect_labels!r}")
        if self.scale is not None:
            if len(self.scale) != 2:
                raise ValueError(f"scale must be (lo, hi) fractions of the image side, got {self.scale!r}")
            lo, hi = float(self.scale[0]), float(self.scale[1])
            if not 0 < lo < hi <= MAX_SCALE:
                raise ValueError(f"scale must be (lo, hi) with 0 < lo < hi <= {MAX_SCALE}, got {self.scale!r}")
            if lo * self.size < 1:
                raise ValueError(f"scale {lo} gives a radius under one pixel at size {self.size}")
            self.scale = (lo, hi)
        if self.scale_frac is not None:
            if self.scale is None:
                raise ValueError("scale_frac needs a scale range: it is the share of scenes drawn from it")
            if not 0.0 < float(self.scale_frac) <= 1.0:
                raise ValueError(f"scale_frac must be a fraction in (0, 1], got {self.scale_frac!r}")
            self.scale_frac = float(self.scale_frac)
        if not (isinstance(self.antialias, (int, np.integer)) and 0 <= self.antialias <= 16):
            raise ValueError(f"antialias must be a supersampling factor 0..16 (0/1: off), got {self.antialias!r}")
        if self.superlatives is not None and not 0.0 <= self.superlatives <= 1.0:
            raise ValueError(f"superlatives must be a probability in [0, 1] (or None), got {self.superlatives}")
        if not 0 <= self.rotation <= 180:
            raise ValueError(f"rotation must be 0..180 degrees, got {self.rotation}")
        if self.rotation >= SQUARE_DIAMOND_ROTATION and {"square", "diamond"} <= set(self.shapes):
            raise ValueError(f"rotation {self.rotation} >= {SQUARE_DIAMOND_ROTATION} degrees makes a square and a "
                             f"diamond the same shape: lower it or leave one of them out of shapes")
        if self.fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {self.fill!r}")
        self.exclude_pairs = tuple(tuple(p) for p in self.exclude_pairs)  # type: ignore[misc]
        self.require_pairs = tuple(tuple(p) for p in self.require_pairs)  # type: ignore[misc]
        if all((c, s) in self.exclude_pairs for c in self.colours for s in self.shapes):
            raise ValueError("exclude_pairs leaves no (colour, shape) pair to draw")

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
    angle: float = 0.0  # degrees the outline is turned about the centre (clockwise on screen)
    fill: str = "solid"  # "solid" or "outline" (how it is drawn; the ground truth is the whole shape)

    @property
    def outline(self) -> np.ndarray:
        """``(K, 2)`` float vertices of the whole shape in pixels."""
        return rotated(UNIT_SHAPES[self.shape], self.angle) * self.radius + np.array([self.cx, self.cy])

    @property
    def margin(self) -> float:
        """Distance the centre keeps from the image border so the whole outline lies inside."""
        extent = float(np.abs(rotated(UNIT_SHAPES[self.shape], self.angle)).max())
        return max(self.radius * 1.15, self.radius * extent) + 1

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
    antialias: int = 0  # render's supersampling factor (0/1: pixel-sharp)
    #: the world's vocabulary: distractors (wrong answers, absent objects) are drawn from it
    shapes: tuple[str, ...] = field(default=SHAPES, compare=False)
    colours: tuple[str, ...] = field(default=tuple(COLOURS), compare=False)
    #: :attr:`WorldConfig.superlatives`, for the language drawn from the scene
    superlatives: float | None = field(default=None, compare=False)
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
        if o.area == full and _inside(o.outline, o.mask.shape):
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


def _inside(poly: np.ndarray, hw: tuple[int, ...]) -> bool:
    """Whether ``poly`` lies within the image (else its visible outline is traced, clipped)."""
    return bool(poly.min() >= 0 and poly[:, 0].max() <= hw[1] and poly[:, 1].max() <= hw[0])


def _allowed(colour: str, shape: str, cfg: WorldConfig) -> bool:
    return (colour, shape) not in cfg.exclude_pairs


def _sample_object(rng: np.random.Generator, cfg: WorldConfig, pair: tuple[str, str] | None,
                   scaled: bool) -> SceneObject:
    """One object; ``scaled``: its radius drawn from ``cfg.scale`` rather than the named sizes."""
    # Options that are off draw nothing: the default world keeps its exact sequence of draws.
    if not scaled:
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
    if not scaled:
        r = cfg.sizes[size] * cfg.size * float(rng.uniform(1 - RADIUS_JITTER, 1 + RADIUS_JITTER))
    else:
        frac = scale_radius(rng, cfg)
        size, r = size_name(frac, cfg), frac * cfg.size
    angle = float(rng.uniform(-cfg.rotation, cfg.rotation)) if cfg.rotation else 0.0
    obj = SceneObject(shape, colour, size, 0.0, 0.0, r, (0, 0, 0), angle=angle)
    margin = min(obj.margin, cfg.size / 2)  # a shape too big to fit whole sits in the middle, clipped
    obj.cx = float(rng.uniform(margin, cfg.size - margin))
    obj.cy = float(rng.uniform(margin, cfg.size - margin))
    # a small brightness jitter: the same colour name is never exactly one RGB
    jitter = int(rng.integers(-18, 19))
    obj.rgb = tuple(int(min(max(c + jitter, 0), 255)) for c in COLOURS[colour])  # type: ignore[assignment]
    if cfg.fill != "solid":
        obj.fill = "outline" if cfg.fill == "outline" or rng.random() < 0.5 else "solid"
    return obj


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
    # A mixed world decides per scene (one draw, only when the option is on).
    scaled = cfg.scale is not None and (cfg.scale_frac is None or float(rng.random()) < cfg.scale_frac)
    objects: list[SceneObject] = []
    for i in range(n):
        pair = required[i] if i < len(required) else None
        for _ in range(30):
            if place(objects, _sample_object(rng, cfg, pair, scaled), cfg):
                break
    if not objects:  # cannot happen with sane sizes; a clear error beats an empty scene
        raise RuntimeError(f"could not place any object at size {cfg.size} with sizes {cfg.sizes}, scale {cfg.scale}")
    update_visibility(objects, cfg.min_visible)  # the final polygons
    kind = cfg.backgrounds[int(rng.integers(len(cfg.backgrounds)))]
    background = {"kind": kind, "seed": int(rng.integers(2**31))}
    return Scene(cfg.size, cfg.size, objects, background, scene_seed, antialias=cfg.antialias, shapes=cfg.shapes,
                 colours=cfg.colours, superlatives=cfg.superlatives)


def rebuild(scene: Scene, objects: list[SceneObject], min_visible: float) -> Scene | None:
    """A copy of ``scene`` with ``objects`` (masks recomputed), or None if it breaks the rules."""
    objs = [replace(o) for o in objects]
    for o in objs:
        o.mask = rasterize(o.outline, scene.width, scene.height)
    if not objs or not update_visibility(objs, min_visible):
        return None
    return replace(scene, objects=objs, background=dict(scene.background), cache={})


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
    attributes = {"shape": o.shape, "colour": o.colour, "size": o.size, "area": o.area,
                  "visible_fraction": round(o.visible_fraction, 4)}
    if o.angle:
        attributes["angle"] = round(o.angle, 2)
    if o.fill != "solid":
        attributes["fill"] = o.fill
    return Object(label=label, box=tuple(float(v) for v in o.box), polygon=list(o.polygon),  # type: ignore[arg-type]
                  attributes=attributes)


def __getattr__(name: str):
    """``render`` and ``render_background`` moved to :mod:`.rendering`; old imports keep working."""
    if name in ("render", "render_background"):
        from . import rendering

        return getattr(rendering, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
