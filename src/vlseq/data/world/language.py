"""Words for the scene graph: descriptions, spatial relations, unique referring expressions, captions.

Geometry rules (every task's ground truth uses these; the tests re-implement them independently):

* An object's position is the centre of its visible box; ``S`` is the image side.
* ``relation(a, b)``: with ``dx = bx - ax`` and ``dy = by - ay``, "a left of b" when ``dx >= 0.1 S``
  and ``|dx| >= 1.5 |dy|`` (right of, above, below alike); otherwise no clear relation.
  "next to" is a clear left/right relation whose boxes are at most ``0.15 S`` apart.
* A relational expression "the D left of the A" is unique when A matches exactly one object, exactly
  one other object matching D is clearly left of it, and no further object matching D is even
  slightly left of it (its x smaller).
* A superlative "the leftmost D" needs two or more objects matching D and a gap of at least
  ``0.08 S`` between the extreme one and the next.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

import numpy as np

from .scene import Scene, SceneObject

NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
RELATIONS = ("left of", "right of", "above", "below")
OPPOSITE = {"left of": "right of", "right of": "left of", "above": "below", "below": "above"}
SUPERLATIVES = {"leftmost": (0, 1), "rightmost": (0, -1), "topmost": (1, 1), "bottommost": (1, -1)}
REL_MARGIN, REL_DOMINANCE, NEXT_GAP, SUPERLATIVE_GAP = 0.1, 1.5, 0.15, 0.08


def plural(noun: str) -> str:
    return noun + ("es" if noun.endswith(("s", "x", "sh", "ch")) else "s")


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def count_phrase(n: int, noun_words: str) -> str:
    """``"a red circle"``, ``"two red circles"``."""
    if n == 1:
        return f"{article(noun_words)} {noun_words}"
    head, _, last = noun_words.rpartition(" ")
    return f"{NUMBER_WORDS[n] if n < len(NUMBER_WORDS) else n} {(head + ' ') if head else ''}{plural(last)}"


@dataclass(frozen=True)
class Desc:
    """A description by attributes; ``None`` = not mentioned (a missing shape says "object")."""

    size: str | None = None
    colour: str | None = None
    shape: str | None = None

    def matches(self, o: SceneObject) -> bool:
        return ((self.size is None or o.size == self.size) and (self.colour is None or o.colour == self.colour)
                and (self.shape is None or o.shape == self.shape))

    def words(self) -> str:
        return " ".join(w for w in (self.size, self.colour, self.shape or "object") if w)

    @staticmethod
    def of(o: SceneObject, size: bool = False, colour: bool = True, shape: bool = True) -> "Desc":
        return Desc(o.size if size else None, o.colour if colour else None, o.shape if shape else None)


def matching(objects: Sequence[SceneObject], desc: Desc) -> list[int]:
    return [i for i, o in enumerate(objects) if desc.matches(o)]


def relation(a: SceneObject, b: SceneObject, side: float) -> str | None:
    """The clear relation "a REL b" (one of :data:`RELATIONS`) or None."""
    (ax, ay), (bx, by) = a.centre, b.centre
    dx, dy = bx - ax, by - ay
    if abs(dx) >= REL_MARGIN * side and abs(dx) >= REL_DOMINANCE * abs(dy):
        return "left of" if dx > 0 else "right of"
    if abs(dy) >= REL_MARGIN * side and abs(dy) >= REL_DOMINANCE * abs(dx):
        return "above" if dy > 0 else "below"
    return None


def loosely(a: SceneObject, b: SceneObject, rel: str) -> bool:
    """Whether a is at all on the ``rel`` side of b (centres compared on one axis)."""
    (ax, ay), (bx, by) = a.centre, b.centre
    return {"left of": ax < bx, "right of": ax > bx, "above": ay < by, "below": ay > by}[rel]


def next_to(a: SceneObject, b: SceneObject, side: float) -> bool:
    if relation(a, b, side) not in ("left of", "right of"):
        return False
    gap = max(a.box[0] - b.box[2], b.box[0] - a.box[2])
    return gap <= NEXT_GAP * side


# --------------------------------------------------------------------------- referring expressions


@dataclass(frozen=True)
class RefExp:
    """A referring expression and its structure (what :func:`resolve` reads)."""

    text: str
    desc: Desc
    superlative: str | None = None
    relation: str | None = None
    anchor: Desc | None = None


def resolve(objects: Sequence[SceneObject], ref: RefExp, side: float) -> list[int]:
    """The objects an expression picks out under the rules above (unique = a list of one)."""
    cands = matching(objects, ref.desc)
    if ref.superlative:
        axis, sign = SUPERLATIVES[ref.superlative]
        if len(cands) < 2:
            return []
        order = sorted(cands, key=lambda i: sign * objects[i].centre[axis])
        gap = abs(objects[order[1]].centre[axis] - objects[order[0]].centre[axis])
        return order[:1] if gap >= SUPERLATIVE_GAP * side else order[:2]
    if ref.relation:
        anchors = matching(objects, ref.anchor or Desc())
        if len(anchors) != 1:
            return []
        a = objects[anchors[0]]
        others = [i for i in cands if i != anchors[0]]
        strict = [i for i in others if relation(objects[i], a, side) == ref.relation]
        loose = [i for i in others if loosely(objects[i], a, ref.relation)]
        return strict if len(strict) == 1 and len(loose) == 1 else strict + [i for i in loose if i not in strict]
    return cands


def _descs(o: SceneObject, without: str | None) -> list[Desc]:
    """Attribute descriptions of ``o``, simplest first; ``without`` leaves colour or shape unsaid."""
    out = []
    for size, colour, shape in ((0, 0, 1), (0, 1, 0), (0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1)):
        if (without == "colour" and colour) or (without == "shape" and shape):
            continue
        out.append(Desc.of(o, size=bool(size), colour=bool(colour), shape=bool(shape)))
    return out


def referring_expressions(scene: Scene, target: int, without: str | None = None) -> list[RefExp]:
    """Every expression of the families above that picks out exactly ``target``, simplest first."""
    key = ("refexps", target, without)
    if key not in scene.cache:
        scene.cache[key] = _referring_expressions(scene, target, without)
    return scene.cache[key]


def _ref_text(r: RefExp) -> RefExp:
    """The expression with its words filled in (built only for the valid candidates)."""
    head = f"the {r.superlative + ' ' if r.superlative else ''}{r.desc.words()}"
    text = f"{head} {r.relation} the {r.anchor.words()}" if r.relation and r.anchor else head
    return replace(r, text=text)


def _referring_expressions(scene: Scene, target: int, without: str | None) -> list[RefExp]:
    objs, side = scene.objects, scene.width
    t = objs[target]
    out: list[RefExp] = []
    descs = _descs(t, without)
    counts = {d: matching(objs, d) for d in descs}
    out += [_ref_text(RefExp("", d)) for d in descs if counts[d] == [target]]
    for d in descs[:3]:
        if len(counts[d]) < 2:  # a superlative needs company
            continue
        for sup in SUPERLATIVES:
            r = RefExp("", d, superlative=sup)
            if resolve(objs, r, side) == [target]:
                out.append(_ref_text(r))
    for j, a in enumerate(objs):
        rel = relation(t, a, side) if j != target else None
        if rel is None:
            continue
        anchors = [d for d in _descs(a, None)[:3] if matching(objs, d) == [j]]
        if not anchors:
            continue
        for d in descs[:3]:
            r = RefExp("", d, relation=rel, anchor=anchors[0])
            if resolve(objs, r, side) == [target]:
                out.append(_ref_text(r))
                break
    return out


def pick_expression(exps: list[RefExp], rng: np.random.Generator, superlatives: float | None = None) -> RefExp | None:
    """Prefer short attribute expressions, but keep superlatives and relations common.

    A kind (attribute, superlative, relation) is drawn first among those the object has: each equally
    likely, or, with ``superlatives`` (:attr:`WorldConfig.superlatives`), a superlative with that
    chance where there is one and the others equally likely otherwise."""
    if not exps:
        return None
    kinds = {"attr": [e for e in exps if not e.superlative and not e.relation],
             "sup": [e for e in exps if e.superlative], "rel": [e for e in exps if e.relation]}
    kinds = {k: v for k, v in kinds.items() if v}
    if superlatives is not None and "sup" in kinds and len(kinds) > 1:
        rest = [k for k in kinds if k != "sup"]
        kind = "sup" if rng.random() < superlatives else rest[int(rng.integers(len(rest)))]
    else:
        kind = list(kinds)[int(rng.integers(len(kinds)))]
    pool = kinds[kind]
    return pool[0] if kind == "attr" and rng.random() < 0.6 else pool[int(rng.integers(len(pool)))]


# --------------------------------------------------------------------------- captions


class SpanText:
    """Text built piece by piece, remembering ``(start, end, object indices)`` of grounded phrases."""

    def __init__(self) -> None:
        self.text = ""
        self.spans: list[tuple[int, int, list[int]]] = []

    def add(self, s: str) -> "SpanText":
        self.text += s
        return self

    def phrase(self, s: str, objects: Iterable[int]) -> "SpanText":
        start = len(self.text)
        self.text += s
        self.spans.append((start, len(self.text), sorted(objects)))
        return self


def group_objects(objects: Sequence[SceneObject], idx: Sequence[int], size: bool, colour: bool) -> list[tuple[Desc, list[int]]]:
    groups: dict[Desc, list[int]] = {}
    for i in idx:
        groups.setdefault(Desc.of(objects[i], size=size, colour=colour), []).append(i)
    return list(groups.items())


def list_groups(st: SpanText, groups: list[tuple[Desc, list[int]]]) -> SpanText:
    for k, (d, members) in enumerate(groups):
        if k:
            st.add(" and " if k == len(groups) - 1 else ", ")
        st.phrase(count_phrase(len(members), d.words()), members)
    return st


_POS_ROWS, _POS_COLS = ("top", "middle", "bottom"), ("left", "center", "right")


def position_words(o: SceneObject, side: float) -> str:
    """``"in the top left"``, ``"at the top"``, ``"on the left"``, ``"in the center"``: image thirds."""
    cx, cy = o.centre
    r, c = _POS_ROWS[min(int(cy / side * 3), 2)], _POS_COLS[min(int(cx / side * 3), 2)]
    if r == "middle" and c == "center":
        return "in the center"
    if r == "middle":
        return f"on the {c}"
    if c == "center":
        return f"at the {r}"
    return f"in the {r} {c}"


#: Every phrase :func:`position_words` gives, in reading order (distractors draw wrong ones from here).
POSITIONS: tuple[str, ...] = ("in the top left", "at the top", "in the top right", "on the left", "in the center",
                              "on the right", "in the bottom left", "at the bottom", "in the bottom right")

#: Background kind -> how a caption names it ("on a striped background").
BACKGROUND_WORDS = {"gradient": "a shaded", "noise": "a mottled", "stripes": "a striped", "checker": "a checkered",
                    "tinted": "a tinted", "texture": "a textured"}
_BG_WORDS = BACKGROUND_WORDS


def grounded_captions(scene: Scene, rng: np.random.Generator) -> list[SpanText]:
    """Several captions that mention every object, each phrase grounded to its object(s)."""
    objs, side, n = scene.objects, scene.width, len(scene.objects)
    idx = list(rng.permutation(n))
    out = [list_groups(SpanText(), group_objects(objs, idx, False, True)).add("."),
           list_groups(SpanText(), group_objects(objs, idx, True, True)).add(".")]
    st = SpanText().add(f"there {'is' if n == 1 else 'are'} {count_phrase(n, 'shape')}: ")
    out.append(list_groups(st, group_objects(objs, idx, bool(rng.random() < 0.5), True)).add("."))
    pairs = [(i, j) for i in idx for j in idx if i != j and relation(objs[i], objs[j], side)]
    if pairs:
        i, j = pairs[int(rng.integers(len(pairs)))]
        rel = relation(objs[i], objs[j], side)
        words = {"left of": "to the left of", "right of": "to the right of"}.get(rel, rel)  # type: ignore[arg-type]
        if next_to(objs[i], objs[j], side) and rng.random() < 0.5:
            words = "next to"
        size_i, size_j = bool(rng.random() < 0.4), bool(rng.random() < 0.4)
        st = SpanText().phrase(count_phrase(1, Desc.of(objs[i], size=size_i).words()), [i])
        st.add(f" {words} ").phrase(count_phrase(1, Desc.of(objs[j], size=size_j).words()), [j])
        rest = [k for k in idx if k not in (i, j)]
        if rest:
            list_groups(st.add(", and "), group_objects(objs, rest, False, True))
        out.append(st.add("."))
    st = SpanText()
    for k, i in enumerate(idx):
        if k:
            st.add(" and " if k == n - 1 else ", ")
        st.phrase(count_phrase(1, Desc.of(objs[i]).words()), [i]).add(" " + position_words(objs[i], side))
    out.append(st.add("."))
    return out


def captions(scene: Scene, rng: np.random.Generator, n: int, grounded: list[SpanText] | None = None) -> list[str]:
    """``n`` distinct reference captions (grounded templates plus shape-only and scene-level ones).

    ``grounded``: the scene's :func:`grounded_captions` when the caller has them already.
    """
    objs = scene.objects
    idx = list(rng.permutation(len(objs)))
    texts = [g.text for g in (grounded if grounded is not None else grounded_captions(scene, rng))]
    shapes_only = list_groups(SpanText(), group_objects(objs, idx, False, False)).text
    texts += [shapes_only + ".", f"an image with {shapes_only}."]
    word = "shape" if len(objs) == 1 else "colored shape"
    texts.append(f"{count_phrase(len(objs), word)} on {_BG_WORDS[scene.background['kind']]} background.")
    texts.append("a picture of " + list_groups(SpanText(), group_objects(objs, idx[::-1], True, True)).text + ".")
    uniq = list(dict.fromkeys(texts))
    order = rng.permutation(len(uniq))
    return [uniq[i] for i in order[:n]]
