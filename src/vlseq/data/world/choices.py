"""Multiple-choice questions with rationales (VCR style), computed from the scene graph.

Each :class:`ChoiceQA` is one VCR record: a question, four answers (one right), and four rationales
(one right) for the right answer. Questions, answers and rationales are tagged text
(:mod:`vlseq.data.tagged`): a token is a word or ``[k]``, object ``k`` of the scene, whose label is
its shape, as VCR tags its detections by class name.

Families (``family``), with distractors drawn from the scene first, then from the world:

* ``colour``: "what color is the [i]?" -- "the [i] is red." against other colours;
* ``shape``: "what shape is the red object on the left?" -- "it is a circle." against other shapes;
* ``count``: "how many red circles are there?" -- "there are two." against nearby counts;
* ``relation``: "where is the [i] relative to the [j]?" -- the clear relation against the other three.

The right rationale is a true statement about the cited objects that supports the answer (where
they are, what colour, which one is closer to which edge); each distractor changes one fact of it
(a wrong position, size, colour or edge, or the objects swapped), so every distractor is false.
Tags only cite objects whose label is unique in the scene (or, for counts, come with their
position), so the plain text of a choice never leaves open which object it means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ..example import Example, ImageRef
from ..tagged import Token, render_plain
from .language import (
    NUMBER_WORDS,
    POSITIONS,
    RELATIONS,
    Desc,
    article,
    matching,
    pick_expression,
    plural,
    position_words,
    referring_expressions,
    relation,
)
from .scene import Scene, to_object

#: Answers and rationales per question (VCR's four).
CHOICES = 4
_REL_WORDS = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}
_EDGE = {"left of": "left", "right of": "right", "above": "top", "below": "bottom"}
_OPPOSITE_EDGE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}

#: (question, right answer, wrong answers, right rationale, wrong rationales) of one family, or None.
Made = tuple[list[Token], list[Token], list[list[Token]], list[Token], list[list[Token]]]


@dataclass
class ChoiceQA:
    """A VCR record: ``answers[answer_label]`` answers ``question``; ``rationales[rationale_label]`` says why."""

    family: str
    question: list[Token]
    answers: list[list[Token]]
    answer_label: int
    rationales: list[list[Token]]
    rationale_label: int


def object_labels(scene: Scene) -> list[str]:
    """The tag label of every object: its shape (VCR's objects are bare class names)."""
    return [o.shape for o in scene.objects]


def _others(true: str, present: Sequence[str], universe: Sequence[str], rng: np.random.Generator) -> list[str]:
    """Values other than ``true``: those the scene shows first (plausible), then the rest of the world's."""
    first = [v for v in dict.fromkeys(present) if v != true]
    rest = [v for v in universe if v != true and v not in first]
    return [first[int(k)] for k in rng.permutation(len(first))] + [rest[int(k)] for k in rng.permutation(len(rest))]


def _wrong_positions(true: str, rng: np.random.Generator, avoid: Sequence[str] = ()) -> list[str]:
    pool = [p for p in POSITIONS if p != true and p not in avoid]
    return [pool[int(k)] for k in rng.permutation(len(pool))]


def _unique_label(scene: Scene, i: int) -> bool:
    return sum(o.shape == scene.objects[i].shape for o in scene.objects) == 1


def _colour(scene: Scene, rng: np.random.Generator) -> Made | None:
    objs, side = scene.objects, scene.width
    cands = [i for i in range(len(objs)) if _unique_label(scene, i)]
    if not cands:
        return None
    i = cands[int(rng.integers(len(cands)))]
    o = objs[i]
    colours = _others(o.colour, [p.colour for p in objs], list(scene.colours), rng)[:3]
    pos = position_words(o, side)

    def fact(k: int, size: str, where: str, colour: str) -> list[Token]:
        return ["the", size, [k], *where.split(), "is", "painted", colour, "."]

    others = [k for k in range(len(objs)) if k != i and objs[k].colour != o.colour and _unique_label(scene, k)]
    wrong = [fact(i, o.size, p, o.colour) for p in _wrong_positions(pos, rng)[:2]]
    wrong += [fact(i, "small" if o.size != "small" else "large", pos, o.colour), fact(i, o.size, pos, colours[0])]
    wrong += [fact(k, objs[k].size, position_words(objs[k], side), o.colour) for k in others[:1]]
    return (["what", "color", "is", "the", [i], "?"], ["the", [i], "is", o.colour, "."],
            [["the", [i], "is", c, "."] for c in colours], fact(i, o.size, pos, o.colour), wrong)


def _shape(scene: Scene, rng: np.random.Generator) -> Made | None:
    objs, side = scene.objects, scene.width
    i = int(rng.integers(len(objs)))
    o = objs[i]
    e = pick_expression(referring_expressions(scene, i, without="shape"), rng, scene.superlatives)
    if e is None:
        return None
    shapes = _others(o.shape, [p.shape for p in objs], list(scene.shapes), rng)[:3]
    pos = position_words(o, side)

    def fact(k: int, colour: str, where: str) -> list[Token]:
        return ["the", colour, [k], "is", *where.split(), "."]

    wrong = [fact(i, o.colour, p) for p in _wrong_positions(pos, rng)[:2]]
    wrong += [fact(i, _others(o.colour, [], list(scene.colours), rng)[0], pos)]
    wrong += [fact(k, objs[k].colour, _wrong_positions(position_words(objs[k], side), rng)[0])
              for k in range(len(objs)) if k != i][:1]
    return (["what", "shape", "is", *e.text.split(), "?"], ["it", "is", article(o.shape), o.shape, "."],
            [["it", "is", article(s), s, "."] for s in shapes], fact(i, o.colour, pos), wrong)


def _count_answer(n: int) -> list[Token]:
    if n == 0:
        return ["there", "are", "none", "."]
    return ["there", "is", "one", "."] if n == 1 else ["there", "are", NUMBER_WORDS[n], "."]


def _count(scene: Scene, rng: np.random.Generator) -> Made | None:
    objs, side = scene.objects, scene.width
    o = objs[int(rng.integers(len(objs)))]
    d = [Desc(), Desc(shape=o.shape), Desc(colour=o.colour), Desc.of(o)][int(rng.integers(4))]
    members = matching(objs, d)
    if len(members) > 3:  # a rationale lists every member; more would not fit a prompt
        return None
    n = len(members)
    noun = plural(d.words()) if d.shape else f"{d.colour + ' ' if d.colour else ''}objects"
    counts = [c for c in (n + 1, n - 1, n + 2, n - 2, n + 3) if 0 <= c < len(NUMBER_WORDS)][:3]
    places = {k: position_words(objs[k], side) for k in members}

    def item(k: int | None, colour: str | None, where: str, shape: str) -> list[Token]:
        head = colour or shape
        return [article(head), *([colour] if colour else []), [k] if k is not None else shape, *where.split()]

    def listing(items: list[list[Token]]) -> list[Token]:
        out: list[Token] = ["there", "is"]
        for j, it in enumerate(items):
            if j:
                out.append("and" if j == len(items) - 1 else ",")
            out += it
        return out + ["."]

    right = [item(k, d.colour, places[k], objs[k].shape) for k in members]
    wrong: list[list[Token]] = []
    for j, k in enumerate(members):  # one member said to be somewhere it is not
        moved = list(right)
        moved[j] = item(k, d.colour, _wrong_positions(places[k], rng)[0], objs[k].shape)
        wrong.append(listing(moved))
    free = _wrong_positions("", rng, avoid=list(places.values()))
    extra_shape = d.shape or o.shape
    wrong.append(listing(right + [item(None, d.colour, free[0], extra_shape)]))  # one more than there is
    if d.colour:
        recoloured = list(right)
        recoloured[0] = item(members[0], _others(d.colour, [], list(scene.colours), rng)[0], places[members[0]],
                             objs[members[0]].shape)
        wrong.append(listing(recoloured))
    wrong.append(listing(right + [item(None, d.colour, free[1], extra_shape)]))
    return (["how", "many", *noun.split(), "are", "there", "?"], _count_answer(n),
            [_count_answer(c) for c in counts], listing(right), wrong)


def _relation(scene: Scene, rng: np.random.Generator) -> Made | None:
    objs, side = scene.objects, scene.width
    pairs = [(i, j) for i in range(len(objs)) for j in range(len(objs))
             if i != j and _unique_label(scene, i) and _unique_label(scene, j) and relation(objs[i], objs[j], side)]
    if not pairs:
        return None
    i, j = pairs[int(rng.integers(len(pairs)))]
    rel = relation(objs[i], objs[j], side)
    assert rel is not None

    def answer(r: str) -> list[Token]:
        return ["the", [i], "is", *_REL_WORDS[r].split(), "the", [j], "."]

    def closer(a: int, edge: str, b: int) -> list[Token]:
        return ["the", [a], "is", "closer", "to", "the", edge, "edge", "than", "the", [b], "."]

    edge = _EDGE[rel]
    # the perpendicular edge claim that is false: i is not closer to that edge than j
    (_, iy), (_, jy) = objs[i].centre, objs[j].centre
    (ix, _), (jx, _) = objs[i].centre, objs[j].centre
    if edge in ("left", "right"):
        cross = "top" if iy >= jy else "bottom"
    else:
        cross = "left" if ix >= jx else "right"
    wrong = [closer(i, _OPPOSITE_EDGE[edge], j), closer(j, edge, i), closer(i, cross, j)]
    return (["where", "is", "the", [i], "relative", "to", "the", [j], "?"], answer(rel),
            [answer(r) for r in RELATIONS if r != rel], closer(i, edge, j), wrong)


FAMILIES: dict[str, Callable[[Scene, np.random.Generator], Made | None]] = {
    "colour": _colour, "shape": _shape, "count": _count, "relation": _relation,
}


def _pick_distinct(right: list[Token], wrong: list[list[Token]], labels: Sequence[str],
                   rng: np.random.Generator) -> list[list[Token]] | None:
    """``right`` plus three wrong choices whose plain texts differ from each other and from it."""
    seen = {render_plain(right, labels)}
    out = [right]
    for w in wrong:
        text = render_plain(w, labels)
        if text not in seen:
            seen.add(text)
            out.append(w)
        if len(out) == CHOICES:
            return out
    return None


def _shuffled(choices: list[list[Token]], rng: np.random.Generator) -> tuple[list[list[Token]], int]:
    """The choices in a random order and where the right one (``choices[0]``) went."""
    order = [int(k) for k in rng.permutation(len(choices))]
    return [choices[k] for k in order], order.index(0)


def choice_questions(scene: Scene, rng: np.random.Generator, n: int) -> list[ChoiceQA]:
    """Up to ``n`` questions with distinct texts, cycling through the families in a random order."""
    labels = object_labels(scene)
    names = list(FAMILIES)
    out: dict[str, ChoiceQA] = {}
    for k in range(3 * n):
        if len(out) >= n:
            break
        if k % len(names) == 0:
            rng.shuffle(names)
        family = names[k % len(names)]
        made = FAMILIES[family](scene, rng)
        if made is None:
            continue
        question, right, wrong_answers, rationale, wrong_rationales = made
        answers = _pick_distinct(right, wrong_answers, labels, rng)
        rationales = _pick_distinct(rationale, [wrong_rationales[int(j)] for j in rng.permutation(len(wrong_rationales))],
                                    labels, rng)
        text = render_plain(question, labels)
        if answers is None or rationales is None or text in out:
            continue
        answers, a_label = _shuffled(answers, rng)
        rationales, r_label = _shuffled(rationales, rng)
        out[text] = ChoiceQA(family, question, answers, a_label, rationales, r_label)
    return list(out.values())


def choice_examples(scene: Scene, image_ref: ImageRef, rng: np.random.Generator, n: int,
                    image_id: str = "") -> list[Example]:
    """Two ``multiple_choice`` Examples per question: stage ``qa`` (question -> answer) and stage
    ``qar`` (question + right answer -> rationale), paired by ``meta["qid"]``.

    ``text`` is the plain question, ``options`` the plain choices, ``answers`` the right one;
    ``objects`` are the scene's objects (label = shape) the tags index; ``meta`` keeps the tagged
    tokens (``question_tokens``, ``choice_tokens``, and for ``qar`` ``answer_tokens``) so a prompt can
    show each cited object's box.
    """
    labels = object_labels(scene)
    objects = [to_object(o, o.shape) for o in scene.objects]
    out = []
    for k, q in enumerate(choice_questions(scene, rng, n)):
        qid = f"{image_id or scene.seed}-{k}"
        text = render_plain(q.question, labels)
        answer = render_plain(q.answers[q.answer_label], labels)
        common = dict(images=[image_ref], width=scene.width, height=scene.height, image_id=image_id, text=text,
                      source=f"synthetic:{image_id}#{qid}")
        answers = [render_plain(a, labels) for a in q.answers]
        rationales = [render_plain(r, labels) for r in q.rationales]
        out.append(Example(task="multiple_choice", options=answers, answers=[answer], objects=list(objects),
                           meta={"stage": "qa", "qid": qid, "family": q.family, "label": q.answer_label,
                                 "question_tokens": q.question, "choice_tokens": q.answers}, **common))
        out.append(Example(task="multiple_choice", options=rationales, answers=[rationales[q.rationale_label]],
                           objects=list(objects),
                           meta={"stage": "qar", "qid": qid, "family": q.family, "label": q.rationale_label,
                                 "question_tokens": q.question, "answer_tokens": q.answers[q.answer_label],
                                 "answer": answer, "choice_tokens": q.rationales}, **common))
    return out
