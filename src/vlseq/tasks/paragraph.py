"""Image paragraphs (Stanford image paragraphs): a detailed description of the whole image, as free text.

The target is the reference paragraph as plain text; the metric is the paragraph papers' CIDEr and
METEOR (:func:`vlseq.metrics.paragraph_scores`). A paragraph runs to several sentences, so its
grammar asks for a longer budget than a caption's (:data:`PARAGRAPH_TOKENS`). Where an example
knows its object mentions (``phrases``, as the synthetic world's do), :func:`grounded_paragraph`
gives the grounded form of the same paragraph.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Sequence

from ..codec import GroundedText, parse
from ..codec.markup import escape_markup
from ..codec.text import fold_text
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, grounded_target, pick
from .judge import text_right

#: Tokens a paragraph may take, ``</s>`` included: the longest paragraph of a 1000-scene synthetic
#: world (128 px) is 93 tokens with the world's WordPiece tokenizer (mean 58, 85 words at most);
#: Stanford's paragraphs average 67 words and take more with a general-purpose vocabulary.
PARAGRAPH_TOKENS = 128

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def sentences(paragraph: str) -> list[str]:
    """The sentences of a paragraph (split after ``.``, ``!`` or ``?`` followed by whitespace)."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(paragraph.strip())) if s]


def most_frequent_sentence(paragraphs: Sequence[str]) -> str | None:
    """The sentence that occurs most often across ``paragraphs`` (case and spacing ignored; the first
    seen wins a tie, so the result never depends on hash order); None without any sentence."""
    norm = [(fold_text(s), s) for p in paragraphs for s in sentences(p)]
    if not norm:
        return None
    counts = Counter(k for k, _ in norm)
    best = max(counts.values())
    return next(s for k, s in norm if counts[k] == best)


def grounded_paragraph(ex: Example, bins: int) -> str:
    """The paragraph with its object mentions (``ex.phrases``, spans over ``answers[0]``) in ``<obj>``
    markup: the target of a grounded variant. Plain (escaped) text when the example has no phrases."""
    return grounded_target(GroundedText(ex.answers[0], list(ex.phrases)), ex, bins)


class Paragraph(Task):
    """A detailed paragraph about the image: every object, its attributes, and how the objects relate."""

    name = "paragraph"
    headline = ("cider", "meteor")
    output = "text"
    needs = ("answers",)
    files = ("paragraphs_v1.json",)
    baseline_kind = "most frequent sentence"
    PROMPT = "describe the image in detail."

    def prompt(self, ex: Example, bins: int) -> str:
        return self.PROMPT

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(pick(ex.answers, rng))

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("text", max_tokens=PARAGRAPH_TOKENS)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        """CIDEr, METEOR and BLEU-4 of the whole set (METEOR needs Java: a :class:`~vlseq.metrics.MeteorError`
        says so when it cannot run)."""
        from ..metrics import paragraph_scores

        s = paragraph_scores({i: p.text for i, p in enumerate(predictions)},
                             {i: list(ex.answers) for i, ex in enumerate(examples)})
        return {"cider": s["cider"], "meteor": s["meteor"], "bleu4": s["bleu_4"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """One fixed output for every image: the most frequent sentence of the reference paragraphs of
        ``prior`` (the training examples, when the caller has them; :meth:`baseline`'s default:
        ``examples`` themselves, a slightly optimistic prior). A ``ValueError`` when it has none.
        """
        sentence = most_frequent_sentence([a for ex in prior for a in ex.answers])
        if sentence is None:
            raise ValueError(f"{self.name} baseline: the examples hold no reference sentence")
        seq = escape_markup(sentence)
        return [Prediction(seq, parse(seq, ex.width, ex.height, 2)) for ex in examples]  # text only: bins unused

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return text_right(ex, pred)
