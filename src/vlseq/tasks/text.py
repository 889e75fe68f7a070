"""Tasks whose output is text: caption, vqa, classify (a closed option set), region_caption."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Sequence

from ..codec.markup import GroundedText, Phrase, escape_markup, object_list
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, grounded_target, only_box, pick, region_prompt
from .judge import choice_right, text_right
from .priors import constant_text, most_common, norm_text


def majority_answer(answers: Sequence[str]) -> str:
    """The most frequent answer (first seen wins ties): VQAv2's ``multiple_choice_answer`` rule."""
    counts = Counter(a.strip().lower() for a in answers)
    best = max(counts.values())
    return next(a.strip().lower() for a in answers if counts[a.strip().lower()] == best)


class Caption(Task):
    name = "caption"
    headline = ("cider", "bleu4")
    output = "text"
    needs = ("answers",)
    files = ("captions.json",)
    baseline_kind = "most frequent caption"
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

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The most frequent reference of ``prior`` for every image: counted case- and
        space-insensitively, written as first seen."""
        refs = [" ".join(a.split()) for ex in prior for a in ex.answers if a.strip()]
        counted = [norm_text(r) for r in refs]
        key = most_common(counted)
        return constant_text(self, examples, None if key is None else refs[counted.index(key)], bins)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return text_right(ex, pred)


class RegionCaption(Caption):
    name = "region_caption"
    headline = ("cider",)
    needs = ("answers", "region")
    files = ("region_captions.jsonl", "region_descriptions.json")

    def prompt(self, ex: Example, bins: int) -> str:
        return region_prompt("describe ", ex, bins)

    def regions(self, ex: Example) -> list[tuple[Any, str]]:
        return [(ex.region, ex.answers[0])] if ex.region is not None and ex.answers else []

    def referent(self, ex: Example) -> Any | None:
        return ex.region


class VQA(Task):
    name = "vqa"
    headline = ("accuracy",)
    output = "text"
    needs = ("text", "answers")
    files = ("vqa_questions.json",)
    points_answers = True
    baseline_kind = "majority answer"

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(ex.text)

    def target(self, ex: Example, bins: int, rng: random.Random | None = None, point: bool = False,
               evidence: bool = False) -> str:
        """The majority answer. With ``point``, a question about one object (:meth:`referent`) is
        answered after that object's box, ``<obj> <loc>x4 answer </obj>``, so the model says which
        object before what it is (:class:`~vlseq.codec.grammar.PointedAnswerGrammar`). With
        ``point`` and ``evidence``, a count or yes/no question that carries the objects its answer
        rests on (:meth:`evidence`) is answered after each of them, ``<obj> <loc>x4 label </obj> ...
        answer``, so the model finds what it counts or compares before it answers."""
        answer = majority_answer(ex.answers)
        box = self.referent(ex) if point else None
        if box is not None:
            return grounded_target(GroundedText(answer, [Phrase(0, len(answer), (box,))]), ex, bins, box_first=True)
        found = self.evidence(ex) if point and evidence else []
        if not found:
            return escape_markup(answer)
        listed = object_list(found)
        return grounded_target(GroundedText(f"{listed.text} {answer}", listed.phrases), ex, bins, box_first=True)

    def parse(self, sequence: str, ex: Example, bins: int) -> Prediction:
        """As any task's, and the answer is the text after the last pointed object where there is
        some (an answer written after its evidence); otherwise the whole text (a plain answer, or
        the words of the one object it points at)."""
        pred = super().parse(sequence, ex, bins)
        phrases = pred.parsed.phrases
        if phrases:
            after = pred.parsed.text[max(p.end for p in phrases):].strip()
            if after:
                pred.answer = after
        return pred

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import vqa_accuracy

        r = vqa_accuracy(
            {i: p.text for i, p in enumerate(predictions)},
            {i: list(ex.answers) for i, ex in enumerate(examples)},
            answer_types={i: ex.meta.get("answer_type", "other") for i, ex in enumerate(examples)},
        )
        return {"accuracy": r["accuracy"], **{f"accuracy/{t}": v for t, v in r["per_answer_type"].items()}}

    def baseline_answers(self, examples: Sequence[Example]) -> list[str] | None:
        """Each question's training target, its own majority answer: the baseline is the most common
        of those, the answer a model that ignores the image would learn."""
        return [majority_answer(ex.answers) for ex in examples if ex.answers]

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The majority answer of ``prior`` (:meth:`baseline_answer`) for every question."""
        return constant_text(self, examples, self.baseline_answer(prior), bins)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        """The answer equals the target (majority) answer after VQA's answer normalisation."""
        from ..metrics import normalize_answer

        return normalize_answer(pred.text) == normalize_answer(majority_answer(ex.answers))

    def truth_text(self, ex: Example) -> str:
        return majority_answer(ex.answers)

    def referent(self, ex: Example) -> Any | None:
        """The asked object: the one object the annotation names, unless the answer is a count or
        yes/no (a colour, shape or position question names the one object it asks of; a count or
        yes/no answer is about no single object, even where one object is its evidence)."""
        return None if _rests_on_objects(ex) else only_box(ex)

    def evidence(self, ex: Example) -> list[tuple[str, Any]]:
        """``(label, box)`` of each object a count or yes/no answer rests on, in the annotation's
        order (the synthetic world: every object a count or existence question describes); empty for other questions."""
        return [(o.label, o.box) for o in ex.objects if o.box is not None] if _rests_on_objects(ex) else []


#: VQAv2 answer types whose answer is about no single object (:meth:`VQA.evidence`)
EVIDENCE_ANSWER_TYPES = ("yes/no", "number")


def _rests_on_objects(ex: Example) -> bool:
    return ex.meta.get("answer_type") in EVIDENCE_ANSWER_TYPES


class Classify(Task):
    """Close-set classification: visual entailment, image-text matching, NLVR2-style pairs."""

    name = "classify"
    headline = ("accuracy",)
    output = "choice"
    needs = ("text", "answers", "options")
    files = ("classify.jsonl",)
    baseline_kind = "majority class"

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

    def baseline_answers(self, examples: Sequence[Example]) -> list[str] | None:
        """Each example's label, case and spacing ignored."""
        return [norm_text(ex.answers[0]) for ex in examples if ex.answers]

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The majority class of ``prior`` (:meth:`baseline_answer`) for every example."""
        return constant_text(self, examples, self.baseline_answer(prior), bins)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return choice_right(ex, pred)

    def truth_text(self, ex: Example) -> str:
        return ex.answers[0]
