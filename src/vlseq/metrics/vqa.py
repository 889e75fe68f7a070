"""VQA accuracy (the VQAv2 evaluation): answer normalisation and the 10-annotator score.

Normalisation follows the official VQA evaluation, step by step:

1. newlines/tabs -> spaces, strip;
2. punctuation: each of ``; / [ ] " { } ( ) = + \\ _ - > < @ ` , ? !`` is deleted if it
   touches a space in the answer or the answer contains a digit-comma-digit group (``1,000``),
   otherwise replaced by a space; then every ``.`` not followed by a digit is deleted (so
   ``3.5`` keeps its point). The apostrophe and ``:`` are kept, as officially;
3. lowercase, split on whitespace, number words ``none zero one ... ten`` -> digits
   (``none`` -> ``0``), articles ``a an the`` dropped;
4. the official contractions map (``dont`` -> ``don't``, ...) on each word; join with spaces.

Accuracy of one question with ``n`` GT answers (``n`` = 10 in VQAv2): for each GT answer
left out in turn, ``min(#matches among the other n-1 / 3, 1)``, averaged over the ``n``
left-out subsets. So 2 matching answers out of 10 give ``(2*(1/3) + 8*(2/3)) / 10 = 0.6``
and 3 or more give ``1.0`` only from 4 on (3 give 0.9).

Departures from the official script, all documented choices:

* by default the prediction AND the GT answers get the full normalisation (VQAv2 GT answers
  are already normalised, so this changes nothing there; our own or other datasets' raw
  answers are then treated fairly). ``official_quirks=True`` reproduces the official script:
  it normalises only when the GT answers disagree, and the GT answers then only get the
  punctuation step.
* the official period regex is applied to every period (the official call caps it at 32
  replacements by passing ``re.UNICODE`` as the count).
* a question with a single GT answer has no leave-one-out subset; it scores exact match.

Scores are fractions in [0, 1] (the official tool prints percentages).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Hashable, Mapping, Optional, Sequence

from ._validate import check_ids

_PUNCT = [";", "/", "[", "]", '"', "{", "}", "(", ")", "=", "+", "\\", "_", "-", ">", "<", "@", "`", ",", "?", "!"]
_COMMA_DIGITS = re.compile(r"(\d)(,)(\d)")
_PERIOD = re.compile(r"\.(?!\d)")
_NUMBER_WORDS = {
    "none": "0", "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4",
    "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
}
_ARTICLES = {"a", "an", "the"}

# The official contractions table (a protocol constant). Keys with capitals never match after
# lowercasing; they are kept so the table stays the official one.
_CONTRACTIONS = {
    "aint": "ain't", "arent": "aren't", "cant": "can't", "couldve": "could've",
    "couldnt": "couldn't", "couldn'tve": "couldn't've", "couldnt've": "couldn't've",
    "didnt": "didn't", "doesnt": "doesn't", "dont": "don't", "hadnt": "hadn't",
    "hadnt've": "hadn't've", "hadn'tve": "hadn't've", "hasnt": "hasn't", "havent": "haven't",
    "hed": "he'd", "hed've": "he'd've", "he'dve": "he'd've", "hes": "he's", "howd": "how'd",
    "howll": "how'll", "hows": "how's", "Id've": "I'd've", "I'dve": "I'd've", "Im": "I'm",
    "Ive": "I've", "isnt": "isn't", "itd": "it'd", "itd've": "it'd've", "it'dve": "it'd've",
    "itll": "it'll", "let's": "let's", "maam": "ma'am", "mightnt": "mightn't",
    "mightnt've": "mightn't've", "mightn'tve": "mightn't've", "mightve": "might've",
    "mustnt": "mustn't", "mustve": "must've", "neednt": "needn't", "notve": "not've",
    "oclock": "o'clock", "oughtnt": "oughtn't", "ow's'at": "'ow's'at", "'ows'at": "'ow's'at",
    "'ow'sat": "'ow's'at", "shant": "shan't", "shed've": "she'd've", "she'dve": "she'd've",
    "she's": "she's", "shouldve": "should've", "shouldnt": "shouldn't",
    "shouldnt've": "shouldn't've", "shouldn'tve": "shouldn't've", "somebody'd": "somebodyd",
    "somebodyd've": "somebody'd've", "somebody'dve": "somebody'd've",
    "somebodyll": "somebody'll", "somebodys": "somebody's", "someoned": "someone'd",
    "someoned've": "someone'd've", "someone'dve": "someone'd've", "someonell": "someone'll",
    "someones": "someone's", "somethingd": "something'd", "somethingd've": "something'd've",
    "something'dve": "something'd've", "somethingll": "something'll", "thats": "that's",
    "thered": "there'd", "thered've": "there'd've", "there'dve": "there'd've",
    "therere": "there're", "theres": "there's", "theyd": "they'd", "theyd've": "they'd've",
    "they'dve": "they'd've", "theyll": "they'll", "theyre": "they're", "theyve": "they've",
    "twas": "'twas", "wasnt": "wasn't", "wed've": "we'd've", "we'dve": "we'd've",
    "weve": "we've", "werent": "weren't", "whatll": "what'll", "whatre": "what're",
    "whats": "what's", "whatve": "what've", "whens": "when's", "whered": "where'd",
    "wheres": "where's", "whereve": "where've", "whod": "who'd", "whod've": "who'd've",
    "who'dve": "who'd've", "wholl": "who'll", "whos": "who's", "whove": "who've",
    "whyll": "why'll", "whyre": "why're", "whys": "why's", "wont": "won't",
    "wouldve": "would've", "wouldnt": "wouldn't", "wouldnt've": "wouldn't've",
    "wouldn'tve": "wouldn't've", "yall": "y'all", "yall'll": "y'all'll", "y'allll": "y'all'll",
    "yall'd've": "y'all'd've", "y'alld've": "y'all'd've", "y'all'dve": "y'all'd've",
    "youd": "you'd", "youd've": "you'd've", "you'dve": "you'd've", "youll": "you'll",
    "youre": "you're", "youve": "you've",
}


def process_punctuation(text: str) -> str:
    """Step 2 of the normalisation (punctuation and periods), see the module docstring."""
    out = text
    # the official test looks at the original text, not at the text as it is being rewritten
    has_comma_digits = _COMMA_DIGITS.search(text) is not None
    for p in _PUNCT:
        if p + " " in text or " " + p in text or has_comma_digits:
            out = out.replace(p, "")
        else:
            out = out.replace(p, " ")
    return _PERIOD.sub("", out)


def process_digit_article(text: str) -> str:
    """Steps 3-4 of the normalisation: lowercase, number words, articles, contractions."""
    words = [_NUMBER_WORDS.get(w, w) for w in text.lower().split()]
    words = [w for w in words if w not in _ARTICLES]
    return " ".join(_CONTRACTIONS.get(w, w) for w in words)


def normalize_answer(answer: str) -> str:
    """The full official normalisation of an answer: ``"Two"`` -> ``"2"``, ``"a dog."`` -> ``"dog"``."""
    text = answer.replace("\n", " ").replace("\t", " ").strip()
    return process_digit_article(process_punctuation(text))


def question_accuracy(prediction: str, gt_answers: Sequence[str], official_quirks: bool = False) -> float:
    """VQA accuracy of one prediction against its GT answers (see the module docstring)."""
    if isinstance(gt_answers, str) or len(gt_answers) == 0:
        raise ValueError(f"question_accuracy: need a non-empty list of GT answers, got {gt_answers!r}")
    pred = prediction.replace("\n", " ").replace("\t", " ").strip()
    gts = [a.replace("\n", " ").replace("\t", " ").strip() for a in gt_answers]
    if official_quirks:
        if len(set(gts)) > 1:
            gts = [process_punctuation(a) for a in gts]
            pred = process_digit_article(process_punctuation(pred))
    else:
        gts = [normalize_answer(a) for a in gts]
        pred = normalize_answer(pred)
    if len(gts) == 1:
        return float(pred == gts[0])
    matches = [int(a == pred) for a in gts]
    total = sum(matches)
    # leaving out answer i removes its own match from the count
    return sum(min((total - m) / 3.0, 1.0) for m in matches) / len(gts)


def vqa_accuracy(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    answer_types: Optional[Mapping[Hashable, str]] = None,
    official_quirks: bool = False,
) -> dict[str, object]:
    """VQAv2 accuracy over questions.

    Args:
        predictions: question id -> predicted answer. Every reference id needs one.
        references: question id -> the GT answers (10 in VQAv2).
        answer_types: optional question id -> answer type (``yes/no``, ``number``, ``other``).
        official_quirks: reproduce the official script's normalisation quirks (module docstring).

    Returns ``{"accuracy": float, "per_answer_type": {type: float}, "per_question": {id: float}}``.
    """
    check_ids(list(predictions), list(references), "vqa_accuracy", allow_missing=False)
    if not references:
        raise ValueError("vqa_accuracy: no references to score")
    per_q: dict[Hashable, float] = {}
    by_type: dict[str, list[float]] = defaultdict(list)
    for qid, gts in references.items():
        pred = predictions[qid]
        if not isinstance(pred, str):
            raise ValueError(f"vqa_accuracy: predictions[{qid!r}] must be a string, got {pred!r}")
        try:
            acc = question_accuracy(pred, gts, official_quirks)
        except ValueError as e:
            raise ValueError(f"vqa_accuracy: references[{qid!r}]: {e}") from None
        per_q[qid] = acc
        if answer_types is not None and qid in answer_types:
            by_type[answer_types[qid]].append(acc)
    return {
        "accuracy": sum(per_q.values()) / len(per_q),
        "per_answer_type": {t: sum(v) / len(v) for t, v in sorted(by_type.items())},
        "per_question": per_q,
    }
