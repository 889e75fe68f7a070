"""From a task's :class:`~vlseq.tasks.GrammarSpec` (strings) to a decoding grammar (token ids)."""

from __future__ import annotations

from ..codec.grammar import (
    UNBOUNDED,
    BoxFirstListGrammar,
    ChoiceGrammar,
    Grammar,
    GroundedTextGrammar,
    ImageGrammar,
    ObjectListGrammar,
    PointedAnswerGrammar,
    SingleBoxGrammar,
    TextGrammar,
    VocabLayout,
)
from ..codec.tokens import loc_token
from ..tasks.base import GrammarSpec
from ..tokenizer import VLTokenizer

#: Budget of a free-text output. A policy, not a grammar fact: free text has no longest output, so
#: the grammar cannot give one; 48 is the budget free text had before budgets were asked of the grammar.
FREE_TEXT_BUDGET = 48
#: Tokens granted past the grammar's longest output, per output kind. A policy, kept from the budgets
#: these kinds had before the grammar was asked for its longest output: one spare token for a choice
#: and a single box. Constrained decoding never uses it (the grammar ends every output within its
#: longest); an unconstrained decode may.
EXTRA_TOKENS = {"choice": 1, "box": 1}


def grammar_for(spec: GrammarSpec, tokenizer: VLTokenizer) -> Grammar:
    """The grammar that constrains an output of kind ``spec.kind`` over this tokenizer's ids.

    Cached on the tokenizer itself (a module-level cache keyed by ``id(tokenizer)`` could hand a
    new tokenizer, allocated at a freed one's address, the old one's grammar).
    """
    cache: dict[GrammarSpec, Grammar] = tokenizer.__dict__.setdefault("_grammar_cache", {})
    hit = cache.get(spec)
    if hit is None:
        if len(cache) > 4096:
            cache.clear()
        hit = cache[spec] = _build(spec, tokenizer.layout(), tokenizer)
    return hit


def generation_budget(spec: GrammarSpec, tokenizer: VLTokenizer, limit: int) -> int:
    """Tokens to generate for an output of ``spec``: the longest output its grammar accepts
    (:meth:`~vlseq.codec.grammar.Grammar.max_to_finish`, ``</s>`` included) plus the kind's
    :data:`EXTRA_TOKENS`, never past ``limit``.

    Outputs without a longest one get ``limit`` (grounded text, an object list without
    ``max_objects``), free text the spec's ``max_tokens`` (a task that writes long text, e.g. a
    paragraph, says how long), else :data:`FREE_TEXT_BUDGET`.
    """
    if spec.kind == "text":
        # A pointed answer (box_first) writes its box and markup before the words.
        pointing = PointedAnswerGrammar.POINTING_TOKENS if spec.box_first else 0
        return min(limit, (spec.max_tokens or FREE_TEXT_BUDGET) + pointing)
    longest = grammar_for(spec, tokenizer).max_to_finish()
    if longest >= UNBOUNDED:
        return limit
    return min(limit, longest + EXTRA_TOKENS.get(spec.kind, 0))


def _build(spec: GrammarSpec, layout: VocabLayout, tok: VLTokenizer) -> Grammar:
    if spec.kind == "text":
        g: Grammar = PointedAnswerGrammar(layout) if spec.box_first else TextGrammar(layout)
    elif spec.kind == "grounded":
        g = GroundedTextGrammar(layout, polygons=spec.polygons, max_polygon_points=spec.max_polygon_points)
    elif spec.kind == "objects" and spec.box_first:
        if spec.polygons or spec.keypoints:
            raise ValueError("a box-first object list (box_first) has no polygons or keypoints")
        g = BoxFirstListGrammar(layout, [tok.label_ids(l, after=loc_token(0)) for l in spec.labels],
                                max_objects=spec.max_objects)
    elif spec.kind == "objects":
        g = ObjectListGrammar(layout, [tok.label_ids(l) for l in spec.labels], max_objects=spec.max_objects,
                              keypoints=keypoint_ids(spec, tok), **_polygon_args(spec))
    elif spec.kind == "box":
        g = SingleBoxGrammar(layout, [tok.label_ids(l) for l in spec.labels], keypoints=keypoint_ids(spec, tok),
                             **_polygon_args(spec))
    elif spec.kind == "choice":
        g = ChoiceGrammar(layout, [tok.encode(l) for l in spec.labels])
    elif spec.kind == "image":
        g = ImageGrammar(layout, spec.image_tokens)
    else:
        raise ValueError(f"unknown grammar kind {spec.kind!r}")
    return g


def _polygon_args(spec: GrammarSpec) -> dict:
    return dict(polygons=spec.polygons, max_polygon_points=spec.max_polygon_points,
                require_polygon=spec.require_polygon)


def keypoint_ids(spec: GrammarSpec, tok: VLTokenizer) -> list[list[int]] | None:
    """Each keypoint name's ids as tokenized right after a coordinate token (where a target puts it)."""
    if not spec.keypoints:
        return None
    loc0 = tok.loc_id(0)
    out = []
    for name in spec.keypoints:
        ids = tok.encode(loc_token(0) + name)
        out.append(ids[1:] if ids and ids[0] == loc0 else ids)
    return out
