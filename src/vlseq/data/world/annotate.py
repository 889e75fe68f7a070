"""Every task's :class:`~vlseq.data.example.Example` records for a scene (see example.py per task).

``paragraph`` (:mod:`.paragraphs`), ``multiple_choice`` (:mod:`.choices`) and ``dialog``
(:mod:`.dialogs`) draw from child generators spawned off the annotation rng, which leaves its stream untouched: a world written with
them has the same records for every other task.

Single-scene tasks come from :func:`examples_for_scene`; the two-image tasks from
:func:`pair_example` (NLVR2-style statements) and :func:`edit_example` (instruction + edited scene);
``story`` (an image sequence made by successive edits) from
:func:`~vlseq.data.world.stories.story_example`.
Boxes are the tight boxes of the visible pixels; polygons the visible outlines.

Image-output examples (``generate_image``, ``edit_image``) carry ``meta["requirements"]``
(:func:`scene_requirements`): what the output image must show, one ``{"label", "colour", "shape",
"count"}`` per colour-shape group, so generated images can be scored by render-and-check.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from ...codec.markup import Phrase
from ..example import Example, ImageRef
from .choices import choice_examples
from .dialogs import dialog_examples
from .edits import Edit, propose_edit
from .keypoints import keypoints_example
from .language import article, captions, grounded_captions, pick_expression, referring_expressions
from .paragraphs import paragraph
from .questions import (
    ENTAILMENT_OPTIONS,
    MATCH_OPTIONS,
    PAIR_OPTIONS,
    entailment,
    image_text_match,
    pair_statement,
    questions,
)
from .rendering import render
from .scene import Scene, SceneObject, WorldConfig, categories, category, to_object

SCENE_TASKS = ("caption", "vqa", "refexp", "segment", "ground", "grounded_caption", "detect", "localize",
               "region_caption", "classify", "instance_segment", "keypoints", "generate_image", "paragraph",
               "multiple_choice", "dialog")


def region_description(o: SceneObject) -> str:
    words = f"{o.size} {o.colour} {o.shape}"
    return f"{article(words)} {words}"


def scene_requirements(scene: Scene, cfg: WorldConfig) -> list[dict]:
    """What an image of ``scene`` must show: ``{"label", "colour", "shape", "count"}`` per (colour, shape).

    ``label`` is the detection category of the group (:func:`category`); groups are in the order
    their first object is drawn.
    """
    groups: dict[tuple[str, str], dict] = {}
    for o in scene.objects:
        g = groups.setdefault((o.colour, o.shape), {"label": category(o, cfg), "colour": o.colour, "shape": o.shape,
                                                    "count": 0})
        g["count"] += 1
    return list(groups.values())


def _base(scene: Scene, image_ref: ImageRef, image_id: str, task: str, **kw) -> Example:
    return Example(task=task, images=[image_ref], width=scene.width, height=scene.height, image_id=image_id,
                   source=f"synthetic:{image_id}", **kw)


def examples_for_scene(scene: Scene, image_ref: ImageRef, rng: np.random.Generator, config: WorldConfig | None = None,
                       tasks: Iterable[str] | None = None, image_id: str = "") -> list[Example]:
    """The examples of every task in ``tasks`` (default :data:`SCENE_TASKS`) for one scene.

    ``image_ref``: a path or an ``(H, W, 3)`` array (e.g. ``render(scene)``). With
    ``config.require_pairs`` set (the held-out split) refexp/segment targets are only objects whose
    (colour, shape) is one of those pairs.
    """
    cfg = config or WorldConfig(size=scene.width)
    want = set(SCENE_TASKS if tasks is None else tasks)
    unknown = want - set(SCENE_TASKS)
    if unknown:
        raise ValueError(f"unknown scene task(s) {sorted(unknown)}; known: {SCENE_TASKS}")
    objs = scene.objects
    out: list[Example] = []

    def ex(task: str, **kw) -> None:
        out.append(_base(scene, image_ref, image_id, task, **kw))

    gcs = grounded_captions(scene, rng) if want & {"caption", "ground", "grounded_caption", "generate_image"} else []
    if "caption" in want:
        ex("caption", answers=captions(scene, rng, cfg.captions_per_image, gcs))
    if "vqa" in want:
        for qa in questions(scene, rng, cfg.questions_per_image):
            # a question about one object carries it (the size split of the VQA identity scores); a
            # count or yes/no question carries the objects its answer rests on (pointed evidence)
            about = [to_object(objs[k], category(objs[k], cfg))
                     for k in ((qa.target,) if qa.target is not None else qa.evidence)]
            ex("vqa", text=qa.question, answers=[qa.answer] * 10, objects=about,
               meta={"question_type": qa.question_type, "answer_type": qa.answer_type})
    if want & {"refexp", "segment"}:
        targets = [i for i, o in enumerate(objs) if not cfg.require_pairs or (o.colour, o.shape) in cfg.require_pairs]
        for t in rng.permutation(targets)[: cfg.refexps_per_image]:
            e = pick_expression(referring_expressions(scene, int(t)), rng, scene.superlatives)
            if e is None:
                continue
            obj = to_object(objs[int(t)], category(objs[int(t)], cfg))
            meta = {"tokens_positive": [(0, len(e.text))], "target": int(t)}
            for task in ("refexp", "segment"):
                if task in want:
                    ex(task, text=e.text, objects=[obj], meta=dict(meta))
    if want & {"ground", "grounded_caption"}:
        for g in [gcs[int(k)] for k in rng.permutation(len(gcs))[:2]]:
            phrases = [Phrase(s, e, tuple(tuple(float(v) for v in objs[i].box) for i in members))  # type: ignore[misc]
                       for s, e, members in g.spans]
            meta = {"phrase_objects": [members for _, _, members in g.spans]}
            if "ground" in want:
                ex("ground", text=g.text, phrases=phrases, meta=dict(meta))
            if "grounded_caption" in want:
                ex("grounded_caption", answers=[g.text], phrases=phrases, meta=dict(meta))
    if "detect" in want:
        ex("detect", objects=[to_object(o, category(o, cfg)) for o in objs], options=categories(cfg))
    if "localize" in want:
        for label in sorted({category(o, cfg) for o in objs}):
            ex("localize", text=label, objects=[to_object(o, label) for o in objs if category(o, cfg) == label])
    if "region_caption" in want:
        for o in objs:
            ex("region_caption", region=tuple(float(v) for v in o.box), answers=[region_description(o)])  # type: ignore[arg-type]
    if "classify" in want:
        text, label = entailment(scene, rng)
        ex("classify", text=text, answers=[label], options=list(ENTAILMENT_OPTIONS), meta={"kind": "entailment"})
        text, label = image_text_match(scene, rng)
        ex("classify", text=text, answers=[label], options=list(MATCH_OPTIONS), meta={"kind": "match"})
    # The tasks below draw nothing from ``rng``, so adding them left every other task's records as they were.
    if "instance_segment" in want:
        ex("instance_segment", objects=[to_object(o, category(o, cfg)) for o in objs], options=categories(cfg))
    if "keypoints" in want:

        out.append(keypoints_example(scene, image_ref, cfg, image_id=image_id))
    if "generate_image" in want:
        out.append(generation_example(scene, image_ref, gcs[0].text, cfg, image_id))
    if want & {"paragraph", "multiple_choice", "dialog"}:
        # Every child is always spawned, so one task's records do not depend on whether another is asked
        # for; a SeedSequence's first children do not depend on how many are spawned, so adding the
        # dialog's third child left the paragraph and multiple-choice records as they were.
        para_rng, choice_rng, dialog_rng = _spawn(rng, scene, 3)
        if "paragraph" in want:
            st = paragraph(scene, para_rng)
            phrases = [Phrase(s, e, tuple(tuple(float(v) for v in objs[i].box) for i in members))  # type: ignore[misc]
                       for s, e, members in st.spans]
            ex("paragraph", answers=[st.text], phrases=phrases,
               meta={"phrase_objects": [members for _, _, members in st.spans]})
        if "multiple_choice" in want:
            out.extend(choice_examples(scene, image_ref, choice_rng, cfg.choice_questions_per_image, image_id))
        if "dialog" in want:
            out.extend(dialog_examples(scene, image_ref, dialog_rng, cfg, image_id))
    return out


def _spawn(rng: np.random.Generator, scene: Scene, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``rng`` without drawing from its stream."""
    try:
        return rng.spawn(n)
    except TypeError:  # a bit generator without a SeedSequence: derive from the scene's seed instead
        return [np.random.default_rng([scene.seed, 7919, k]) for k in range(n)]


def generation_example(scene: Scene, image_ref: ImageRef, caption: str, config: WorldConfig | None = None,
                       image_id: str = "") -> Example:
    """A ``generate_image`` example: ``text`` = a caption naming every object with its colour (the
    first grounded caption), input = a blank canvas, ``target_image`` = the scene's image."""
    from ..images import blank_canvas

    cfg = config or WorldConfig(size=scene.width)
    return Example(task="generate_image", images=[blank_canvas(scene.width, scene.height)], width=scene.width,
                   height=scene.height, image_id=image_id, text=caption, target_image=image_ref,
                   source=f"synthetic:{image_id}", meta={"requirements": scene_requirements(scene, cfg)})


def pair_example(left: Scene, left_ref: ImageRef, right: Scene, right_ref: ImageRef, rng: np.random.Generator,
                 image_id: str = "") -> Example:
    """An NLVR2-style classify example over two images (``images = [left, right]``)."""
    text, label = pair_statement(left, right, rng)
    return Example(task="classify", images=[left_ref, right_ref], width=left.width, height=left.height,
                   image_id=image_id, text=text, answers=[label], options=list(PAIR_OPTIONS),
                   source=f"synthetic:{image_id}", meta={"kind": "pair"})


def edit_example(scene: Scene, image_ref: ImageRef, rng: np.random.Generator, config: WorldConfig | None = None,
                 target_ref: ImageRef | None = None, image_id: str = "") -> tuple[Example, Edit] | None:
    """An edit_image example; ``target_image`` is ``target_ref`` or else the edited render (array)."""
    edit = propose_edit(scene, rng, config)
    if edit is None:
        return None
    target = target_ref if target_ref is not None else render(edit.scene)
    cfg = config or WorldConfig(size=scene.width)
    ex = _base(scene, image_ref, image_id, "edit_image", text=edit.instruction, target_image=target,
               meta={"edit": edit.kind, "target": edit.target, "requirements": scene_requirements(edit.scene, cfg)})
    return ex, edit
