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
"""

from __future__ import annotations

import argparse
import json
from collections import Counter, defaultdict
from pathlib import Path

#: words that name an object by where it is (relations and extremes), then by its size
RELATION_WORDS = (" left of ", " right of ", " above ", " below ", "most ")
SIZE_WORDS = (" small ", " large ")


def naming(question: str) -> str:
    """How a question names its object: ``relation``, ``size`` or ``attribute`` (its colour or shape alone)."""
    if any(w in question for w in RELATION_WORDS):
        return "relation"
    return "size" if any(w in question for w in SIZE_WORDS) else "attribute"


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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--predictions", type=Path, required=True, help="predictions.jsonl of vlseq eval")
    ap.add_argument("--world", type=Path, required=True, help="the split the predictions are of (e.g. data/synth-tiny/val)")
    args = ap.parse_args(argv)
    table = misses(args.predictions, args.world)
    print("| question | right | wrong: another object's word | wrong: not in the image |")
    print("|---|---:|---:|---:|")
    for kind, c in table.items():
        print(f"| {kind} | {c['right']} | {c['another object']} | {c['not in the image']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
