"""The one error type of bad input data: names the file, the record and what is wrong."""

from __future__ import annotations

from pathlib import Path
from typing import Any

#: Problem kinds (the keys of :attr:`ReadReport.counts`).
PROBLEMS = (
    "unreadable_file",  # missing file, not UTF-8, invalid JSON
    "missing_key",
    "wrong_type",
    "bad_value",  # e.g. an empty caption, a label not among the options
    "bad_box",  # negative size, non-finite, outside the image
    "bad_span",  # a character span outside its text or reversed
    "duplicate_id",
    "unknown_ref",  # an annotation pointing at an unknown image/category/question id
    "missing_image",
    "bad_image",  # unreadable image, size differs from the record, too large
    "malformed",  # safety net: any other structural error inside a record
)


class DataError(ValueError):
    """A problem in a data file: ``"<file>: record <id>: <detail>"``.

    Attributes: ``file`` (str), ``record`` (the record id or ``None`` for file-level errors),
    ``problem`` (one of :data:`PROBLEMS`), ``detail`` (the human-readable part).
    """

    def __init__(self, file: str | Path, record: Any, problem: str, detail: str) -> None:
        self.file = str(file)
        self.record = record
        self.problem = problem
        self.detail = detail
        where = f"{self.file}: record {record}" if record is not None else self.file
        super().__init__(f"{where}: {detail}")
