"""Tasks whose output grounds words in boxes: refexp, localize, ground, grounded_caption."""

from __future__ import annotations

import random
from typing import Any, Sequence

from ..codec import GroundedText, Phrase, object_list
from ..codec.markup import escape_markup
from ..codec.text import fold_text
from ..data.example import Example
from .base import GrammarSpec, Prediction, Task, grounded_target, only_box, pick
from .judge import IOU_RIGHT, best_iou, box_right, text_right
from .priors import most_common, need_bins, one_box, phrase_boxes, prior_box, read_back, scaled


class RefExp(Task):
    """Referring expression comprehension: ``<obj>expression box</obj>`` (the expression is forced)."""

    name = "refexp"
    headline = ("acc@0.5",)
    output = "box"
    needs = ("text", "objects")
    files = ("refexp.json",)
    baseline_kind = "prior box"

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(ex.text)

    def label(self, ex: Example) -> str:
        return " ".join(ex.text.split())

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        g = GroundedText(self.label(ex), [Phrase(0, len(self.label(ex)), tuple(tuple(o.box) for o in ex.objects))])
        return grounded_target(g, ex, bins)

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("box", labels=(self.label(ex),))

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import rec_accuracy

        r = rec_accuracy({i: (p.objects[0][1] if p.objects else None) for i, p in enumerate(predictions)},
                         {i: [o.box for o in ex.objects] for i, ex in enumerate(examples)})
        return {"acc@0.5": r["accuracy"], "mean_iou": r["mean_iou"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The prior box (the mean of ``prior``'s object boxes, normalised) for every expression."""
        return one_box(self, examples, prior, bins)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return box_right(ex, pred)

    def referent(self, ex: Example) -> Any | None:
        """The object the expression names, when it names one (a class name of several instances
        names none): the box its first coordinate must find."""
        return only_box(ex)


class Localize(RefExp):
    """Class name -> one box of that class (any instance counts)."""

    name = "localize"
    headline = ("acc@0.5",)
    files = ("instances.json",)

    def prompt(self, ex: Example, bins: int) -> str:
        return f"locate: {escape_markup(ex.text)}"

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        box = pick([o.box for o in ex.objects], rng)
        return grounded_target(object_list([(self.label(ex), box)]), ex, bins)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import localization_accuracy

        r = localization_accuracy({i: (p.objects[0][1] if p.objects else None) for i, p in enumerate(predictions)},
                                  {i: [o.box for o in ex.objects] for i, ex in enumerate(examples)})
        return {"acc@0.5": r["accuracy"], "mean_iou": r["mean_iou"]}


def phrase_boxes_for(ex_text: str, ex_phrases: Sequence[Phrase], pred: Prediction) -> list[list[tuple]]:
    """For each ground-truth phrase, the predicted boxes ranked in emitted order.

    A predicted phrase answers a ground-truth phrase when its text matches (case-insensitive);
    failing that, when its span overlaps the ground-truth span (the output repeats the caption,
    so spans line up when the text is reproduced).
    """
    out: list[list[tuple]] = []
    p = pred.parsed
    for gt in ex_phrases:
        want = fold_text(ex_text[gt.start : gt.end])
        match = [ph for ph in p.phrases if fold_text(p.phrase_text(ph)) == want]
        if not match:
            match = [ph for ph in p.phrases if ph.start < gt.end and gt.start < ph.end]
        out.append([b for ph in match for b in ph.boxes])
    return out


class Ground(Task):
    """Phrase grounding: the caption comes back with its phrases wrapped in ``<obj>`` and boxes."""

    name = "ground"
    headline = ("recall@1", "recall@5")
    output = "grounded"
    needs = ("text", "phrases")
    files = ("grounding.json",)
    baseline_kind = "prior box per phrase"

    def prompt(self, ex: Example, bins: int) -> str:
        return f"ground: {escape_markup(ex.text)}"

    def regions(self, ex: Example) -> list[tuple[Any, str]]:
        return [(b, ex.text[ph.start : ph.end]) for ph in ex.phrases for b in ph.boxes]

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return grounded_target(GroundedText(ex.text, list(ex.phrases)), ex, bins)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import phrase_grounding_recall

        ranked, gts = {}, {}
        for i, (ex, pred) in enumerate(zip(examples, predictions)):
            for j, (boxes, ph) in enumerate(zip(phrase_boxes_for(ex.text, ex.phrases, pred), ex.phrases)):
                ranked[(i, j)] = boxes
                gts[(i, j)] = list(ph.boxes)
        r = phrase_grounding_recall(ranked, gts)
        return {"recall@1": r["any_box_r@1"], "recall@5": r["any_box_r@5"], "recall@10": r["any_box_r@10"],
                "merged_recall@1": r["merged_box_r@1"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The caption back with the prior box (of ``prior``'s phrase boxes) for every phrase."""
        box = prior_box(phrase_boxes(prior))
        if box is None:
            return None
        grid = need_bins(self, bins)
        return [read_back(self, ex, GroundedText(ex.text, [Phrase(ph.start, ph.end, (scaled(box, ex),))
                                                           for ph in ex.phrases]), grid) for ex in examples]

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        """At least half of the phrases have their first predicted box at IoU >= 0.5 with a true one."""
        ranked = phrase_boxes_for(ex.text, ex.phrases, pred)
        hits = sum(1 for boxes, ph in zip(ranked, ex.phrases) if boxes and best_iou(boxes[0], ph.boxes) >= IOU_RIGHT)
        return bool(ex.phrases) and hits >= len(ex.phrases) / 2

    def truth_text(self, ex: Example) -> str:
        """The phrases to ground."""
        return "; ".join(ex.text[p.start:p.end] for p in ex.phrases)


class GroundedCaption(Task):
    """Caption with its object phrases grounded (scored by CIDEr and GVD's F1_all / F1_loc)."""

    name = "grounded_caption"
    headline = ("f1_loc", "f1_all", "cider")
    output = "grounded"
    needs = ("answers", "phrases")
    files = ("grounding.json",)
    baseline_kind = "most frequent caption at prior box"
    PROMPT = "describe the image with grounding."

    def prompt(self, ex: Example, bins: int) -> str:
        return self.PROMPT

    def regions(self, ex: Example) -> list[tuple[Any, str]]:
        return [(b, ex.answers[0][ph.start : ph.end]) for ph in ex.phrases for b in ph.boxes]

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return grounded_target(GroundedText(ex.answers[0], list(ex.phrases)), ex, bins)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        from ..metrics import caption_scores, grounded_caption_f1

        refs = {i: [ex.answers[0]] + list(ex.meta.get("references", [])) for i, ex in enumerate(examples)}
        cap = caption_scores({i: p.text for i, p in enumerate(predictions)}, refs)
        gt = {i: [(ex.answers[0][ph.start : ph.end], list(ph.boxes)) for ph in ex.phrases] for i, ex in enumerate(examples)}
        pr = {i: [(p.parsed.phrase_text(ph), list(ph.boxes)) for ph in p.parsed.phrases] for i, p in enumerate(predictions)}
        f1 = grounded_caption_f1(pr, gt)
        return {"cider": cap["cider"], "bleu4": cap["bleu_4"], "f1_all": f1["f1_all"], "f1_loc": f1["f1_loc"]}

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        """The most frequent caption of ``prior``, its phrases (of its first occurrence) grounded at the
        prior box of ``prior``'s phrase boxes."""
        box = prior_box(phrase_boxes(prior))
        caps = [ex for ex in prior if ex.answers]
        caption = most_common([ex.answers[0] for ex in caps])
        if box is None or caption is None:
            return None
        grid = need_bins(self, bins)
        source = next(ex for ex in caps if ex.answers[0] == caption)  # the phrases of its first occurrence
        out = []
        for ex in examples:
            phrases = [Phrase(ph.start, ph.end, (scaled(box, ex),)) for ph in source.phrases]
            out.append(read_back(self, ex, GroundedText(caption, phrases), grid))
        return out

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return text_right(ex, pred)
