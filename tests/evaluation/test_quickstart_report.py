"""The quickstart's REPORT.md: its sections in order, each line as the report has always written it.

The tables of other modules (image use, per-slot accuracy, identity, all tasks) are taken from their
own formatters, so this pins the report's layout and its own lines, byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from vlseq.evaluation.diagnostics import format_image_use, format_slot_accuracy
from vlseq.evaluation.evaluate import format_metrics
from vlseq.evaluation.identity import format_identity
from vlseq.evaluation.quickstart_report import GOALS, reference_cider, write_report

CFG = SimpleNamespace(name="tiny", time_budget_min=20, batch_size=64, model=SimpleNamespace(image_size=64, num_bins=64))
SUMMARY = {"step": 1234, "elapsed_s": 1199.5, "final": "runs/tiny/final"}
METRICS = {"refexp/acc@0.5": 0.91, "refexp/mean_iou": 0.7, "vqa/accuracy": 0.5, "detect/map_50": 0.71,
           "detect/label_given_hit": 0.2, "caption/cider": 1.1, "classify/accuracy": 0.95,
           "detect/identity/label_given_hit": 0.8, "detect/identity/hits@1-4": 0.5,
           "localize/identity/acc@4-16": 0.25, "localize/acc@0.5": 0.33}
GENERAL = [("refexp on held-out attribute pairs", "acc@0.5", 0.91, 0.8),
           ("grounded captions on caption-only images", "f1_loc", 0.0, 0.1)]
USES = {"detect": (1.0, 2.5), "vqa": (0.5, 0.51)}
SLOTS = {"detect": {"x1": 0.5, "y1": 0.4, "x2": 0.9, "y2": 0.8, "n": 12.0}}

HEAD = """# vlseq quickstart report: preset `tiny`

Trained 1234 steps in 20.0 min (61.7 steps/min; budget 20 min), global batch 64, image 64 px, 64 bins.

## Goals

| metric | goal | reached | met |
|---|---|---|---|
| refexp/acc@0.5 | 0.900 | 0.910 | yes |
| vqa/accuracy | 0.900 | 0.500 | no |
| classify/accuracy | 0.950 | 0.950 | yes |
| detect/map_50 | 0.700 | 0.710 | yes |
| grounded_caption/f1_loc | 0.700 | n/a | no |
| detect/label_given_hit | 0.900 | 0.200 | no |
| localize/acc@0.5 | 0.800 | 0.330 | no |
| vqa/identity/acc@shape | 0.950 | n/a | no |
"""

TAIL = "![learning curve](learning_curve.png)\n\n![examples](eval/sheet.png)\n"


def test_every_section(tmp_path: Path) -> None:
    path = write_report(tmp_path, CFG, SUMMARY, METRICS, 1.05, GENERAL, USES, SLOTS, curves=True)
    assert path == tmp_path / "REPORT.md"
    want = (HEAD + "| caption/cider | 1.050 | 1.100 | yes |\n"
            "\n## Generalisation (goal: out-of-domain >= 80% of in-domain)\n\n"
            "| check | metric | in-domain | out-of-domain | ratio |\n|---|---|---|---|---|\n"
            "| refexp on held-out attribute pairs | acc@0.5 | 0.910 | 0.800 | 0.88 |\n"
            "| grounded captions on caption-only images | f1_loc | 0.000 | 0.100 | nan |\n"
            "\n## Does the model read the image? (validation loss; shuffled: every example gets another example's "
            "image; a gap near 0 means the task is answered from the prompt alone)\n\n" + format_image_use(USES) + "\n"
            "\n## Which box coordinate fails? (teacher-forced accuracy per slot on validation targets)\n\n"
            + format_slot_accuracy(SLOTS) + "\n"
            "\n## Identity (what, apart from where)\n\n" + format_identity(METRICS) + "\n"
            "\n## All tasks\n\n" + format_metrics(METRICS) + "\n\n"
            "## Validation during training\n\n![validation curves](validation_curves.png)\n\n" + TAIL)
    assert path.read_text() == want


def test_optional_sections_left_out(tmp_path: Path) -> None:
    path = write_report(tmp_path, CFG, SUMMARY, METRICS, None)
    # No caption goal without the references' CIDEr; no generalisation, image use, slots or curves.
    assert path.read_text() == (HEAD + "\n## Identity (what, apart from where)\n\n" + format_identity(METRICS) + "\n"
                                "\n## All tasks\n\n" + format_metrics(METRICS) + "\n\n" + TAIL)
    assert list(GOALS)[:2] == ["refexp/acc@0.5", "vqa/accuracy"]


def test_reference_cider_uses_examples_with_two_references() -> None:
    caps = [SimpleNamespace(answers=[f"a red {s}", f"a red {s} here"]) for s in ("circle", "square", "star", "cross")]
    assert reference_cider(caps + [SimpleNamespace(answers=["only one"])]) == reference_cider(caps) > 0


def test_family_goals_appear_only_where_the_run_evaluated_them(tmp_path: Path) -> None:
    more = {**METRICS, "segment/miou": 0.65, "keypoints/pck@0.1": 0.2}
    text = write_report(tmp_path, CFG, SUMMARY, more, None).read_text()
    assert "| segment/miou | 0.600 | 0.650 | yes |" in text and "| keypoints/pck@0.1 | 0.600 | 0.200 | no |" in text
    assert "instance_segment/mask_map_50" not in text and "generate_image/check_all" not in text
