"""A small model saved as a directory: a JSON config beside ``model.safetensors``.

The image tokenizer and the render-and-check checker are saved and loaded this way; the checks
(both files present, the config a JSON object, the weights matching the config exactly) live here
once so that each error names the file and what is wrong.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Callable, TypeVar

from safetensors.torch import load_file, save_file
from torch import nn

M = TypeVar("M", bound=nn.Module)
C = TypeVar("C")


def config_from_dict(cls: type[C], d: dict[str, Any], source: str, what: str) -> C:
    """The dataclass ``cls`` of a saved config ``d``; an unknown key is an error naming ``source``
    (a newer file, or another kind of directory) and the keys ``what`` knows."""
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(d) - known)
    if unknown:
        raise ValueError(f"{source}: unknown {what} setting(s) {unknown}; known: {sorted(known)}")
    return cls(**d)


def save_weights_dir(model: nn.Module, path: str | Path, config: dict[str, Any], config_file: str,
                     weights_file: str) -> None:
    """Write ``weights_file`` then ``config_file`` into directory ``path`` (the config last: its
    presence marks a complete save)."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(p / weights_file))
    (p / config_file).write_text(json.dumps(config, indent=2))


def load_weights_dir(path: str | Path, config_file: str, weights_file: str, what: str,
                     build: Callable[[dict[str, Any], str], M]) -> M:
    """The model ``build(config dict, config file name)`` makes, with the weights of ``path``, in
    eval mode. ``what`` names the directory's kind in the error for a missing file."""
    p = Path(path)
    cfg_file, w_file = p / config_file, p / weights_file
    for f in (cfg_file, w_file):
        if not f.is_file():
            raise FileNotFoundError(f"{f}: not found ({what} directory holds {config_file} and {weights_file})")
    try:
        raw = json.loads(cfg_file.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{cfg_file}: not valid JSON ({e})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{cfg_file}: expected a JSON object, got {type(raw).__name__}")
    model = build(raw, str(cfg_file))
    missing, unexpected = model.load_state_dict(load_file(str(w_file)), strict=False)
    if missing or unexpected:
        raise ValueError(f"{w_file}: weights do not match {cfg_file} (missing {missing[:5]}, unexpected {unexpected[:5]})")
    return model.eval()
