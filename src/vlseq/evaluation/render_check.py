"""Scores of generated and edited images: render-and-check (GenEval-style) and reconstruction PSNR.

Each image-output example may carry ``meta["requirements"]``: what the image must show,
``[{"label", "colour", "shape", "count"}, ...]`` (the synthetic world writes them: every
colour-shape group of the captioned or edited scene). Render-and-check judges the decoded image
against them. The judge must first pass the *true* images, or a low score says nothing.

**Why the first judge failed the truth.** It was the model under test: ``detect`` for objects and
counts, and the VQA question "is there a red circle?" for colours. On the true images it passed
0.105 of them (``tiny_all``). Re-measured with a stronger detector (``runs/tiny``, detect mAP@0.5
0.86) on 150 true images of a 64 px world: objects 0.955, counts 0.856 of the requirements, but
colours 0.574, and 0.247 of the images in all. Detection lost about a fifth of the images (0.79
with every label's count exact: misses, duplicates); the colour question lost most. The model
answered "yes" to 0.574 of present pairs and 0.547 of absent ones: no signal, and one coin per
requirement of a scene of up to five. It was loose the other way too: the count was per shape whatever
the colour, so only that chance-level question stood between an image with its colours swapped and a
pass. A judge that is the model under test inherits all of the model's weaknesses.

**The judge now** (:mod:`vlseq.evaluation.checker`) is a separate checker, as GenEval's detector
is: a colour segmenter, connected components and a small shape-count classifier, trained on fresh
renders of the world the data came from (:func:`~vlseq.evaluation.checker.train_checker`). It
counts every (colour, shape) pair, so colour and count are judged together. On the true val images
of a 64 px world (``vlseq synth --train 3000 --val 300 --test 10 --size 64 --seed 3``) it passes
0.968 of 374 (generations 0.967 of 300, edits 0.973 of 74; 0.953 of the 64 with a held-out
``colour:shape`` pair, never seen in training); it passes none of the blank images and 0.016 of
the true images judged against another image's requirements. Training: about 2.5 minutes on one
busy CPU core, once per world.

Reported by :func:`image_metrics` (:data:`CHECK_KEYS`): the fractions of requirements passing
``check_objects`` / ``check_colours`` / ``check_counts``, the fractions of images passing all
(``check_all``, GenEval's per-prompt score) and passing with nothing extra (``check_exact``), and
the same checks on the true target images (``check_all_truth``, the judge's own ceiling) and on
them after the image tokenizer's round trip (``check_all_recon``, the best a generator writing
codes could score). An output that is not a full code grid fails every check. ``recon_psnr`` is
the tokenizer's encode-decode PSNR on the targets, the ceiling of ``psnr``.

The checker comes from the world the examples were read from (:func:`world_checker`: trained once
from the world's training split and cached beside it). Without one (no world manifest) no
``check_*`` keys are reported. The old model-as-judge checks stay available as ``selfcheck_*``
(``self_check=True``), never by default: their numbers are easy to misread.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..data.example import Example
from ..data.images import load_rgb
from ..data.world.language import count_phrase
from ..decoding.generate import predict_examples
from ..metrics import normalize_answer
from ..models.checker import Checker
from ..models.image_tokenizer import heldout_psnr
from ..tasks import Prediction, get_task
from ..tasks.image import ImageTask
from .checker import checker_for_split, found_counts, judge_counts, world_config

log = logging.getLogger(__name__)

#: The metric keys :func:`image_metrics` adds with a checker, when examples carry requirements.
CHECK_KEYS = ("check_objects", "check_counts", "check_colours", "check_all", "check_exact", "check_all_truth",
              "check_all_recon")
#: The keys of the model-as-judge checks (``self_check=True``).
SELF_CHECK_KEYS = ("selfcheck_objects", "selfcheck_counts", "selfcheck_colours", "selfcheck_all",
                   "selfcheck_all_truth")

_CHECKERS: dict[Path, Checker] = {}  # one checker per training split and process


def world_checker(examples: Sequence[Example]) -> Checker | None:
    """The checker of the world ``examples`` were read from (``source`` = ``split/file#id``): that of
    its training split (the world root's ``train/``, else the split itself), from
    :func:`~vlseq.evaluation.checker.checker_for_split` (trained once, cached in ``train/checker/``).
    None when the examples come from no world written by ``vlseq synth``."""
    sources = [Path(ex.source.split("#", 1)[0]) for ex in examples if ex.source and "#" in ex.source]
    if not sources:
        return None
    split = sources[0].parent
    train = split.parent / "train"
    train = train if world_config(train) is not None else split
    if world_config(train) is None:
        return None
    key = train.resolve()
    if key not in _CHECKERS:
        log.info("render-and-check: the checker of %s (trained on first use, then cached there)", train)
        _CHECKERS[key] = checker_for_split(train)
    return _CHECKERS[key]


def image_metrics(model, processor, task: ImageTask, examples: Sequence[Example], predictions: Sequence[Prediction],
                  categories: Sequence[str] | None = None, batch_size: int = 32,
                  checker: Checker | str | Path | bool | None = True, self_check: bool = False) -> dict[str, float]:
    """``recon_psnr`` and, for the examples with requirements, the render-and-check scores
    (:data:`CHECK_KEYS`; see the module docstring). ``processor`` must hold the image tokenizer the
    model's codes belong to.

    ``checker``: a :class:`Checker`, a directory one was saved in, True (default: the examples'
    world's, :func:`world_checker`) or False/None (no ``check_*`` keys). ``self_check``: also the
    model-as-judge checks (:data:`SELF_CHECK_KEYS`) with detection over ``categories`` (default: the
    requirements' labels).
    """
    it = processor.image_tokenizer
    if it is None:
        raise ValueError(f"task {task.name!r}: scoring images needs the Processor's image_tokenizer")
    s = it.config.image_size
    targets = [load_rgb(ex.target_image, (s, s)) for ex in examples]
    out: dict[str, float] = {"recon_psnr": heldout_psnr(it, np.stack(targets))[0]} if targets else {}
    idx = [i for i, ex in enumerate(examples) if ex.meta.get("requirements")]
    if not idx:
        return out
    reqs = [examples[i].meta["requirements"] for i in idx]
    made = [task.decoded(predictions[i]) for i in idx]
    if checker is True:
        checker = world_checker([examples[i] for i in idx])
        if checker is None:
            log.warning("task %s: no checker (the examples come from no synthetic world): no check_* scores", task.name)
    elif isinstance(checker, (str, Path)):
        checker = Checker.from_pretrained(checker)
    if isinstance(checker, Checker):
        cs = checker.config.image_size
        truth = [load_rgb(examples[i].target_image, (cs, cs)) for i in idx]
        recon = it.decode_to_arrays(it.encode_arrays(np.stack([targets[i] for i in idx])))
        out.update(checker_scores(checker, made, truth, reqs, list(recon)))
    if self_check:
        cats = list(categories or sorted({r["label"] for rs in reqs for r in rs}))
        mine = check_images(model, processor, made, reqs, cats, batch_size)
        truth = check_images(model, processor, [targets[i] for i in idx], reqs, cats, batch_size)
        out.update({f"selfcheck_{k}": v for k, v in mine.items()})
        out["selfcheck_all_truth"] = truth["all"]
    return out


def checker_scores(checker: Checker, made: Sequence[np.ndarray | None], truth: Sequence[np.ndarray],
                   requirements: Sequence[Sequence[dict[str, Any]]],
                   recon: Sequence[np.ndarray] | None = None) -> dict[str, float]:
    """The :data:`CHECK_KEYS` scores: ``made`` (decoded outputs, ``(H, W, 3)`` uint8; None: not an
    image) judged against ``requirements``, the ``truth`` images for ``check_all_truth`` and, given,
    their image-tokenizer round trips ``recon`` for ``check_all_recon``."""
    cfg = checker.config
    out = {f"check_{k}": v for k, v in judge_counts(cfg, found_counts(checker, made), requirements).items()}
    out["check_all_truth"] = judge_counts(cfg, found_counts(checker, truth), requirements)["all"]
    if recon is not None:
        out["check_all_recon"] = judge_counts(cfg, found_counts(checker, recon), requirements)["all"]
    return out


# --------------------------------------------------------------------------- the model as its own judge


def colour_question(req: dict[str, Any]) -> str:
    """The VQA question of a requirement's colour check, e.g. ``is there a red circle?``."""
    return f"is there {count_phrase(1, req['colour'] + ' ' + req['shape'])}?"


def check_images(model, processor, images: Sequence[np.ndarray | None], requirements: Sequence[Sequence[dict]],
                 categories: Sequence[str], batch_size: int = 32) -> dict[str, float]:
    """The model-as-judge checks (``selfcheck_*``; see the module docstring for why they are not the
    default): ``images`` (each ``(H, W, 3)`` uint8, or None for an invalid output) against their
    ``requirements`` with the model's ``detect`` (``objects``: the label detected at least once;
    ``counts``: as often as the requirements with that label sum to) and ``vqa`` (``colours``: "yes"
    to :func:`colour_question`).

    Returns ``{"objects", "counts", "colours"}`` (fractions of requirements) and ``"all"`` (fraction of images).
    """
    if len(images) != len(requirements):
        raise ValueError(f"{len(images)} images but {len(requirements)} requirement lists")
    valid = [i for i, im in enumerate(images) if im is not None]

    def example(i: int, task: str, **kw: Any) -> Example:
        h, w = images[i].shape[:2]  # type: ignore[union-attr]
        return Example(task=task, images=[images[i]], width=w, height=h, image_id=str(i), source=f"render-check {i}",
                       **kw)

    dets = predict_examples(model, processor, get_task("detect"),
                            [example(i, "detect", options=list(categories)) for i in valid], batch_size)
    found = {i: Counter(label for label, _ in p.objects) for i, p in zip(valid, dets)}
    asked = [(i, k) for i in valid for k in range(len(requirements[i]))]
    answers = predict_examples(model, processor, get_task("vqa"),
                               [example(i, "vqa", text=colour_question(requirements[i][k])) for i, k in asked],
                               batch_size)
    yes = {ik: normalize_answer(a.text) == "yes" for ik, a in zip(asked, answers)}
    passed = {"objects": 0, "counts": 0, "colours": 0}
    n_req = images_ok = 0
    for i, reqs in enumerate(requirements):
        want: Counter = Counter()
        for r in reqs:
            want[r["label"]] += int(r["count"])
        ok_all = i in found
        for k, r in enumerate(reqs):
            n_req += 1
            checks = {"objects": i in found and found[i][r["label"]] > 0,
                      "counts": i in found and found[i][r["label"]] == want[r["label"]],
                      "colours": yes.get((i, k), False)}
            for name, ok in checks.items():
                passed[name] += ok
            ok_all = ok_all and all(checks.values())
        images_ok += ok_all
    n = max(1, n_req)
    return {**{k: v / n for k, v in passed.items()}, "all": images_ok / max(1, len(requirements))}
