"""Named keypoints of the world's shapes, from the scene graph's geometry, and keypoints examples.

Every shape kind gets the same four names, its extreme points: ``top``, ``left``, ``right`` and
``bottom`` -- the outline point with the smallest y, smallest x, largest x and largest y. Where
several outline vertices tie for the extreme (the top edge of a square, the two lower tips of a
star), the keypoint is the middle of the tied ones: the centre of where the shape touches that side
of its (amodal) box. A keypoint is dropped when it is hidden: its pixel is covered by a later-drawn
object and none of the object's own visible pixels touches it (3x3 neighbourhood), so targets name
only what can be seen. An object that nothing covers keeps all four (a later object may touch the
pixel of a sharp tip without hiding any of the object).
"""

from __future__ import annotations

import numpy as np

from ..example import Example, ImageRef, Object
from .scene import Scene, WorldConfig, categories, category, to_object

#: The keypoint names of every shape, in target order.
KEYPOINT_NAMES: tuple[str, ...] = ("top", "left", "right", "bottom")


def extreme_points(outline: np.ndarray) -> dict[str, tuple[float, float]]:
    """``{name: (x, y)}`` of the four extreme points of a polygon ``(K, 2)`` (see the module docstring)."""
    pts = np.asarray(outline, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 3:
        raise ValueError(f"an outline needs >= 3 (x, y) vertices, got shape {pts.shape}")
    tol = 1e-6 * max(1.0, float(np.abs(pts).max()))
    out = {}
    for name, axis, sign in (("top", 1, -1), ("left", 0, -1), ("right", 0, 1), ("bottom", 1, 1)):
        v = pts[:, axis] * sign
        tied = pts[v >= v.max() - tol]
        out[name] = (float(tied[:, 0].mean()), float(tied[:, 1].mean()))
    return {n: out[n] for n in KEYPOINT_NAMES}


def object_keypoints(scene: Scene, index: int) -> dict[str, tuple[float, float]]:
    """The visible keypoints of ``scene.objects[index]`` (see the module docstring), rounded to 0.01 px."""
    objs = scene.objects
    obj = objs[index]
    kps = extreme_points(obj.outline)
    later = [o.mask for o in objs[index + 1 :]]
    out = {}
    for name, (x, y) in kps.items():
        col = min(max(int(np.floor(x)), 0), scene.width - 1)
        row = min(max(int(np.floor(y)), 0), scene.height - 1)
        if obj.occluded and any(m[row, col] for m in later) and not obj.visible[max(row - 1, 0) : row + 2,
                                                                                max(col - 1, 0) : col + 2].any():
            continue
        out[name] = (round(min(max(x, 0.0), scene.width), 2), round(min(max(y, 0.0), scene.height), 2))
    return out


def keypoint_objects(scene: Scene, config: WorldConfig | None = None) -> list[Object]:
    """Every object of the scene as an :class:`Object` with its visible keypoints."""
    cfg = config or WorldConfig(size=scene.width)
    out = []
    for i, o in enumerate(scene.objects):
        obj = to_object(o, category(o, cfg))
        obj.keypoints = object_keypoints(scene, i)
        out.append(obj)
    return out


def keypoints_example(scene: Scene, image_ref: ImageRef, config: WorldConfig | None = None,
                      image_id: str = "") -> Example:
    """The ``keypoints`` example of a scene: every object, its box and visible keypoints.

    ``options`` are the detection categories (the prompt lists them, as for ``detect``);
    ``meta["keypoint_names"]`` is :data:`KEYPOINT_NAMES` (the task's name order and grammar).
    """
    cfg = config or WorldConfig(size=scene.width)
    return Example(task="keypoints", images=[image_ref], width=scene.width, height=scene.height, image_id=image_id,
                   objects=keypoint_objects(scene, cfg), options=categories(cfg), source=f"synthetic:{image_id}",
                   meta={"keypoint_names": list(KEYPOINT_NAMES)})
