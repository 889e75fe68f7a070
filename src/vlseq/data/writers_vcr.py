"""``multiple_choice`` examples on disk in VCR's format: one jsonl record per question, one metadata
JSON per image.

A VCR record holds both stages of a question (the answer choices and the rationale choices), so the
two examples of a question (``meta["stage"]`` ``qa`` and ``qar``, one ``meta["qid"]``) each give a
*part* (:func:`vcr_part`) and :class:`VcrCollector` merges the parts of one ``annot_id``::

    {"annot_id", "img_id", "img_fn", "metadata_fn", "objects": [label, ...], "question": tokens,
     "answer_choices": [tokens] * 4, "answer_label", "rationale_choices": [tokens] * 4, "rationale_label"}

Tokens are tagged text (:mod:`vlseq.data.tagged`). The metadata file of an image (VCR's
``metadata_fn``, written under :data:`METADATA_DIR`) holds ``boxes`` ``[x1, y1, x2, y2, score]`` per
object (score 1: ground truth), ``segms`` (each object's polygons as ``[[x, y], ...]`` lists),
``names``, ``width`` and ``height``. Paths are relative to the split directory, as VCR's are
relative to its image folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .example import Example

#: Folder of the per-image metadata files, relative to the split directory.
METADATA_DIR = "vcr_metadata"
_STAGE_KEYS = {"qa": ("answer_choices", "answer_label"), "qar": ("rationale_choices", "rationale_label")}


def _label(ex: Example) -> int:
    if "label" in ex.meta:
        return int(ex.meta["label"])
    if ex.answers and ex.answers[0] in ex.options:
        return ex.options.index(ex.answers[0])
    raise ValueError(f"{ex.source or ex.image_id}: multiple_choice example has no meta['label'] and its answer "
                     "is not one of its options")


def vcr_part(ex: Example, image_id: int) -> dict[str, Any]:
    """The part of a VCR record one stage example gives (merged by :class:`VcrCollector`).

    Examples without tagged tokens (made by hand) are written with each text as one word token.
    """
    stage = ex.meta.get("stage", "qa")
    if stage not in _STAGE_KEYS:
        raise ValueError(f"{ex.source or ex.image_id}: meta['stage'] must be 'qa' or 'qar', got {stage!r}")
    choices_key, label_key = _STAGE_KEYS[stage]
    question = ex.meta.get("question_tokens") or [ex.text]
    choices = ex.meta.get("choice_tokens") or [[o] for o in ex.options]
    meta_fn = f"{METADATA_DIR}/{image_id:08d}.json"
    return {
        "annot_id": str(ex.meta.get("qid", f"{image_id}-{ex.text}")), "stage": stage, "img_id": str(image_id),
        "img_fn": str(ex.images[0]), "metadata_fn": meta_fn, "objects": [o.label for o in ex.objects],
        "question": question, choices_key: choices, label_key: _label(ex),
        "metadata": {"boxes": [[float(v) for v in o.box] + [1.0] for o in ex.objects],
                     "segms": [[[list(map(float, p)) for p in o.polygon]] if o.polygon else [] for o in ex.objects],
                     "names": [o.label for o in ex.objects], "width": ex.width, "height": ex.height},
    }


class VcrCollector:
    """Merges the stage parts of each question into one VCR record; writes the jsonl and metadata files."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.stages: dict[str, set[str]] = {}

    def add(self, part: dict[str, Any]) -> None:
        part = dict(part)
        qid, stage = part.pop("annot_id"), part.pop("stage")
        rec = self.records.setdefault(qid, {"annot_id": qid})
        seen = self.stages.setdefault(qid, set())
        if stage in seen:
            raise ValueError(f"vcr.jsonl: question {qid!r} has two {stage!r} examples")
        for key in ("img_fn", "question", "objects"):
            if key in rec and rec[key] != part[key]:
                raise ValueError(f"vcr.jsonl: the stages of question {qid!r} disagree on {key!r}")
        seen.add(stage)
        rec.update(part)

    def __len__(self) -> int:
        return len(self.records)

    def write(self, split_dir: Path, name: str = "vcr.jsonl") -> int:
        """Write ``name`` and the metadata files under ``split_dir``; return the number of records."""
        metadata: dict[str, dict] = {}
        lines = []
        for qid, rec in self.records.items():
            missing = set(_STAGE_KEYS) - self.stages[qid]
            if missing:
                raise ValueError(f"{name}: question {qid!r} lacks its {sorted(missing)} stage; a VCR record "
                                 "holds both the answer and the rationale choices")
            rec = dict(rec)
            metadata[rec["metadata_fn"]] = rec.pop("metadata")
            order = ("annot_id", "img_id", "img_fn", "metadata_fn", "objects", "question", "answer_choices",
                     "answer_label", "rationale_choices", "rationale_label")
            lines.append(json.dumps({k: rec[k] for k in order}, separators=(",", ":")))
        for rel, meta in metadata.items():
            path = split_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(meta, separators=(",", ":")))
        (split_dir / name).write_text("".join(line + "\n" for line in lines))
        return len(lines)
