"""Tasks registered by name (open_clip/timm-style registry).

The built-in tasks are one explicit list, :data:`vlseq.tasks.builtin.BUILTIN_TASKS`, registered on
first use; no task module imports this registry, so the registry can import them without a circle.
Another task registers with :func:`register` (a class decorator, or a plain call) and is then asked
for like a built-in one: by the Processor, training, evaluation, the Pipeline and the sheets.
"""

from __future__ import annotations

from typing import Callable

from .base import Task

_REGISTRY: dict[str, Callable[[], Task]] = {}
_builtin_loaded = False


def register(cls: type[Task]) -> type[Task]:
    """Register a task class under its ``name`` (usable as a class decorator); returns ``cls``.

    Raises ``ValueError`` for a class without a name, a name already taken (built-in names
    included), or a declared :attr:`Task.files` entry that no split reader writes this task from.
    """
    _load_builtin()
    _add(cls)
    return cls


def unregister(name: str) -> None:
    """Remove the task registered as ``name`` (a test or plugin that registered one for a while)."""
    _load_builtin()
    if name not in _REGISTRY:
        raise KeyError(f"unknown task {name!r}")
    del _REGISTRY[name]


def _add(cls: type[Task]) -> None:
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY:
        raise ValueError(f"task {cls.name!r} registered twice")
    if cls.files:
        _check_files(cls)
    _REGISTRY[cls.name] = cls


def _check_files(cls: type[Task]) -> None:
    """Each file a task declares has a reader, and that reader writes the task's examples: a reader
    builds each task's examples its own way, so a file cannot feed a task its reader does not know."""
    from ..data.readers.split import READERS

    for f in cls.files:
        reader = READERS.get(f)
        if reader is None:
            raise ValueError(f"task {cls.name!r} declares file {f!r}, which no reader reads (known: {', '.join(READERS)}; "
                             "vlseq.data.readers.register_reader adds one)")
        if cls.name not in reader.writes:
            raise ValueError(f"task {cls.name!r} declares file {f!r}, whose reader writes only {list(reader.writes)}")


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


def file_feeds() -> dict[str, tuple[str, ...]]:
    """``{file name: tasks}``: the split files the registered tasks declare (:attr:`Task.files`), in the
    order the readers know the files, each file's tasks in the order its reader lists them (then in
    registration order): the ``feeds`` the split readers (:func:`vlseq.data.readers.load_split`) take."""
    from ..data.readers.split import READERS

    _load_builtin()
    by_file: dict[str, list[str]] = {name: [] for name in READERS}
    for name, cls in _REGISTRY.items():
        for f in getattr(cls, "files", ()):
            by_file.setdefault(f, []).append(name)
    out = {}
    for f, tasks in by_file.items():
        if tasks:
            order = READERS[f].writes if f in READERS else ()
            out[f] = tuple(sorted(tasks, key=lambda t: order.index(t) if t in order else len(order)))  # stable
    return out


def _load_builtin() -> None:
    global _builtin_loaded
    if _builtin_loaded:
        return
    from .builtin import BUILTIN_TASKS

    for cls in BUILTIN_TASKS:
        _add(cls)
    _builtin_loaded = True
