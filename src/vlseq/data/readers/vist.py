"""VIST (visual storytelling) ``*.story-in-sequence.json`` -> ``story`` Examples, one per story.

The file (VIST's ``train.story-in-sequence.json``, ``val.`` and ``test.``)::

    {"images": [{"id": "2626977325", "title": ..., "url_o": ..., ...}, ...],
     "albums": [...], "type_": "story-in-sequence",
     "annotations": [[{"story_id": "30355", "album_id": "72157605930515606", "storylet_id": "151775",
                       "photo_flickr_id": "2627795780", "worker_arranged_photo_order": 0,
                       "text": "the team was ready for the game .", "original_text": "The team ..."}], ...]}

Each annotation is a one-element list holding one sentence of one story; the sentences of a story
share its ``story_id`` and are put in order by ``worker_arranged_photo_order`` (0, 1, ..., each
once). The Example's ``images`` are the story's photos in that order, ``answers`` its ``text``
sentences joined by a space (VIST scores the tokenised, lower-cased ``text``, not ``original_text``).

A photo's file, in this order: ``image_template`` (e.g. ``"{id}.jpg"``, ``{id}`` the photo id) under
the image root; the image record's ``file_name`` (the synthetic world writes one; VIST's records have
none); ``{id}.jpg``, then ``{id}.png`` (VIST's images come in both). The image root defaults to the
JSON file's folder. A bad annotation or a story whose sentences do not fit together (a photo
missing from ``images``, an order given twice) is an error of that story; ``skip_bad`` skips it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..example import Example
from ..images import checked_size, resolve_image
from .validate import (
    DataError,
    IdIndex,
    ReadReport,
    RecordGuard,
    clean_text,
    field_of,
    load_json,
    record_id,
    top_list,
)


def _image_table(doc: dict, g: RecordGuard) -> dict[str, dict]:
    """Photo id (as a string) -> its image record; a bad image record is an error of that record."""
    table: dict[str, dict] = {}
    ids = IdIndex(g, "image")
    for k, rec in enumerate(top_list(doc, "images", g.file)):
        rid = f"images[{k}]"
        with g.record(rid):
            pid = str(record_id(rec, "id", g, rid))
            ids.add(pid)
            field_of(rec, "file_name", str, g, f"image {pid}", default=None)
            table[pid] = rec
    return table


def _photo_path(root: Path, pid: str, rec: dict, template: str | None, g: RecordGuard, rid: Any) -> Path:
    if template is not None:
        try:
            return resolve_image(root, template.format(id=pid))
        except (KeyError, ValueError, IndexError) as e:
            raise g.error(rid, "bad_value", f"image template {template!r} does not fit photo id {pid!r}: {e}") from None
    if rec.get("file_name"):
        return resolve_image(root, rec["file_name"])
    paths = [resolve_image(root, f"{pid}{ext}") for ext in (".jpg", ".png")]
    return next((p for p in paths if p.exists()), paths[0])


def _storylet(item: Any, g: RecordGuard, rid: str) -> dict:
    """The one record of an annotation entry (VIST wraps each in a one-element list)."""
    if not isinstance(item, list) or len(item) != 1:
        raise g.error(rid, "wrong_type", f"an annotation must be a one-element list of a sentence record, "
                                         f"got {item!r:.60}")
    if not isinstance(item[0], dict):
        raise g.error(rid, "wrong_type", f"expected an object, got {type(item[0]).__name__}")
    return item[0]


def read_vist(
    path: str | Path,
    image_root: str | Path | None = None,
    image_template: str | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
) -> list[Example]:
    """``story`` Examples, one per ``story_id``, in the order the stories first appear."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    if not isinstance(doc, dict):
        raise DataError(path, None, "wrong_type", f"expected a JSON object with 'images' and 'annotations', "
                                                  f"got {type(doc).__name__}")
    annotations = top_list(doc, "annotations", path)
    table = _image_table(doc, g)
    stories: dict[str, list[dict]] = {}
    for k, item in enumerate(annotations):
        rid = f"annotations[{k}]"
        with g.record(rid):
            rec = _storylet(item, g, rid)
            stories.setdefault(str(record_id(rec, "story_id", g, rid)), []).append(rec)
    out = []
    for sid, recs in stories.items():
        rid = f"story {sid}"
        with g.record(rid):
            steps = []
            for rec in recs:
                order = field_of(rec, "worker_arranged_photo_order", int, g, rid)
                pid = str(field_of(rec, "photo_flickr_id", (str, int), g, rid))
                text = clean_text(field_of(rec, "text", str, g, rid), g, rid, "text")
                steps.append((order, pid, text))
            orders = sorted(o for o, _, _ in steps)
            if orders != list(range(len(steps))):
                raise g.error(rid, "bad_value", f"'worker_arranged_photo_order' must number the story's {len(steps)} "
                                                f"sentences 0-{len(steps) - 1} once each, got {orders}")
            steps.sort()
            images, sizes = [], []
            for _, pid, _ in steps:
                if pid not in table:
                    raise g.error(rid, "unknown_ref", f"photo {pid} is not in the file's 'images'")
                image = _photo_path(root, pid, table[pid], image_template, g, rid)
                sizes.append(checked_size(image, g, rid))
                images.append(str(image))
            sents = [t for _, _, t in steps]
            album = recs[0].get("album_id")
            out.append(Example(task="story", images=images, width=sizes[0][0], height=sizes[0][1],
                               image_id=str(album if album is not None else sid), answers=[" ".join(sents)],
                               source=f"{path}#{rid}",
                               meta={"story_id": sid, "photo_ids": [p for _, p, _ in steps], "sentences": sents}))
    g.report.kept["story"] += len(out)
    return out
