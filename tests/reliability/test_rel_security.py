"""Security of loading: weights only through safetensors; the one legacy pickle path (optimizer and
scheduler state of a training checkpoint) goes through ``torch.load(weights_only=True)``, so a
malicious file is refused before any of its code runs.

(The demo's binding/upload/path rules are tested with the demo.)
"""

from __future__ import annotations

import ast
import inspect
import shutil
from pathlib import Path

import pytest
import torch

SRC = Path(__file__).resolve().parents[2] / "src" / "vlseq"
#: modules whose import means unpickling is possible
PICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


def _sources() -> list[Path]:
    files = sorted(SRC.rglob("*.py"))
    assert len(files) > 20
    return files


def _is_torch_load(call: ast.Call) -> bool:
    f = call.func
    return isinstance(f, ast.Attribute) and f.attr == "load" and isinstance(f.value, ast.Name) and f.value.id == "torch"


def test_no_torch_load_without_weights_only_and_no_pickle_imports():
    loads, bad, imports = 0, [], []
    for path in _sources():
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_torch_load(node):
                loads += 1
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                if not ok:
                    bad.append(f"{path.relative_to(SRC)}:{node.lineno}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "load":
                # numpy's load unpickles only with allow_pickle=True
                for k in node.keywords:
                    if k.arg == "allow_pickle" and not (isinstance(k.value, ast.Constant) and k.value.value is False):
                        bad.append(f"{path.relative_to(SRC)}:{node.lineno} (allow_pickle)")
            elif isinstance(node, ast.Import):
                imports += [f"{path.relative_to(SRC)}:{node.lineno} {a.name}" for a in node.names
                            if a.name.split(".")[0] in PICKLERS]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in PICKLERS:
                imports.append(f"{path.relative_to(SRC)}:{node.lineno} {node.module}")
    assert not bad, f"torch.load without weights_only=True: {bad}"
    assert not imports, f"pickle-capable imports: {imports}"
    print(f"security grep: {len(_sources())} files, {loads} torch.load calls, all weights_only=True; no pickle imports")


def test_release_checkpoints_hold_only_safetensors_and_json(reference_run):
    files = sorted(p.name for p in (reference_run / "final").iterdir())
    assert "model.safetensors" in files
    assert not [f for f in files if f.endswith((".pt", ".pth", ".bin", ".pkl", ".ckpt"))], files


class _Payload:
    """Unpickling this would create a file: the marker of code run from a checkpoint."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("victim", ["optimizer.pt", "scheduler.pt"])
def test_malicious_pickle_in_training_checkpoint_is_refused(tmp_path, reference_run, victim):
    from vlseq.models.io import from_pretrained
    from vlseq.train.checkpoint import list_checkpoints, load_checkpoint
    from vlseq.train.optim import build_optimizer, build_scheduler

    ckpt = tmp_path / "step"
    shutil.copytree(list_checkpoints(reference_run / "checkpoints")[-1], ckpt)
    marker = tmp_path / "pwned"
    torch.save({"state": {}, "param_groups": [], "x": _Payload(marker)}, ckpt / victim)
    model, _, _ = from_pretrained(ckpt / "model")
    opt = build_optimizer(model, 1e-3, 0.0)
    sched = build_scheduler(opt, 1, 8, 0.1)
    with pytest.raises(Exception) as e:
        load_checkpoint(ckpt, model, opt, sched, None)
    assert "weights_only" in str(e.value) or "Unsupported global" in str(e.value), str(e.value)[:300]
    assert not marker.exists(), "code from the checkpoint ran"


def test_transformers_legacy_bin_loading_defaults_to_weights_only():
    """Backbone/LM weights read by transformers' from_pretrained: its .bin fallback must stay weights_only."""
    from transformers import modeling_utils

    assert inspect.signature(modeling_utils.load_state_dict).parameters["weights_only"].default is True
