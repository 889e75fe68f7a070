"""The identity diagnostic (what an object is, apart from where), on literal inputs worked out by hand.

Cells are 8 px (a 64 px image under an 8x8 grid): an 8x8 box covers 1 cell, 16x16 covers 4, 32x32 covers 16.
"""

from __future__ import annotations

import math

import pytest

from vlseq.metrics import label_errors
from vlseq.metrics.identity import (
    BUCKETS,
    cells_covered,
    detection_identity,
    evidence_identity,
    grid_cell,
    localization_identity,
    size_bucket,
    vqa_identity,
)


def nan(x: float) -> bool:
    return isinstance(x, float) and math.isnan(x)


def test_size_buckets_are_half_open_in_grid_cells() -> None:
    assert BUCKETS == ("<1", "1-4", "4-16", ">16")
    assert cells_covered((0, 0, 8, 8), 8) == 1.0
    assert cells_covered((0, 0, 16, 4), (8, 4)) == 2.0  # (16 / 8) * (4 / 4): non-square cells
    assert size_bucket((0, 0, 7.9, 8), 8) == "<1"
    assert size_bucket((0, 0, 8, 8), 8) == "1-4"
    assert size_bucket((0, 0, 15.9, 16), 8) == "1-4"
    assert size_bucket((10, 10, 26, 26), 8) == "4-16"
    assert size_bucket((0, 0, 32, 32), 8) == ">16"  # 16 cells or more
    assert size_bucket((0, 0, 0, 0), 8) == "<1"
    # A 128 x 64 image stretched to the model's input under an 8x8 grid: 16 x 8 px cells.
    assert grid_cell(128, 64, (8, 8)) == (16.0, 8.0)
    with pytest.raises(ValueError):
        size_bucket((0, 0, 8, 8), 0)
    with pytest.raises(ValueError):
        size_bucket((8, 0, 0, 8), 8)


def test_detection_identity_splits_label_given_hit_by_size_and_class() -> None:
    gts = [(0, "circle", (0, 0, 6, 6)),      # 0.56 cells: <1
           (0, "square", (20, 20, 32, 32)),  # 2.25 cells: 1-4
           (1, "circle", (0, 0, 20, 20)),    # 6.25 cells: 4-16
           (1, "star", (30, 30, 64, 64))]    # 18 cells: >16
    preds = [(0, "square", (0, 0, 6, 6), 0.9),      # hits the small circle, wrong label
             (0, "square", (20, 20, 32, 32), 0.8),  # right
             (1, "circle", (0, 0, 20, 20), 0.7),    # right
             (1, "circle", (0, 0, 19, 19), 0.6),    # the circle again, taken: no hit
             (1, "circle", (30, 30, 64, 64), 0.5)]  # hits the star with the circle's label
    r = detection_identity(gts, preds, cells=8)
    assert r["label_given_hit"] == 2 / 4 == label_errors(gts, preds)["label_given_hit"]
    assert r["hits"] == 4
    assert [r[f"label_given_hit@{b}"] for b in BUCKETS] == [0.0, 1.0, 1.0, 0.0]
    assert [r[f"hits@{b}"] for b in BUCKETS] == [1, 1, 1, 1]
    # per class: of the hits on objects of that class, labelled as it
    assert r["per_class/circle"] == 0.5 and r["per_class/square"] == 1.0 and r["per_class/star"] == 0.0
    # One cell size per image: image 0's cells are 2 px, so its small circle covers 9 cells.
    r = detection_identity(gts, preds, cells={0: 2, 1: 8})
    assert r["hits@<1"] == 0 and nan(r["label_given_hit@<1"])
    assert r["hits@4-16"] == 2 and r["label_given_hit@4-16"] == 0.5
    # Without cells, no size split; a class never hit is NaN.
    r = detection_identity(gts + [(2, "cross", (0, 0, 8, 8))], preds)
    assert not any("@" in k for k in r) and nan(r["per_class/cross"])
    empty = detection_identity(gts, [], cells=8)
    assert nan(empty["label_given_hit"]) and empty["hits"] == 0 and all(empty[f"hits@{b}"] == 0 for b in BUCKETS)
    with pytest.raises(ValueError, match="no cell size"):
        detection_identity(gts, preds, cells={0: 8})


def test_localization_identity_per_class_and_per_size_of_the_largest_instance() -> None:
    refs = {"a": [(0, 0, 6, 6)],                    # <1
            "b": [(0, 0, 6, 6), (20, 20, 36, 36)],  # largest 4 cells: 4-16, though the small one is hit
            "c": (0, 0, 12, 12),                    # 2.25 cells: 1-4
            "d": [(0, 0, 40, 40)]}                  # >16
    labels = {"a": "circle", "b": "circle", "c": "square", "d": "star"}
    preds = {"a": None, "b": (0, 0, 6, 6), "c": [(0, 0, 12, 12), (0, 0, 1, 1)], "d": (0, 0, 10, 10)}
    r = localization_identity(preds, refs, labels, cells=8)
    assert r["per_class/circle"] == 0.5 and r["per_class/square"] == 1.0 and r["per_class/star"] == 0.0
    assert [r[f"acc@{b}"] for b in BUCKETS] == [0.0, 1.0, 1.0, 0.0]
    assert [r[f"n@{b}"] for b in BUCKETS] == [1, 1, 1, 1]
    # a missing prediction is a miss; no cells, no size split
    r = localization_identity({"c": (0, 0, 12, 12)}, refs, labels)
    assert r == {"per_class/circle": 0.0, "per_class/square": 1.0, "per_class/star": 0.0}
    with pytest.raises(ValueError, match="no label"):
        localization_identity(preds, refs, {"a": "circle"})


def test_vqa_identity_by_question_type_and_by_the_object_size_where_known() -> None:
    refs = {1: ["red"] * 10, 2: ["star"] * 10, 3: ["circle"] * 10, 4: ["2"] * 10, 5: ["yes"] * 3 + ["no"] * 7}
    preds = {1: "red", 2: "square", 3: "circle", 4: "two", 5: "yes"}
    types = {1: "colour", 2: "shape", 3: "shape", 4: "count", 5: ""}
    r = vqa_identity(preds, refs, types)
    assert r["acc@colour"] == 1.0 and r["acc@shape"] == 0.5 and r["acc@count"] == 1.0
    assert r["n@shape"] == 2 and r["n@colour"] == 1
    assert r["acc@unknown"] == pytest.approx(0.9)  # 3 of 10 annotators: 0.9; no type: "unknown"
    assert not any(k.count("@") > 1 for k in r)  # no object boxes: no size split
    # With the asked object's box for the shape questions: split by its size.
    r = vqa_identity(preds, refs, types, object_boxes={2: (0, 0, 6, 6), 3: (0, 0, 12, 12)}, cells=8)
    assert r["acc@shape@<1"] == 0.0 and r["acc@shape@1-4"] == 1.0 and nan(r["acc@shape@4-16"])
    assert [r[f"n@shape@{b}"] for b in BUCKETS] == [1, 1, 0, 0]
    assert "acc@colour@<1" not in r  # no colour question has a box
    with pytest.raises(ValueError, match="not in the references"):
        vqa_identity(preds, refs, types, object_boxes={9: (0, 0, 6, 6)}, cells=8)


def test_vqa_identity_splits_pointed_answers_into_which_and_what() -> None:
    refs = {1: ["star"] * 10, 2: ["circle"] * 10, 3: ["square"] * 10, 4: ["red"] * 10, 5: ["2"] * 10}
    preds = {1: "square", 2: "circle", 3: "star", 4: "red", 5: "2"}
    types = {1: "shape", 2: "shape", 3: "shape", 4: "colour", 5: "count"}
    objects = {1: (0, 0, 10, 10), 2: (20, 20, 30, 30), 3: (40, 40, 50, 50), 4: (0, 0, 10, 10)}
    answers = {1: (1, 1, 10, 10),  # found the object, named it wrongly (WHAT)
               2: (20, 20, 30, 31),  # found it, named it right
               3: (0, 0, 10, 10),  # pointed at another object (WHICH)
               4: None, 5: (0, 0, 5, 5)}  # colour: not pointed; a count has no object to find
    r = vqa_identity(preds, refs, types, object_boxes=objects, cells=8, answer_boxes=answers)
    assert r["point_hit@shape"] == pytest.approx(2 / 3) and r["hits@shape"] == 2
    assert r["acc_given_point@shape"] == 0.5
    assert r["point_hit@colour"] == 0.0 and r["hits@colour"] == 0 and nan(r["acc_given_point@colour"])
    assert "point_hit@count" not in r
    # per size bucket (8 px cells): the three shape objects cover 1.56 cells each
    assert r["point_hit@shape@1-4"] == pytest.approx(2 / 3) and r["acc_given_point@shape@1-4"] == 0.5
    assert r["hits@shape@1-4"] == 2 and "point_hit@shape@<1" not in r
    # No answer pointed: no pointing scores at all.
    assert not any(k.startswith("point_hit") for k in vqa_identity(preds, refs, types, objects, 8, {1: None}))


def test_evidence_identity_splits_counts_into_finding_and_counting() -> None:
    refs = {1: ["2"] * 10, 2: ["2"] * 10, 3: ["1"] * 10, 4: ["yes"] * 10, 5: ["0"] * 10, 6: ["no"] * 10}
    preds = {1: "2", 2: "1", 3: "2", 4: "yes", 5: "0", 6: "yes"}
    types = {1: "count", 2: "count", 3: "count", 4: "relation", 5: "count", 6: "relation"}
    a, b, c = ("circle", (0, 0, 10, 10)), ("circle", (20, 20, 30, 30)), ("star", (40, 40, 50, 50))
    evidence = {1: [a, b], 2: [a, b], 3: [a], 4: [a, c], 5: [], 6: [c, a]}
    pointed = {1: [("circle", (21, 20, 30, 30)), a],  # both found, in another order: found, right
               2: [a, b],  # found, then miscounted: a reasoning miss
               3: [a, b],  # one too many: not found
               4: [a, ("circle", (40, 40, 50, 50))],  # a box on the star with the wrong label: not found
               5: [],  # a count of 0 carries no evidence: left out
               6: [c, a]}  # found, answered wrongly
    r = evidence_identity(preds, refs, types, evidence, pointed)
    assert r["evidence_n@count"] == 3 and r["evidence_found@count"] == pytest.approx(2 / 3)
    assert r["acc_given_evidence@count"] == 0.5
    assert r["evidence_n@relation"] == 2 and r["evidence_found@relation"] == 0.5
    assert r["acc_given_evidence@relation"] == 0.0
    with pytest.raises(ValueError, match="question 9"):
        evidence_identity(preds, refs, types, {9: [a]}, {})
