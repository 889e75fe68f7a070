"""Visual storytelling (VIST): one sentence per image of an ordered image sequence, as free text.

The input is the whole sequence (``Example.images``, in story order), the prompt
:data:`Story.PROMPT`, the target the story's sentences joined by a space. The metric is VIST's:
CIDEr and METEOR of the whole story against its reference(s) (:func:`vlseq.metrics.paragraph_scores`,
the COCO caption evaluation on PTB tokens, one story per example).

What a sequence costs the encoder: every image is one grid of encoder tokens, placed before the
prompt and told apart by the model's ``image_index`` embedding. The tiny preset (64 px images, a
conv stem of stride 8) gives 8 x 8 = 64 tokens per image, so a 5-image story is 5 x 64 = 320 image
tokens plus the prompt's 7 (``tell the story of these images.`` with the world's WordPiece
tokenizer): 327 encoder positions. The model therefore needs ``max_images >= 5`` and
``max_positions >= 327`` (the tiny preset's 256 is too small; 384 leaves room), and the Processor's
``max_target_tokens`` at least the longest story plus ``<s>`` (84 for the world's). At 128 px the
same story is 5 x 256 = 1280 image tokens.
"""

from __future__ import annotations

import random
from typing import Sequence

from ..codec import parse
from ..codec.markup import escape_markup
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, pick
from .judge import text_right
from .paragraph import most_frequent_sentence, sentences

#: Tokens a story may take, ``</s>`` included: the longest story of a 1000-scene synthetic world
#: (64 px, 3-5 images) is 82 tokens with the world's WordPiece tokenizer (mean 40, 73 words at
#: most); VIST's five-sentence stories run to about 60 words.
STORY_TOKENS = 112
#: The images a story may hold (VIST's five): what ``ModelConfig.max_images`` must allow.
STORY_IMAGES = 5
#: Encoder positions of a five-image story in the tiny preset: 5 images x 64 tokens + a 7-token prompt.
TINY_STORY_ENCODER_TOKENS = STORY_IMAGES * 64 + 7


def repeated_sentence(sentence: str, images: int) -> str:
    """``sentence`` once per image, joined by a space (the baseline's story)."""
    return " ".join([sentence] * max(images, 1))


class Story(Task):
    """A story over an image sequence: one sentence per image, in order."""

    name = "story"
    headline = ("cider", "meteor")
    output = "text"
    needs = ("images", "answers")
    image_input = "sequence"  # the images, in story order, are one example
    files = ("story.json",)
    baseline_kind = "most frequent sentence per image"
    PROMPT = "tell the story of these images."

    def prompt(self, ex: Example, bins: int) -> str:
        return self.PROMPT

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(pick(ex.answers, rng))

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("text", max_tokens=STORY_TOKENS)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        """CIDEr, METEOR and BLEU-4 of the whole set (METEOR needs Java: a
        :class:`~vlseq.metrics.MeteorError` says so when it cannot run)."""
        from ..metrics import paragraph_scores

        s = paragraph_scores({i: p.text for i, p in enumerate(predictions)},
                             {i: list(ex.answers) for i, ex in enumerate(examples)})
        return {"cider": s["cider"], "meteor": s["meteor"], "bleu4": s["bleu_4"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """A story that ignores the images: the most frequent sentence of the reference stories of
        ``prior`` (the training examples, when the caller has them; :meth:`baseline`'s default:
        ``examples`` themselves, a slightly optimistic prior), repeated once per image of each example
        (so the output has a story's length). A ``ValueError`` when it has none.
        """
        sentence = most_frequent_sentence([a for ex in prior for a in ex.answers])
        if sentence is None:
            raise ValueError(f"{self.name} baseline: the examples hold no reference sentence")
        preds = []
        for ex in examples:
            seq = escape_markup(repeated_sentence(sentence, len(ex.images)))
            preds.append(Prediction(seq, parse(seq, ex.width, ex.height, 2)))  # text only: bins unused
        return preds

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return text_right(ex, pred)


def story_sentences(ex: Example) -> list[str]:
    """The sentences of a story example: ``meta["sentences"]`` where the source kept them, else the
    sentences of its first reference."""
    kept = ex.meta.get("sentences")
    return list(kept) if kept else sentences(ex.answers[0]) if ex.answers else []
