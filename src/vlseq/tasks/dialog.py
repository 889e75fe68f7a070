"""Visual dialog (VisDial): answer a question about an image given its caption and the dialog so far.

One round is one example: ``text`` the question, ``answers[0]`` the answer, ``meta["caption"]`` the
image's caption, ``meta["history"]`` the earlier rounds as ``(question, answer)`` pairs, and
``options`` the round's candidate answers (VisDial's 100). The prompt puts the question first, then
the caption and the history, newest round first::

    is the circle red? caption: a red circle and a blue star. history: how many shapes are there? 2.

so a prompt cut at the processor's prompt limit loses the oldest rounds, never the question.
The target is the answer; with candidates the output is one of them (a ``choice`` grammar), without
them free text.

Evaluation is VisDial's ranking of the candidates: :meth:`Dialog.evaluate` reads one log-likelihood
per candidate from ``Prediction.scores`` (``scores[k]`` for ``options[k]``; the scorer is
:func:`vlseq.decoding.rank.candidate_loglikelihoods`), ranks the right answer among them
(:func:`vlseq.metrics.rank_of`: higher first, ties against the right answer) and reports MRR,
R@1/5/10 and the mean rank. A prediction without one score per candidate is ranked from its
generated text alone: the right answer ranks first when the text is it (case and spacing ignored),
and last otherwise, since a single generated answer orders nothing else.
"""

from __future__ import annotations

import random
from collections import Counter
from typing import Any, Sequence

from ..codec.markup import escape_markup
from ..codec.text import fold_text
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task
from .judge import text_right

#: Tokens a free-text answer may take, ``</s>`` included (VisDial's answers average 2.9 words).
ANSWER_TOKENS = 24


def history_of(ex: Example) -> list[tuple[str, str]]:
    """The earlier rounds of a dialog example as ``(question, answer)`` pairs (JSON lists accepted)."""
    out = []
    for k, pair in enumerate(ex.meta.get("history") or []):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(f"{ex.source or ex.image_id}: dialog meta['history'][{k}] must be a (question, answer) "
                             f"pair, got {pair!r:.80}")
        out.append((str(pair[0]), str(pair[1])))
    return out


def gt_index(ex: Example) -> int:
    """Where the right answer sits among the example's candidates (``meta["gt_index"]`` or its position)."""
    if "gt_index" in ex.meta:
        return int(ex.meta["gt_index"])
    return ex.options.index(ex.answers[0])


def rank_from_text(text: str, ex: Example) -> int:
    """The right answer's rank from a generated answer alone: 1 when it is the answer, else last."""
    return 1 if fold_text(text) == fold_text(ex.answers[0]) else max(len(ex.options), 1)


class Dialog(Task):
    """VisDial: one round of a dialog about the image (see the module docstring)."""

    name = "dialog"
    headline = ("mrr", "r@1", "r@5", "r@10", "mean_rank")
    ranks_options = True
    output = "text"
    needs = ("text", "answers")
    context = ("history", "caption")  # meta a caller may give: the earlier rounds, the image's caption
    files = ("visdial.json",)
    baseline_kind = "answer-frequency ranking"

    def prompt(self, ex: Example, bins: int) -> str:
        parts = [escape_markup(ex.text)]
        caption = str(ex.meta.get("caption", "")).strip()
        if caption:
            parts.append(f"caption: {escape_markup(caption)}")
        history = history_of(ex)
        if history:
            rounds = " ".join(f"{escape_markup(q)} {escape_markup(a)}." for q, a in reversed(history))
            parts.append(f"history: {rounds}")
        return " ".join(parts)

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return escape_markup(ex.answers[0])

    def grammar(self, ex: Example) -> GrammarSpec:
        if ex.options:
            return GrammarSpec("choice", labels=tuple(ex.options))
        return GrammarSpec("text", max_tokens=ANSWER_TOKENS)

    def check(self, ex: Example) -> None:
        super().check(ex)
        where = ex.source or ex.image_id
        history_of(ex)
        if ex.options:
            k = gt_index(ex)
            if not 0 <= k < len(ex.options) or ex.options[k] != ex.answers[0]:
                raise ValueError(f"{where}: dialog gt_index {k} does not point at the answer {ex.answers[0]!r} "
                                 "among the options")

    def ranks(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> list[int]:
        """The right answer's rank per example (see the module docstring for how scores are read)."""
        from ..metrics import rank_of

        if len(examples) != len(predictions):
            raise ValueError(f"dialog: {len(predictions)} predictions for {len(examples)} examples")
        out = []
        for ex, p in zip(examples, predictions):
            if not ex.options:
                raise ValueError(f"{ex.source or ex.image_id}: a dialog example needs candidate answers (options) "
                                 "to be ranked")
            if len(p.scores) == len(ex.options):
                out.append(rank_of(p.scores, gt_index(ex)))
            else:
                out.append(rank_from_text(p.text, ex))
        return out

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        """MRR, R@1, R@5, R@10 and mean rank of the right answers (:func:`vlseq.metrics.ranking_metrics`)."""
        from ..metrics import ranking_metrics

        return ranking_metrics(self.ranks(examples, predictions))

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """Answer-frequency ranking: each candidate scores how often it is the right answer in ``prior``
        (the training rounds, when the caller has them; :meth:`baseline`'s default: ``examples``
        themselves, an optimistic prior), case and spacing ignored."""
        counts = answer_counts(prior)
        return [frequency_prediction(ex, counts) for ex in examples]

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return text_right(ex, pred)


def answer_counts(examples: Sequence[Example]) -> Counter:
    """How often each (normalised) answer is the right one among ``examples``."""
    return Counter(fold_text(ex.answers[0]) for ex in examples if ex.answers)


def frequency_prediction(ex: Example, counts: Counter) -> Prediction:
    """A prediction that scores each candidate by its answer frequency (its text: the most frequent)."""
    from ..codec import parse

    scores: list[Any] = [float(counts.get(fold_text(o), 0)) for o in ex.options]
    best = ex.options[max(range(len(scores)), key=scores.__getitem__)] if scores else ""
    seq = escape_markup(best)
    return Prediction(seq, parse(seq, ex.width, ex.height, 2), scores=scores)
