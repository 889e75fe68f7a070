"""Session fixtures of the reliability tests (defined in rel_helpers.py, shared by every module here)."""

from rel_helpers import reference_run, world  # noqa: F401  (pytest finds fixtures by name)
