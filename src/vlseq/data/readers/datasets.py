"""Datasets by reference: a ``data.datasets`` entry names its files per split, as they were downloaded.

One entry is a split-directory layout (``path``), files named per split, or both::

    {"name": "vqav2", "weight": 1.0, "tasks": ["vqa"],
     "train": {"vqa_questions": "v2/v2_OpenEnded_mscoco_train2014_questions.json",
               "vqa_annotations": "v2/v2_mscoco_train2014_annotations.json",
               "image_root": "coco/train2014", "image_template": "COCO_train2014_{image_id:012d}.jpg"},
     "val": {...}}

The keys of a split are the file kinds :mod:`~vlseq.data.readers.split` knows -- each file name of
``READERS`` (and its companions) without its extension: ``captions``, ``instances``, ``vqa_questions``,
``vqa_annotations``, ``refexp``, ``grounding``, ``classify``, ... -- plus ``image_root`` (the folder
the files' image names are relative to; default: each file's own folder) and ``image_template``
(how the files that name images by id, VQA questions, NLVR2 / SNLI-VE lines and Visual Genome's
``region_descriptions``, spell the file name). With ``path`` too, the split's named files replace or
add to those of ``path/SPLIT``.

Entry keys: ``name`` (the ``task@name`` source names; default: the folder name of ``path``, and
required without one), ``path``, ``tasks`` (those to read; default: every task of the run that the
files provide), ``weight`` (a factor on the sampling weight of the entry's sources, default 1), and
one object per split. Which file feeds which task is the ``feeds`` argument of the functions here
(see :mod:`~vlseq.data.readers.split`). A mistake -- an unknown key, a missing file or folder, a template that names
a missing image -- is one :class:`DataError` or ``ValueError`` naming the entry and the split.
"""

from __future__ import annotations

import difflib
import logging
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..example import Example
from .split import COMPANIONS, READERS, Feeds, Split, available_tasks, feed_tasks, load_split, reader_feeds
from .validate import DataError, ReadReport, load_json

log = logging.getLogger(__name__)

#: entry keys that are not splits
ENTRY_KEYS = ("name", "path", "tasks", "weight")
#: keys of a split besides its file kinds
IMAGE_KEYS = ("image_root", "image_template")


def file_kinds() -> dict[str, str]:
    """``{kind: file name}``: the file keys a split of an entry may hold (a file name without extension)."""
    return {Path(name).stem: name for name in (*READERS, *COMPANIONS)}


def entry_name(entry: Mapping[str, Any]) -> str:
    """The name of an entry's sources (``task@name``): its ``name``, else the folder name of its ``path``."""
    if entry.get("name") is not None:
        return str(entry["name"])
    return Path(str(entry.get("path", ""))).name


def splits_of(entry: Mapping[str, Any]) -> list[str]:
    """The splits an entry names files for (its object-valued keys)."""
    return [k for k, v in entry.items() if k not in ENTRY_KEYS and isinstance(v, dict)]


def _label(where: str, i: int, entry: Any) -> str:
    name = entry.get("name") or entry.get("path") if isinstance(entry, dict) else None
    return f"{where}[{i}]" + (f" ({name!r})" if name else "")


def _unknown(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    return f"unknown key {key!r}" + (f" (did you mean {close[0]!r}?)" if close else "")


def check_entries(entries: Any, where: str = "data.datasets", feeds: Feeds | None = None) -> None:
    """Check the shape of dataset entries (no file is opened); a ValueError names the entry and split.
    ``feeds``: which file feeds which task (an entry's ``tasks`` are among them; default: the readers')."""
    if not isinstance(entries, list):
        raise ValueError(f"{where} must be a list of dataset entries, got {type(entries).__name__}")
    kinds = file_kinds()
    split_keys = [*kinds, *IMAGE_KEYS]
    known = feed_tasks(feeds)
    names: dict[str, int] = {}
    for i, entry in enumerate(entries):
        label = _label(where, i, entry)
        if not isinstance(entry, dict):
            raise ValueError(f"{label}: expected an object such as {{\"name\": ..., \"path\": DIR}}, got {entry!r:.60}")
        for key in ("name", "path"):
            if entry.get(key) is not None and (not isinstance(entry[key], str) or not entry[key].strip()):
                raise ValueError(f"{label}: {key!r} must be a non-empty string, got {entry[key]!r}")
        if "/" in str(entry.get("name") or ""):
            raise ValueError(f"{label}: 'name' may not hold '/' (it names metrics as task@name/metric)")
        tasks = entry.get("tasks")
        if tasks is not None and (not isinstance(tasks, list) or any(t not in known for t in tasks)):
            raise ValueError(f"{label}: 'tasks' must be null or a list of tasks among {known}, got {tasks!r}")
        weight = entry.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not (math.isfinite(weight) and weight >= 0):
            raise ValueError(f"{label}: 'weight' must be a number >= 0, got {weight!r}")
        for key, value in entry.items():
            if key in ENTRY_KEYS:
                continue
            if not isinstance(value, dict):
                raise ValueError(f"{label}: {_unknown(key, ENTRY_KEYS)}; an entry holds {', '.join(ENTRY_KEYS)} "
                                 f"and one object of files per split (e.g. \"train\": {{\"instances\": FILE}})")
            for k, v in value.items():
                if k not in split_keys:
                    raise ValueError(f"{label}, split {key!r}: {_unknown(k, split_keys)}; known: {', '.join(split_keys)}")
                if not isinstance(v, str) or not v.strip():
                    raise ValueError(f"{label}, split {key!r}: {k!r} must be a non-empty string, got {v!r}")
            for companion, main in COMPANIONS.items():
                if Path(companion).stem in value and Path(main).stem not in value and "path" not in entry:
                    raise ValueError(f"{label}, split {key!r}: {Path(companion).stem!r} is read with "
                                     f"{Path(main).stem!r}, which the split does not name")
        if "path" not in entry and not splits_of(entry):
            raise ValueError(f"{label}: names no data: give 'path' (a folder of split directories, or one split) "
                             "or the files of each split (\"train\": {\"instances\": FILE, \"image_root\": DIR})")
        if "path" not in entry and not entry.get("name"):
            raise ValueError(f"{label}: an entry without 'path' needs a 'name' (its sources are named task@name)")
        name = entry_name(entry)
        if name in names:
            raise ValueError(f"{label}: name {name!r} is also that of {where}[{names[name]}]; give each entry its own 'name'")
        names[name] = i


def resolve_paths(entry: Mapping[str, Any], base: str | Path) -> dict[str, Any]:
    """A copy of ``entry`` whose relative paths (``path``, files, ``image_root``) are under ``base``
    (the folder of the config file that holds it); ``~`` is expanded; other values are kept."""

    def under(value: Any) -> Any:
        if not isinstance(value, str) or not value.strip():
            return value
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else Path(base) / p)

    out: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "path":
            out[key] = under(value)
        elif key not in ENTRY_KEYS and isinstance(value, dict):
            out[key] = {k: v if k == "image_template" else under(v) for k, v in value.items()}
        else:
            out[key] = value
    return out


def read_dataset_config(path: str | Path) -> list[dict[str, Any]]:
    """The dataset entries of a JSON file -- a list of entries, ``{"datasets": [...]}``, or a
    training config (its ``data.datasets``) -- checked, relative paths under the file's folder."""
    path = Path(path)
    doc = load_json(path)
    entries = doc
    if isinstance(doc, dict):
        entries = doc.get("datasets", (doc.get("data") or {}).get("datasets") if isinstance(doc.get("data"), dict) else None)
    if not isinstance(entries, list):
        raise DataError(path, None, "wrong_type", "expected a list of dataset entries, {\"datasets\": [...]}, or a "
                                                  "training config with data.datasets")
    if not entries:
        raise DataError(path, None, "bad_value", "names no dataset entry")
    check_entries(entries, str(path))
    return [resolve_paths(e, path.absolute().parent) for e in entries]


def split_dir(entry: Mapping[str, Any], split: str) -> Path | None:
    """The split directory of an entry's ``path``: ``path/SPLIT`` when there is one, else ``path`` itself
    (a folder that is one split serves every split); None without ``path``."""
    if entry.get("path") is None:
        return None
    path = Path(entry["path"])
    return path / split if (path / split).is_dir() else path


def has_split(entry: Mapping[str, Any], split: str) -> bool:
    """Does the entry give any file for ``split`` (through ``path`` or its own object)?"""
    return entry.get("path") is not None or isinstance(entry.get(split), dict)


def referenced_files(entry: Mapping[str, Any], split: str) -> dict[str, Path]:
    """``{file name: path}`` of the files the entry names for ``split`` (not those of ``path``)."""
    kinds = file_kinds()
    refs = entry.get(split) or {}
    return {kinds[k]: Path(v) for k, v in refs.items() if k in kinds}


def provided_tasks(entry: Mapping[str, Any], split: str, feeds: Feeds | None = None) -> list[str]:
    """The tasks the entry's files for ``split`` provide (files present, none parsed; ``feeds``: which
    file feeds which task, default the readers')."""
    d = split_dir(entry, split)
    return available_tasks(d if d is not None and d.is_dir() else None, referenced_files(entry, split), feeds)


def in_context(err: DataError, name: str, split: str, refs: Mapping[str, Any] | None = None) -> DataError:
    """``err`` with the dataset entry and split it happened in added to its message (and, for a
    missing image, the split's ``image_template`` and ``image_root`` that spelled its path)."""
    hint = ""
    if err.problem == "missing_image" and refs:
        hint = "; ".join(f"{k} {refs[k]!r}" for k in IMAGE_KEYS if k in refs)
    where = f"dataset {name!r}, split {split!r}" + (f": {hint}" if hint else "")
    return DataError(err.file, err.record, err.problem, f"{err.detail} ({where})")


def _check_files(entry: Mapping[str, Any], name: str, split: str) -> None:
    """Every path the split names exists: one DataError naming the key, entry and split otherwise."""
    where = f"dataset {name!r}, split {split!r}"
    d = split_dir(entry, split)
    if d is not None and not d.is_dir():
        raise DataError(d, None, "unreadable_file", f"split directory not found ('path' of {where})")
    kinds = file_kinds()
    for key, value in (entry.get(split) or {}).items():
        if key in kinds and not Path(value).is_file():
            raise DataError(value, None, "unreadable_file", f"file not found (key {key!r} of {where})")
        if key == "image_root" and not Path(value).is_dir():
            raise DataError(value, None, "unreadable_file", f"image folder not found (key 'image_root' of {where})")


def load_files(
    entry: Mapping[str, Any],
    split: str,
    tasks: Sequence[str] | None = None,
    skip_bad: bool = False,
    check_images: bool = True,
    report: ReadReport | None = None,
    strict_tasks: bool = False,
    feeds: Feeds | None = None,
) -> Split:
    """Examples per task of one dataset entry's ``split`` (see the module docstring).

    ``tasks``: the tasks wanted (default: all); of those, the entry's ``tasks`` if it lists them
    (each must be provided by its files), else every one its files provide. ``strict_tasks``: each
    of ``tasks`` must be provided too. ``feeds``: which file feeds which task (default: the readers').
    Errors name the entry and the split.
    """
    check_entries([entry], "dataset", feeds)
    name = entry_name(entry)
    if not has_split(entry, split):
        raise ValueError(f"dataset {name!r} names no files for split {split!r} (its splits: "
                         f"{', '.join(splits_of(entry)) or 'none'})")
    _check_files(entry, name, split)
    have = provided_tasks(entry, split, feeds)
    wanted = feed_tasks(feeds) if tasks is None else list(tasks)
    own = entry.get("tasks")
    if strict_tasks and own is not None and set(wanted) - set(own):
        raise ValueError(f"dataset {name!r}: task(s) {[t for t in wanted if t not in own]} are not among its "
                         f"'tasks' {own}")
    if own is not None or strict_tasks:
        need = wanted if strict_tasks else [t for t in own or () if t in wanted]
        missing = [t for t in need if t not in have]
        if missing:
            kinds = sorted(Path(n).stem for n, ts in (reader_feeds() if feeds is None else feeds).items()
                           if set(ts) & set(missing))
            raise ValueError(f"dataset {name!r}, split {split!r}: no file of the split provides task(s) {missing} "
                             f"(they come from {', '.join(kinds)}; its files provide {have or 'none'})")
    want = [t for t in wanted if t in have and (own is None or t in own)]
    refs = entry.get(split) or {}
    d = split_dir(entry, split)
    try:
        return load_split(d, tasks=want, skip_bad=skip_bad, image_root=refs.get("image_root"),
                          check_images=check_images, report=report, files=referenced_files(entry, split),
                          image_template=refs.get("image_template"), split=split, feeds=feeds)
    except DataError as e:
        raise in_context(e, name, split, refs) from None


def load_datasets(
    entries: Sequence[Mapping[str, Any]],
    split: str,
    tasks: Sequence[str] | None = None,
    skip_bad: bool = False,
    required: bool = True,
    check_images: bool = True,
    report: ReadReport | None = None,
    feeds: Feeds | None = None,
) -> dict[str, list[Example]]:
    """Examples per source (``task@name``) of every entry's ``split``, for ``tasks`` (default: all).

    ``required``: an entry without files for the split is an error (a training split), else it
    is left out with a log line (an entry may have no validation split). One log line per entry
    says what it gave. ``feeds``: which file feeds which task (default: the readers').
    """
    check_entries(list(entries), "datasets", feeds)
    out: dict[str, list[Example]] = {}
    for entry in entries:
        name = entry_name(entry)
        if not has_split(entry, split) and not required:
            log.info("dataset %r: no files for split %r (it names %s)", name, split, ", ".join(splits_of(entry)))
            continue
        loaded = load_files(entry, split, tasks, skip_bad=skip_bad, check_images=check_images, report=report,
                            feeds=feeds)
        got = {t: list(exs) for t, exs in loaded.items() if exs}
        log.info("dataset %r, split %r: %s", name, split,
                 ", ".join(f"{t} {len(v)}" for t, v in got.items()) or "no examples of the tasks read")
        out.update({f"{t}@{name}": v for t, v in got.items()})
    return out


def dataset_weights(entries: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """``{name: weight}`` of the entries (the factor on the sampling weight of their sources)."""
    return {entry_name(e): float(e.get("weight", 1.0)) for e in entries}
