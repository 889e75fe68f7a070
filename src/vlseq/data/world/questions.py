"""Questions with answers, and true/false statements, computed from the scene graph.

VQA families (``question_type``): ``colour``, ``shape``, ``count``, ``exists``, ``relation``,
``position``. Yes/no questions (``exists``, ``relation``) draw their answer first (a fair coin),
then a question with that answer, so yes and no are balanced. A question about one object
(``colour``, ``shape``, ``position``) names it in :attr:`QA.target` (its index in the scene); the
others (``count``, ``exists``, and ``relation``, which is about two) leave it None and name the
objects their answer rests on in :attr:`QA.evidence` instead: every object a count or an existence
question describes (none for a count of 0 or a "no"). A relation names none: comparing the two boxes
it would point at was not learned. No question draws a random number for its evidence, so a world's scenes and
questions are the same with it as without.

Statements for classification: visual entailment (entailment / neutral / contradiction; a neutral
hypothesis claims something a picture cannot show), image-text match (a caption of the scene or of
the scene with one attribute changed), and NLVR2-style statements over a pair of scenes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from .language import (
    NUMBER_WORDS,
    OPPOSITE,
    Desc,
    SpanText,
    captions,
    count_phrase,
    group_objects,
    list_groups,
    matching,
    pick_expression,
    plural,
    referring_expressions,
    relation,
)
from .scene import COLOURS, SHAPES, Scene

#: Distractor names of the default world (kept so its output stays as it was); a world with other
#: shapes or colours draws its distractors from its own (``Scene.shapes`` / ``Scene.colours``).
_ABSENT_COLOURS, _ABSENT_SHAPES = ("red", "blue", "green", "yellow"), ("circle", "square", "star")
_SWAP_COLOURS = ("red", "green", "blue", "yellow", "purple", "white")
_SWAP_SHAPES = ("circle", "square", "triangle", "star")


def _vocab(scene: Scene, kind: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """``default`` in the default world, else the world's own ``kind`` ("shapes" or "colours")."""
    own = getattr(scene, kind)
    return default if tuple(own) == (SHAPES if kind == "shapes" else tuple(COLOURS)) else tuple(own)

ENTAILMENT_OPTIONS = ["entailment", "neutral", "contradiction"]
MATCH_OPTIONS = ["yes", "no"]
PAIR_OPTIONS = ["true", "false"]


@dataclass
class QA:
    question: str
    answer: str
    question_type: str
    answer_type: str  # "yes/no" | "number" | "other"
    target: int | None = None  # index of the one scene object the question is about, if it is about one
    evidence: tuple[int, ...] = ()  # indices of the objects a count, yes/no answer rests on, in order


def _choice(rng: np.random.Generator, seq: list):
    return seq[int(rng.integers(len(seq)))]


def _random_desc(scene: Scene, rng: np.random.Generator, present: bool) -> Desc | None:
    """A colour+shape (sometimes with size) description matching some / no object of the scene."""
    objs = scene.objects
    if present:
        o = _choice(rng, objs)
        return Desc.of(o, size=bool(rng.random() < 0.3))
    colours = sorted({o.colour for o in objs} | set(_vocab(scene, "colours", _ABSENT_COLOURS)))
    shapes = sorted({o.shape for o in objs} | set(_vocab(scene, "shapes", _ABSENT_SHAPES)))
    for _ in range(20):
        d = Desc(None, _choice(rng, colours), _choice(rng, shapes))
        if not matching(objs, d):
            return d
    return None


def _colour_q(scene: Scene, rng: np.random.Generator) -> QA | None:
    t = int(rng.integers(len(scene.objects)))
    e = pick_expression(referring_expressions(scene, t, without="colour"), rng, scene.superlatives)
    return e and QA(f"what color is {e.text}?", scene.objects[t].colour, "colour", "other", t)


def _shape_q(scene: Scene, rng: np.random.Generator) -> QA | None:
    t = int(rng.integers(len(scene.objects)))
    e = pick_expression(referring_expressions(scene, t, without="shape"), rng, scene.superlatives)
    return e and QA(f"what shape is {e.text}?", scene.objects[t].shape, "shape", "other", t)


def _count_q(scene: Scene, rng: np.random.Generator) -> QA | None:
    objs = scene.objects
    o = _choice(rng, objs)
    kind = int(rng.integers(5))
    d = [Desc(), Desc(shape=o.shape), Desc(colour=o.colour), Desc.of(o), None][kind]
    if d is None:  # sometimes a description that matches nothing: the answer 0
        d = _random_desc(scene, rng, present=False)
        if d is None:
            return None
    words = plural(d.words()) if d.shape else f"{d.colour + ' ' if d.colour else ''}objects"
    found = tuple(matching(objs, d))
    return QA(f"how many {words} are there?", str(len(found)), "count", "number", evidence=found)


def _exists_q(scene: Scene, rng: np.random.Generator) -> QA | None:
    yes = bool(rng.random() < 0.5)
    d = _random_desc(scene, rng, present=yes)
    return d and QA(f"is there {count_phrase(1, d.words())}?", "yes" if yes else "no", "exists", "yes/no",
                    evidence=tuple(matching(scene.objects, d)))


def _relation_q(scene: Scene, rng: np.random.Generator) -> QA | None:
    objs, side = scene.objects, scene.width
    pairs = [(i, j) for i in range(len(objs)) for j in range(len(objs)) if i != j and relation(objs[i], objs[j], side)]
    rng.shuffle(pairs)
    for i, j in pairs:
        ei = [e for e in referring_expressions(scene, i) if not e.relation and not e.superlative]
        ej = [e for e in referring_expressions(scene, j) if not e.relation and not e.superlative]
        if ei and ej:
            rel = relation(objs[i], objs[j], side)
            yes = bool(rng.random() < 0.5)
            asked = rel if yes else OPPOSITE[rel]  # type: ignore[index]
            # no evidence: written after its two objects' boxes, a relation was answered at chance
            # even where both boxes were right (BENCHMARKS.md, "Counts after their evidence")
            return QA(f"is {ei[0].text} {asked} {ej[0].text}?", "yes" if yes else "no", "relation", "yes/no")
    return None


def _position_q(scene: Scene, rng: np.random.Generator) -> QA | None:
    t = int(rng.integers(len(scene.objects)))
    e = pick_expression(referring_expressions(scene, t), rng, scene.superlatives)
    if e is None or e.superlative:
        return None
    cx, cy = scene.objects[t].centre
    side = scene.width
    if rng.random() < 0.5 and abs(cx - side / 2) >= 0.1 * side:
        return QA(f"is {e.text} on the left or the right side of the image?", "left" if cx < side / 2 else "right",
                  "position", "other", t)
    if abs(cy - side / 2) >= 0.1 * side:
        return QA(f"is {e.text} in the top or the bottom half of the image?", "top" if cy < side / 2 else "bottom",
                  "position", "other", t)
    return None


QUESTION_FAMILIES: dict[str, Callable[[Scene, np.random.Generator], QA | None]] = {
    "colour": _colour_q, "shape": _shape_q, "count": _count_q, "exists": _exists_q,
    "relation": _relation_q, "position": _position_q,
}


def questions(scene: Scene, rng: np.random.Generator, n: int) -> list[QA]:
    """Up to ``n`` distinct questions, cycling through the families in a random order."""
    names = list(QUESTION_FAMILIES)
    out: dict[str, QA] = {}
    for k in range(3 * n):
        if len(out) >= n:
            break
        if k % len(names) == 0:
            rng.shuffle(names)
        qa = QUESTION_FAMILIES[names[k % len(names)]](scene, rng)
        if qa is not None and qa.question not in out:
            out[qa.question] = qa
    return list(out.values())


# --------------------------------------------------------------------------- statements

_NEUTRAL = ("{} is made of plastic.", "{} is heavy.", "{} was drawn by a child.", "{} is about to move.",
            "{} is the newest shape.", "{} is warm to the touch.")


def entailment(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    """A hypothesis and its label, the label drawn uniformly from :data:`ENTAILMENT_OPTIONS`."""
    objs = scene.objects
    label = _choice(rng, ENTAILMENT_OPTIONS)
    o = _choice(rng, objs)
    if label == "neutral":
        return _choice(rng, list(_NEUTRAL)).format(f"the {Desc.of(o).words()}"), label
    d = _choice(rng, [Desc(shape=o.shape), Desc.of(o), Desc(colour=o.colour)])
    n = len(matching(objs, d))
    noun = d.words() if d.shape else f"{d.colour} object"
    if label == "entailment":
        if rng.random() < 0.5:
            return f"there {'is' if n == 1 else 'are'} {count_phrase(n, noun)}.", label
        return f"the image contains {count_phrase(1, noun)}.", label
    if rng.random() < 0.5:
        wrong = n + int(rng.integers(1, 3))
        return f"there are {NUMBER_WORDS[wrong]} {plural(noun)}.", label
    absent = _random_desc(scene, rng, present=False)
    if absent is None:
        return f"there are {NUMBER_WORDS[len(objs) + 1]} shapes.", label
    return f"the image contains {count_phrase(1, absent.words())}.", label


def image_text_match(scene: Scene, rng: np.random.Generator) -> tuple[str, str]:
    """A caption of the scene ("yes") or of the scene with one object's colour/shape changed ("no")."""
    if rng.random() < 0.5:
        return captions(scene, rng, 1)[0], "yes"
    objs = list(scene.objects)
    k = int(rng.integers(len(objs)))
    o = objs[k]
    # a world has two or more colours and shapes (WorldConfig), so there is always another one
    if rng.random() < 0.5:
        objs[k] = replace(o, colour=_choice(rng, [c for c in _vocab(scene, "colours", _SWAP_COLOURS) if c != o.colour]))
    else:
        objs[k] = replace(o, shape=_choice(rng, [s for s in _vocab(scene, "shapes", _SWAP_SHAPES) if s != o.shape]))
    idx = list(rng.permutation(len(objs)))
    # the list caption names every (colour, shape) group with its count, so changing one object makes it false
    return list_groups(SpanText(), group_objects(objs, idx, False, True)).text + ".", "no"


def _count(scene: Scene, d: Desc) -> int:
    return len(matching(scene.objects, d))


def pair_statement(left: Scene, right: Scene, rng: np.random.Generator) -> tuple[str, str]:
    """An NLVR2-style statement about two scenes and its label ("true"/"false"), labels balanced."""
    want = "true" if rng.random() < 0.5 else "false"
    shapes = sorted({o.shape for s in (left, right) for o in s.objects})
    colours = sorted({o.colour for s in (left, right) for o in s.objects})
    for _ in range(40):
        kind = int(rng.integers(5))
        shape, colour = _choice(rng, shapes), _choice(rng, colours)
        side, other = ("left", "right") if rng.random() < 0.5 else ("right", "left")
        a, b = (left, right) if side == "left" else (right, left)
        if kind == 0:
            d = Desc(shape=shape)
            text, truth = f"the {side} image has more {plural(shape)} than the {other} image.", _count(a, d) > _count(b, d)
        elif kind == 1:
            text, truth = (f"the {side} image has more objects than the {other} image.",
                           len(a.objects) > len(b.objects))
        elif kind == 2:
            d = Desc(colour=colour, shape=shape)
            text, truth = f"both images contain {count_phrase(1, d.words())}.", _count(a, d) > 0 and _count(b, d) > 0
        elif kind == 3:
            n = int(rng.integers(1, 4))
            d = Desc(shape=shape)
            text = f"the {side} image contains exactly {count_phrase(n, shape)}."
            truth = _count(a, d) == n
        else:
            d = Desc(colour=colour)
            text = f"exactly one image contains {count_phrase(1, colour + ' object')}."
            truth = (_count(a, d) > 0) != (_count(b, d) > 0)
        if ("true" if truth else "false") == want:
            return text, want
    return text, "true" if truth else "false"
