"""Tasks whose output is text: caption, vqa, classify (a closed option set), region_caption."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Sequence

from ..codec.markup import escape_markup
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, pick, region_prompt
from .registry import register


def majority_answer(answers: Sequence[str]) -> str:
    """The most frequent answer (first seen wins ties): VQAv2's ``multiple_choice_answer`` rule."""
    counts = Counter(a.strip().lower() for a in answers)
    best = max(counts.values())
    return next(a.strip().lower() for a in answers if counts[a.strip().lower()] == best)


@register
class Caption(Task):
    name = "caption"
    headline = ("cider", "bleu4")
    output = "text"
    needs = ("answers",)
    PROMPT = "describe the image."

    def prompt(self, ex: Example, bins: int) -> str:
        return self.PROMPT

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(pick(ex.answers, rng))

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import caption_scores

        preds = {i: p.text for i, p in enumerate(predictions)}
        refs = {i: list(ex.answers) for i, ex in enumerate(examples)}
        s = caption_scores(preds, refs)
        return {"cider": s["cider"], "bleu4": s["bleu_4"]}


@register
class RegionCaption(Caption):
    name = "region_caption"
    headline = ("cider",)
    needs = ("answers", "region")

    def prompt(self, ex: Example, bins: int) -> str:
        return region_prompt("describe ", ex, bins)

    def regions(self, ex: Example) -> list[tuple[Any, str]]:
        return [(ex.region, ex.answers[0])] if ex.region is not None and ex.answers else []


@register
class VQA(Task):
    name = "vqa"
    headline = ("accuracy",)
    output = "text"
    needs = ("text", "answers")

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(ex.text)

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(majority_answer(ex.answers))

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import vqa_accuracy

        r = vqa_accuracy(
            {i: p.text for i, p in enumerate(predictions)},
            {i: list(ex.answers) for i, ex in enumerate(examples)},
            answer_types={i: ex.meta.get("answer_type", "other") for i, ex in enumerate(examples)},
        )
        return {"accuracy": r["accuracy"], **{f"accuracy/{t}": v for t, v in r["per_answer_type"].items()}}


@register
class Classify(Task):
    """Close-set classification: visual entailment, image-text matching, NLVR2-style pairs."""

    name = "classify"
    headline = ("accuracy",)
    output = "choice"
    needs = ("text", "answers", "options")

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(f"{ex.text} options: {', '.join(ex.options)}")

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(ex.answers[0])

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("choice", labels=tuple(ex.options))

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import classification_accuracy

        r = classification_accuracy({i: p.text for i, p in enumerate(predictions)},
                                    {i: ex.answers[0] for i, ex in enumerate(examples)})
        return {"accuracy": r["accuracy"]}
