"""The main job end to end on the debug preset: world, training, evaluation, report."""

from __future__ import annotations

import json

from vlseq.cli import main


def test_quickstart_debug_writes_report(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    rc = main(["quickstart", "--preset", "debug", "--out", str(out), "--eval-per-task", "3", f"data.synth={tmp_path / 'w'}",
               'data.synth_generate={"train": 24, "val": 8, "test": 4, "size": 32, "seed": 0}', "max_steps=3",
               "save_every=0"])
    assert rc == 0
    report = (out / "REPORT.md").read_text()
    assert "## Goals" in report and "| refexp/acc@0.5 | 0.900 |" in report
    assert "## Generalisation" in report and "held-out attribute pairs" in report
    assert "## Does the model read the image?" in report and "| detect |" in report
    assert "## Identity (what, apart from where)" in report and "| object size | detect label given hit |" in report
    metrics = json.loads((out / "eval" / "metrics.json").read_text())
    assert {"detect/identity/label_given_hit", "detect/identity/hits@1-4", "localize/identity/acc@4-16"} <= set(metrics)
    assert (out / "learning_curve.png").exists() and (out / "eval" / "sheet.png").exists()
    assert (out / "final" / "model.safetensors").exists()
    assert "report:" in capsys.readouterr().out
