"""Write datasets as WebDataset tar shards (``vlseq shard``), and read one shard back.

Layout of an output directory::

    shard-000000.tar, shard-000001.tar, ...     WebDataset tars (the `webdataset` package's TarWriter)
    shards.json                                 the index (written last: no index = incomplete)

One sample per :class:`~vlseq.data.Example`, all its files sharing one key (``KEY`` = ``task-NNNNNNNN``,
no dots, since WebDataset splits a file name at its first dot)::

    KEY.json                the Example without its pixels (see :func:`example_to_record`)
    KEY.png                 the image: the original file's bytes and extension (``KEY.jpg`` ...);
                            in-memory images (PIL / numpy) are PNG-encoded
    KEY.0.png, KEY.1.png    instead of ``KEY.png`` when an example has several images (NLVR2 pairs)
    KEY.target.png          the target image of ``edit_image`` examples

Shards hold one task each (the index says which, and how many samples), so training can weight
tasks like the in-memory mixture does -- one stream per task (:func:`~vlseq.data.stream.load_shard_sources`)
-- without every task's stream reading every shard. Within a task, examples are shuffled
(``--seed``) before writing, since a stream reads shards sequentially and only shuffles within its
buffer. Tars are reproducible (fixed mtime and owner): the same input gives the same bytes.
"""

from __future__ import annotations

import io
import json
import os
import random
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from PIL import Image, ImageOps

from ..codec.markup import Phrase
from .example import Example, ImageRef, Object
from .images import to_rgb
from .readers.validate import DataError

INDEX = "shards.json"
PATTERN = "shard-%06d.tar"
FORMAT = "vlseq-shards"
VERSION = 1


# --------------------------------------------------------------------------- Example <-> JSON record


def _tuple(x: Sequence[Any] | None) -> tuple | None:
    return None if x is None else tuple(x)


def example_to_record(ex: Example) -> dict[str, Any]:
    """The JSON-ready dict of an Example without its pixels (``images`` / ``target_image`` excluded).

    Tuples (boxes, points) become lists; ``meta`` must already be JSON-serialisable (its tuples
    come back as lists).
    """
    return {
        "task": ex.task, "text": ex.text, "answers": list(ex.answers),
        "phrases": [{"start": p.start, "end": p.end, "boxes": [list(b) for b in p.boxes],
                     "polygons": [[list(pt) for pt in poly] for poly in p.polygons]} for p in ex.phrases],
        "objects": [{"label": o.label, "box": list(o.box),
                     "polygon": None if o.polygon is None else [list(pt) for pt in o.polygon],
                     **({"keypoints": {k: list(v) for k, v in o.keypoints.items()}} if o.keypoints else {}),
                     **({"attributes": o.attributes} if o.attributes else {})} for o in ex.objects],
        "region": None if ex.region is None else list(ex.region),
        "options": list(ex.options), "width": ex.width, "height": ex.height, "image_id": ex.image_id,
        "source": ex.source, "meta": ex.meta,
    }


def record_to_example(rec: Mapping[str, Any], images: list[ImageRef], target_image: ImageRef | None = None) -> Example:
    """The inverse of :func:`example_to_record` (raises KeyError/TypeError on a malformed record)."""
    phrases = [Phrase(int(p["start"]), int(p["end"]), tuple(tuple(b) for b in p["boxes"]),
                      tuple(tuple(tuple(pt) for pt in poly) for poly in p.get("polygons", []))) for p in rec["phrases"]]
    objects = [Object(o["label"], tuple(o["box"]),
                      None if o.get("polygon") is None else [tuple(pt) for pt in o["polygon"]],
                      {k: tuple(v) for k, v in o["keypoints"].items()} if o.get("keypoints") else None,
                      dict(o.get("attributes", {}))) for o in rec["objects"]]
    return Example(task=rec["task"], images=images, width=int(rec["width"]), height=int(rec["height"]),
                   image_id=str(rec.get("image_id", "")), text=rec.get("text", ""), answers=list(rec.get("answers", [])),
                   phrases=phrases, objects=objects, region=_tuple(rec.get("region")), options=list(rec.get("options", [])),
                   target_image=target_image, source=rec.get("source", ""), meta=dict(rec.get("meta", {})))


# --------------------------------------------------------------------------- image bytes


def image_bytes(ref: ImageRef) -> tuple[bytes, str]:
    """``(bytes, extension)`` of an image: a file's own bytes and lower-case suffix, else PNG."""
    if isinstance(ref, (str, Path)):
        p = Path(ref)
        try:
            data = p.read_bytes()
        except OSError as e:
            raise DataError(p, None, "missing_image", f"cannot read image file: {e}") from None
        ext = p.suffix.lower().lstrip(".") or "img"
        return data, ("jpg" if ext == "jpeg" else ext)
    if isinstance(ref, np.ndarray):
        ref = Image.fromarray(ref)
    if isinstance(ref, Image.Image):
        buf = io.BytesIO()
        ref.save(buf, format="PNG")
        return buf.getvalue(), "png"
    raise TypeError(f"cannot store an image given as {type(ref).__name__}")


def decode_image(data: bytes, where: str, key: str, as_numpy: bool = True) -> Any:
    """Decode stored image bytes like :func:`~vlseq.data.readers.open_image` (EXIF rotation, RGB rules).

    Returns an ``(H, W, 3)`` uint8 array (``as_numpy``) or an RGB PIL image.
    """
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as e:  # any decoder failure is one kind of problem for the reader
        raise DataError(where, key, "bad_image", f"cannot decode image: {e}") from None
    img = to_rgb(ImageOps.exif_transpose(img))
    return np.asarray(img, dtype=np.uint8) if as_numpy else img


# --------------------------------------------------------------------------- writing


def sample_of(ex: Example, key: str) -> dict[str, Any]:
    """The WebDataset sample dict (``__key__`` + extension -> bytes) of one Example."""
    if not ex.images:
        raise DataError(ex.source or key, ex.image_id, "bad_value", "example has no image")
    rec = example_to_record(ex)
    sample: dict[str, Any] = {"__key__": key}
    names = []
    for i, ref in enumerate(ex.images):
        data, ext = image_bytes(ref)
        name = ext if len(ex.images) == 1 else f"{i}.{ext}"
        sample[name] = data
        names.append(name)
    rec["images"] = names
    if ex.target_image is not None:
        data, ext = image_bytes(ex.target_image)
        sample[f"target.{ext}"] = data
        rec["target_image"] = f"target.{ext}"
    try:
        sample["json"] = json.dumps(rec, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as e:
        raise DataError(ex.source or key, ex.image_id, "wrong_type", f"example is not JSON-serialisable: {e}") from None
    return sample


def write_shards(
    split: Mapping[str, Sequence[Example]],
    out_dir: str | Path,
    shard_size: int,
    seed: int | None = 0,
    source: str = "",
) -> dict[str, Any]:
    """Write ``{task: examples}`` as one-task shards of at most ``shard_size`` samples; return the index.

    ``seed``: shuffle each task's examples before writing (``None`` keeps the given order).
    Old ``shard-*.tar`` files in ``out_dir`` are removed first; the index is written last.
    """
    import webdataset as wds  # imports torch: only when writing

    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / INDEX).unlink(missing_ok=True)
    for old in out.glob("shard-*.tar"):
        old.unlink()
    shards: list[dict[str, Any]] = []
    for task, exs in split.items():
        order = list(range(len(exs)))
        if seed is not None:
            random.Random(f"{seed}:{task}").shuffle(order)
        for start in range(0, len(order), shard_size):
            name = PATTERN % len(shards)
            chunk = order[start : start + shard_size]
            with wds.TarWriter(str(out / name), encoder=False, mtime=0.0, user="", group="") as tw:
                for i in chunk:
                    tw.write(sample_of(exs[i], f"{task}-{i:08d}"))
            shards.append({"name": name, "count": len(chunk), "tasks": {task: len(chunk)}})
    if not shards:
        raise ValueError("nothing to write: no examples")
    tasks: dict[str, int] = {}
    for s in shards:
        for t, n in s["tasks"].items():
            tasks[t] = tasks.get(t, 0) + n
    index = {"format": FORMAT, "version": VERSION, "source": source, "shard_size": shard_size,
             "total": sum(s["count"] for s in shards), "tasks": tasks, "shards": shards}
    tmp = out / (INDEX + ".tmp")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, out / INDEX)
    return index


# --------------------------------------------------------------------------- reading


def read_index(shard_dir: str | Path) -> dict[str, Any]:
    """The index of a shard directory, with each shard's ``path`` added; a DataError if invalid."""
    d = Path(shard_dir)
    p = d / INDEX
    try:
        index = json.loads(p.read_text())
    except FileNotFoundError:
        raise DataError(p, None, "unreadable_file", "no shard index (not a shard directory, or writing did not finish)") from None
    except (OSError, ValueError) as e:
        raise DataError(p, None, "unreadable_file", f"cannot read the shard index: {e}") from None
    if not isinstance(index, dict) or index.get("format") != FORMAT or not isinstance(index.get("shards"), list):
        raise DataError(p, None, "malformed", f"not a {FORMAT} index (format={index.get('format') if isinstance(index, dict) else None!r})")
    for i, s in enumerate(index["shards"]):
        if not (isinstance(s, dict) and isinstance(s.get("name"), str) and isinstance(s.get("count"), int) and s["count"] >= 0):
            raise DataError(p, f"shards[{i}]", "malformed", f"shard entry needs a name and a count >= 0, got {s!r}")
        s["path"] = str(d / s["name"])
    return index


def iter_raw_samples(path: str | Path) -> Iterable[dict[str, Any]]:
    """The raw samples (``__key__``, extension -> bytes) of one tar, in file order (webdataset's reader)."""
    from webdataset.tariterators import group_by_keys, tar_file_expander

    path = str(path)
    try:
        with open(path, "rb") as f:
            yield from group_by_keys(tar_file_expander([{"url": path, "stream": f}]))
    except FileNotFoundError:
        raise DataError(path, None, "unreadable_file", "shard file not found") from None
    except DataError:
        raise
    except Exception as e:  # tarfile.ReadError, a truncated member, a duplicate file name ...
        raise DataError(path, None, "unreadable_file", f"cannot read shard: {e}") from None


def raw_record(sample: Mapping[str, Any], path: str) -> dict[str, Any]:
    """The parsed ``KEY.json`` of a raw sample (a DataError naming shard and key if missing or bad)."""
    key = sample.get("__key__")
    if "json" not in sample:
        raise DataError(path, key, "missing_key", "sample has no .json file")
    try:
        rec = json.loads(sample["json"])
    except ValueError as e:
        raise DataError(path, key, "unreadable_file", f"invalid JSON: {e}") from None
    if not isinstance(rec, dict) or "task" not in rec or not isinstance(rec.get("images"), list):
        raise DataError(path, key, "malformed", "record needs 'task' and an 'images' list")
    return rec


def decode_sample(sample: Mapping[str, Any], path: str, rec: Mapping[str, Any] | None = None, as_numpy: bool = True) -> Example:
    """An Example from a raw sample, images decoded (arrays or PIL); checks the first image's size."""
    key = str(sample.get("__key__"))
    rec = raw_record(sample, path) if rec is None else rec
    images = []
    for name in rec["images"]:
        if name not in sample:
            raise DataError(path, key, "missing_image", f"sample has no file {key}.{name}")
        images.append(decode_image(sample[name], path, key, as_numpy))
    target = None
    if rec.get("target_image"):
        if rec["target_image"] not in sample:
            raise DataError(path, key, "missing_image", f"sample has no file {key}.{rec['target_image']}")
        target = decode_image(sample[rec["target_image"]], path, key, as_numpy)
    try:
        ex = record_to_example(rec, images, target)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(path, key, "malformed", f"bad record field: {e!r}") from None
    h, w = (images[0].shape[:2] if as_numpy else images[0].size[::-1]) if images else (ex.height, ex.width)
    if (w, h) != (ex.width, ex.height):
        raise DataError(path, key, "bad_image", f"image is {w}x{h} but the record says {ex.width}x{ex.height}")
    return ex


def read_shard(path: str | Path, as_numpy: bool = True) -> list[Example]:
    """Every Example of one shard, in file order (for inspection and tests; training streams)."""
    return [decode_sample(s, str(path), as_numpy=as_numpy) for s in iter_raw_samples(path)]


# --------------------------------------------------------------------------- CLI


