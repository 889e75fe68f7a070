"""Multiple choice with rationales (VCR): pick the right answer, then the right reason for it.

One task, two stages, told apart by ``meta["stage"]`` and paired by ``meta["qid"]``:

* ``qa``: prompt = the question and the candidate answers, target = the right answer;
* ``qar``: prompt = the question, the right answer and the candidate rationales, target = the
  right rationale.

Both stages are the same kind of output (one of the listed candidates, under a ``choice`` grammar
over them), read the same image and are scored together: Q->AR needs the two predictions of one
question side by side, which one task's :meth:`~MultipleChoice.evaluate` has and two tasks would
not. A stage is a field of the example, as the kind of a ``classify`` example is.

In the prompt a tagged object (VCR's ``[k]``, kept in ``meta["question_tokens"]`` and
``meta["answer_tokens"]``) is its label followed by its box as four coordinate tokens, as a region
enters a prompt; candidates are plain text, since the output is one of them verbatim::

    what color is the circle<loc_3><loc_9><loc_20><loc_27>? answers: (a) the circle is red. (b) ...
"""

from __future__ import annotations

import random
from typing import Any, Sequence

from ..codec.markup import escape_markup
from ..data.example import Example
from ..data.tagged import render_boxes, render_plain
from .base import GrammarSpec, Prediction, Task
from .judge import choice_right

STAGES = ("qa", "qar")


def stage_of(ex: Example) -> str:
    """The example's stage (``qa`` when it does not say)."""
    return str(ex.meta.get("stage", "qa"))


def letters(options: Sequence[str]) -> str:
    """``(a) first (b) second ...``: the candidates as the prompt lists them."""
    return " ".join(f"({chr(ord('a') + k) if k < 26 else k + 1}) {escape_markup(o)}" for k, o in enumerate(options))


def tagged_text(ex: Example, tokens: Sequence[Any] | None, plain: str, bins: int) -> str:
    """Tagged ``tokens`` for a prompt: each cited object's label with its box when the example has the
    boxes (``objects``), the plain label otherwise; ``plain`` (escaped) when there are no tokens."""
    if not tokens:
        return escape_markup(plain)
    labels = list(ex.meta.get("object_labels") or [o.label for o in ex.objects])
    numbered = bool(ex.meta.get("numbered", False))
    try:
        if labels and len(ex.objects) == len(labels):
            return render_boxes(tokens, labels, [o.box for o in ex.objects], ex.width, ex.height, bins, numbered)
        return escape_markup(render_plain(tokens, labels, numbered))
    except (IndexError, TypeError):  # tokens that do not fit the objects: the plain text still does
        return escape_markup(plain)


class MultipleChoice(Task):
    """VCR-style multiple choice: Q->A and QA->R as one task (see the module docstring)."""

    name = "multiple_choice"
    headline = ("q_ar", "q_a", "qa_r")
    output = "choice"
    needs = ("text", "answers", "options")
    files = ("vcr.jsonl",)
    baseline_kind = "random choice (expected)"

    def prompt(self, ex: Example, bins: int) -> str:
        question = tagged_text(ex, ex.meta.get("question_tokens"), ex.text, bins)
        if stage_of(ex) == "qar":
            answer = tagged_text(ex, ex.meta.get("answer_tokens"), str(ex.meta.get("answer", "")), bins)
            return f"{question} answer: {answer} rationales: {letters(ex.options)}"
        return f"{question} answers: {letters(ex.options)}"

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(ex.answers[0])

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("choice", labels=tuple(ex.options))

    def check(self, ex: Example) -> None:
        super().check(ex)
        where = ex.source or ex.image_id
        if stage_of(ex) not in STAGES:
            raise ValueError(f"{where}: multiple_choice meta['stage'] must be one of {STAGES}, got {stage_of(ex)!r}")
        if ex.answers[0] not in ex.options:
            raise ValueError(f"{where}: multiple_choice answer {ex.answers[0]!r} is not one of its options")
        if stage_of(ex) == "qar" and not (ex.meta.get("answer") or ex.meta.get("answer_tokens")):
            raise ValueError(f"{where}: a multiple_choice 'qar' example needs the right answer (meta['answer'])")

    def _keys(self, examples: Sequence[Example]) -> tuple[dict[int, str], dict[int, Any]]:
        stages = {i: stage_of(ex) for i, ex in enumerate(examples)}
        # an example without a question id is a question of its own (it counts in its stage, not in Q->AR)
        questions = {i: ex.meta.get("qid", ("#", i)) for i, ex in enumerate(examples)}
        return stages, questions

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        """Q->AR, Q->A and QA->R accuracy (:func:`vlseq.metrics.multiple_choice_accuracy`); NaN for a
        stage the examples do not have."""
        from ..metrics import multiple_choice_accuracy

        stages, questions = self._keys(examples)
        r = multiple_choice_accuracy({i: p.text for i, p in enumerate(predictions)},
                                     {i: ex.answers[0] for i, ex in enumerate(examples)}, stages, questions)
        return {"q_ar": r["q_ar"], "q_a": r["q_a"], "qa_r": r["qa_r"]}

    def baseline(self, examples: Sequence[Example], prior: Sequence[Example] | None = None,
                 bins: int | None = None) -> dict[str, float]:
        """The expected accuracies of a uniform random choice among each example's options
        (0.0625 / 0.25 / 0.25 with four choices), computed exactly rather than sampled (``prior``
        and ``bins`` are not needed)."""
        from ..metrics import chance_multiple_choice

        stages, questions = self._keys(examples)
        r = chance_multiple_choice({i: len(ex.options) for i, ex in enumerate(examples)}, stages, questions)
        return {"q_ar": r["q_ar"], "q_a": r["q_a"], "qa_r": r["qa_r"]}

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return choice_right(ex, pred)

    def truth_text(self, ex: Example) -> str:
        return ex.answers[0]
