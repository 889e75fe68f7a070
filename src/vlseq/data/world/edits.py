"""Edit instructions and the edited scene: remove / recolour / move one object.

The instruction names its object with a referring expression that is unique in the source scene;
the edited scene keeps the background (same kind and seed) and every other object as it was, so
the two renders differ only where the edit says. An edit that would break the scene's rules (an
object left less than ``min_visible`` visible, a moved shape leaving the image) is not proposed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .language import pick_expression, referring_expressions
from .scene import COLOURS, Scene, WorldConfig, rebuild

EDIT_KINDS = ("remove", "recolour", "move")
_MOVES = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}


@dataclass
class Edit:
    instruction: str
    kind: str  # one of EDIT_KINDS
    target: int  # index of the edited object in the source scene
    scene: Scene  # the edited scene
    expression: str = ""  # the referring expression inside the instruction


def _recolour(scene: Scene, t: int, rng: np.random.Generator, cfg: WorldConfig) -> tuple[str, Scene | None]:
    o = scene.objects[t]
    choices = [c for c in cfg.colours if c != o.colour and (c, o.shape) not in cfg.exclude_pairs]
    if not choices:
        return "", None
    colour = choices[int(rng.integers(len(choices)))]
    shift = int(o.rgb[0]) - COLOURS[o.colour][0]  # keep the object's brightness jitter
    rgb = tuple(int(min(max(c + shift, 0), 255)) for c in COLOURS[colour])
    objs = list(scene.objects)
    objs[t] = replace(o, colour=colour, rgb=rgb)
    return colour, rebuild(scene, objs, cfg.min_visible)


def _move(scene: Scene, t: int, rng: np.random.Generator, cfg: WorldConfig) -> tuple[str, Scene | None]:
    o = scene.objects[t]
    name = list(_MOVES)[int(rng.integers(len(_MOVES)))]
    ux, uy = _MOVES[name]
    step = 0.25 * scene.width
    cx, cy = o.cx + ux * step, o.cy + uy * step
    margin = o.margin
    if not (margin <= cx <= scene.width - margin and margin <= cy <= scene.height - margin):
        return name, None
    objs = list(scene.objects)
    objs[t] = replace(o, cx=cx, cy=cy)
    return name, rebuild(scene, objs, cfg.min_visible)


def propose_edit(scene: Scene, rng: np.random.Generator, cfg: WorldConfig | None = None, tries: int = 8) -> Edit | None:
    """A random valid edit of ``scene`` (None if none of ``tries`` attempts was valid)."""
    cfg = cfg or WorldConfig(size=scene.width)
    for _ in range(tries):
        kind = EDIT_KINDS[int(rng.integers(len(EDIT_KINDS)))]
        t = int(rng.integers(len(scene.objects)))
        e = pick_expression(referring_expressions(scene, t), rng, scene.superlatives)
        if e is None:
            continue
        if kind == "remove":
            if len(scene.objects) < 2:
                continue
            edited = rebuild(scene, [o for i, o in enumerate(scene.objects) if i != t], cfg.min_visible)
            verb = ["remove", "delete", "take away"][int(rng.integers(3))]
            text = f"{verb} {e.text}."
        elif kind == "recolour":
            colour, edited = _recolour(scene, t, rng, cfg)
            text = (f"make {e.text} {colour}." if rng.random() < 0.5
                    else f"change the color of {e.text} to {colour}.")
        else:
            direction, edited = _move(scene, t, rng, cfg)
            text = f"move {e.text} {'to the ' + direction if direction in ('left', 'right') else direction}."
        if edited is not None:
            return Edit(text, kind, t, edited, e.text)
    return None
