"""What ``vlseq data inspect`` reads: the splits of the data a training run would read, as sources.

A :class:`Source` is one split: a split directory in the readers' layout (``path``), or one split
of a dataset entry (``entry``, ``split``: its files named per split as downloaded, and/or its
``path``; :mod:`vlseq.data.readers.datasets`). :func:`split_dirs` lists the splits of a directory,
:func:`entry_sources` those of dataset entries (a datasets file, a config's ``data.datasets``).
Each source is read by the very function training reads it with (``load_split`` or
``load_files``), so the report sees what a run would, and a bad record is the same one error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..data.readers import DataError, available_tasks, load_split
from ..data.readers.datasets import entry_name, load_files, provided_tasks, referenced_files, split_dir, splits_of
from ..data.readers.split import Feeds, Split
from ..tasks import file_feeds

#: split directories listed first, in this order; others follow by name
SPLIT_ORDER = ("train", "val", "test")


def _split_rank(name: str) -> tuple[int, str]:
    rank = {n: i for i, n in enumerate(SPLIT_ORDER)}
    return rank.get(name, len(rank)), name


@dataclass(frozen=True)
class Source:
    """One split to inspect.

    ``path``: a split directory; or ``entry`` and ``split``: that split of a dataset entry (its
    named files and/or its ``path``). ``tasks``: those asked for (by a training config, or the
    entry's own ``tasks``; None: every task the files provide); ``tasks_from`` names who asked, for
    the report's note on tasks no file provides.
    """

    name: str
    path: Path | None = None
    tasks: tuple[str, ...] | None = None
    entry: Mapping[str, Any] | None = field(default=None, repr=False)
    split: str | None = None
    tasks_from: str = "the config"

    def __post_init__(self) -> None:
        if (self.path is None) == (self.entry is None) or (self.entry is not None and not self.split):
            raise ValueError(f"source {self.name!r}: give a split directory (path) or a dataset entry and its split")

    @property
    def where(self) -> str:
        """Where the split is read from: its directory, or the entry's folder and files, for the report."""
        if self.entry is None:
            return str(self.path)
        d = split_dir(self.entry, self.split or "")
        files = [str(p) for p in referenced_files(self.entry, self.split or "").values()]
        return ", ".join(([str(d)] if d is not None else []) + files)

    def available(self, feeds: Feeds) -> list[str]:
        """The tasks the split's files provide (none is parsed)."""
        if self.entry is None:
            return available_tasks(self.path, feeds=feeds)
        return provided_tasks(self.entry, self.split or "", feeds)

    def load(self, tasks: Sequence[str] | None, skip_bad: bool, feeds: Feeds) -> Split:
        """The split's examples per task, read as training reads them; errors name the file and record
        (and, for an entry, the entry and split)."""
        if self.entry is None:
            return load_split(self.path, tasks=tasks, skip_bad=skip_bad, feeds=feeds)
        return load_files(self.entry, self.split or "", tasks=tasks, skip_bad=skip_bad, feeds=feeds)


def split_dirs(path: str | Path, feeds: Feeds | None = None) -> list[Source]:
    """``path`` as one split (it holds split files) or as a folder of splits (``train/``, ``val/``, ...)."""
    d = Path(path)
    if not d.is_dir():
        raise DataError(d, None, "unreadable_file", "split directory not found")
    feeds = file_feeds() if feeds is None else feeds
    if available_tasks(d, feeds=feeds):
        return [Source(d.name, d)]
    subs = [s for s in d.iterdir() if s.is_dir() and available_tasks(s, feeds=feeds)]
    if not subs:
        raise DataError(d, None, "unreadable_file", f"no split files here ({', '.join(feeds)}) and no split "
                                                    "directory holding them under it")
    return [Source(s.name, s) for s in sorted(subs, key=lambda s: _split_rank(s.name))]


def entry_sources(entries: Sequence[Mapping[str, Any]], tasks: Sequence[str] | None = None,
                  feeds: Feeds | None = None) -> list[Source]:
    """Every split of each dataset entry, named ``ENTRY/SPLIT``: the split directories of its ``path``
    (as :func:`split_dirs` finds them) and the splits it names files for, in :data:`SPLIT_ORDER`.

    ``tasks``: those a training config trains (None: every task the files provide), narrowed to
    the entry's own ``tasks`` when it lists them. A split both under ``path`` and named in the
    entry is read as training reads it: the named files replacing or adding to the folder's.
    """
    out: list[Source] = []
    for entry in entries:
        name = entry_name(entry)
        own = entry.get("tasks")
        if tasks is None:
            wanted, asker = (tuple(own), f"dataset {name!r}") if own is not None else (None, "the config")
        else:
            wanted, asker = tuple(t for t in tasks if own is None or t in own), "the config"
        named = splits_of(entry)
        try:
            dirs = split_dirs(entry["path"], feeds) if entry.get("path") is not None else []
        except DataError as e:
            raise DataError(e.file, e.record, e.problem, f"{e.detail} ('path' of dataset {name!r})") from None
        for s in dirs:
            if s.name in named:
                out.append(Source(f"{name}/{s.name}", None, wanted, entry, s.name, asker))
            else:
                out.append(Source(f"{name}/{s.name}", s.path, wanted, tasks_from=asker))
        seen = {s.name for s in dirs}
        out += [Source(f"{name}/{split}", None, wanted, entry, split, asker)
                for split in sorted(named, key=_split_rank) if split not in seen]
    return out
