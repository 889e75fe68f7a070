"""The identity diagnostic's wiring: examples and predictions in, ``identity/`` keys and the size table out."""

from __future__ import annotations

import math

import numpy as np

from vlseq.codec.markup import Phrase
from vlseq.codec.parser import Parsed
from vlseq.data.example import Example, Object
from vlseq.evaluation.evaluate import _sources
from vlseq.evaluation.identity import format_identity, identity_scores, model_grid
from vlseq.tasks.base import Prediction

IMG = np.zeros((64, 64, 3), np.uint8)
GRID = (8, 8)  # 8 px cells on a 64 px image


def _objects(*objs: tuple[str, tuple[float, float, float, float]]) -> Prediction:
    text, phrases = "", []
    for label, box in objs:
        phrases.append(Phrase(len(text), len(text) + len(label), (box,)))
        text += label + " "
    return Prediction("", Parsed(text, phrases))


def _ex(task: str, objects=(), text: str = "", answers=(), meta=None, width: int = 64) -> Example:
    return Example(task=task, images=[IMG], width=width, height=64, text=text, answers=list(answers),
                   objects=[Object(label, box) for label, box in objects], meta=meta or {})


def test_identity_scores_of_each_task() -> None:
    det = [_ex("detect", [("circle", (0, 0, 6, 6)), ("square", (20, 20, 36, 36))])]
    r = identity_scores("detect@coco", det, [_objects(("square", (0, 0, 6, 6)), ("square", (20, 20, 36, 36)))], GRID)
    assert r["identity/label_given_hit"] == 0.5 and r["identity/label_given_hit@<1"] == 0.0
    assert r["identity/label_given_hit@4-16"] == 1.0 and r["identity/per_class/circle"] == 0.0
    # a wider image stretched to the square input: its cells are wider (16 x 8 px)
    r = identity_scores("detect", [_ex("detect", [("square", (20, 20, 36, 36))], width=128)],
                        [_objects(("square", (20, 20, 36, 36)))], GRID)
    assert r["identity/hits@1-4"] == 1

    loc = [_ex("localize", [("red  star", (0, 0, 40, 40))], text="red  star"), _ex("localize", [("dot", (0, 0, 6, 6))], text="dot")]
    r = identity_scores("localize", loc, [_objects(("red star", (0, 0, 40, 40))), Prediction("", Parsed(""))], GRID)
    assert r["identity/acc@>16"] == 1.0 and r["identity/acc@<1"] == 0.0 and r["identity/n@1-4"] == 0
    assert r["identity/per_class/red star"] == 1.0 and r["identity/per_class/dot"] == 0.0

    vqa = [_ex("vqa", text="what shape?", answers=["star"] * 10, meta={"question_type": "shape"}),
           _ex("vqa", text="what colour?", answers=["red"] * 10, meta={"answer_type": "other"}),
           _ex("vqa", text="what shape is it?", answers=["dot"] * 10, objects=[("dot", (0, 0, 6, 6))],
               meta={"question_type": "shape"})]
    preds = [Prediction("", Parsed(t)) for t in ("star", "red", "square")]
    r = identity_scores("vqa", vqa, preds, GRID)
    assert r["identity/acc@shape"] == 0.5 and r["identity/acc@other"] == 1.0  # VQAv2's answer type as fallback
    assert r["identity/acc@shape@<1"] == 0.0 and r["identity/n@shape@<1"] == 1  # the one example naming its object
    # no grid (a model without one): no size split; other tasks: nothing
    assert not any("@<1" in k for k in identity_scores("vqa", vqa, preds, None))
    assert identity_scores("caption", vqa, preds, GRID) == {}


def test_world_vqa_splits_by_the_asked_objects_size() -> None:
    """The synthetic world's shape questions carry their object, so VQA identity splits them by size."""
    from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene

    cfg = WorldConfig(size=64)
    exs = [e for seed in range(8) for e in examples_for_scene(generate_scene(seed, cfg), IMG, np.random.default_rng(seed),
                                                              cfg, tasks=["vqa"], image_id=str(seed))]
    shape = [e for e in exs if e.meta["question_type"] == "shape"]
    assert shape and all(len(e.objects) == 1 for e in shape)
    preds = [Prediction("", Parsed(e.answers[0])) for e in exs]  # every answer right
    r = identity_scores("vqa", exs, preds, GRID)
    sized = {k: v for k, v in r.items() if k.startswith("identity/acc@shape@")}
    assert set(sized) == {f"identity/acc@shape@{b}" for b in ("<1", "1-4", "4-16", ">16")}
    assert sum(r[f"identity/n@shape@{b}"] for b in ("<1", "1-4", "4-16", ">16")) == len(shape)
    assert all(v == 1.0 for k, v in sized.items() if r[k.replace("acc@", "n@")])
    assert "identity/acc@count@<1" not in r  # counts are about no one object


def test_answers_after_their_evidence_are_scored_on_finding_it() -> None:
    """A count or yes/no question that carries its evidence: the objects the answer pointed at first
    are matched to it; such a question is never in the asked-object size split."""
    a, b = ("circle", (0, 0, 6, 6)), ("star", (20, 20, 36, 36))
    vqa = [_ex("vqa", text="how many circles?", answers=["1"] * 10, objects=[a],
               meta={"question_type": "count", "answer_type": "number"}),
           _ex("vqa", text="is the circle left of the star?", answers=["yes"] * 10, objects=[a, b],
               meta={"question_type": "relation", "answer_type": "yes/no"})]
    count = _objects(a)
    count.answer = "1"
    rel = _objects(a, ("circle", b[1]))  # the star's box under another label: not its evidence
    rel.answer = "yes"
    r = identity_scores("vqa", vqa, [count, rel], GRID)
    assert r["identity/evidence_found@count"] == 1.0 and r["identity/acc_given_evidence@count"] == 1.0
    assert r["identity/evidence_found@relation"] == 0.0 and r["identity/evidence_n@relation"] == 1
    assert r["identity/acc@relation"] == 1.0 and not any(k.startswith("identity/point_hit") for k in r)
    assert "identity/acc@count@<1" not in r
    # answers that point at nothing (plain): no evidence scores
    plain = [Prediction("", Parsed(t)) for t in ("1", "yes")]
    assert not any("evidence" in k for k in identity_scores("vqa", vqa, plain, GRID))


def test_model_grid() -> None:
    class M:
        grid = (8, 8)

    assert model_grid(M()) == (8, 8) and model_grid(object()) is None


def test_format_identity_table_and_sources_unchanged() -> None:
    m = {"detect/n": 10, "detect/map_50": 0.5, "detect/identity/label_given_hit": 0.75, "detect/identity/hits": 8.0,
         "detect/identity/label_given_hit@<1": math.nan, "detect/identity/hits@<1": 0.0,
         "detect/identity/label_given_hit@1-4": 0.5, "detect/identity/hits@1-4": 4.0,
         "detect/identity/label_given_hit@4-16": 1.0, "detect/identity/hits@4-16": 4.0,
         "detect/identity/label_given_hit@>16": math.nan, "detect/identity/hits@>16": 0.0,
         "detect/identity/per_class/circle": 0.25, "detect/identity/per_class/star": 1.0,
         "localize/n": 4, "localize/acc@0.5": 0.5, "localize/identity/acc@1-4": 0.5, "localize/identity/n@1-4": 4.0,
         "vqa/n": 6, "vqa/accuracy": 0.5, "vqa/identity/acc@shape": 0.25, "vqa/identity/n@shape": 4.0,
         "vqa/identity/acc@colour": 1.0, "vqa/identity/n@colour": 2.0}
    table = format_identity(m)
    lines = table.splitlines()
    assert lines[0] == "| object size | detect label given hit | localize Acc@0.5 | vqa shape | vqa colour |"
    assert "| 1-4 cells | 0.500 (4) | 0.500 (4) | n/a | n/a |" in lines
    assert "| <1 cell | n/a | n/a | n/a | n/a |" in lines
    assert "| all | 0.750 (8) | 0.500 (4) | 0.250 (4) | 1.000 (2) |" in lines
    assert "Lowest classes: detect: circle 0.250, star 1.000." in lines
    assert _sources(m) == ["detect", "localize", "vqa"]  # the identity keys add no source
    assert format_identity({"caption/cider": 1.0, "caption/n": 3}) == ""
    m.update({"vqa/identity/evidence_found@count": 0.8, "vqa/identity/acc_given_evidence@count": 0.9,
              "vqa/identity/evidence_n@count": 10.0})
    assert "vqa count: found 0.800, then right 0.900 (10)" in format_identity(m)
