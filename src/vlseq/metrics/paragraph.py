"""Image paragraph metrics: CIDEr(-D), METEOR and BLEU-1..4, the Stanford image paragraphs protocol.

The paragraph papers score with the COCO caption evaluation, one paragraph per image: both sides
PTB-tokenised (:mod:`vlseq.metrics.ptb_tokenizer`), then pycocoevalcap's ``Cider`` and ``Bleu(4)``
(:mod:`vlseq.metrics.caption`) and METEOR 1.5 (:mod:`vlseq.metrics.meteor`, needs Java) on the
tokens. As for captions, CIDEr's IDF comes from the images scored together: score a whole split.
"""

from __future__ import annotations

from typing import Hashable, Mapping, Sequence

from ._validate import check_ids
from .caption import _check_refs, _cider_bleu
from .meteor import MeteorScorer, meteor_tokenized
from .ptb_tokenizer import tokenize_captions


def paragraph_scores(
    predictions: Mapping[Hashable, str],
    references: Mapping[Hashable, Sequence[str]],
    tokenizer: str = "auto",
    scorer: MeteorScorer | None = None,
) -> dict[str, float]:
    """``{"cider", "meteor", "bleu_1", ..., "bleu_4"}`` of generated paragraphs.

    Args:
        predictions: image id -> generated paragraph; every reference id needs one.
        references: image id -> reference paragraphs (Stanford has one per image).
        tokenizer: as in :func:`vlseq.metrics.caption_scores`.
        scorer: the METEOR process to use (default: the process-wide one).

    Raises ``ValueError`` on mismatched ids or empty references and
    :class:`~vlseq.metrics.meteor.MeteorError` when METEOR cannot run: no score is made up.
    """
    check_ids(list(predictions), list(references), "paragraph_scores", allow_missing=False)
    _check_refs(references, "paragraph_scores", 1)
    for k, p in predictions.items():
        if not isinstance(p, str):
            raise ValueError(f"paragraph_scores: predictions[{k!r}] must be a string, got {p!r}")
    both: dict[tuple[str, Hashable], list[str]] = {("ref", k): list(v) for k, v in references.items()}
    both.update({("pred", k): [predictions[k]] for k in references})
    tok = tokenize_captions(both, tokenizer)
    gts = {k: tok["ref", k] for k in references}
    res = {k: tok["pred", k] for k in references}
    out = _cider_bleu(gts, res)
    out["meteor"], _ = meteor_tokenized(gts, {k: v[0] for k, v in res.items()}, scorer)
    return {"cider": out["cider"], "meteor": out["meteor"], **{f"bleu_{n}": out[f"bleu_{n}"] for n in range(1, 5)}}
