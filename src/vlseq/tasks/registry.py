"""Tasks registered by name (open_clip/timm-style registry)."""

from __future__ import annotations

from typing import Callable

from .base import Task

_REGISTRY: dict[str, Callable[[], Task]] = {}


def register(cls: type[Task]) -> type[Task]:
    """Class decorator: register a task under its ``name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY:
        raise ValueError(f"task {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def get_task(name: str) -> Task:
    _load_builtin()
    if name not in _REGISTRY:
        raise KeyError(f"unknown task {name!r}; known: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]()


def task_of(source: str) -> str:
    """The task of a data source name: ``task`` or ``task@dataset`` (a training mixture's key; not
    :attr:`Example.source <vlseq.data.example.Example.source>`, which names a file and record)."""
    return source.split("@", 1)[0]


def headline(source: str) -> tuple[str, ...]:
    """The headline metric keys of a source (``task`` or ``task@dataset``); none for an unknown task."""
    task = task_of(source)
    return get_task(task).headline if task in task_names() else ()


def task_names() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    # Importing the modules registers their tasks.
    from . import choice, detection, dialog, grounding, image, keypoints, paragraph, segmentation, story, text  # noqa: F401
