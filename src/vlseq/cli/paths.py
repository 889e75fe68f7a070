"""Output paths of the ``vlseq`` verbs: one clear error before anything is written, nothing lost.

A verb that writes a folder calls :func:`output_dir` first. A path that is a file, or a folder that
already holds this verb's output (its marker file), ends the command with one ``vlseq: error:``
line naming the path (the dispatcher reports ``OSError``s that carry a path), unless the user
passed ``--overwrite``. A folder that cannot be created or written fails the same way, from the
``OSError`` itself.
"""

from __future__ import annotations

import os
from pathlib import Path


def output_dir(path: str | Path, marker: str, what: str, flag: str = "--out", overwrite: bool = False) -> Path:
    """Check (and create) an output folder; returns it as a Path.

    ``marker``: the file this verb writes last (e.g. ``manifest.json``); its presence means a
    finished earlier output is there. ``what`` names that output in the message.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise NotADirectoryError(20, f"{flag} must be a folder, but this is a file", str(p))
    if (p / marker).exists() and not overwrite:
        raise FileExistsError(17, f"{flag} already holds {what} ({marker}); pass --overwrite to replace it, "
                                  "or choose another folder", str(p))
    p.mkdir(parents=True, exist_ok=True)
    if not os.access(p, os.W_OK):
        raise PermissionError(13, f"{flag} is not writable", str(p))
    return p


def output_file(path: str | Path, flag: str = "--out", overwrite: bool = False) -> Path:
    """Check an output file: not a folder, and not an existing file unless ``overwrite``."""
    p = Path(path)
    if p.is_dir():
        raise IsADirectoryError(21, f"{flag} must be a file, but this is a folder", str(p))
    if p.exists() and not overwrite:
        raise FileExistsError(17, f"{flag} already exists; pass --overwrite to replace it, or choose another file",
                              str(p))
    if not p.parent.exists():
        p.parent.mkdir(parents=True, exist_ok=True)
    return p
