"""``story`` examples in VIST's story-in-sequence format and ``dialog`` examples in VisDial v1.0's.

VIST (``story.json``; VIST ships ``{split}.story-in-sequence.json``, which the reader reads under
any name: the split is the directory here, as for every other file)::

    {"type_": "story-in-sequence", "images": [{"id", "file_name", "width", "height"}, ...],
     "albums": [{"id", "photos"}], "annotations": [[{"story_id", "album_id", "storylet_id",
     "photo_flickr_id", "worker_arranged_photo_order", "text", "original_text"}], ...]}

One annotation (a one-element list, as VIST's) per sentence; a story's sentences share its
``story_id`` and are ordered by ``worker_arranged_photo_order``. ``file_name`` (the image path
relative to the split directory) is an addition of the world's: VIST's image records carry none,
and the reader falls back to ``image_template`` (default ``{id}.jpg``) without it.

VisDial (``visdial.json``)::

    {"version": "1.0", "split": SPLIT, "data": {"questions": [str], "answers": [str],
     "dialogs": [{"image_id", "caption", "file_name", "dialog": [{"question": int, "answer": int,
                  "answer_options": [int] * 100, "gt_index": int}]}]}}

Questions and answers are indices into the two string tables; ``file_name`` is again the world's
addition (VisDial names images by COCO id, which ``image_template`` maps to a file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .example import Example


def _photo_id(ex: Example, k: int) -> int:
    ids = ex.meta.get("photo_ids")
    if ids:
        return int(ids[k])
    try:
        return int(Path(str(ex.images[k])).stem)
    except ValueError:
        raise ValueError(f"{ex.source or ex.image_id}: story image {ex.images[k]!r} has no integer id; give "
                         "meta['photo_ids']") from None


def story_record(ex: Example, image_id: int) -> dict[str, Any]:
    """The record of one story example (its sentences and photos in order; ids assigned on write)."""
    sents = ex.meta.get("sentences")
    if not sents:
        raise ValueError(f"{ex.source or ex.image_id}: a story example needs meta['sentences'] (one per image) "
                         "to be written in VIST's format")
    if len(sents) != len(ex.images):
        raise ValueError(f"{ex.source or ex.image_id}: {len(sents)} sentences for {len(ex.images)} images")
    return {"album_id": image_id, "photos": [[_photo_id(ex, k), str(ex.images[k])] for k in range(len(ex.images))],
            "sentences": list(sents), "width": ex.width, "height": ex.height}


def write_vist(path: Path, records: list[dict[str, Any]]) -> int:
    """Write ``story.json``; return the number of stories."""
    images: dict[int, dict] = {}
    albums: dict[int, list[int]] = {}
    annotations = []
    storylet = 0
    for sid, rec in enumerate(records):
        for order, ((pid, file_name), text) in enumerate(zip(rec["photos"], rec["sentences"])):
            images.setdefault(pid, {"id": str(pid), "file_name": file_name, "width": rec["width"],
                                    "height": rec["height"], "album_id": str(rec["album_id"])})
            albums.setdefault(rec["album_id"], []).append(pid)
            annotations.append([{"story_id": str(sid), "album_id": str(rec["album_id"]), "storylet_id": str(storylet),
                                 "photo_flickr_id": str(pid), "worker_arranged_photo_order": order, "text": text,
                                 "original_text": text[:1].upper() + text[1:], "setting": "synthetic"}])
            storylet += 1
    doc = {"type_": "story-in-sequence", "images": list(images.values()),
           "albums": [{"id": str(a), "photos": [str(p) for p in dict.fromkeys(ps)]} for a, ps in albums.items()],
           "annotations": annotations}
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return len(records)


def dialog_part(ex: Example, image_id: int) -> dict[str, Any]:
    """One round of a dialog (merged per image by :func:`write_visdial`)."""
    if not ex.options or ex.answers[0] not in ex.options:
        raise ValueError(f"{ex.source or ex.image_id}: a dialog example needs options holding its answer")
    gt = int(ex.meta.get("gt_index", ex.options.index(ex.answers[0])))
    return {"image_id": image_id, "caption": str(ex.meta.get("caption", "")), "file_name": str(ex.images[0]),
            "round": int(ex.meta.get("round", 0)), "question": ex.text, "answer": ex.answers[0],
            "options": list(ex.options), "gt_index": gt}


def write_visdial(path: Path, parts: list[dict[str, Any]], split: str) -> int:
    """Write ``visdial.json`` from round parts (rounds of one image in round order); return the dialogs."""
    questions: dict[str, int] = {}
    answers: dict[str, int] = {}
    dialogs: dict[int, dict] = {}

    def index(table: dict[str, int], text: str) -> int:
        return table.setdefault(text, len(table))

    for p in sorted(parts, key=lambda p: (p["image_id"], p["round"])):
        d = dialogs.setdefault(p["image_id"], {"image_id": p["image_id"], "caption": p["caption"],
                                               "file_name": p["file_name"], "dialog": []})
        if d["caption"] != p["caption"]:
            raise ValueError(f"visdial.json: the rounds of image {p['image_id']} disagree on the caption")
        d["dialog"].append({"question": index(questions, p["question"]), "answer": index(answers, p["answer"]),
                            "answer_options": [index(answers, o) for o in p["options"]], "gt_index": p["gt_index"]})
    doc = {"version": "1.0", "split": split,
           "data": {"questions": list(questions), "answers": list(answers), "dialogs": list(dialogs.values())}}
    path.write_text(json.dumps(doc, separators=(",", ":")))
    return len(dialogs)
