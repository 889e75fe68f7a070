"""Smoke runs of the model benchmarks (``--quick``, one thread; the GPU benchmark with ``--tiny
--device cpu``) and checks of their shared helpers.

The benchmarks are scripts, not package modules, so they are loaded from ``bench/`` by path.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from helpers import load_script


def load(name: str) -> ModuleType:
    return load_script("bench", name)


@pytest.fixture(autouse=True)
def _restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


# --------------------------------------------------------------------------- helpers


def test_markdown_table_and_formatting() -> None:
    c = load("_common")
    table = c.markdown_table(["model", "x"], [["a", c.fmt(1234.5)], ["b", c.ratio(3.0, 2.0)]])
    lines = table.splitlines()
    assert lines[0] == "| model | x |"
    assert lines[1] == "|---|---:|"
    assert lines[2:] == ["| a | 1,234 |", "| b | 1.50x |"]
    assert c.fmt(0.012345) == "0.0123" and c.fmt(None) == "-" and c.ratio(1.0, None) == "-"
    with pytest.raises(ValueError, match="2 headers"):
        c.markdown_table(["a", "b"], [[1]])
    with pytest.raises(ValueError, match="unknown config"):
        c.config_names("tiny,huge")


def test_synthetic_batch_uses_the_shared_vocabulary() -> None:
    c = load("_common")
    b = c.synthetic_batch(3, 32, 5, 7, seed=1)
    assert b.pixel_values.shape == (3, 3, 32, 32) and b.prompt.shape == (3, 5) and b.target.shape == (3, 7)
    assert (b.target[:, -1] == c.EOS).all()
    body = b.target[:, :-1]
    assert (body >= c.LOC_OFFSET).all() and (body < c.IMAGE_TOKEN).all()
    assert (b.prompt >= c.LOC_OFFSET + c.NUM_BINS).all()
    assert c.shift_right(b.target)[:, 0].eq(c.BOS).all()


def test_florence2_is_sized_to_vlseq_and_trains() -> None:
    c, sub = load("_common"), load("_subjects")
    vl, fl, vb = sub.build_subjects("debug", ["florence2", "vit+bart"])
    assert abs(fl.params - vl.params) / vl.params <= 0.10
    assert fl.model.config.text_config.d_model == vl.model.config.d_model
    batch = c.synthetic_batch(2, vl.model.config.image_size, 4, 6)
    for s in (vl, fl, vb):
        before = [p.detach().clone() for p in s.model.parameters()]
        loss = sub.train_step_fn(s, s.train_inputs(batch))()
        assert loss > 0
        changed = sum(not torch.equal(a, p) for a, p in zip(before, s.model.parameters()))
        assert changed > len(before) // 2, f"{s.name}: the optimiser step changed only {changed} tensors"


def test_cpu_attention_flops_are_counted() -> None:
    c = load("_common")
    q = torch.randn(2, 4, 10, 16, requires_grad=True)
    with FlopCounterMode(display=False, custom_mapping=c.CPU_SDPA_FLOPS) as fc:
        torch.nn.functional.scaled_dot_product_attention(q, q, q, attn_mask=torch.zeros(2, 1, 10, 10)).sum().backward()
    # forward: two products per head (scores, weighted values) of 2*b*h*s*s*d FLOPs each; torch's
    # backward formula counts five (the scores are recomputed), the same as for its GPU kernels
    product = 2 * 2 * 4 * 10 * 10 * 16
    assert fc.get_total_flops() == 2 * product + 5 * product


def test_florence2_base_config_is_florence2_base() -> None:
    """With Florence-2's own vocabulary the architecture has Florence-2-base's 0.23B parameters."""
    import dataclasses

    from transformers import Florence2ForConditionalGeneration

    c = load("_common")
    cfg = c.model_config("base")
    fc = load("_subjects").florence2_base_config(dataclasses.replace(cfg, vocab_size=51289))
    assert list(fc.vision_config.embed_dim) == [128, 256, 512, 1024] and list(fc.vision_config.depths) == [1, 1, 9, 1]
    assert fc.vision_config.projection_dim == fc.text_config.d_model == 768
    assert (fc.text_config.encoder_layers, fc.text_config.decoder_layers, fc.text_config.encoder_ffn_dim) == (6, 6, 3072)
    with torch.device("meta"):
        n = c.n_params(Florence2ForConditionalGeneration(fc))
    assert 225e6 < n < 235e6, n


# --------------------------------------------------------------------------- quick runs


def test_train_speed_quick(capsys: pytest.CaptureFixture[str]) -> None:
    rows = load("bench_train_speed").main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    assert [r["model"] for r in rows] == ["vlseq", "florence2", "vit+bart"]
    assert all(r["samples_per_s"] > 0 and r["image_tokens"] > 0 for r in rows)
    assert abs(rows[1]["params"] - rows[0]["params"]) / rows[0]["params"] <= 0.10
    assert "| vlseq |" in out and "vs florence2" in out and "vlseq/florence2 =" in out


def test_group_by_length_quick(capsys: pytest.CaptureFixture[str]) -> None:
    res = load("bench_group_by_length").main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    # the same examples either way; sorting never leaves more padded cells than the batches as drawn
    assert res["grouped/cells_ratio"] <= res["mixed/cells_ratio"]
    assert res["mixed/cells_ratio"] >= 1.0 and res["mixed/s_per_batch"] > 0 and res["grouped/s_per_batch"] > 0
    assert "| mixed |" in out and "| grouped |" in out and "faster" in out


def test_step_profile_quick(capsys: pytest.CaptureFixture[str]) -> None:
    """The profile of a real step: every part timed, the parts' FLOPs within the step's."""
    res = load("bench_step_profile").main(["--quick", "--threads", "1"])
    times, flops = res["times"], res["flops"]
    for part in ("vision", "encoder", "decoder", "head"):
        assert times[f"{part} fwd"] > 0 and times[f"{part} bwd"] > 0 and flops[part] > 0
    assert times["optimiser"] > 0 and times["data (draw, encode, collate)"] > 0
    assert sum(flops[p] for p in ("vision", "proj", "encoder", "decoder", "head")) <= flops["forward"] < flops["all"]
    assert "training step" in capsys.readouterr().out


def test_generate_quick(capsys: pytest.CaptureFixture[str]) -> None:
    rows = load("bench_generate").main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    keys = {(r["model"], r["batch"], r["grammar"]) for r in rows}
    assert keys == {(m, b, g) for b in (1, 2) for m, g in (("vlseq", False), ("florence2", False), ("vlseq", True),
                                                            ("vlseq generate()", False), ("vlseq generate()", True))}
    assert all(r["tok_per_s"] > 0 for r in rows)
    assert "overhead" in out and "image tokens" in out and "step/generate()" in out and "| 1 thread |" not in out


def test_decode_floor_quick(capsys: pytest.CaptureFixture[str]) -> None:
    rows = load("bench_decode_floor").main(["--quick", "--threads", "1"])["debug"]
    assert [r[0] for r in rows] == ["vlseq", "florence2"]
    assert all(r[1] > 0 and r[3] > 0 and r[4] > 0 for r in rows)
    assert "asks for" in capsys.readouterr().out


def test_matrix_bytes_counts_the_weight_of_each_product() -> None:
    """A (1, 64) row times a (64, 32) weight reads the weight's 8,192 bytes, once per product."""
    mod = load("bench_decode_floor")
    w, x = torch.randn(32, 64), torch.randn(1, 64)
    with mod.MatrixBytes() as m:
        torch.nn.functional.linear(x, w)
        torch.nn.functional.linear(x, w, torch.zeros(32))
    assert m.bytes == 2 * w.numel() * 4


def test_efficiency_quick(capsys: pytest.CaptureFixture[str]) -> None:
    res = load("bench_efficiency").main(["--quick", "--threads", "1"])
    out = capsys.readouterr().out
    assert all(g > 0 for g in res["peak_gflops"].values())
    assert [(m["config"], m["mode"]) for m in res["memory"]] == [("debug", "train"), ("debug", "infer")]
    assert all(m["peak_kib"] >= m["import_peak_kib"] >= m["baseline_kib"] > 0 for m in res["memory"])
    assert "of peak" in out and "where the forward FLOPs are" in out and "peak resident memory" in out


def test_gpu_bench_tiny_on_cpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "gpu.json"
    res = load("bench_gpu").main(["--tiny", "--device", "cpu", "--threads", "1", "--json", str(out)])
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text())
    assert saved["args"]["quick"] and saved["amp"] == "bf16" and saved["info"]["device"] == "cpu"
    assert [r["model"] for r in saved["train"]] == ["vlseq", "florence2"]
    assert all(r["samples_per_s"] > 0 and r["attn"] == "sdpa" for r in saved["train"])
    assert all(r["gflop_per_step"] > 0 and r["of_peak"] > 0 for r in saved["flops"])
    assert set(saved["flops"][0]["forward_parts"]) == {"vision", "encoder", "decoder", "output head", "other"}
    assert {(r["model"], r["batch"]) for r in saved["generate"]} == {(m, b) for m in ("vlseq", "florence2") for b in (1, 2)}
    assert "compile" not in saved and saved["wall_s"] == res["wall_s"]
    assert "### summary" in printed and "| training samples/s (batch 2) |" in printed
    assert "| generation tokens/s, batch 2 |" in printed and "of the bf16 matmul peak" in printed


def test_gpu_bench_compiled_step() -> None:
    """The --compile path on vlseq alone, with the eager backend (no C++ or Triton build)."""
    g = load("bench_gpu")
    args = g.parse_args(["--tiny", "--device", "cpu", "--compile-backend", "eager"])
    g.set_threads(1)  # as the --threads 1 smoke runs: a second thread only waits on a busy 2-core machine
    subjects = g.build_subjects(args.config, [], seed=args.seed)
    rows = g.measure_compiled(subjects, args, torch.device("cpu"), [{"gflop_per_step": 1.0}], peak_gflops=1e3)
    assert len(rows) == 1 and "error" not in rows[0], rows
    assert rows[0]["first_step_s"] > 0 and rows[0]["samples_per_s"] > 0 and rows[0]["of_peak"] > 0
