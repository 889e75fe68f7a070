"""Every task's ground truth, recomputed from the scene graph by an independent reader of the text.

The rules (documented in vlseq.data.world.language) are re-implemented here from scratch: position
= centre of the visible pixels' box; "a left of b" when b is at least 0.1*S further right and the
horizontal offset is at least 1.5x the vertical one; superlatives need a 0.08*S gap.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from vlseq.data.world import COLOURS, SHAPES, WorldConfig, examples_for_scene, generate_scene, pair_example, render
from vlseq.data.world.edits import propose_edit

NUM = {w: i for i, w in enumerate("zero one two three four five six seven eight nine ten".split())}
NUM.update({"a": 1, "an": 1})
SIZES = ("small", "medium", "large")
PLURAL = {s + ("es" if s.endswith("s") else "s"): s for s in SHAPES} | {"objects": "object", "shapes": "object"}


def centre(o):
    ys, xs = np.nonzero(o.visible)
    return (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2


def clear(a, b, side):
    (ax, ay), (bx, by) = centre(a), centre(b)
    dx, dy = bx - ax, by - ay
    if abs(dx) >= 0.1 * side and abs(dx) >= 1.5 * abs(dy):
        return "left of" if dx > 0 else "right of"
    if abs(dy) >= 0.1 * side and abs(dy) >= 1.5 * abs(dx):
        return "above" if dy > 0 else "below"
    return None


def parse_desc(words: list[str]):
    """("small", "red", "circle") from words; None for unknown words."""
    size = colour = None
    while words and words[0] in SIZES:
        size = words.pop(0)
    if words and words[0] in COLOURS:
        colour = words.pop(0)
    if len(words) != 1:
        return None
    noun = PLURAL.get(words[0], words[0])
    if noun not in SHAPES and noun != "object":
        return None
    return size, colour, None if noun == "object" else noun


def fits(o, d) -> bool:
    size, colour, shape = d
    return (size is None or o.size == size) and (colour is None or o.colour == colour) and (shape is None or o.shape == shape)


REF = re.compile(r"^the (?:(leftmost|rightmost|topmost|bottommost) )?(.+?)(?: (left of|right of|above|below) the (.+))?$")


def resolve(scene, text: str) -> list[int]:
    """Indices of the objects ``text`` (a referring expression) can mean; unique = one index."""
    m = REF.match(text)
    assert m, text
    sup, target, rel, anchor = m.groups()
    d = parse_desc(target.split())
    assert d is not None, text
    objs, side = scene.objects, scene.width
    cands = [i for i, o in enumerate(objs) if fits(o, d)]
    if sup:
        axis = 0 if sup in ("leftmost", "rightmost") else 1
        sign = 1 if sup in ("leftmost", "topmost") else -1
        if len(cands) < 2:
            return []
        order = sorted(cands, key=lambda i: sign * centre(objs[i])[axis])
        if abs(centre(objs[order[0]])[axis] - centre(objs[order[1]])[axis]) < 0.08 * side:
            return order[:2]
        return order[:1]
    if rel:
        ad = parse_desc(anchor.split())
        anchors = [i for i, o in enumerate(objs) if fits(o, ad)]
        if len(anchors) != 1:
            return []
        a = objs[anchors[0]]
        hits = []
        for i in cands:
            if i == anchors[0]:
                continue
            (x, y), (axx, ayy) = centre(objs[i]), centre(a)
            loose = {"left of": x < axx, "right of": x > axx, "above": y < ayy, "below": y > ayy}[rel]
            if clear(objs[i], a, side) == rel or loose:
                hits.append(i)
        return hits if all(clear(objs[i], a, side) == rel for i in hits) else hits + [-1]
    return cands


def answer(scene, q: str) -> str:
    """The VQA answer recomputed from the question text and the scene graph."""
    objs, side = scene.objects, scene.width
    if m := re.match(r"^what color is (the .+)\?$", q):
        (i,) = resolve(scene, m[1])
        return objs[i].colour
    if m := re.match(r"^what shape is (the .+)\?$", q):
        (i,) = resolve(scene, m[1])
        return objs[i].shape
    if m := re.match(r"^how many (.+) are there\?$", q):
        d = parse_desc(m[1].split())
        return str(sum(fits(o, d) for o in objs))
    if m := re.match(r"^is there an? (.+)\?$", q):
        d = parse_desc(m[1].split())
        return "yes" if any(fits(o, d) for o in objs) else "no"
    if m := re.match(r"^is (the .+) on the left or the right side of the image\?$", q):
        (i,) = resolve(scene, m[1])
        return "left" if centre(objs[i])[0] < side / 2 else "right"
    if m := re.match(r"^is (the .+) in the top or the bottom half of the image\?$", q):
        (i,) = resolve(scene, m[1])
        return "top" if centre(objs[i])[1] < side / 2 else "bottom"
    if m := re.match(r"^is (the .+) (left of|right of|above|below) (the .+)\?$", q):
        (i,), (j,) = resolve(scene, m[1]), resolve(scene, m[3])
        return "yes" if clear(objs[i], objs[j], side) == m[2] else "no"
    raise AssertionError(f"unknown question form: {q!r}")


@pytest.fixture(scope="module")
def annotated():
    out = []
    for seed in range(120):
        cfg = WorldConfig(size=64 if seed % 2 else 128)
        scene = generate_scene(seed, cfg)
        out.append((scene, examples_for_scene(scene, render(scene), np.random.default_rng(seed), cfg, image_id=str(seed))))
    return out


def test_every_task_is_present(annotated):
    tasks = Counter(e.task for _, exs in annotated for e in exs)
    for t in ("caption", "vqa", "refexp", "segment", "ground", "grounded_caption", "detect", "localize",
              "region_caption", "classify", "instance_segment", "keypoints", "generate_image"):
        assert tasks[t] > 0, t


def test_instance_segment_keypoints_and_generation(annotated):
    from vlseq.tasks import get_task

    for scene, exs in annotated:
        by = {t: [e for e in exs if e.task == t] for t in ("detect", "instance_segment", "keypoints", "generate_image")}
        assert all(len(v) == 1 for v in by.values())
        det, seg, kp, gen = (by[t][0] for t in ("detect", "instance_segment", "keypoints", "generate_image"))
        assert [(o.label, o.box) for o in seg.objects] == [(o.label, o.box) for o in det.objects]
        assert all(len(o.polygon) >= 3 for o in seg.objects) and seg.options == det.options
        get_task("instance_segment").target(seg, 64)  # a valid target (every object has a polygon)
        assert [(o.label, o.box) for o in kp.objects] == [(o.label, o.box) for o in det.objects]
        get_task("keypoints").target(kp, 64)
        # generation: the caption names every object with its colour; the requirements count them
        assert int(gen.images[0].std()) == 0 and gen.target_image is exs[0].images[0]
        reqs = gen.meta["requirements"]
        assert sum(r["count"] for r in reqs) == len(scene.objects)
        for r in reqs:
            assert r["colour"] in gen.text and r["shape"] in gen.text
            assert r["count"] == sum(1 for o in scene.objects if (o.colour, o.shape) == (r["colour"], r["shape"]))


def test_edit_requirements_describe_the_edited_scene():
    from vlseq.data.world import edit_example, scene_requirements

    cfg = WorldConfig(size=64)
    for seed in range(20):
        scene = generate_scene(seed, cfg)
        made = edit_example(scene, "x.png", np.random.default_rng(seed), cfg)
        if made is None:
            continue
        ex, edit = made
        assert ex.meta["requirements"] == scene_requirements(edit.scene, cfg)
        if edit.kind == "remove":
            assert sum(r["count"] for r in ex.meta["requirements"]) == len(scene.objects) - 1


def test_refexps_pick_exactly_their_object(annotated):
    kinds = Counter()
    for scene, exs in annotated:
        for e in (e for e in exs if e.task == "refexp"):
            hits = resolve(scene, e.text)
            t = e.meta["target"]
            assert hits == [t], (e.text, hits, t)
            o = scene.objects[t]
            assert e.objects[0].box == tuple(float(v) for v in o.box)
            assert e.meta["tokens_positive"] == [(0, len(e.text))]
            kinds["rel" if " of the " in e.text or " above the " in e.text or " below the " in e.text
                  else "sup" if "most " in e.text else "attr"] += 1
    assert min(kinds.values()) >= 10, kinds  # all three families occur


def test_vqa_answers_recompute(annotated):
    types = Counter()
    yes_no = Counter()
    for scene, exs in annotated:
        for e in (e for e in exs if e.task == "vqa"):
            assert e.answers == [e.answers[0]] * 10
            assert answer(scene, e.text) == e.answers[0], e.text
            types[e.meta["question_type"]] += 1
            if e.meta["answer_type"] == "yes/no":
                yes_no[e.answers[0]] += 1
    assert set(types) == {"colour", "shape", "count", "exists", "relation", "position"}
    assert 0.4 <= yes_no["yes"] / sum(yes_no.values()) <= 0.6


def test_vqa_examples_carry_the_object_they_ask_about(annotated):
    """A colour, shape or position question carries its one object (box, label, attributes); count,
    exists questions carry the objects their answer rests on: as many as the count, some for a "yes"
    and none for a "no" about existence; relation questions carry none."""
    carried = Counter()
    for scene, exs in annotated:
        for e in (e for e in exs if e.task == "vqa"):
            qt = e.meta["question_type"]
            boxes = [o.box for o in e.objects]
            if qt == "count":
                assert len(boxes) == int(e.answers[0]), e.text
            elif qt == "exists":
                assert bool(boxes) == (e.answers[0] == "yes"), e.text
            elif qt == "relation":
                assert boxes == [], e.text
            if qt not in ("colour", "shape", "position"):
                carried[qt] += bool(boxes)
                continue
            (o,) = e.objects
            ref = re.match(r"^(?:what (?:color|shape) is|is) (the .+?)(?:\?| on the left| in the top)", e.text)[1]
            (i,) = resolve(scene, ref)
            target = scene.objects[i]
            assert o.box == tuple(float(v) for v in target.box) and o.label == target.shape  # default labels: shapes
            assert (o.attributes["shape"], o.attributes["colour"]) == (target.shape, target.colour)
            if qt != "position":
                assert o.attributes[qt] == e.answers[0]
            carried[qt] += 1
    assert min(carried[t] for t in ("colour", "shape", "position", "count", "exists")) >= 10, carried


def _check_phrase(scene, text, phrase, members=None):
    words = text[phrase.start:phrase.end].split()
    n = NUM[words[0]]
    d = parse_desc(words[1:])
    assert d is not None, text[phrase.start:phrase.end]
    assert len(phrase.boxes) == n
    boxes = {tuple(float(v) for v in o.box): o for o in scene.objects}
    for b in phrase.boxes:
        assert fits(boxes[b], d)


def test_captions_and_grounded_phrases(annotated):
    for scene, exs in annotated:
        caps = next(e for e in exs if e.task == "caption").answers
        assert len(caps) == 5 and len(set(caps)) == 5
        for e in exs:
            if e.task in ("ground", "grounded_caption"):
                text = e.text if e.task == "ground" else e.answers[0]
                covered = []
                for p in e.phrases:
                    _check_phrase(scene, text, p)
                    covered += p.boxes
                # grounded captions mention every object once
                assert sorted(covered) == sorted(tuple(float(v) for v in o.box) for o in scene.objects)
    assert any(" left of " in c or " above " in c or " next to " in c for _, exs in annotated
               for e in exs if e.task == "caption" for c in e.answers)


def test_detect_localize_region(annotated):
    for scene, exs in annotated:
        det = next(e for e in exs if e.task == "detect")
        assert sorted(o.label for o in det.objects) == sorted(o.shape for o in scene.objects)
        for e in (e for e in exs if e.task == "localize"):
            assert {o.box for o in e.objects} == {tuple(float(v) for v in o.box) for o in scene.objects if o.shape == e.text}
        for e in (e for e in exs if e.task == "region_caption"):
            o = next(o for o in scene.objects if tuple(float(v) for v in o.box) == e.region)
            assert e.answers[0].split()[1:] == [o.size, o.colour, o.shape]


def _count(scene, d):
    return sum(fits(o, d) for o in scene.objects)


def test_classify_labels(annotated):
    labels = Counter()
    for scene, exs in annotated:
        for e in (e for e in exs if e.task == "classify"):
            assert e.answers[0] in e.options
            labels[(e.meta["kind"], e.answers[0])] += 1
            if e.meta["kind"] == "entailment" and (m := re.match(r"^there (?:is|are) (\w+) (.+)\.$", e.text)):
                d = parse_desc(m[2].split())
                truth = _count(scene, d) == NUM[m[1]]
                assert (e.answers[0] == "entailment") == truth, e.text
    for k in ("entailment", "neutral", "contradiction"):
        assert labels[("entailment", k)] > 15
    assert labels[("match", "yes")] > 30 and labels[("match", "no")] > 30


def test_pair_statements():
    cfg = WorldConfig(size=64)
    got = Counter()
    for s in range(150):
        a, b = generate_scene(2 * s, cfg), generate_scene(2 * s + 1, cfg)
        e = pair_example(a, "a.png", b, "b.png", np.random.default_rng(s))
        assert e.images == ["a.png", "b.png"] and e.answers[0] in e.options
        got[e.answers[0]] += 1
        if m := re.match(r"^the (left|right) image has more (\w+) than the \w+ image\.$", e.text):
            x, y = (a, b) if m[1] == "left" else (b, a)
            d = (None, None, None) if m[2] == "objects" else parse_desc([m[2]])
            assert (e.answers[0] == "true") == (_count(x, d) > _count(y, d)), e.text
        if m := re.match(r"^both images contain an? (.+)\.$", e.text):
            d = parse_desc(m[1].split())
            assert (e.answers[0] == "true") == (_count(a, d) > 0 and _count(b, d) > 0)
    assert 0.35 <= got["true"] / 150 <= 0.65


def test_edits_change_only_what_they_say():
    cfg = WorldConfig(size=64)
    kinds = Counter()
    for s in range(60):
        scene = generate_scene(s, cfg)
        edit = propose_edit(scene, np.random.default_rng(s), cfg)
        if edit is None:
            continue
        kinds[edit.kind] += 1
        assert edit.expression in edit.instruction
        assert resolve(scene, edit.expression) == [edit.target], edit.instruction
        before, after = render(scene), render(edit.scene)
        untouched = ~(scene.objects[edit.target].mask | np.any([o.mask for o in edit.scene.objects], axis=0))
        assert np.array_equal(before[untouched], after[untouched])  # same background
        src = [(o.shape, o.colour) for o in scene.objects]
        dst = [(o.shape, o.colour) for o in edit.scene.objects]
        if edit.kind == "remove":
            assert dst == src[: edit.target] + src[edit.target + 1:]
        elif edit.kind == "recolour":
            assert dst[edit.target][1] != src[edit.target][1] and dst[edit.target][1] in edit.instruction
        else:
            o0, o1 = scene.objects[edit.target], edit.scene.objects[edit.target]
            dx, dy = o1.cx - o0.cx, o1.cy - o0.cy
            word = {(1, 0): "right", (-1, 0): "left", (0, 1): "down", (0, -1): "up"}[(int(np.sign(dx)), int(np.sign(dy)))]
            assert edit.instruction.endswith(word + ".")
    assert len(kinds) == 3, kinds


def test_heldout_refexp_targets():
    pairs = (("red", "star"), ("blue", "circle"))
    cfg = WorldConfig(size=64, require_pairs=pairs)
    n = 0
    for s in range(40):
        scene = generate_scene(s, cfg)
        for e in examples_for_scene(scene, "x.png", np.random.default_rng(s), cfg, tasks=["refexp"]):
            o = scene.objects[e.meta["target"]]
            assert (o.colour, o.shape) in pairs
            n += 1
    assert n >= 20


def test_deterministic_examples_and_unknown_task():
    cfg = WorldConfig(size=64)
    a = examples_for_scene(generate_scene(5, cfg), "x.png", np.random.default_rng(1), cfg)
    b = examples_for_scene(generate_scene(5, cfg), "x.png", np.random.default_rng(1), cfg)
    assert [(e.task, e.text, e.answers) for e in a] == [(e.task, e.text, e.answers) for e in b]
    with pytest.raises(ValueError, match="unknown scene task"):
        examples_for_scene(generate_scene(5, cfg), "x.png", np.random.default_rng(1), cfg, tasks=["dance"])


def test_new_tasks_leave_the_other_records_unchanged():
    """instance_segment, keypoints and generate_image draw nothing from the annotation rng, so a world
    written with them has the same records for every other task (and the same rng state after)."""
    from vlseq.data.world import SCENE_TASKS

    old = [t for t in SCENE_TASKS if t not in ("instance_segment", "keypoints", "generate_image")]
    cfg = WorldConfig(size=64)
    for seed in range(10):
        scene = generate_scene(seed, cfg)
        ra, rb = np.random.default_rng(seed), np.random.default_rng(seed)
        a = examples_for_scene(scene, "x.png", ra, cfg, tasks=old)
        b = [e for e in examples_for_scene(scene, "x.png", rb, cfg) if e.task in old]
        assert repr(a) == repr(b) and ra.random() == rb.random()
