"""Visual stories (VIST style): a sequence of 3-5 scenes made by successive edits, one sentence per image.

A story starts from a scene and changes it a step at a time: an object appears, moves, changes
colour or leaves (:data:`EVENTS`). The first sentence describes the first scene briefly (a caption
of it); every later sentence says what happened between the previous image and this one, naming the
changed object as the previous scene would have to (its referring expression there, from
:func:`~vlseq.data.world.edits.propose_edit`), so each sentence is true of its pair of images.

The edits keep the scene's background and every other object as they were, so consecutive images
differ only where the sentence says. A scene that admits too few valid steps gives no story.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..example import Example, ImageRef
from .edits import propose_edit
from .language import article, captions, position_words
from .rendering import render
from .scene import Scene, WorldConfig, _sample_object, place, rebuild

#: The changes a step may make (``remove`` says an object left the picture).
EVENTS = ("appear", "move", "recolour", "remove")
#: Images per story (VIST's stories have five; the world's run from three to five).
MIN_IMAGES, MAX_IMAGES = 3, 5
_DIRECTIONS = {(-1, 0): "to the left", (1, 0): "to the right", (0, -1): "up", (0, 1): "down"}


@dataclass
class Story:
    """The scenes of a story in order and one sentence per scene (``events[k]`` made scene ``k``)."""

    scenes: list[Scene]
    sentences: list[str]
    events: list[str] = field(default_factory=list)  # "start" for the first scene


def _appear(scene: Scene, rng: np.random.Generator, cfg: WorldConfig) -> tuple[str, Scene] | None:
    """A new object somewhere free in the scene, and the sentence that says so."""
    if len(scene.objects) >= cfg.max_objects:
        return None
    for _ in range(20):
        # in a mixed world (scale_frac) a newcomer has one of the named sizes, whatever its scene's are
        obj = _sample_object(rng, cfg, None, scaled=cfg.scale is not None and cfg.scale_frac is None)
        objs = list(scene.objects)
        if not place(objs, obj, cfg):
            continue
        edited = rebuild(scene, objs, cfg.min_visible)
        if edited is None:
            continue
        words = f"{obj.size} {obj.colour} {obj.shape}"
        where = position_words(edited.objects[-1], scene.width)
        form = int(rng.integers(3))
        text = (f"{article(words)} {words} appeared {where}." if form == 0 else
                f"then {article(words)} {words} showed up {where}." if form == 1 else
                f"{where} {article(words)} {words} came into view.")
        return text, edited
    return None


def _narrate(kind: str, expression: str, before: Scene, after: Scene, target: int, rng: np.random.Generator) -> str:
    """The past-tense sentence of an edit of ``before`` (its object named as ``before`` shows it)."""
    if kind == "remove":
        return f"{expression} {['left the picture', 'disappeared', 'was taken away'][int(rng.integers(3))]}."
    if kind == "recolour":
        colour = after.objects[target].colour
        return f"{expression} turned {colour}." if rng.random() < 0.5 else f"{expression} changed color to {colour}."
    old, new = before.objects[target], after.objects[target]
    step = (int(np.sign(round(new.cx - old.cx))), int(np.sign(round(new.cy - old.cy))))
    return f"{expression} {'moved' if rng.random() < 0.5 else 'slid'} {_DIRECTIONS[step]}."


def _step(scene: Scene, rng: np.random.Generator, cfg: WorldConfig) -> tuple[str, str, Scene] | None:
    """One change of ``scene``: (event, sentence, next scene), or None when no change is valid."""
    kinds = [EVENTS[int(k)] for k in rng.permutation(len(EVENTS))]
    for kind in kinds:
        if kind == "appear":
            made = _appear(scene, rng, cfg)
            if made is not None:
                return "appear", made[0], made[1]
            continue
        edit = propose_edit(scene, rng, cfg)
        if edit is not None and edit.expression:
            return edit.kind, _narrate(edit.kind, edit.expression, scene, edit.scene, edit.target, rng), edit.scene
    return None


def make_story(scene: Scene, rng: np.random.Generator, config: WorldConfig | None = None) -> Story | None:
    """A story of :data:`MIN_IMAGES` to :data:`MAX_IMAGES` scenes starting at ``scene`` (None when the
    scene admits fewer than ``MIN_IMAGES - 1`` valid changes in a row)."""
    cfg = config or WorldConfig(size=scene.width)
    n = int(rng.integers(MIN_IMAGES, MAX_IMAGES + 1))
    first = captions(scene, rng, 1)[0]
    story = Story([scene], [first], ["start"])
    while len(story.scenes) < n:
        made = _step(story.scenes[-1], rng, cfg)
        if made is None:
            break
        event, sentence, nxt = made
        story.scenes.append(nxt)
        story.sentences.append(sentence)
        story.events.append(event)
    return story if len(story.scenes) >= MIN_IMAGES else None


def story_example(scene: Scene, image_ref: ImageRef, rng: np.random.Generator, config: WorldConfig | None = None,
                  step_refs: list[ImageRef] | None = None, image_id: str = "") -> tuple[Example, Story] | None:
    """A ``story`` example: ``images`` = the story's scenes in order (``image_ref`` first, then
    ``step_refs`` or else the renders of the later scenes), ``answers`` = the sentences joined by a
    space, ``meta["sentences"]`` / ``meta["events"]`` one per image. None when no story fits the scene.

    ``step_refs`` may be longer than the story needs (a caller that does not know the length yet
    passes one path per possible step); the first ``len(story) - 1`` are used.
    """
    story = make_story(scene, rng, config)
    if story is None:
        return None
    later = story.scenes[1:]
    refs = list(step_refs[: len(later)]) if step_refs is not None else [render(s) for s in later]
    if len(refs) != len(later):
        raise ValueError(f"story of {len(story.scenes)} images needs {len(later)} step images, got {len(refs)}")
    ex = Example(task="story", images=[image_ref, *refs], width=scene.width, height=scene.height, image_id=image_id,
                 answers=[" ".join(story.sentences)], source=f"synthetic:{image_id}",
                 meta={"sentences": list(story.sentences), "events": list(story.events)})
    return ex, story
