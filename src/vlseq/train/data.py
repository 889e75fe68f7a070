"""Training data: the synthetic world (generated on first use) and/or reader-format datasets."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ..data.example import Example
from .config import TrainConfig

log = logging.getLogger(__name__)


def ensure_synth(root: Path, gen: dict[str, Any] | None) -> None:
    """Write the synthetic world to ``root`` unless a complete one is already there."""
    if (root / "manifest.json").exists() or (root / "train" / "manifest.json").exists():
        return
    if not gen:
        raise FileNotFoundError(f"no synthetic world at {root} and data.synth_generate is empty: "
                                f"run `vlseq synth --out {root}` or set data.synth_generate")
    from ..data.synth import SynthOptions, write_world

    log.info("generating the synthetic world at %s: %s", root, gen)
    write_world(root, SynthOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in gen.items()}))


def load_examples(cfg: TrainConfig, split: str) -> dict[str, list[Example]]:
    """Examples per ``source`` name (``task`` or ``task@dataset``) for a split, restricted to ``cfg.tasks``."""
    from ..data.readers.split import load_split
    from ..data.readers.validate import DataError

    out: dict[str, list[Example]] = {}
    sources: list[tuple[str, Path, list[str] | None]] = []
    if cfg.data.synth:
        sources.append(("", Path(cfg.data.synth) / split, None))
    for ds in cfg.data.datasets:
        path = Path(ds["path"])
        sources.append((ds.get("name", path.name), path / split if (path / split).is_dir() else path, ds.get("tasks")))
    for name, path, tasks in sources:
        if not path.is_dir():
            raise FileNotFoundError(f"data split directory {path} does not exist")
        wanted = [t for t in cfg.tasks if tasks is None or t in tasks]
        try:
            loaded = load_split(path, tasks=wanted, skip_bad=cfg.data.skip_bad)
        except DataError as e:
            if name or "no file provides" not in e.detail:
                raise
            # A world written before a task existed lacks its file; the rest would be rewritten identically.
            raise DataError(e.file, None, e.problem, f"{e.detail}; this synthetic world predates those tasks: delete "
                                                     f"{cfg.data.synth} to have it written again") from None
        for task, exs in loaded.items():
            if exs:
                out[task if not name else f"{task}@{name}"] = list(exs)
    return out
