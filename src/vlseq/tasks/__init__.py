"""Tasks: prompt, target, parse, grammar and metric per task family, and their registry."""

from .base import GrammarSpec, Prediction, Task
from .registry import get_task, register, task_names

__all__ = ["GrammarSpec", "Prediction", "Task", "get_task", "register", "task_names"]
