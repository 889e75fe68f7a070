"""Training data: the synthetic world (generated on first use) and/or reader-format datasets."""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from pathlib import Path
from typing import Any

from ..data.example import Example
from .config import TrainConfig

log = logging.getLogger(__name__)


def ensure_synth(root: Path, gen: dict[str, Any] | None, bins: int | None = None) -> None:
    """Write the synthetic world to ``root`` unless a complete one is already there.

    ``gen``: :class:`~vlseq.data.synth.SynthOptions` fields as a config gives them, and optionally
    ``no_contact_sheet``; without it the world's ``contact_sheet.png`` is drawn too, its targets
    on ``bins`` coordinate bins (default: the data report's grid).
    """
    from ..data.synth import SynthOptions, stale_options, write_world

    opts = SynthOptions(**{k: tuple(v) if isinstance(v, list) else v for k, v in (gen or {}).items()
                           if k != "no_contact_sheet"})
    if (root / "manifest.json").exists():
        # A world on disk is used as written: data.synth may name one a user wrote with `vlseq synth`.
        # But a config whose world options changed would otherwise train on the old world unsaid.
        diff = stale_options(json.loads((root / "manifest.json").read_text()), opts) if gen else []
        if diff:
            warnings.warn(f"the synthetic world at {root} was written with other options than data.synth_generate "
                          f"names ({'; '.join(diff)}); it is used as written. To draw the configured world, move "
                          f"or delete {root}, or point data.synth elsewhere", stacklevel=2)
        return
    if (root / "train" / "manifest.json").exists():
        return
    if not gen:
        raise FileNotFoundError(f"no synthetic world at {root} and data.synth_generate is empty: "
                                f"run `vlseq synth --out {root}` or set data.synth_generate")
    log.info("generating the synthetic world at %s: %s", root, gen)
    write_world(root, opts)
    if not gen.get("no_contact_sheet"):
        from ..evaluation.data_report import DEFAULT_BINS
        from ..viz.truth_sheet import write_world_sheet

        write_world_sheet(root, DEFAULT_BINS if bins is None else bins)


def load_examples(cfg: TrainConfig, split: str) -> dict[str, list[Example]]:
    """Examples per ``source`` name (``task`` or ``task@dataset``) for a split, restricted to ``cfg.tasks``.

    The synthetic world gives ``task`` sources, each ``data.datasets`` entry ``task@name`` ones (its
    tasks among ``cfg.tasks`` that its files provide, see :func:`~vlseq.data.readers.load_files`). An
    entry must name files for the training split; one without the validation split adds none there.
    """
    from ..data.readers.datasets import load_datasets
    from ..data.readers.split import load_split
    from ..data.readers.validate import DataError
    from ..tasks import file_feeds

    feeds = file_feeds()  # which file feeds which task: the tasks declare it

    out: dict[str, list[Example]] = {}
    if cfg.data.synth:
        path = Path(cfg.data.synth) / split
        if not path.is_dir():
            raise FileNotFoundError(f"data split directory {path} does not exist")
        try:
            loaded = load_split(path, tasks=cfg.tasks, skip_bad=cfg.data.skip_bad, feeds=feeds)
        except DataError as e:
            if "no file provides" not in e.detail:
                raise
            # A world written before a task existed lacks its file; the rest would be rewritten identically.
            raise DataError(e.file, None, e.problem, f"{e.detail}; this synthetic world predates those tasks: delete "
                                                     f"{cfg.data.synth} to have it written again") from None
        out.update({task: list(exs) for task, exs in loaded.items() if exs})
    if split == cfg.data.train_split and cfg.eval_examples > 0:
        # Said once, as the run starts: the end-of-run metrics would otherwise look like held-out ones.
        shared = validation_on_training_data(cfg)
        if shared:
            log.warning("validation reads the training data of %s (one split serves both): its metrics measure "
                        "fitting, not held-out accuracy; give a %r split (a %s/ folder beside %s/, or %r files "
                        "in the entry)", ", ".join(shared), cfg.data.val_split, cfg.data.val_split,
                        cfg.data.train_split, cfg.data.val_split)
    out.update(load_datasets(cfg.data.datasets, split, cfg.tasks, skip_bad=cfg.data.skip_bad,
                             required=split == cfg.data.train_split, feeds=feeds))
    return out


def validation_on_training_data(cfg: TrainConfig) -> list[str]:
    """The ``data.datasets`` entries (named, with their folder) whose validation split reads the very
    files of their training split: a ``path`` that is one split serves every split (as ``--data DIR``
    of one split does), and an entry may name the same files for both. No file is parsed."""
    from ..data.readers.datasets import entry_name, split_dir

    train, val = cfg.data.train_split, cfg.data.val_split
    out = []
    for e in cfg.data.datasets:
        if e.get(val) != e.get(train):  # its own files for one of them (or a split named for one only)
            continue
        if e.get("path") is not None and split_dir(e, val) != split_dir(e, train):
            continue
        out.append(f"dataset {entry_name(e)!r}" + (f" ({e['path']})" if e.get("path") is not None else ""))
    return out


def use_datasets(cfg: TrainConfig, entries: list[dict[str, Any]], strict_tasks: bool = False) -> TrainConfig:
    """``cfg`` training on ``entries`` alone: no synthetic world (neither written nor read), and
    ``tasks`` narrowed to those the entries' training files provide (no file is parsed).

    ``strict_tasks``: the config's tasks were chosen on purpose (a ``tasks=`` override): one the
    data does not provide is an error, not left out. Raises ValueError when no task is left.
    """
    from ..data.readers.datasets import check_entries, provided_tasks
    from ..tasks import file_feeds

    feeds = file_feeds()
    check_entries(entries, "datasets", feeds)
    split = cfg.data.train_split
    have = {t for e in entries for t in provided_tasks(e, split, feeds)}
    tasks = [t for t in cfg.tasks if t in have]
    missing = [t for t in cfg.tasks if t not in have]
    where = ", ".join(str(e.get("path") or e.get("name")) for e in entries)
    if strict_tasks and missing:
        raise ValueError(f"tasks {missing} are in the config's 'tasks' but no training file of {where} provides them "
                         f"(they provide {sorted(have) or 'none'})")
    if not tasks:
        raise ValueError(f"the training split {split!r} of {where} provides tasks {sorted(have) or 'none (no known file)'}, "
                         f"none of which the config trains (tasks={list(cfg.tasks)}): set tasks=[...]")
    data = dataclasses.replace(cfg.data, synth=None, datasets=list(entries))
    return dataclasses.replace(cfg, data=data, tasks=tasks)
