"""The layers below the model import no torch: every module of codec, data, tasks and metrics.

Each package is imported module by module in a fresh interpreter (an import in this test process
would find torch already loaded by other tests). The module that first pulls torch in is named, so a
failure says where to look; torch belongs in decoding/, models/, train/ and above (docs/architecture.md).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

#: packages that must stay importable without torch, and a module each must contain (the walk found it)
TORCH_FREE = {
    "vlseq.codec": "vlseq.codec.demo",
    "vlseq.data": "vlseq.data.stream",
    "vlseq.tasks": "vlseq.tasks.registry",
    "vlseq.metrics": "vlseq.metrics.detection",
}

_WALK = """
import importlib, pkgutil, sys
pkg = importlib.import_module({pkg!r})
names = [{pkg!r}] + sorted(m.name for m in pkgutil.walk_packages(pkg.__path__, {pkg!r} + "."))
assert {must!r} in names, names
for name in names:
    importlib.import_module(name)
    if "torch" in sys.modules:
        print("torch imported by", name)
        sys.exit(1)
print("ok", len(names))
"""


@pytest.mark.parametrize("pkg", sorted(TORCH_FREE))
def test_package_imports_no_torch(pkg: str) -> None:
    code = _WALK.format(pkg=pkg, must=TORCH_FREE[pkg])
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and out.stdout.startswith("ok"), out.stdout + out.stderr
