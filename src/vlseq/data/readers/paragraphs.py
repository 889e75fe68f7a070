"""Stanford image paragraphs -> ``paragraph`` Examples.

``paragraphs_v1.json`` is a JSON list with one record per image::

    [{"image_id": 2388203, "url": "https://cs.stanford.edu/people/rak248/VG_100K_2/2388203.jpg",
      "paragraph": "A man is sitting on a bench. ..."}, ...]

The splits are ``train_split.json``, ``val_split.json`` and ``test_split.json`` next to it, each a
JSON list of image ids; ``split="val"`` keeps the records of ``val_split.json`` (records of other
splits are not even validated: a bad record of the train split does not stop reading val).

The image of a record, in this order:

1. ``image_template`` (e.g. ``"VG_100K/{image_id}.jpg"``) under the image root;
2. from ``url``: a web address gives its last folder and file (``VG_100K_2/2388203.jpg``), then the
   file alone (``2388203.jpg``, also looked for in ``images/``); a relative address (the synthetic
   world writes ``images/00000001.png``) is a path under the root;
3. without ``url``: ``{image_id}.jpg``.

Sizes come from the image headers (the records carry none).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from ..example import Example
from ..images import checked_size, resolve_image
from .validate import DataError, IdIndex, ReadReport, RecordGuard, clean_text, field_of, load_json, record_id


def split_file(paragraphs_path: str | Path, split: str) -> Path:
    """The Stanford split list ``{split}_split.json`` next to ``paragraphs_v1.json``."""
    return Path(paragraphs_path).parent / f"{split}_split.json"


def read_split_ids(path: str | Path) -> set[str]:
    """The image ids of a split list (as strings, so ``2388203`` and ``"2388203"`` are one id).

    Anything but a JSON list of integers or strings is a file-level DataError: a split list with a
    bad entry cannot say which images it means.
    """
    doc = load_json(path)
    if not isinstance(doc, list):
        raise DataError(path, None, "wrong_type", f"a split file must be a JSON list of image ids, got {type(doc).__name__}")
    for k, v in enumerate(doc):
        if isinstance(v, bool) or not isinstance(v, (int, str)):
            raise DataError(path, None, "wrong_type", f"entry {k} must be an image id (integer or string), got {v!r:.60}")
    return {str(v) for v in doc}


def _candidates(url: str | None, image_id: Any, template: str | None, g: RecordGuard, rid: Any) -> list[str]:
    """Paths (relative to the image root) where the record's image may be, best first."""
    if template is not None:
        try:
            return [template.format(image_id=image_id)]
        except (KeyError, ValueError, IndexError) as e:
            raise g.error(rid, "bad_value", f"image template {template!r} does not fit image_id {image_id!r}: {e}") from None
    if not url:
        return [f"{image_id}.jpg"]
    parsed = urlparse(url)
    parts = PurePosixPath(parsed.path).parts
    if not parts or parsed.path.endswith("/"):
        raise g.error(rid, "bad_value", f"'url' {url!r} names no image file")
    if parsed.scheme or parsed.netloc:  # a web address: the dataset's folder layout, then the bare file
        return ["/".join(parts[-2:]), parts[-1]] if len(parts) > 1 else [parts[-1]]
    return [parsed.path, parts[-1]]


def _image_path(root: Path, candidates: list[str]) -> Path:
    paths = [resolve_image(root, c) for c in candidates]
    return next((p for p in paths if p.exists()), paths[0])


def read_paragraphs(
    path: str | Path,
    image_root: str | Path | None = None,
    split: str | None = None,
    image_template: str | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
) -> list[Example]:
    """``paragraph`` Examples (``answers = [paragraph]``), one per image; ``split``: see the module docstring."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    if not isinstance(doc, list):
        raise DataError(path, None, "wrong_type", f"expected a JSON list of paragraph records, got {type(doc).__name__}")
    keep = read_split_ids(split_file(path, split)) if split is not None else None
    ids = IdIndex(g, "image")
    out = []
    for i, rec in enumerate(doc):
        rid = f"[{i}]"
        with g.record(rid):
            rid = record_id(rec, "image_id", g, rid)
            if keep is not None and str(rid) not in keep:
                continue
            ids.add(rid)
            text = clean_text(field_of(rec, "paragraph", str, g, rid), g, rid, "paragraph")
            url = field_of(rec, "url", str, g, rid, default=None)
            image = _image_path(root, _candidates(url, rid, image_template, g, rid))
            w, h = checked_size(image, g, rid)
            out.append(Example(task="paragraph", images=[str(image)], width=w, height=h, image_id=str(rid),
                               answers=[text], source=f"{path}#image {rid}", meta={"url": url or ""}))
    g.report.kept["paragraph"] += len(out)
    return out
