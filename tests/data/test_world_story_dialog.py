"""The synthetic world's stories and dialogs are valid and true, and written/read back strictly.

Stories: 3-5 images, one sentence per image, each later sentence true of the change between its two
scenes (an object appeared, moved, changed colour or left, and nothing else changed). Dialogs: up to
five rounds, each answer among its deduplicated candidates, the history the earlier rounds. Adding
dialogs left the other tasks' records as they were.
"""

from __future__ import annotations

import numpy as np

from vlseq.data.readers import load_split
from vlseq.data.synth import SynthOptions, write_world
from vlseq.data.world import SCENE_TASKS, WorldConfig, examples_for_scene, generate_scene
from vlseq.data.world.dialogs import MAX_ROUNDS, NUM_OPTIONS, answer_vocabulary
from vlseq.data.world.stories import MAX_IMAGES, MIN_IMAGES, make_story, story_example
from vlseq.tasks import get_task

CFG = WorldConfig(size=64)


def _facts(scene) -> list[tuple]:
    return sorted((o.size, o.colour, o.shape, round(o.cx, 3), round(o.cy, 3)) for o in scene.objects)


def test_stories_say_what_changed_and_nothing_else_changed():
    events = set()
    for s in range(60):
        st = make_story(generate_scene(s, CFG), np.random.default_rng(s), CFG)
        assert st is not None and MIN_IMAGES <= len(st.scenes) <= MAX_IMAGES
        assert len(st.sentences) == len(st.scenes) == len(st.events) and st.events[0] == "start"
        for before, after, event, text in zip(st.scenes, st.scenes[1:], st.events[1:], st.sentences[1:]):
            events.add(event)
            a, b = _facts(before), _facts(after)
            assert after.background == before.background
            gone, new = [f for f in a if f not in b], [f for f in b if f not in a]
            if event == "appear":
                assert not gone and len(new) == 1 and f"{new[0][0]} {new[0][1]} {new[0][2]}" in text, text
            elif event == "remove":
                assert len(gone) == 1 and not new, text
            elif event == "recolour":
                assert len(gone) == len(new) == 1 and gone[0][1] != new[0][1] and text.endswith(f"{new[0][1]}."), text
            else:
                assert len(gone) == len(new) == 1 and gone[0][1:3] == new[0][1:3], text
                dx, dy = new[0][3] - gone[0][3], new[0][4] - gone[0][4]
                want = "to the left" if dx < 0 else "to the right" if dx > 0 else "up" if dy < 0 else "down"
                assert text.endswith(f"{want}."), text
    assert events == {"appear", "move", "recolour", "remove"}
    ex, st = story_example(generate_scene(3, CFG), "a.png", np.random.default_rng(3), CFG, ["b", "c", "d", "e"], "3")
    assert ex.images[: len(st.scenes)] == ["a.png", "b", "c", "d", "e"][: len(st.scenes)] and len(ex.images) == len(st.scenes)
    assert ex.answers[0] == " ".join(ex.meta["sentences"])
    get_task("story").check(ex)


def test_dialog_rounds_are_valid():
    vocab = answer_vocabulary(CFG)
    assert len(vocab) == len(set(vocab)) < NUM_OPTIONS  # so every candidate list is the whole vocabulary
    t = get_task("dialog")
    for s in range(40):
        scene = generate_scene(s, CFG)
        exs = examples_for_scene(scene, "x.png", np.random.default_rng(s), CFG, tasks=["dialog"], image_id=str(s))
        assert 1 <= len(exs) <= MAX_ROUNDS
        for k, e in enumerate(exs):
            t.check(e)
            assert e.meta["round"] == k and e.meta["history"] == [(x.text, x.answers[0]) for x in exs[:k]]
            assert sorted(e.options) == sorted(vocab) and e.options[e.meta["gt_index"]] == e.answers[0]
            assert e.meta["caption"] == exs[0].meta["caption"]
            assert t.target(e, 64) in t.grammar(e).labels


def test_dialogs_leave_the_other_tasks_records_as_they_were():
    for s in range(10):
        scene = generate_scene(s, CFG)
        def run(tasks, scene=scene, s=s):
            return [(e.task, e.text, e.answers, e.options) for e in
                    examples_for_scene(scene, "x.png", np.random.default_rng(s), CFG, tasks=tasks, image_id=str(s))]
        assert [r for r in run(None) if r[0] != "dialog"] == run([t for t in SCENE_TASKS if t != "dialog"])


def test_written_world_reads_back_strictly(tmp_path):
    write_world(tmp_path, SynthOptions(train=0, val=24, test=0, test_heldout=0, size=64, no_progress=True,
                                       workers=1, story_frac=0.5))
    data = load_split(tmp_path / "val", tasks=["story", "dialog"])
    stories, rounds = data["story"], data["dialog"]
    assert stories and rounds and data.report.skipped == 0
    for e in stories:
        assert MIN_IMAGES <= len(e.images) <= MAX_IMAGES and len(set(e.images)) == len(e.images)
        assert len(e.meta["sentences"]) == len(e.images)
        get_task("story").check(e)
    for e in rounds:
        get_task("dialog").check(e)
    assert {e.image_id for e in rounds} and max(e.meta["round"] for e in rounds) < MAX_ROUNDS
