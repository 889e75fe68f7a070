"""VisDial v1.0 ``visdial_1.0_{train,val}.json`` -> ``dialog`` Examples, one per answered round.

The file::

    {"version": "1.0", "split": "train",
     "data": {"questions": ["is the photo in color", ...], "answers": ["yes", ...],
              "dialogs": [{"image_id": 378466, "caption": "a man riding a bike",
                           "dialog": [{"question": 12, "answer": 7, "answer_options": [100 indices],
                                       "gt_index": 41}, ...]}, ...]}}

``question`` and ``answer`` index the two string tables, ``answer_options`` the answers (VisDial
gives 100), and ``answer_options[gt_index]`` is the round's answer. Round ``r`` of a dialog becomes
an Example with ``text`` the question, ``answers`` the answer, ``options`` the candidate strings and
``meta`` ``caption``, ``history`` (every earlier answered round as ``(question, answer)``), ``round``,
``dialog_id`` and ``gt_index``. A round without ``answer`` (the test split's last round) is left out:
it has nothing to score.

The image, in this order: ``image_template`` (e.g. ``"COCO_train2014_{image_id:012d}.jpg"``) under
the image root; the dialog's ``file_name`` (the synthetic world writes one; VisDial's dialogs have
none); ``{image_id}.jpg``. A bad round is an error of its whole dialog (its history would be wrong
without it); ``skip_bad`` skips the dialog.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..example import Example
from ..images import checked_size, resolve_image
from .validate import DataError, IdIndex, ReadReport, RecordGuard, clean_text, field_of, load_json, record_id


def _table(data: dict, key: str, path: Path) -> list[str]:
    """A string table of ``data``; anything but a list of strings is a file-level error (every round
    that points into it would be suspect)."""
    if key not in data:
        raise DataError(path, None, "missing_key", f"missing key 'data.{key}'")
    table = data[key]
    if not isinstance(table, list):
        raise DataError(path, None, "wrong_type", f"'data.{key}' must be a list of strings, got {type(table).__name__}")
    for k, v in enumerate(table):
        if not isinstance(v, str):
            raise DataError(path, None, "wrong_type", f"'data.{key}'[{k}] must be a string, got {v!r:.60}")
    return table


def _ref(value: Any, table: list[str], g: RecordGuard, rid: Any, what: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise g.error(rid, "wrong_type", f"{what} must be an index (integer), got {value!r:.60}")
    if not 0 <= value < len(table):
        raise g.error(rid, "unknown_ref", f"{what} {value} is not an index of the table (0-{len(table) - 1})")
    text = " ".join(table[value].split())
    if not text:
        raise g.error(rid, "bad_value", f"{what} {value} is an empty string")
    return text


def _image_path(root: Path, image_id: Any, rec: dict, template: str | None, g: RecordGuard, rid: Any) -> Path:
    if template is not None:
        try:
            return resolve_image(root, template.format(image_id=image_id))
        except (KeyError, ValueError, IndexError) as e:
            raise g.error(rid, "bad_value", f"image template {template!r} does not fit image_id {image_id!r}: {e}") from None
    name = field_of(rec, "file_name", str, g, rid, default=None)
    return resolve_image(root, name if name else f"{image_id}.jpg")


def read_visdial(
    path: str | Path,
    image_root: str | Path | None = None,
    image_template: str | None = None,
    skip_bad: bool = False,
    report: ReadReport | None = None,
) -> list[Example]:
    """``dialog`` Examples, one per answered round, dialogs in file order (see the module docstring)."""
    path = Path(path)
    root = Path(image_root) if image_root is not None else path.parent
    g = RecordGuard(path, skip_bad, report)
    doc = load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
        raise DataError(path, None, "wrong_type", "expected a JSON object whose 'data' is an object")
    data = doc["data"]
    questions, answers = _table(data, "questions", path), _table(data, "answers", path)
    dialogs = data.get("dialogs")
    if not isinstance(dialogs, list):
        raise DataError(path, None, "missing_key" if dialogs is None else "wrong_type", "'data.dialogs' must be a list")
    ids = IdIndex(g, "image")
    out: list[Example] = []
    for k, rec in enumerate(dialogs):
        rid: Any = f"dialogs[{k}]"
        with g.record(rid):
            rid = record_id(rec, "image_id", g, rid)
            ids.add(rid)
            caption = clean_text(field_of(rec, "caption", str, g, rid), g, rid, "caption")
            rounds = field_of(rec, "dialog", list, g, rid)
            image = _image_path(root, rid, rec, image_template, g, rid)
            w, h = checked_size(image, g, rid)
            history: list[tuple[str, str]] = []
            made = []
            for r, rnd in enumerate(rounds):
                where = f"round {r}"
                if not isinstance(rnd, dict):
                    raise g.error(rid, "wrong_type", f"{where} must be an object, got {type(rnd).__name__}")
                question = _ref(rnd.get("question"), questions, g, rid, f"{where} 'question'")
                if rnd.get("answer") is None:
                    continue
                answer = _ref(rnd["answer"], answers, g, rid, f"{where} 'answer'")
                opts = rnd.get("answer_options")
                if not isinstance(opts, list) or not opts:
                    raise g.error(rid, "missing_key" if opts is None else "wrong_type",
                                  f"{where} 'answer_options' must be a non-empty list of answer indices")
                options = [_ref(o, answers, g, rid, f"{where} 'answer_options'[{j}]") for j, o in enumerate(opts)]
                gt = rnd.get("gt_index")
                if isinstance(gt, bool) or not isinstance(gt, int) or not 0 <= gt < len(options):
                    raise g.error(rid, "bad_value", f"{where} 'gt_index' must index the {len(options)} answer options, "
                                                    f"got {gt!r:.40}")
                if opts[gt] != rnd["answer"]:
                    raise g.error(rid, "bad_value", f"{where} 'answer_options'[{gt}] is answer {opts[gt]}, not the "
                                                    f"round's answer {rnd['answer']}")
                made.append(Example(task="dialog", images=[str(image)], width=w, height=h, image_id=str(rid),
                                    text=question, answers=[answer], options=options,
                                    source=f"{path}#{rid} {where}",
                                    meta={"caption": caption, "history": list(history), "round": r,
                                          "dialog_id": str(rid), "gt_index": gt}))
                history.append((question, answer))
            out.extend(made)
    g.report.kept["dialog"] += len(out)
    return out
