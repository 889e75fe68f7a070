"""Phrase grounding Recall@k (Flickr30k Entities, MDETR protocol) and grounded-captioning
F1_all / F1_loc (GVD protocol, Zhou et al. 2019).

Boxes are pixel xyxy; a box "hits" a GT box at IoU >= 0.5 (inclusive).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Hashable, Iterable, Mapping, Optional, Sequence, Union

import numpy as np

from ..codec.coords import Box
from ._validate import check_ids
from .boxes import IOU_THRESHOLD, as_boxes, box_iou, enclosing_box

#: A grounded phrase: its text and its box(es).
GroundedPhrase = tuple[str, Union[Box, Sequence[Box]]]


def phrase_grounding_recall(
    predictions: Mapping[Hashable, Sequence[Box]],
    references: Mapping[Hashable, Sequence[Box]],
    ks: Sequence[int] = (1, 5, 10),
    iou_threshold: float = IOU_THRESHOLD,
    phrase_types: Optional[Mapping[Hashable, Union[str, Sequence[str]]]] = None,
) -> dict[str, float]:
    """Recall@k of phrase grounding under the ANY-BOX and MERGED-BOX protocols.

    Args:
        predictions: phrase id -> the model's boxes for that phrase, ranked best first.
            A phrase absent from ``predictions`` (or with no box) is a miss.
        references: phrase id -> the GT boxes of that phrase (at least one).
        ks: the k of Recall@k; ``-1`` means "all predicted boxes" (MDETR's upper bound).
        iou_threshold: inclusive IoU threshold.
        phrase_types: optional phrase id -> type (or list of types, as Flickr30k Entities
            gives) for per-type recall in the ANY-BOX protocol.

    Protocols (as in MDETR's Flickr30k evaluation):

    * ANY-BOX: a phrase is a hit at k if any of its top-k predicted boxes has IoU >= the
      threshold with any GT box of the phrase.
    * MERGED-BOX: the phrase's GT boxes are replaced by their enclosing (union) box; a hit at
      k if any of the top-k predicted boxes has IoU >= the threshold with that union box.
      Predicted boxes are not merged (MDETR ranks its own boxes per phrase).

    Recall is hits / number of GT phrases. Returns keys ``any_box_r@{k}``,
    ``merged_box_r@{k}`` (``r@all`` for k = -1), ``total``, and ``any_box_r@{k}/{type}``
    per phrase type when ``phrase_types`` is given.
    """
    check_ids(list(predictions), list(references), "phrase_grounding_recall", allow_missing=True)
    if not references:
        raise ValueError("phrase_grounding_recall: no references to score")
    for k in ks:
        if k != -1 and k < 1:
            raise ValueError(f"phrase_grounding_recall: k must be >= 1 or -1, got {k}")
    names = {k: ("all" if k == -1 else str(k)) for k in ks}
    hits = {(p, k): 0 for p in ("any_box", "merged_box") for k in ks}
    type_hits: dict[tuple[str, int], int] = defaultdict(int)
    type_total: dict[str, int] = defaultdict(int)
    for pid, gt in references.items():
        gt_boxes = as_boxes(gt, f"references[{pid!r}]")
        if len(gt_boxes) == 0:
            raise ValueError(f"phrase_grounding_recall: references[{pid!r}] has no GT box")
        pred = as_boxes(predictions.get(pid, []), f"predictions[{pid!r}]")
        types: list[str] = []
        if phrase_types is not None and pid in phrase_types:
            t = phrase_types[pid]
            types = [t] if isinstance(t, str) else list(t)
        for t in types:
            type_total[t] += 1
        if len(pred) == 0:
            continue
        # best IoU of each ranked prediction against the phrase's GT, for each protocol
        any_iou = box_iou(pred, gt_boxes).max(axis=1)  # (P,)
        merged_iou = box_iou(pred, [enclosing_box(gt_boxes)])[:, 0]  # (P,)
        for k in ks:
            top = slice(None) if k == -1 else slice(0, k)
            if any_iou[top].max() >= iou_threshold:
                hits["any_box", k] += 1
                for t in types:
                    type_hits[t, k] += 1
            if merged_iou[top].max() >= iou_threshold:
                hits["merged_box", k] += 1
    total = len(references)
    out: dict[str, float] = {f"{p}_r@{names[k]}": h / total for (p, k), h in hits.items()}
    out["total"] = float(total)
    for t, n in sorted(type_total.items()):
        for k in ks:
            out[f"any_box_r@{names[k]}/{t}"] = type_hits[t, k] / n
    return out


_ES_PLURAL = re.compile(r"(ches|shes|sses|xes|zes)$")


def head_noun(phrase: str) -> str:
    """The matching key of a phrase: its last word, lowercased, non-letters stripped, singular.

    Singularisation is a small rule, applied the same way to predictions and GT: ``-ies`` ->
    ``-y`` (``puppies`` -> ``puppy``), ``-ches/-shes/-sses/-xes/-zes`` drop ``es``
    (``boxes`` -> ``box``), otherwise a final ``s`` is dropped unless the word ends in ``ss``,
    ``us`` or ``is`` or has at most 3 letters (``glass``, ``bus``, ``gas`` stay).
    """
    words = re.findall(r"[a-z0-9]+", phrase.lower())
    if not words:
        return ""
    w = words[-1]
    if len(w) > 4 and w.endswith("ies"):
        return w[:-3] + "y"
    if len(w) > 4 and _ES_PLURAL.search(w):
        return w[:-2]
    if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
        return w[:-1]
    return w


def _grouped(
    phrases: Iterable[GroundedPhrase], what: str, wordless_ok: bool = False
) -> dict[str, np.ndarray]:
    """head noun -> all boxes ``(N, 4)`` of the phrases with that head noun.

    A phrase with no word (``":"``) is an error in references; with ``wordless_ok`` (predictions:
    a model may write one) it is kept under the key ``""``, which no reference word equals, so it
    counts as a wrong word."""
    groups: dict[str, list[np.ndarray]] = defaultdict(list)
    for i, item in enumerate(phrases):
        if not (isinstance(item, (tuple, list)) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"{what}[{i}]: expected a (phrase, box or boxes) pair, got {item!r}")
        word = head_noun(item[0])
        if not word and not wordless_ok:
            raise ValueError(f"{what}[{i}]: phrase {item[0]!r} has no word")
        boxes = as_boxes(item[1], f"{what}[{i}] ({item[0]!r})")
        if len(boxes):  # a phrase without a box is not a grounded word
            groups[word].append(boxes)
    return {w: np.concatenate(b) for w, b in groups.items()}


def _hit(a: np.ndarray, b: np.ndarray, thr: float) -> int:
    return int(len(a) > 0 and len(b) > 0 and box_iou(a, b).max() >= thr)


def grounded_caption_f1(
    predictions: Mapping[Hashable, Sequence[GroundedPhrase]],
    references: Mapping[Hashable, Sequence[GroundedPhrase]],
    iou_threshold: float = IOU_THRESHOLD,
    average: str = "class",
) -> dict[str, float]:
    """F1_all and F1_loc of grounded captioning (GVD protocol), per image.

    Args:
        predictions: image id -> the grounded phrases of the generated caption, each
            ``(phrase text, box or list of boxes)``. A phrase with no box (``[]``) is ignored on
            either side: it is not a grounded word.
        references: image id -> the GT grounded phrases ``(phrase text, GT box(es))``; when an
            image has several GT captions, pass the union of their phrases.
        iou_threshold: inclusive IoU threshold.
        average: ``"class"`` (GVD: precision and recall are averaged per object word over the
            images, then averaged over object words, then F1 is taken) or ``"micro"`` (pooled
            counts over every image and word).

    Object words: each phrase is reduced to its head noun (:func:`head_noun`: last word,
    lowercased, singular) and phrases match by head noun within one image. Per image, with
    ``P[w]`` / ``G[w]`` the predicted / GT boxes of word ``w``:

    * each predicted word ``w`` counts once for precision: correct under F1_all if ``w`` is in
      the image's GT words and some box of ``P[w]`` has IoU >= threshold with some box of
      ``G[w]``; a ``w`` absent from the GT counts as a false positive.
    * each GT word counts once for recall: correct under F1_all if the caption predicted ``w``
      and some box of ``P[w]`` hits ``G[w]``; a GT word not predicted is a miss.
    * F1_loc keeps only the words present in both (the correctly generated words), so it
      measures localisation alone: precision and recall are both "share of those words whose
      box hits" (they differ only in the class averaging weights).

    A predicted phrase with no word at all (a model's ``":"``) is a wrong word: a false positive
    under F1_all. A word repeated within one image (several phrases with the same head noun) counts once,
    with the boxes of all those phrases pooled. An image absent from ``predictions`` has an empty caption (all its GT words
    missed); a prediction for an image absent from ``references`` is an error. Returns
    ``f1_all, precision_all, recall_all, f1_loc, precision_loc, recall_loc``.
    """
    if average not in ("class", "micro"):
        raise ValueError(f"grounded_caption_f1: average must be 'class' or 'micro', got {average!r}")
    check_ids(list(predictions), list(references), "grounded_caption_f1", allow_missing=True)
    # mode -> word -> list of 0/1 outcomes
    prec: dict[str, dict[str, list[int]]] = {"all": defaultdict(list), "loc": defaultdict(list)}
    rec: dict[str, dict[str, list[int]]] = {"all": defaultdict(list), "loc": defaultdict(list)}
    for img, gt_phrases in references.items():
        gt = _grouped(gt_phrases, f"references[{img!r}]")
        pred = _grouped(predictions.get(img, []), f"predictions[{img!r}]", wordless_ok=True)
        for w, boxes in pred.items():
            if w in gt:
                ok = _hit(boxes, gt[w], iou_threshold)
                prec["all"][w].append(ok)
                prec["loc"][w].append(ok)
            else:
                prec["all"][w].append(0)
        for w, boxes in gt.items():
            if w in pred:
                ok = _hit(pred[w], boxes, iou_threshold)
                rec["all"][w].append(ok)
                rec["loc"][w].append(ok)
            else:
                rec["all"][w].append(0)
    out: dict[str, float] = {}
    for mode in ("all", "loc"):
        p = _average(prec[mode], average)
        r = _average(rec[mode], average)
        out[f"precision_{mode}"] = p
        out[f"recall_{mode}"] = r
        out[f"f1_{mode}"] = 2 * p * r / (p + r) if p + r > 0 else 0.0
    return out


def _average(outcomes: Mapping[str, list[int]], average: str) -> float:
    """Mean of 0/1 outcomes, per word then over words ("class") or pooled ("micro"); 0 if none."""
    lists = [v for v in outcomes.values() if v]
    if not lists:
        return 0.0
    if average == "class":
        return float(np.mean([np.mean(v) for v in lists]))
    return float(np.mean([x for v in lists for x in v]))
