"""The synthetic world's paragraphs and VCR-style multiple-choice questions are valid and true.

Paragraphs: 3-6 sentences, every object named with its size, colour and shape, at least one relation,
and every relation sentence true under the world's geometry rules (re-checked here). Multiple
choice: four distinct choices per stage, the right one among them and true (its colour, count,
relation or shape is the scene's), the distractors wrong, both stages paired, and every target
accepted by the task's grammar labels. Written by ``write_world``, both read back strictly.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest

from vlseq.codec import parse
from vlseq.data.readers import load_split
from vlseq.data.synth import SynthOptions, write_world
from vlseq.data.tagged import render_plain
from vlseq.data.world import SCENE_TASKS, SHAPES, WorldConfig, examples_for_scene, generate_scene
from vlseq.data.world.language import NUMBER_WORDS, next_to, position_words, relation
from vlseq.tasks import get_task
from vlseq.tasks.paragraph import grounded_paragraph, sentences

B = 64
DESC = r"(?:the|an?) (small|large) (\w+) (\w+)"
REL = re.compile(rf"^{DESC} is (to the left of|to the right of|above|below|next to|close to|"
                 rf"(?:above|below) and to the (?:left|right) of) {DESC}\.$")
SINGLE = re.compile(rf"^{DESC} is (.+) of the image\.$")


def _world(n: int = 60, **cfg_kw):
    cfg = WorldConfig(size=128, **cfg_kw)
    for s in range(n):
        scene = generate_scene(s, cfg)
        yield scene, examples_for_scene(scene, "x.png", np.random.default_rng(s), cfg,
                                        tasks=["paragraph", "multiple_choice"], image_id=str(s))


def _holds(scene, words: str, a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    """Whether some object described by ``a`` stands in relation ``words`` to some object described by ``b``."""
    objs, side = scene.objects, scene.width
    match = lambda d: [o for o in objs if (o.size, o.colour, o.shape) == d]  # noqa: E731
    for x in match(a):
        for y in match(b):
            if x is y:
                continue
            (ax, ay), (bx, by) = x.centre, y.centre
            rel = relation(x, y, side)
            ok = {"to the left of": rel == "left of", "to the right of": rel == "right of", "above": rel == "above",
                  "below": rel == "below", "next to": next_to(x, y, side),
                  "close to": max(abs(bx - ax), abs(by - ay)) < 0.1 * side}.get(words)
            if ok is None:  # a diagonal: both signs right, and no clear relation between the two
                vertical, horizontal = words.split(" and to the ")
                ok = rel is None and (ay < by) == (vertical == "above") and (ax < bx) == horizontal.startswith("left")
            if ok:
                return True
    return False


@pytest.mark.parametrize("cfg_kw", [{}, {"min_objects": 1, "max_objects": 2}])
def test_paragraphs_cover_every_object_and_their_relations_hold(cfg_kw):
    firsts, n_sentences = Counter(), Counter()
    for scene, exs in _world(**cfg_kw):
        (p,) = [e for e in exs if e.task == "paragraph"]
        text = p.answers[0]
        sents = sentences(text)
        assert 3 <= len(sents) <= 6, text
        n_sentences[len(sents)] += 1
        for o in scene.objects:  # plurals ("two large red circles") contain the singular
            assert f"{o.size} {o.colour} {o.shape}" in text, (o, text)
        relations = 0
        for s in sents:
            m = REL.match(s)
            if m:
                assert _holds(scene, m.group(4), m.group(1, 2, 3), m.group(5, 6, 7)), (s, text)
                relations += 1
            m = SINGLE.match(s)
            if m:
                (o,) = scene.objects
                assert (o.size, o.colour, o.shape) == m.group(1, 2, 3) and m.group(4) == position_words(o, scene.width)
                relations += 1
        assert relations >= 1, text
        firsts[sents[0].split(" ")[0]] += 1
        # the object mentions are grounded phrases: their text names their object(s), their boxes are theirs
        for ph, members in zip(p.phrases, p.meta["phrase_objects"]):
            said = text[ph.start:ph.end]
            for i in members:
                o = scene.objects[i]
                assert f"{o.size} {o.colour} {o.shape}" in said and tuple(map(float, o.box)) in ph.boxes
        back = parse(grounded_paragraph(p, B), p.width, p.height, B)
        assert back.text == text and len(back.phrases) == len(p.phrases) and not back.errors
        task = get_task("paragraph")
        assert task.parse(task.target(p, B), p, B).text == text
    assert len(firsts) >= 3, firsts  # the order and the templates vary
    if not cfg_kw:
        assert len(n_sentences) >= 3, n_sentences


def _number(answer: str) -> int:
    if answer == "there are none.":
        return 0
    return NUMBER_WORDS.index(answer.split(" ")[2].rstrip("."))


def _check_truth(scene, qa, qar) -> None:
    """The right answer and rationale hold in the scene and every distractor does not."""
    objs, side = scene.objects, scene.width
    tags = [t[0] for t in qa.meta["question_tokens"] if not isinstance(t, str)]
    family = qa.meta["family"]
    if family == "colour":
        o = objs[tags[0]]
        assert qa.answers[0] == f"the {o.shape} is {o.colour}."
        assert all(not a.endswith(f" {o.colour}.") for a in qa.options if a != qa.answers[0])
        said = f"the {o.size} {o.shape} {position_words(o, side)} is painted {o.colour}."
        assert qar.answers[0] == said
    elif family == "relation":
        i, j = tags
        rel = relation(objs[i], objs[j], side)
        words = {"left of": "to the left of", "right of": "to the right of"}.get(rel, rel)
        assert qa.answers[0] == f"the {objs[i].shape} is {words} the {objs[j].shape}."
        edge = {"left of": "left", "right of": "right", "above": "top", "below": "bottom"}[rel]
        assert qar.answers[0] == f"the {objs[i].shape} is closer to the {edge} edge than the {objs[j].shape}."
        for r in qar.options:  # every "closer to the E edge" claim but the right one is false
            m = re.match(r"the (\w+) is closer to the (\w+) edge than the (\w+)\.", r)
            a, e, b = m.groups()
            oa, ob = next(o for o in objs if o.shape == a), next(o for o in objs if o.shape == b)
            axis, sign = {"left": (0, 1), "right": (0, -1), "top": (1, 1), "bottom": (1, -1)}[e]
            true = sign * oa.centre[axis] < sign * ob.centre[axis]
            assert true == (r == qar.answers[0]), (r, qar.answers[0])
    elif family == "count":
        words = qa.text[len("how many "):-len(" are there?")].split(" ")  # "red circles", "objects", ...
        colour = words[0] if len(words) == 2 else None
        noun = words[-1]
        shape = None if noun == "objects" else noun[:-2] if noun[:-2] in SHAPES else noun[:-1]  # crosses, circles
        n = sum((colour is None or o.colour == colour) and (shape is None or o.shape == shape) for o in objs)
        assert _number(qa.answers[0]) == n, (qa.text, qa.answers)
        assert all(_number(a) != n for a in qa.options if a != qa.answers[0])
    else:  # shape: the right rationale cites the object the question means
        (k,) = [t[0] for t in qar.meta["choice_tokens"][qar.meta["label"]] if not isinstance(t, str)]
        o = objs[k]
        assert qa.answers[0].endswith(f" {o.shape}.") and qar.answers[0] == f"the {o.colour} {o.shape} is {position_words(o, side)}."


def test_multiple_choice_stages_are_valid_and_true():
    task = get_task("multiple_choice")
    families: Counter = Counter()
    for scene, exs in _world(80):
        mcs = [e for e in exs if e.task == "multiple_choice"]
        assert mcs and len(mcs) % 2 == 0
        labels = [o.shape for o in scene.objects]
        for qa, qar in zip(mcs[::2], mcs[1::2]):
            assert (qa.meta["stage"], qar.meta["stage"]) == ("qa", "qar") and qa.meta["qid"] == qar.meta["qid"]
            assert qar.meta["answer"] == qa.answers[0] and qa.text == qar.text
            for e in (qa, qar):
                task.check(e)
                assert len(e.options) == 4 == len(set(e.options)), e.options
                assert e.options[e.meta["label"]] == e.answers[0]
                assert [render_plain(c, labels) for c in e.meta["choice_tokens"]] == e.options
                assert render_plain(e.meta["question_tokens"], labels) == e.text
                target = task.target(e, B)
                assert target in task.grammar(e).labels and task.parse(target, e, B).text == e.answers[0]
                tags = [k for t in e.meta["question_tokens"] if not isinstance(t, str) for k in t]
                prompt = task.prompt(e, B)
                assert prompt.count("<loc_") >= 4 * len(tags) and "<obj>" not in prompt
            _check_truth(scene, qa, qar)
            families[qa.meta["family"]] += 1
    assert set(families) == {"colour", "shape", "count", "relation"}, families


def test_new_tasks_leave_every_other_record_and_the_rng_as_they_were():
    old = [t for t in SCENE_TASKS if t not in ("paragraph", "multiple_choice")]
    cfg = WorldConfig(size=64)
    for seed in range(6):
        scene = generate_scene(seed, cfg)
        ra, rb = np.random.default_rng(seed), np.random.default_rng(seed)
        a = examples_for_scene(scene, "x.png", ra, cfg, tasks=old)
        b = [e for e in examples_for_scene(scene, "x.png", rb, cfg) if e.task in old]
        assert repr(a) == repr(b) and ra.random() == rb.random()
        # one new task's records do not depend on whether the other was asked for
        only = examples_for_scene(scene, "x.png", np.random.default_rng(seed), cfg, tasks=["multiple_choice"])
        both = examples_for_scene(scene, "x.png", np.random.default_rng(seed), cfg,
                                  tasks=["paragraph", "multiple_choice"])
        assert repr(only) == repr([e for e in both if e.task == "multiple_choice"])


def test_write_world_emits_both_formats_and_they_read_back(tmp_path):
    out = write_world(tmp_path / "w", SynthOptions(train=4, val=3, test=2, test_heldout=0, size=64, workers=1,
                                                     no_progress=True))
    for split in ("train", "val", "test"):
        d = out / split
        paras = json.loads((d / "paragraphs_v1.json").read_text())
        assert paras and all(set(r) == {"image_id", "url", "paragraph"} for r in paras)
        assert json.loads((d / f"{split}_split.json").read_text()) == [r["image_id"] for r in paras]
        lines = [json.loads(line) for line in (d / "vcr.jsonl").read_text().splitlines()]
        for r in lines:
            assert len(r["answer_choices"]) == len(r["rationale_choices"]) == 4
            meta = json.loads((d / r["metadata_fn"]).read_text())
            assert len(meta["boxes"]) == len(r["objects"]) and all(len(b) == 5 for b in meta["boxes"])
            assert (d / r["img_fn"]).is_file()
        data = load_split(d, tasks=["paragraph", "multiple_choice"])  # strict: no bad record
        assert len(data["paragraph"]) == len(paras) and len(data["multiple_choice"]) == 2 * len(lines)
        counts = json.loads((d / "manifest.json").read_text())["counts"]
        assert counts["paragraphs_v1.json"] == len(paras) and counts["vcr.jsonl"] == len(lines)
        for e in data["multiple_choice"]:
            assert e.objects and all(0 <= o.box[0] < o.box[2] <= e.width for o in e.objects)
