"""Text with object tags, as VCR writes it: words mixed with lists of indices into the image's objects.

A VCR question is ``["Why", "is", [0], "pointing", "at", [1, 2], "?"]``: a token is a word or a
list of object indices (into the record's ``objects`` / the metadata's ``boxes``). The synthetic
world writes its multiple-choice questions the same way, so one path serves both.

Two renderings:

* plain text (:func:`render_plain`): a tag becomes its object's label (``"person"``), several
  indices are joined (``"person and car"``). ``numbered=True`` adds each object's 1-based number
  (``"person 1"``): VCR often tags two people in one question, and plain labels would then make two
  different answers read the same.
* a prompt (:func:`render_boxes`): each tagged label is followed by its box as four ``<loc_k>``
  tokens, the way a region enters a prompt; the words are markup-escaped.

Punctuation tokens are attached to the word before them (``"doing ?"`` -> ``"doing?"``).
"""

from __future__ import annotations

import re
from typing import Any, Sequence, Union

from ..codec.coords import Box
from ..codec.markup import box_tokens, escape_markup

#: One token of tagged text: a word, or the indices of the objects it refers to.
Token = Union[str, list[int]]

_PUNCT = re.compile(r" +([.,?!;:])")
_CLITIC = re.compile(r" +('s|'re|'ve|'ll|'d|'m|n't)\b")


def join_words(words: Sequence[str]) -> str:
    """Words joined by single spaces, with punctuation and clitics attached to the word before."""
    text = " ".join(w for w in (" ".join(str(w).split()) for w in words) if w)
    return _CLITIC.sub(r"\1", _PUNCT.sub(r"\1", text))


def _name(k: int, labels: Sequence[str], numbered: bool) -> str:
    return f"{labels[k]} {k + 1}" if numbered else labels[k]


def _enumerate(names: Sequence[str]) -> str:
    """``"a"``, ``"a and b"``, ``"a, b and c"``."""
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def render_plain(tokens: Sequence[Token], labels: Sequence[str], numbered: bool = False) -> str:
    """The tagged text as plain words (``IndexError`` for an index outside ``labels``)."""
    words = [t if isinstance(t, str) else _enumerate([_name(k, labels, numbered) for k in t]) for t in tokens]
    return join_words(words)


def render_boxes(tokens: Sequence[Token], labels: Sequence[str], boxes: Sequence[Box], width: float, height: float,
                 bins: int, numbered: bool = False) -> str:
    """The tagged text for a prompt: every tagged label followed by its box's four coordinate tokens.

    Words and labels are markup-escaped (data text must not turn into markup); the boxes are the
    only markup in the result.
    """
    words = []
    for t in tokens:
        if isinstance(t, str):
            words.append(escape_markup(t))
        else:
            words.append(_enumerate([escape_markup(_name(k, labels, numbered)) + box_tokens(boxes[k], width, height, bins)
                                     for k in t]))
    return join_words(words)


def tags_of(tokens: Sequence[Token]) -> list[int]:
    """Every object index the tokens refer to, in order of first mention."""
    seen: dict[int, None] = {}
    for t in tokens:
        if not isinstance(t, str):
            seen.update(dict.fromkeys(t))
    return list(seen)


def is_token_list(value: Any) -> bool:
    """Whether ``value`` has the shape of tagged text: a list of words and non-empty lists of ints."""
    return isinstance(value, list) and all(
        isinstance(t, str) or (isinstance(t, list) and t and all(isinstance(k, int) and not isinstance(k, bool)
                                                                 for k in t))
        for t in value)
