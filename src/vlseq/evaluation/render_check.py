"""Scores of generated and edited images: render-and-check (GenEval-style) and reconstruction PSNR.

Render-and-check asks the *same* model to look at the image it wrote. Each image-output example
may carry ``meta["requirements"]``: what the image must show, ``[{"label", "colour", "shape",
"count"}, ...]`` (the synthetic world writes them: every colour-shape group of the captioned or
edited scene). On the decoded image the model runs

* ``detect`` with the checkpoint's categories: a requirement's ``objects`` check passes when its
  ``label`` is detected at least once, its ``counts`` check when the number of detections of the
  label equals the required number (summed over the requirements with that label);
* ``vqa`` "is there a red circle?": the ``colours`` check passes on the answer "yes".

Reported: the fraction of requirements passing each check (``check_objects``, ``check_counts``,
``check_colours``), the fraction of images passing all of them (``check_all``, GenEval's per-prompt
score), and ``check_all_truth``: the same checks on the true target images -- the checker's own
ceiling, so a low ``check_all`` can be read as the generator's fault or the checker's. An output
that is not a full code grid fails every check. ``recon_psnr`` is the image tokenizer's
encode-decode PSNR on the target images: the ceiling of the ``psnr`` a generated image can reach.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np

from ..data.example import Example
from ..data.images import load_rgb
from ..data.world.language import count_phrase
from ..decoding.generate import predict_examples
from ..metrics import normalize_answer
from ..models.image_tokenizer import heldout_psnr
from ..tasks import Prediction, get_task
from ..tasks.image import ImageTask

#: The metric keys :func:`image_metrics` adds when examples carry requirements.
CHECK_KEYS = ("check_objects", "check_counts", "check_colours", "check_all", "check_all_truth")


def colour_question(req: dict[str, Any]) -> str:
    """The VQA question of a requirement's colour check, e.g. ``is there a red circle?``."""
    return f"is there {count_phrase(1, req['colour'] + ' ' + req['shape'])}?"


def check_images(model, processor, images: Sequence[np.ndarray | None], requirements: Sequence[Sequence[dict]],
                 categories: Sequence[str], batch_size: int = 32) -> dict[str, float]:
    """Render-and-check ``images`` (each ``(H, W, 3)`` uint8, or None for an invalid output) against
    their ``requirements`` with the model's detect and vqa (see the module docstring).

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
        want = Counter()
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


def image_metrics(model, processor, task: ImageTask, examples: Sequence[Example], predictions: Sequence[Prediction],
                  categories: Sequence[str] | None = None, batch_size: int = 32) -> dict[str, float]:
    """``recon_psnr`` and, for the examples with requirements, the render-and-check scores
    (:data:`CHECK_KEYS`). ``categories``: the detection classes (default: the requirements' labels).
    ``processor`` must hold the image tokenizer the model's codes belong to."""

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
    cats = list(categories or sorted({r["label"] for rs in reqs for r in rs}))
    made = check_images(model, processor, [task.decoded(predictions[i]) for i in idx], reqs, cats, batch_size)
    truth = check_images(model, processor, [targets[i] for i in idx], reqs, cats, batch_size)
    out.update({f"check_{k}": v for k, v in made.items()})
    out["check_all_truth"] = truth["all"]
    return out
