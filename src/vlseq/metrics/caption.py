"""Caption metrics: CIDEr (CIDEr-D) and BLEU-1..4 through pycocoevalcap, and the
leave-one-out "human" CIDEr of a reference set.

Captions are tokenised the COCO way first (:mod:`vlseq.metrics.ptb_tokenizer`: Java
PTBTokenizer, or a pure-Python mimic with a warning where Java is missing). Scores are on
pycocoevalcap's scale: BLEU in [0, 1], CIDEr usually in [0, ~3] with 10 for a candidate equal
to every reference (papers print CIDEr x 100).

CIDEr weighs n-grams by an IDF computed over the images being scored, so it needs a corpus:
with a single image every IDF is 0 and so is CIDEr. Score a whole split at once.
"""

from __future__ import annotations

import contextlib
import io
from typing import Hashable, Mapping, Sequence

import numpy as np
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from ._validate import check_ids
from .ptb_tokenizer import tokenize_captions


def _check_refs(references: Mapping[Hashable, Sequence[str]], what: str, min_refs: int) -> None:
    if not references:
        raise ValueError(f"{what}: no references to score")
    for k, refs in references.items():
        if isinstance(refs, str) or len(refs) < min_refs:
            raise ValueError(
                f"{what}: references[{k!r}] must be a list of at least {min_refs} caption(s), got {refs!r}"
            )


def _cider_bleu(gts: dict, res: dict) -> dict[str, float]:
    """CIDEr-D and BLEU-1..4 of tokenised ``res`` ({id: [caption]}) against ``gts`` ({id: [refs]})."""
    cider, _ = Cider().compute_score(gts, res)
    with contextlib.redirect_stdout(io.StringIO()):  # Bleu prints its length ratios
        bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
    out = {"cider": float(cider)}
    out.update({f"bleu_{n + 1}": float(b) for n, b in enumerate(bleu)})
    return out


def caption_scores(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    tokenizer: str = "auto",
) -> dict[str, float]:
    """CIDEr (pycocoevalcap's ``Cider``, i.e. CIDEr-D: clipped counts, Gaussian length
    penalty sigma 6, n = 1..4) and BLEU-1..4 (``Bleu(4)``, "closest" reference length).

    Args:
        predictions: image id -> generated caption. Every reference id needs one.
        references: image id -> reference captions (at least one).
        tokenizer: ``"auto"`` / ``"java"`` / ``"python"``, see
            :func:`vlseq.metrics.ptb_tokenizer.tokenize_sentences`.

    Returns ``{"cider", "bleu_1", "bleu_2", "bleu_3", "bleu_4"}``. Both sides are tokenised
    in one tokenizer run.
    """
    check_ids(list(predictions), list(references), "caption_scores", allow_missing=False)
    _check_refs(references, "caption_scores", 1)
    for k, p in predictions.items():
        if not isinstance(p, str):
            raise ValueError(f"caption_scores: predictions[{k!r}] must be a string, got {p!r}")
    both: dict[tuple[str, Hashable], list[str]] = {("ref", k): list(v) for k, v in references.items()}
    both.update({("pred", k): [predictions[k]] for k in references})
    tok = tokenize_captions(both, tokenizer)
    gts = {k: tok["ref", k] for k in references}
    res = {k: tok["pred", k] for k in references}
    return _cider_bleu(gts, res)


def leave_one_out_cider(
    references: Mapping[Hashable, Sequence[str]], tokenizer: str = "auto"
) -> dict[str, float]:
    """The "human" CIDEr of a reference set: each reference scored against the others.

    For round ``j`` (``j = 0 .. max #refs - 1``), every image with more than ``j`` references
    contributes its ``j``-th reference as the candidate and its remaining references as the
    ground truth; the round is one ordinary corpus-level CIDEr-D evaluation over those images
    (so the IDF comes from the held-in references, exactly as when scoring a model). The
    result averages the per-image scores of all rounds, i.e. every reference of every image
    counts once. This is the ceiling a captioner is compared with ("human-level" CIDEr); it is
    computed with one fewer reference than a model gets, so it slightly understates humans.

    Args:
        references: image id -> reference captions; every image needs at least 2.
        tokenizer: as in :func:`caption_scores`.

    Returns ``{"cider": mean, "bleu_4": mean}`` (BLEU-4 of each round weighted by its images)
    and ``"n": number of (image, reference) pairs``.
    """
    _check_refs(references, "leave_one_out_cider", 2)
    tok = tokenize_captions({k: list(v) for k, v in references.items()}, tokenizer)
    rounds = max(len(v) for v in tok.values())
    cider_sum, bleu_sum, n = 0.0, 0.0, 0
    for j in range(rounds):
        ids = [k for k, v in tok.items() if len(v) > j]
        res = {k: [tok[k][j]] for k in ids}
        gts = {k: tok[k][:j] + tok[k][j + 1:] for k in ids}
        cider, per_image = Cider().compute_score(gts, res)
        with contextlib.redirect_stdout(io.StringIO()):
            bleu, _ = Bleu(4).compute_score(gts, res, verbose=0)
        cider_sum += float(np.sum(per_image))
        bleu_sum += float(bleu[3]) * len(ids)
        n += len(ids)
    return {"cider": cider_sum / n, "bleu_4": bleu_sum / n, "n": float(n)}
