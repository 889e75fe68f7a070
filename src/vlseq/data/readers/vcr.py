"""VCR (visual commonsense reasoning) ``train.jsonl`` / ``val.jsonl`` -> ``multiple_choice`` Examples.

One line per question::

    {"annot_id": "val-0", "img_fn": "lsmdc_.../x.jpg", "metadata_fn": "lsmdc_.../x.json",
     "objects": ["person", "person", "car"], "question": ["Why", "is", [0], "pointing", "at", [1], "?"],
     "answer_choices": [tokens, tokens, tokens, tokens], "answer_label": 2,
     "rationale_choices": [tokens, tokens, tokens, tokens], "rationale_label": 0, ...}

Tokens are tagged text (:mod:`vlseq.data.tagged`): words and lists of indices into ``objects``.
Each record gives two Examples of task ``multiple_choice``, paired by ``meta["qid"]`` (the
``annot_id``): stage ``qa`` (question -> one of ``answer_choices``) and stage ``qar`` (question +
the right answer -> one of ``rationale_choices``). Their ``text``/``options``/``answers`` are plain
text, a tag written as its object's label; where two choices of a record would then read the same
(two people tagged), the whole record is written with numbered labels (``"person 1"``).

``img_fn`` and ``metadata_fn`` are relative to the image root (VCR's ``vcr1images``; default: the
folder of the jsonl file). The metadata JSON gives ``boxes`` (``[x1, y1, x2, y2, score]`` per
object); with them the Examples' ``objects`` hold the detections and a prompt can show each cited
object's box. A record without ``metadata_fn``, or whose metadata file is absent, has no boxes.
The test split (no labels) cannot be read: its Examples would have no answer.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..example import Example, Object
from ..images import checked_size, resolve_image
from ..tagged import Token, is_token_list, render_plain
from .validate import DataError, IdIndex, ReadReport, RecordGuard, field_of, iter_jsonl, load_json, xyxy_box

#: The two stages of a record: (choices key, label key).
STAGES = {"qa": ("answer_choices", "answer_label"), "qar": ("rationale_choices", "rationale_label")}


def _tokens(value: Any, n_objects: int, g: RecordGuard, rid: Any, key: str) -> list[Token]:
    """Checked tagged text: words and index lists, every index an object of the record."""
    if not is_token_list(value) or not value:
        raise g.error(rid, "wrong_type", f"{key!r} must be a non-empty list of words and lists of object indices, "
                                         f"got {value!r:.80}")
    for t in value:
        if not isinstance(t, str) and any(not 0 <= k < n_objects for k in t):
            raise g.error(rid, "unknown_ref", f"{key!r} tags object(s) {t} but the record has {n_objects} objects")
    if all(isinstance(t, str) and not t.strip() for t in value):
        raise g.error(rid, "bad_value", f"{key!r} is empty")
    return value


def _choices(rec: dict, key: str, label_key: str, n_objects: int, g: RecordGuard, rid: Any) -> tuple[list[list[Token]], int]:
    choices = field_of(rec, key, list, g, rid)
    if len(choices) < 2:
        raise g.error(rid, "bad_value", f"{key!r} must hold at least 2 choices (VCR has 4), got {len(choices)}")
    out = [_tokens(c, n_objects, g, rid, f"{key}[{k}]") for k, c in enumerate(choices)]
    label = field_of(rec, label_key, int, g, rid)
    if not 0 <= label < len(out):
        raise g.error(rid, "bad_value", f"{label_key!r} {label} is not a choice index (0-{len(out) - 1})")
    return out, label


def _metadata(meta_path: Path, g: RecordGuard, rid: Any, cache: dict[Path, Any]) -> dict | None:
    """The metadata document (None when the file is absent), read once per file; its problems are
    errors of the record that points to it."""
    if meta_path not in cache:
        try:
            cache[meta_path] = load_json(meta_path) if meta_path.is_file() else None
        except DataError as e:
            cache[meta_path] = e
    doc = cache[meta_path]
    if isinstance(doc, DataError):
        raise g.error(rid, doc.problem, f"metadata {str(meta_path)!r}: {doc.detail}")
    if doc is not None and not isinstance(doc, dict):
        raise g.error(rid, "wrong_type", f"metadata {str(meta_path)!r} must be a JSON object, got {type(doc).__name__}")
    return doc


def _boxes(doc: dict, where: str, n_objects: int, size: tuple[int, int], g: RecordGuard, rid: Any) -> list:
    """The checked pixel boxes of a metadata document, one per object of the record."""
    if not isinstance(doc.get("boxes"), list):
        raise g.error(rid, "missing_key", f"{where} has no 'boxes' list")
    boxes = doc["boxes"]
    if len(boxes) != n_objects:
        raise g.error(rid, "bad_value", f"{where} has {len(boxes)} boxes for the record's {n_objects} objects")
    for key, v in (("width", size[0]), ("height", size[1])):
        if key in doc and doc[key] != v:
            raise g.error(rid, "bad_image", f"{where} says {key} {doc[key]!r} but the image is {size[0]}x{size[1]}")
    out = []
    for k, b in enumerate(boxes):
        if not (isinstance(b, list) and len(b) in (4, 5) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in b)):
            raise g.error(rid, "bad_box", f"{where}: boxes[{k}] must be [x1, y1, x2, y2, score] numbers, got {b!r:.80}")
        out.append(xyxy_box([float(v) for v in b[:4]], size[0], size[1], g, rid, key=f"{where} boxes[{k}]"))
    return out


def _render(choices: list[list[Token]], labels: list[str], numbered: bool) -> list[str]:
    return [render_plain(c, labels, numbered) for c in choices]


def _collides(texts: list[str]) -> int | None:
    seen: dict[str, int] = {}
    for k, t in enumerate(texts):
        if t in seen:
            return k
        seen[t] = k
    return None


def read_vcr(
    path: str | Path,
    image_root: str | Path | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
    check_images: bool = True,
    numbered: bool | None = None,
) -> list[Example]:
    """Two ``multiple_choice`` Examples (stages ``qa`` and ``qar``) per record of a VCR jsonl file.

    ``numbered``: write tags as ``"label k"`` always (True), never (False: choices that read the
    same are a record error), or only in records that need it (None, see the module docstring).
    ``check_images=False`` takes the image sizes from the metadata files instead of the image
    headers (a record without a metadata file still reads its image's header).
    """
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    ids = IdIndex(g, "annotation")
    meta_cache: dict[Path, Any] = {}
    out: list[Example] = []
    for n, rec in iter_jsonl(path, g):
        with g.record(f"line {n}"):
            rid = field_of(rec, "annot_id", (str, int), g, f"line {n}", default=f"line {n}")
            ids.add(rid)
            labels = field_of(rec, "objects", list, g, rid)
            if not all(isinstance(o, str) and o.strip() for o in labels):
                raise g.error(rid, "wrong_type", f"'objects' must be a list of non-empty names, got {labels!r:.80}")
            labels = [" ".join(o.split()) for o in labels]
            question = _tokens(field_of(rec, "question", list, g, rid), len(labels), g, rid, "question")
            stages = {s: _choices(rec, ck, lk, len(labels), g, rid) for s, (ck, lk) in STAGES.items()}
            image = resolve_image(root, field_of(rec, "img_fn", str, g, rid))
            meta_fn = field_of(rec, "metadata_fn", str, g, rid, default=None)
            meta_path = resolve_image(root, meta_fn) if meta_fn else None
            doc = _metadata(meta_path, g, rid, meta_cache) if meta_path is not None else None
            if check_images or doc is None:
                size = checked_size(image, g, rid)
            else:
                dims = [doc.get(k) for k in ("width", "height")]
                if not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in dims):
                    raise g.error(rid, "missing_key", f"metadata {str(meta_path)!r} gives no positive integer "
                                                      f"'width' and 'height' (got {dims})")
                size = (dims[0], dims[1])
            boxes = _boxes(doc, f"metadata {str(meta_path)!r}", len(labels), size, g, rid) if doc is not None else None
            number = bool(numbered)
            if numbered is None:  # number the tags when plain labels would make two choices read the same
                number = any(_collides(_render(c, labels, False)) is not None for c, _ in stages.values())
            for key, (choices, _) in zip(("answer_choices", "rationale_choices"), stages.values()):
                k = _collides(_render(choices, labels, number))
                if k is not None:
                    raise g.error(rid, "bad_value", f"{key}[{k}] reads the same as an earlier choice: "
                                                    f"{render_plain(choices[k], labels, number)!r:.80}")
            objects = [Object(lab, b) for lab, b in zip(labels, boxes)] if boxes is not None else []
            text = render_plain(question, labels, number)
            answers, a_label = stages["qa"]
            answer = render_plain(answers[a_label], labels, number)
            common = dict(images=[str(image)], width=size[0], height=size[1],
                          image_id=str(rec.get("img_id", rec["img_fn"])), text=text, objects=objects,
                          source=f"{path}#{rid}")
            base = {"qid": rid, "question_tokens": question, "object_labels": labels, "numbered": number}
            for stage, (choices, label) in stages.items():
                options = _render(choices, labels, number)
                extra = {"answer_tokens": answers[a_label], "answer": answer} if stage == "qar" else {}
                out.append(Example(task="multiple_choice", options=options, answers=[options[label]],
                                   meta={"stage": stage, **base, "label": label, "choice_tokens": choices, **extra},
                                   **common))
    g.report.kept["multiple_choice"] += len(out)
    return out
