"""Why a VQA answer about one object is wrong: another object's attribute, or one not in the image.

    python experiments/vqa_misses.py --predictions runs/tiny/eval/predictions.jsonl --world data/synth-tiny/val

Reads ``vlseq eval``'s predictions and a synthetic world's split (its VQA questions and annotations,
and its region captions, which name every object of an image: "a large yellow circle"). For
"what shape ..." and "what colour ..." questions it counts the wrong answers that are a word of the image's
descriptions (a shape or colour some object of the image has: nearly always another object's, so
the model read the wrong object, a binding miss) against those that describe nothing in the image
(it misread the object: a recognition miss). Prints a table, with each question type split again by
how the question names its object (:func:`naming`): by its other attribute alone (its colour in a
shape question, its shape in a colour question), with a size word, or by a
relation or an extreme ("left of the diamond", "the topmost ...").

With ``--counts``, the count questions' accuracy by form ("how many objects", "how many red
objects", "how many circles", "how many red circles"): the colour swap changes which of them see
swapped images in training.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

from vlseq.data.augment import names_colour
from vlseq.data.world.language import RELATIONS, SUPERLATIVES

#: size words, by which a question may name its object beside its colour or shape
SIZE_WORDS = (" small ", " large ")
#: The kinds of referring expression of the world's questions (:func:`expression_kind`).
EXPRESSION_KINDS = ("attribute", "relation", "superlative")
_SUPERLATIVE = re.compile(r"\b(" + "|".join(SUPERLATIVES) + r")\b")
_RELATION = re.compile(r"\b(" + "|".join(RELATIONS) + r")\b")
#: count question forms, by whether the question names a colour and a shape (:func:`count_form`)
COUNT_FORMS = ("how many objects", "how many red objects", "how many circles", "how many red circles")


def expression_kind(question: str) -> str:
    """``superlative`` ("the leftmost red object"), ``relation`` ("the object left of the star") or
    ``attribute`` ("the large red object"), by the world's words for them."""
    if _SUPERLATIVE.search(question):
        return "superlative"
    return "relation" if _RELATION.search(question) else "attribute"


def naming(question: str) -> str:
    """How a question names its object: ``relation`` (a relation or an extreme), ``size`` or
    ``attribute`` (its colour or shape alone)."""
    if expression_kind(question) != "attribute":
        return "relation"
    return "size" if any(w in question for w in SIZE_WORDS) else "attribute"


def count_form(question: str) -> str:
    """Which of :data:`COUNT_FORMS` a count question has ("red" and "circles" stand for any colour
    and any shape)."""
    return COUNT_FORMS[2 * (" objects " not in question) + names_colour(question)]


def answered(predictions: Path, world: Path, also: tuple[str, ...] = ()):
    """The VQA predictions of ``vlseq eval``'s predictions.jsonl with their world annotations: an
    iterator of ``(line number, prediction, annotation)``. Checks first that the files (and the
    world files named in ``also``) exist, and names the line of a question the world lacks."""
    for f in (predictions, world / "vqa_questions.json", world / "vqa_annotations.json", *(world / a for a in also)):
        if not f.is_file():
            raise SystemExit(f"{f}: not found (the predictions are vlseq eval's predictions.jsonl; the world a "
                             "synthetic world's split folder, e.g. data/synth-tiny/val)")
    questions = json.loads((world / "vqa_questions.json").read_text())["questions"]
    notes = {a["question_id"]: a for a in json.loads((world / "vqa_annotations.json").read_text())["annotations"]}
    qid = {(str(q["image_id"]), q["question"]): q["question_id"] for q in questions}

    def rows():
        with predictions.open() as f:
            for n, line in enumerate(f, 1):
                p = json.loads(line)
                if p.get("source") != "vqa":
                    continue
                key = (str(p["image_id"]), p["prompt"])
                if key not in qid:
                    raise SystemExit(f"{predictions}, line {n}: question {p['prompt']!r} of image {p['image_id']} "
                                     f"is not in {world}")
                yield n, p, notes[qid[key]]

    return rows()


def misses(predictions: Path, world: Path, kinds: tuple[str, ...] = ("shape", "colour")) -> dict[str, Counter]:
    """Per question type, and per type and :func:`naming` (``"shape, named by relation"``): ``right``,
    ``another object`` and ``not in the image`` counts."""
    rows = answered(predictions, world, ("region_captions.jsonl",))
    words: dict[str, set[str]] = defaultdict(set)
    with (world / "region_captions.jsonl").open() as f:
        for line in f:
            r = json.loads(line)
            words[str(r["image_id"])].update(r["phrase"].split())
    out: dict[str, Counter] = {k: Counter() for k in kinds}
    for _, p, ann in rows:
        kind = ann["question_type"]
        if kind not in out:
            continue
        said = p["text"].strip()
        if said == ann["multiple_choice_answer"]:
            verdict = "right"
        elif said in words[str(p["image_id"])]:
            verdict = "another object"
        else:
            verdict = "not in the image"
        out[kind][verdict] += 1
        out.setdefault(f"{kind}, named by {naming(p['prompt'])}", Counter())[verdict] += 1
    return dict(sorted(out.items()))


def count_accuracy(predictions: Path, world: Path) -> dict[str, tuple[int, float]]:
    """Per :data:`COUNT_FORMS` (those present): (questions, accuracy)."""
    n: Counter = Counter()
    right: Counter = Counter()
    for _, p, ann in answered(predictions, world):
        if ann["question_type"] == "count":
            form = count_form(p["prompt"])
            n[form] += 1
            right[form] += p["text"].strip() == ann["multiple_choice_answer"]
    return {f: (n[f], right[f] / n[f]) for f in COUNT_FORMS if n[f]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--predictions", type=Path, required=True, help="predictions.jsonl of vlseq eval")
    ap.add_argument("--world", type=Path, required=True, help="the split the predictions are of (e.g. data/synth-tiny/val)")
    ap.add_argument("--counts", action="store_true", help="also the count questions' accuracy by form")
    args = ap.parse_args(argv)
    if args.counts:
        print("| count question | n | accuracy |")
        print("|---|---:|---:|")
        for form, (k, acc) in count_accuracy(args.predictions, args.world).items():
            print(f'| "{form}" | {k} | {acc:.3f} |')
        print()
    table = misses(args.predictions, args.world)
    print("| question | right | wrong: another object's word | wrong: not in the image |")
    print("|---|---:|---:|---:|")
    for kind, c in table.items():
        print(f"| {kind} | {c['right']} | {c['another object']} | {c['not in the image']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
