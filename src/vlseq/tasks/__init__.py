"""Tasks: prompt, target, parse, grammar and metric per task family, and their registry."""

from .base import GrammarSpec, Prediction, Task
from .registry import get_task, headline, register, task_names, task_of

__all__ = ["GrammarSpec", "Prediction", "Task", "get_task", "headline", "register", "task_names", "task_of"]
