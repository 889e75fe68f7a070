"""Shared validation for every reader: one error type, one report, small typed field checks.

Every problem a data file can have ends as one :class:`DataError` whose message names the file,
the record and what is wrong -- never a ``KeyError``/``TypeError`` from deep inside a reader.
Readers process records inside :meth:`RecordGuard.record`; in strict mode the first bad record
raises, with ``skip_bad=True`` each bad record is logged (``logging.warning``, same message),
counted per problem kind in a :class:`ReadReport`, and skipped.

File-level problems (a missing or unreadable file, invalid JSON, a missing top-level key) always
raise: there is no record to skip.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

from ...codec.coords import Box, Point
from ..errors import PROBLEMS as PROBLEMS  # re-exported: readers import both from here
from ..errors import DataError

log = logging.getLogger("vlseq.data.readers")

#: Boxes and polygon points may stick out of the image by this many pixels; they are clipped.
#: Real annotation tools round outward, so a strict check would reject good data.
BOX_TOLERANCE = 1.0

@dataclass
class ReadReport:
    """What a read kept and skipped: counts per problem kind and per file, and the messages."""

    counts: Counter = field(default_factory=Counter)  # problem kind -> skipped records
    per_file: Counter = field(default_factory=Counter)  # file -> skipped records
    kept: Counter = field(default_factory=Counter)  # task -> examples produced
    messages: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        return sum(self.counts.values())

    def add(self, err: DataError) -> None:
        self.counts[err.problem] += 1
        self.per_file[err.file] += 1
        self.messages.append(str(err))

    def summary(self) -> str:
        kept = ", ".join(f"{k}={v}" for k, v in sorted(self.kept.items())) or "nothing"
        if not self.skipped:
            return f"kept {kept}; no bad records"
        bad = ", ".join(f"{k}={v}" for k, v in sorted(self.counts.items()))
        return f"kept {kept}; skipped {self.skipped} bad records ({bad})"


class RecordGuard:
    """Strict-or-skip handling of the records of one file.

    >>> g = RecordGuard("captions.json", skip_bad=True)
    >>> for rec in records:
    ...     with g.record(rec.get("id")):
    ...         out.append(build(rec))  # a DataError here skips just this record
    """

    def __init__(
        self, file: str | Path, skip_bad: bool = False, report: ReadReport | None = None, quiet: bool = False
    ) -> None:
        self.file = str(file)
        self.skip_bad = skip_bad
        self.quiet = quiet  # skip without logging (a second pass over a file already reported)
        self.report = report if report is not None else ReadReport()

    def error(self, record: Any, problem: str, detail: str) -> DataError:
        return DataError(self.file, record, problem, detail)

    def handle(self, err: DataError) -> None:
        """Raise ``err`` (strict) or log and count it (``skip_bad``)."""
        if not self.skip_bad:
            raise err
        if not self.quiet:
            log.warning("%s", err)
        self.report.add(err)

    @contextmanager
    def record(self, record_id: Any) -> Iterator[None]:
        """Run one record's processing; its DataError (or a stray lookup/type error) is handled."""
        try:
            yield
        except DataError as e:
            self.handle(e)
        except (KeyError, TypeError, IndexError, AttributeError, ValueError) as e:
            # Safety net: a shape no check anticipated still gives a message naming file + record.
            self.handle(self.error(record_id, "malformed", f"malformed record ({type(e).__name__}: {e})"))


# --------------------------------------------------------------------------- files


def load_json(path: str | Path) -> Any:
    """Parse a JSON file; any failure is a file-level DataError naming the file and the position."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise DataError(path, None, "unreadable_file", "file not found") from None
    except json.JSONDecodeError as e:
        raise DataError(path, None, "unreadable_file", f"invalid JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    except UnicodeDecodeError as e:
        raise DataError(path, None, "unreadable_file", f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(path, None, "unreadable_file", f"cannot read: {e.strerror or e}") from None


def iter_jsonl(path: str | Path, guard: RecordGuard) -> Iterator[tuple[int, dict]]:
    """``(line_number, object)`` for each non-blank line; a bad line is a record error ``line N``."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        raise DataError(path, None, "unreadable_file", "file not found") from None
    except UnicodeDecodeError as e:
        raise DataError(path, None, "unreadable_file", f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise DataError(path, None, "unreadable_file", f"cannot read: {e.strerror or e}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        obj = None
        with guard.record(f"line {n}"):
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise guard.error(f"line {n}", "unreadable_file", f"invalid JSON at column {e.colno}: {e.msg}") from None
            if not isinstance(obj, dict):
                raise guard.error(f"line {n}", "wrong_type", f"expected a JSON object, got {_tname(obj)}")
        if isinstance(obj, dict):
            yield n, obj


def top_list(doc: Any, key: str, file: str | Path, required: bool = True) -> list:
    """``doc[key]`` as a list; a file-level DataError if the document does not have one."""
    if not isinstance(doc, dict):
        raise DataError(file, None, "wrong_type", f"expected a JSON object at the top level, got {_tname(doc)}")
    if key not in doc:
        if not required:
            return []
        raise DataError(file, None, "missing_key", f"missing top-level key {key!r}")
    value = doc[key]
    if not isinstance(value, list):
        raise DataError(file, None, "wrong_type", f"top-level {key!r} must be a list, got {_tname(value)}")
    return value


# --------------------------------------------------------------------------- fields


def _tname(v: Any) -> str:
    return "null" if v is None else type(v).__name__


_TYPE_NAMES = {int: "an integer", float: "a number", str: "a string", list: "a list", dict: "an object"}


def field_of(rec: Any, key: str, typ: type | tuple[type, ...], g: RecordGuard, rid: Any, default: Any = ...) -> Any:
    """``rec[key]`` checked to be of ``typ`` (``float`` accepts ints; ``bool`` is never a number).

    Missing key: the ``default`` if one is given, else a ``missing_key`` error.
    """
    if not isinstance(rec, dict):
        raise g.error(rid, "wrong_type", f"expected an object, got {_tname(rec)}")
    if key not in rec or (rec[key] is None and default is not ...):
        if default is ...:
            raise g.error(rid, "missing_key", f"missing key {key!r}")
        return default
    v = rec[key]
    types = typ if isinstance(typ, tuple) else (typ,)
    if float in types:
        types = types + (int,)
    if isinstance(v, bool) and bool not in types or not isinstance(v, types):
        want = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in (typ if isinstance(typ, tuple) else (typ,)))
        raise g.error(rid, "wrong_type", f"{key!r} must be {want}, got {_tname(v)} {v!r:.60}")
    if isinstance(v, float) and not math.isfinite(v):
        raise g.error(rid, "bad_value", f"{key!r} is not finite ({v})")
    return v


def record_id(rec: Any, key: str, g: RecordGuard, fallback: Any) -> Any:
    """The id of a record (int or str), for messages and duplicate checks."""
    if not isinstance(rec, dict):
        raise g.error(fallback, "wrong_type", f"expected an object, got {_tname(rec)}")
    return field_of(rec, key, (int, str), g, fallback)


def image_dims(rec: dict, g: RecordGuard, rid: Any) -> tuple[int, int]:
    """``(width, height)`` of an image record: positive integers (integral floats accepted)."""
    out = []
    for key in ("width", "height"):
        v = field_of(rec, key, float, g, rid)
        if v <= 0 or v != int(v):
            raise g.error(rid, "bad_value", f"{key!r} must be a positive integer, got {v}")
        out.append(int(v))
    return out[0], out[1]


def _clip(v: float, hi: float) -> float:
    return min(max(v, 0.0), hi)


def xywh_box(value: Any, width: float, height: float, g: RecordGuard, rid: Any, key: str = "bbox") -> Box:
    """A COCO ``[x, y, w, h]`` as pixel ``(x1, y1, x2, y2)``, clipped to the image.

    Errors: not 4 finite numbers, negative size, or more than :data:`BOX_TOLERANCE` px outside.
    """
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise g.error(rid, "wrong_type", f"{key!r} must be a list of 4 numbers [x, y, w, h], got {value!r:.80}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        raise g.error(rid, "bad_box", f"{key!r} must hold 4 finite numbers, got {value!r:.80}")
    x, y, w, h = (float(v) for v in value)
    return xyxy_box((x, y, x + w, y + h), width, height, g, rid, key, shown=value)


def xyxy_box(box: Sequence[float], width: float, height: float, g: RecordGuard, rid: Any, key: str = "box", shown: Any = None) -> Box:
    """Check a pixel xyxy box against the image and clip the tolerated overhang."""
    x1, y1, x2, y2 = box
    shown = list(box) if shown is None else shown
    if x2 < x1 or y2 < y1:
        raise g.error(rid, "bad_box", f"{key!r} {shown} has negative size")
    t = BOX_TOLERANCE
    if x1 < -t or y1 < -t or x2 > width + t or y2 > height + t:
        raise g.error(rid, "bad_box", f"{key!r} {shown} lies outside the {width}x{height} image")
    return (_clip(x1, width), _clip(y1, height), _clip(x2, width), _clip(y2, height))


def polygons(value: Any, width: float, height: float, g: RecordGuard, rid: Any) -> list[list[Point]]:
    """COCO polygon segmentation ``[[x1, y1, x2, y2, ...], ...]`` as point lists, clipped.

    RLE (a dict, used for crowd regions) or a missing/empty value gives ``[]``.
    """
    if value is None or isinstance(value, dict) or value == []:
        return []
    if not isinstance(value, list) or not all(isinstance(p, list) for p in value):
        raise g.error(rid, "wrong_type", f"'segmentation' must be a list of polygons or an RLE object, got {value!r:.80}")
    out = []
    t = BOX_TOLERANCE
    for poly in value:
        if len(poly) < 6 or len(poly) % 2:
            raise g.error(rid, "bad_value", f"a polygon needs an even number (>= 6) of coordinates, got {len(poly)}")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in poly):
            raise g.error(rid, "wrong_type", "polygon coordinates must be finite numbers")
        pts = [(float(poly[i]), float(poly[i + 1])) for i in range(0, len(poly), 2)]
        if any(x < -t or y < -t or x > width + t or y > height + t for x, y in pts):
            raise g.error(rid, "bad_box", f"a polygon point lies outside the {width}x{height} image")
        out.append([(_clip(x, width), _clip(y, height)) for x, y in pts])
    return out


def polygon_area(pts: Sequence[Point]) -> float:
    """Shoelace area (pixels^2) of a closed polygon."""
    return abs(sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in zip(pts, list(pts[1:]) + [pts[0]]))) / 2.0


def spans(value: Any, text: str, g: RecordGuard, rid: Any, key: str = "tokens_positive") -> list[tuple[int, int]]:
    """``[[start, end], ...]`` character spans, each inside ``text`` with ``start < end``."""
    if not isinstance(value, list):
        raise g.error(rid, "wrong_type", f"{key!r} must be a list of [start, end] spans, got {value!r:.80}")
    out = []
    for sp in value:
        if not (isinstance(sp, (list, tuple)) and len(sp) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in sp)):
            raise g.error(rid, "wrong_type", f"{key!r}: a span must be [start, end] integers, got {sp!r:.60}")
        s, e = sp
        if not 0 <= s < e <= len(text):
            raise g.error(rid, "bad_span", f"{key!r} span [{s}, {e}] lies outside its text of length {len(text)} ({text!r:.60})")
        out.append((s, e))
    return out


def normalize_text(text: str, spans_in: Sequence[tuple[int, int]] = ()) -> tuple[str, list[tuple[int, int]]]:
    """Collapse whitespace runs to one space and strip; re-map character spans onto the new text.

    Spans are also stripped of surrounding whitespace; a span holding only whitespace maps to an
    empty ``(s, s)`` span (callers treat it as bad).
    """
    words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    new_pos = {}  # old index of a non-space char -> its new index
    offset = 0
    for a, b in words:
        for p in range(a, b):
            new_pos[p] = offset + p - a
        offset += b - a + 1
    new = " ".join(text[a:b] for a, b in words)
    mapped = []
    for s, e in spans_in:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if s == e:
            mapped.append((0, 0))
        else:
            mapped.append((new_pos[s], new_pos[e - 1] + 1))
    return new, mapped


def clean_text(v: str, g: RecordGuard, rid: Any, key: str) -> str:
    """Whitespace-normalised non-empty text."""
    t = " ".join(v.split())
    if not t:
        raise g.error(rid, "bad_value", f"{key!r} is empty")
    return t


class IdIndex:
    """Unique ids of one kind in one file: a second record with the same id is an error."""

    def __init__(self, g: RecordGuard, what: str) -> None:
        self.g, self.what, self.seen = g, what, set()

    def add(self, rid: Any) -> None:
        if rid in self.seen:
            raise self.g.error(rid, "duplicate_id", f"duplicate {self.what} id {rid!r}")
        self.seen.add(rid)

    def __contains__(self, rid: Any) -> bool:
        return rid in self.seen

