"""Image paragraphs (Stanford image paragraphs style): 3-6 sentences that describe the whole scene.

A paragraph has

* an overview sentence (how many shapes, on what background), first or, now and then, last;
* object sentences that name every object with its size, colour and shape, and where it is
  (identical objects are named together: "two large red circles"); one to a few objects each, as
  many sentences as keep the paragraph at six at most;
* at least one relation sentence: a clear spatial relation between two objects (the rules of
  :mod:`~vlseq.data.world.language`); a scene without one says which way the closest two lie
  ("above and to the left of", "close to"), a one-object scene where in the image the object is;
* sometimes a second relation or a sentence about the background, while there is room.

Templates, groupings and the order of the body sentences are drawn from the rng, so two scenes
with the same objects read differently. Every object mention is a grounded phrase
(:class:`~vlseq.data.world.language.SpanText` spans), so a grounded variant of the task needs no
second generator.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .language import BACKGROUND_WORDS, Desc, SpanText, count_phrase, matching, next_to, position_words, relation
from .scene import Scene, SceneObject

#: Bounds on the sentences of a paragraph (Stanford paragraphs average 5.7 sentences).
MIN_SENTENCES, MAX_SENTENCES = 3, 6
_REL_WORDS = {"left of": "to the left of", "right of": "to the right of", "above": "above", "below": "below"}


def _pick(rng: np.random.Generator, seq: Sequence):
    return seq[int(rng.integers(len(seq)))]


def concat(parts: Sequence[SpanText], sep: str = " ") -> SpanText:
    """One text of ``parts`` joined by ``sep``, every span shifted to its place."""
    out = SpanText()
    for k, p in enumerate(parts):
        if k:
            out.add(sep)
        off = len(out.text)
        out.text += p.text
        out.spans += [(s + off, e + off, m) for s, e, m in p.spans]
    return out


def _item_position(objs: Sequence[SceneObject], members: list[int], side: float) -> str | None:
    """Where a group of identical objects is, when all of them are in one place (None otherwise)."""
    places = {position_words(objs[i], side) for i in members}
    return places.pop() if len(places) == 1 else None


def _mention(st: SpanText, desc: Desc, members: list[int], definite: bool = False) -> None:
    words = desc.words()
    st.phrase(f"the {words}" if definite else count_phrase(len(members), words), members)


def _object_sentence(objs: Sequence[SceneObject], items: list[tuple[Desc, list[int]]], side: float,
                     rng: np.random.Generator, with_position: bool) -> SpanText:
    """One sentence naming ``items`` (each a group of identical objects) and, optionally, where they are."""
    places = [_item_position(objs, m, side) if with_position else None for _, m in items]
    st = SpanText()
    if len(items) == 1 and len(items[0][1]) == 1:
        (d, m), place = items[0], places[0]
        form = int(rng.integers(4 if place else 2))
        if form == 0:
            _mention(st.add("there is "), d, m)
            st.add(f" {place}." if place else ".")
        elif form == 1:
            _mention(st.add("one of the shapes is "), d, m)
            st.add(f", {place}." if place else ".")
        elif form == 2:
            _mention(st.add(f"{place} there is "), d, m)
            st.add(".")
        else:
            _mention(st, d, m)
            st.add(f" sits {place}.")
        return st
    # several objects: "there is X in P, Y in Q and two Zs."
    st.add("there " + ("are " if len(items[0][1]) > 1 else "is "))
    for k, ((d, m), place) in enumerate(zip(items, places)):
        if k:
            st.add(" and " if k == len(items) - 1 else ", ")
        _mention(st, d, m)
        if place:
            st.add(f" {place}")
    return st.add(".")


def _unique_desc(objs: Sequence[SceneObject], i: int) -> tuple[Desc, bool]:
    """The fullest description of object ``i`` and whether it names only that object."""
    d = Desc.of(objs[i], size=True)
    return d, matching(objs, d) == [i]


def _relation_sentence(objs: Sequence[SceneObject], i: int, j: int, words: str) -> SpanText:
    (di, ui), (dj, uj) = _unique_desc(objs, i), _unique_desc(objs, j)
    st = SpanText()
    _mention(st, di, [i], definite=ui)
    st.add(f" is {words} ")
    _mention(st, dj, [j], definite=uj)
    return st.add(".")


def relation_sentences(scene: Scene, rng: np.random.Generator, most: int) -> list[SpanText]:
    """Up to ``most`` (>= 1) sentences relating objects, at least one whatever the scene."""
    objs, side, n = scene.objects, scene.width, len(scene.objects)
    if n == 1:
        d, _ = _unique_desc(objs, 0)
        st = SpanText()
        _mention(st, d, [0], definite=True)
        return [st.add(f" is {position_words(objs[0], side)} of the image.")]
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and relation(objs[i], objs[j], side)]
    out: list[SpanText] = []
    used: set[frozenset[int]] = set()
    for k in rng.permutation(len(pairs)):
        i, j = pairs[int(k)]
        if len(out) == most or frozenset((i, j)) in used:  # "a left of b" and "b right of a" say one thing
            continue
        used.add(frozenset((i, j)))
        words = _REL_WORDS[relation(objs[i], objs[j], side)]  # type: ignore[index]
        if next_to(objs[i], objs[j], side) and rng.random() < 0.4:
            words = "next to"
        out.append(_relation_sentence(objs, i, j, words))
    if out:
        return out
    # No clear relation: the closest pair, diagonally or "close to" each other.
    i, j = min(((i, j) for i in range(n) for j in range(i + 1, n)),
               key=lambda p: math.dist(objs[p[0]].centre, objs[p[1]].centre))
    (ax, ay), (bx, by) = objs[i].centre, objs[j].centre
    if max(abs(bx - ax), abs(by - ay)) < 0.1 * side:
        return [_relation_sentence(objs, i, j, "close to")]
    vertical = "above" if ay < by else "below"
    horizontal = "to the left of" if ax < bx else "to the right of"
    return [_relation_sentence(objs, i, j, f"{vertical} and {horizontal}")]


def _overview(scene: Scene, rng: np.random.Generator) -> SpanText:
    n, bg = len(scene.objects), BACKGROUND_WORDS[scene.background["kind"]]
    form = int(rng.integers(3))
    if form == 0:
        return SpanText().add(f"the image shows {count_phrase(n, 'shape')} on {bg} background.")
    if form == 1:
        return SpanText().add(f"this is a picture of {count_phrase(n, 'colored shape')} against {bg} background.")
    return SpanText().add(f"there {'is' if n == 1 else 'are'} {count_phrase(n, 'shape')} in this image.")


def _split(items: list, parts: int) -> list[list]:
    """``items`` in ``parts`` consecutive groups whose sizes differ by at most one."""
    q, r = divmod(len(items), parts)
    out, k = [], 0
    for p in range(parts):
        size = q + (1 if p < r else 0)
        out.append(items[k:k + size])
        k += size
    return out


def paragraph(scene: Scene, rng: np.random.Generator) -> SpanText:
    """A paragraph of :data:`MIN_SENTENCES` to :data:`MAX_SENTENCES` sentences (see the module docstring)."""
    objs, side = scene.objects, scene.width
    groups: dict[Desc, list[int]] = {}
    for i in rng.permutation(len(objs)):
        groups.setdefault(Desc.of(objs[int(i)], size=True), []).append(int(i))
    items = list(groups.items())
    room = MAX_SENTENCES - 2  # the overview and one relation sentence are always there
    parts = int(rng.integers(min(math.ceil(len(items) / 2), room), min(len(items), room) + 1))
    single = len(objs) == 1  # its relation sentence says where it is; the object sentence need not
    body = [_object_sentence(objs, g, side, rng, with_position=not single) for g in _split(items, parts)]
    spare = MAX_SENTENCES - 1 - len(body)
    extra = int(rng.random() < 0.5) if spare >= 2 else 0
    relations = relation_sentences(scene, rng, 1 + extra)
    # A relation goes anywhere after the sentences that introduce its objects; the background
    # sentence (sometimes) anywhere after the first object sentence.
    introduced = [{i for _, _, m in st.spans for i in m} for st in body]
    for rel in relations:
        mentioned = {i for _, _, m in rel.spans for i in m}
        first = 1 + max(k for k, objs_k in enumerate(introduced) if objs_k & mentioned)
        at = int(rng.integers(first, len(body) + 1))
        body.insert(at, rel)
        introduced.insert(at, set())
    if len(body) + 1 < MAX_SENTENCES and rng.random() < 0.4:
        bg = BACKGROUND_WORDS[scene.background["kind"]].split(" ", 1)[1]
        body.insert(int(rng.integers(1, len(body) + 1)), SpanText().add(f"the background is {bg}."))
    overview = _overview(scene, rng)
    sentences = [overview] + body if rng.random() < 0.8 else body + [overview]
    return concat(sentences)
