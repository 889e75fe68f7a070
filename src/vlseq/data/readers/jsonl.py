"""Line-per-record files -> ``classify``, ``region_caption`` and ``edit_image`` Examples.

classify.jsonl accepts three record shapes (per line, so files may even mix them):

* native: ``{id, images: [1 or 2 paths], sentence, label, options: [...], kind}`` with ``kind`` one
  of ``entailment | match | pair``;
* NLVR2: ``{identifier, sentence, label: "True"/"False", directory?, left_url?, right_url?}``; the two
  images come from ``image_template`` (default ``"{pair_id}-img{side}.png"``, fields ``identifier``,
  ``pair_id`` = the identifier without its last ``-N``, ``side`` 0/1, ``directory``, ``split``); the
  label becomes ``"true"``/``"false"`` with options ``["true", "false"]``;
* SNLI-VE: ``{pairID, Flickr30K_ID, sentence2, gold_label}``; the image is ``image_template``
  (default ``"{Flickr30K_ID}.jpg"``), options ``["entailment", "neutral", "contradiction"]``.

region_captions.jsonl: Visual Genome region style ``{id, image, x, y, width, height, phrase}``;
:func:`read_vg_regions` also reads the published ``region_descriptions.json``.
edits.jsonl: ``{id, input_image, edited_image, edit_prompt, requirements?}``.
generations.jsonl: ``{id, image, caption, requirements?}`` (text-to-image: ``generate_image``).
``requirements`` (optional): ``[{"label", "colour", "shape", "count"}, ...]``, what the output image
must show, kept as ``meta["requirements"]`` for render-and-check evaluation.

Sizes come from the image headers (these records carry none); ``region_caption`` records may carry
``image_width``/``image_height``, which are then checked against the header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ..example import Example
from ..images import checked_size, resolve_image
from .validate import (
    DataError,
    IdIndex,
    ReadReport,
    RecordGuard,
    clean_text,
    field_of,
    iter_jsonl,
    load_json,
    record_id,
    xywh_box,
)

CLASSIFY_KINDS = ("entailment", "match", "pair")
NLVR2_TEMPLATE = "{pair_id}-img{side}.png"
SNLI_VE_TEMPLATE = "{Flickr30K_ID}.jpg"
SNLI_VE_LABELS = ["entailment", "neutral", "contradiction"]


def _format(template: str, g: RecordGuard, rid: Any, **fields: Any) -> str:
    try:
        return template.format(**fields)
    except (KeyError, ValueError, IndexError) as e:
        raise g.error(rid, "bad_value", f"image template {template!r} cannot be filled from this record ({e})") from None


def _classify_record(rec: dict, n: int, g: RecordGuard, root: Path, template: str | None) -> tuple[Any, dict]:
    """``(id, fields)`` for one classify line of any of the three shapes."""
    if "images" in rec:
        rid = record_id(rec, "id", g, f"line {n}")
        images = field_of(rec, "images", list, g, rid)
        if not 1 <= len(images) <= 2 or not all(isinstance(p, str) and p for p in images):
            raise g.error(rid, "wrong_type", f"'images' must hold 1 or 2 path strings, got {images!r:.80}")
        options = field_of(rec, "options", list, g, rid)
        if not options or not all(isinstance(o, str) and o.strip() for o in options):
            raise g.error(rid, "wrong_type", f"'options' must be a non-empty list of strings, got {options!r:.80}")
        options = [" ".join(o.split()) for o in options]
        label = " ".join(field_of(rec, "label", str, g, rid).split())
        kind = field_of(rec, "kind", str, g, rid, default="entailment")
        if kind not in CLASSIFY_KINDS:
            raise g.error(rid, "bad_value", f"'kind' must be one of {list(CLASSIFY_KINDS)}, got {kind!r}")
        paths = [resolve_image(root, p) for p in images]
        text = field_of(rec, "sentence", str, g, rid)
        return rid, dict(paths=paths, text=text, label=label, options=options, kind=kind, meta={})
    if "identifier" in rec:  # NLVR2
        rid = record_id(rec, "identifier", g, f"line {n}")
        label = field_of(rec, "label", (str, bool), g, rid)
        label = str(label).lower()
        if label not in ("true", "false"):
            raise g.error(rid, "bad_value", f"NLVR2 'label' must be True or False, got {rec['label']!r}")
        ident = str(rid)
        pair_id = ident.rsplit("-", 1)[0]
        fields = dict(identifier=ident, pair_id=pair_id, directory=rec.get("directory", ""),
                      split=ident.split("-", 1)[0])
        paths = [resolve_image(root, _format(template or NLVR2_TEMPLATE, g, rid, side=s, **fields)) for s in (0, 1)]
        return rid, dict(paths=paths, text=field_of(rec, "sentence", str, g, rid), label=label, options=["true", "false"], kind="pair",
                         meta={"left_url": rec.get("left_url"), "right_url": rec.get("right_url")})
    if "pairID" in rec or "Flickr30K_ID" in rec:  # SNLI-VE
        rid = record_id(rec, "pairID", g, f"line {n}")
        flickr = field_of(rec, "Flickr30K_ID", (str, int), g, rid)
        label = field_of(rec, "gold_label", str, g, rid)
        if label not in SNLI_VE_LABELS:
            raise g.error(rid, "bad_value", f"'gold_label' must be one of {SNLI_VE_LABELS}, got {label!r}")
        path = resolve_image(root, _format(template or SNLI_VE_TEMPLATE, g, rid, Flickr30K_ID=flickr, pairID=rid))
        return rid, dict(paths=[path], text=field_of(rec, "sentence2", str, g, rid), label=label,
                         options=list(SNLI_VE_LABELS), kind="entailment",
                         meta={"premise": rec.get("sentence1", "")})
    raise g.error(f"line {n}", "missing_key", "record has none of 'images' (native), 'identifier' (NLVR2), 'pairID' (SNLI-VE)")


def read_classify(
    path: str | Path,
    image_root: str | Path | None = None,
    image_template: str | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
) -> list[Example]:
    """``classify`` Examples: ``text`` = statement, ``answers`` = [label], ``options``, ``meta["kind"]``."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    ids = IdIndex(g, "record")
    out = []
    for n, rec in iter_jsonl(path, g):
        with g.record(f"line {n}"):
            rid, f = _classify_record(rec, n, g, root, image_template)
            ids.add(rid)
            text = clean_text(f["text"], g, rid, "sentence")
            if f["label"] not in f["options"]:
                raise g.error(rid, "bad_value", f"label {f['label']!r} is not one of the options {f['options']}")
            sizes = [checked_size(p, g, rid) for p in f["paths"]]
            out.append(
                Example(task="classify", images=[str(p) for p in f["paths"]], width=sizes[0][0], height=sizes[0][1],
                        image_id=str(rid), text=text, answers=[f["label"]], options=f["options"],
                        source=f"{path}#{rid}", meta=dict(f["meta"], kind=f["kind"], sizes=sizes))
            )
    g.report.kept["classify"] += len(out)
    return out


def _region_example(rec: dict, rid: Any, image: str, g: RecordGuard, root: Path, src: str, expect=None) -> Example:
    path = resolve_image(root, image)
    w, h = checked_size(path, g, rid, expect)
    xywh = [field_of(rec, k, float, g, rid) for k in ("x", "y", "width", "height")]
    box = xywh_box(xywh, w, h, g, rid, key="x, y, width, height")
    phrase = clean_text(field_of(rec, "phrase", str, g, rid), g, rid, "phrase")
    return Example(task="region_caption", images=[str(path)], width=w, height=h, image_id=str(rec.get("image_id", image)),
                   region=box, answers=[phrase], source=src, meta={"region_id": rid})


def read_region_captions(
    path: str | Path, image_root: str | Path | None = None, skip_bad: bool = False, report: ReadReport | None = None
) -> list[Example]:
    """``region_caption`` Examples from ``{id, image, x, y, width, height, phrase}`` lines."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    ids = IdIndex(g, "region")
    out = []
    for n, rec in iter_jsonl(path, g):
        with g.record(f"line {n}"):
            rid = record_id(rec, "id", g, f"line {n}")
            ids.add(rid)
            image = field_of(rec, "image", str, g, rid)
            expect = None
            if "image_width" in rec or "image_height" in rec:
                expect = (field_of(rec, "image_width", int, g, rid), field_of(rec, "image_height", int, g, rid))
            out.append(_region_example(rec, rid, image, g, root, f"{path}#{rid}", expect))
    g.report.kept["region_caption"] += len(out)
    return out


def read_vg_regions(
    path: str | Path,
    image_root: str | Path | None = None,
    image_template: str = "{image_id}.jpg",
    skip_bad: bool = False,
    report: ReadReport | None = None,
) -> list[Example]:
    """``region_caption`` Examples from Visual Genome's ``region_descriptions.json``.

    Layout: ``[{"id": image_id, "regions": [{region_id, image_id, phrase, x, y, width, height}]}]``.
    """
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    if not isinstance(doc, list):
        raise DataError(path, None, "wrong_type", f"expected a JSON list of images, got {type(doc).__name__}")
    ids = IdIndex(g, "region")
    out = []
    for i, img in enumerate(doc):
        img_id, regions = None, []
        with g.record(f"[{i}]"):
            img_id = record_id(img, "id", g, f"[{i}]")
            regions = field_of(img, "regions", list, g, img_id)
        for j, reg in enumerate(regions):
            with g.record(f"image {img_id} regions[{j}]"):
                rid = record_id(reg, "region_id", g, f"image {img_id} regions[{j}]")
                ids.add(rid)
                image = _format(image_template, g, rid, image_id=img_id)
                out.append(_region_example(dict(reg, image_id=img_id), rid, image, g, root, f"{path}#region {rid}"))
    g.report.kept["region_caption"] += len(out)
    return out


def _read_id_lines(path: str | Path, image_root: str | Path | None, skip_bad: bool, report: ReadReport | None,
                   task: str, kind: str, build: Callable[[dict, Any, RecordGuard, Path, Path], Example]) -> list[Example]:
    """Examples of a jsonl file of ``{"id", ...}`` records: ``build(rec, id, guard, root, path)`` makes one;
    ids are unique (a repeat is a duplicate ``kind`` id), bad records go through the guard, kept ones are
    counted under ``task``."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    ids = IdIndex(g, kind)
    out = []
    for n, rec in iter_jsonl(path, g):
        with g.record(f"line {n}"):
            rid = record_id(rec, "id", g, f"line {n}")
            ids.add(rid)
            out.append(build(rec, rid, g, root, path))
    g.report.kept[task] += len(out)
    return out


def _requirements_meta(rec: dict, g: RecordGuard, rid: Any) -> dict[str, Any]:
    return {"requirements": requirements_of(rec, g, rid)} if "requirements" in rec else {}


def read_edits(
    path: str | Path, image_root: str | Path | None = None, skip_bad: bool = False, report: ReadReport | None = None
) -> list[Example]:
    """``edit_image`` Examples: ``images=[input]``, ``text`` = instruction, ``target_image`` = edited path."""

    def build(rec: dict, rid: Any, g: RecordGuard, root: Path, path: Path) -> Example:
        src = resolve_image(root, field_of(rec, "input_image", str, g, rid))
        dst = resolve_image(root, field_of(rec, "edited_image", str, g, rid))
        prompt = clean_text(field_of(rec, "edit_prompt", str, g, rid), g, rid, "edit_prompt")
        w, h = checked_size(src, g, rid)
        checked_size(dst, g, rid)
        return Example(task="edit_image", images=[str(src)], width=w, height=h, image_id=str(rid), text=prompt,
                       target_image=str(dst), source=f"{path}#{rid}", meta=_requirements_meta(rec, g, rid))

    return _read_id_lines(path, image_root, skip_bad, report, "edit_image", "edit", build)


#: the keys of one requirement and their types
_REQUIREMENT_KEYS = {"label": str, "colour": str, "shape": str, "count": int}


def requirements_of(rec: dict, g: RecordGuard, rid: Any) -> list[dict[str, Any]]:
    """The checked ``requirements`` list of a record (see the module docstring)."""
    reqs = field_of(rec, "requirements", list, g, rid)
    out = []
    for k, r in enumerate(reqs):
        if not isinstance(r, dict) or set(r) != set(_REQUIREMENT_KEYS):
            raise g.error(rid, "bad_value", f"requirements[{k}] must be an object with keys "
                                            f"{sorted(_REQUIREMENT_KEYS)}, got {r!r:.80}")
        for key, typ in _REQUIREMENT_KEYS.items():
            field_of(r, key, typ, g, rid)
        if r["count"] < 1 or not all(r[key].strip() for key in ("label", "colour", "shape")):
            raise g.error(rid, "bad_value", f"requirements[{k}]: count must be >= 1 and names non-empty, got {r!r:.80}")
        out.append({key: r[key] for key in _REQUIREMENT_KEYS})
    return out


def read_generations(
    path: str | Path, image_root: str | Path | None = None, skip_bad: bool = False, report: ReadReport | None = None
) -> list[Example]:
    """``generate_image`` Examples: ``text`` = the caption, ``target_image`` = the image, input = a blank canvas."""
    from ..images import blank_canvas

    def build(rec: dict, rid: Any, g: RecordGuard, root: Path, path: Path) -> Example:
        img = resolve_image(root, field_of(rec, "image", str, g, rid))
        caption = clean_text(field_of(rec, "caption", str, g, rid), g, rid, "caption")
        w, h = checked_size(img, g, rid)
        return Example(task="generate_image", images=[blank_canvas(w, h)], width=w, height=h,
                       image_id=str(rec.get("image_id", rid)), text=caption, target_image=str(img),
                       source=f"{path}#{rid}", meta=_requirements_meta(rec, g, rid))

    return _read_id_lines(path, image_root, skip_bad, report, "generate_image", "generation", build)
