"""Tasks: prompt, target, parse, grammar and metric per task family, and their registry.

Every fact about a task is on its :class:`Task`; the built-in ones are listed in
:mod:`vlseq.tasks.builtin`, and :func:`register` adds another.
"""

from .base import GrammarSpec, Prediction, Task
from .registry import file_feeds, get_task, headline, register, task_names, task_of, unregister

__all__ = ["GrammarSpec", "Prediction", "Task", "file_feeds", "get_task", "headline", "register", "task_names",
           "task_of", "unregister"]
