"""Determinism: the same seed and config give byte-identical synthetic data and, on CPU with one
thread, an identical training curve and bitwise-identical weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from rel_helpers import WORLD_ARGS, assert_bitwise_equal, final_weights, losses, run_vlseq, train_args, vlseq_env


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_synth_twice_is_byte_identical(tmp_path, world):
    again = tmp_path / "again"
    r = run_vlseq("synth", "--out", str(again), *WORLD_ARGS)
    assert r.returncode == 0, r.stderr
    a, b = _tree(world), _tree(again)
    assert len(a) > 40 and a.keys() == b.keys()
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, differ[:5]
    print(f"synth determinism: {len(a)} files, {sum(map(len, a.values()))} bytes, byte-identical")
    # and the seed matters (the comparison above is not vacuous)
    other = tmp_path / "other"
    args = list(WORLD_ARGS)
    args[args.index("--seed") + 1] = "1"
    assert run_vlseq("synth", "--out", str(other), *args).returncode == 0
    c = _tree(other)
    assert (world / "train" / "captions.json").read_bytes() != c["train/captions.json"]


@pytest.mark.slow
def test_two_debug_runs_have_identical_curves_and_weights(tmp_path, world, reference_run):
    out = tmp_path / "again"
    r = run_vlseq(*train_args(out, world))
    assert r.returncode == 0, r.stderr[-3000:]
    ref, got = losses(reference_run), losses(out)
    assert len(ref) >= 8 and ref == got, (ref, got)
    assert_bitwise_equal(final_weights(out), final_weights(reference_run))
    evals = [json.loads(l)["eval"] for l in (out / "log.jsonl").read_text().splitlines() if '"eval"' in l]
    ref_evals = [json.loads(l)["eval"] for l in (reference_run / "log.jsonl").read_text().splitlines() if '"eval"' in l]
    strip = lambda m: {k: v for k, v in m.items() if not k.endswith("/seconds")}  # noqa: E731
    assert [strip(m) for m in evals] == [strip(m) for m in ref_evals]


_TEXTS = ["a small red circle left of a large blue square", "how many stars are there?", "two", "yes", "no",
          "detect: circle, square, star", "quantum zephyr jukebox wavy fjord"] * 3
_TRAIN_TOKENIZER = f"""
import json
from vlseq.tokenizer import VLTokenizer
print(json.dumps(sorted(VLTokenizer.train({_TEXTS!r}, num_bins=8).hf.get_vocab().items(), key=lambda kv: kv[1])))
"""


def test_tokenizer_training_is_identical_across_processes():
    from vlseq.tokenizer import VLTokenizer

    here = sorted(VLTokenizer.train(_TEXTS, num_bins=8).hf.get_vocab().items(), key=lambda kv: kv[1])
    there = json.loads(subprocess.run([sys.executable, "-c", _TRAIN_TOKENIZER], env=vlseq_env(), capture_output=True,
                                      text=True, check=True).stdout)
    assert [tuple(kv) for kv in there] == here
