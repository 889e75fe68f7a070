"""The synthetic world: procedural scenes whose scene graph yields every task's ground truth.

In memory (e.g. generating on the fly during training)::

    from vlseq.data.world import WorldConfig, generate_scene, render, examples_for_scene
    cfg = WorldConfig(size=64)
    scene = generate_scene(seed, cfg)              # Scene: objects with masks, boxes, polygons
    image = render(scene)                          # (64, 64, 3) uint8
    examples = examples_for_scene(scene, image, np.random.default_rng(seed), cfg)

On disk in public formats: ``vlseq synth`` (:mod:`vlseq.data.synth`, :mod:`vlseq.data.writers`).
"""

from .annotate import (
    SCENE_TASKS,
    edit_example,
    examples_for_scene,
    generation_example,
    pair_example,
    region_description,
    scene_requirements,
)
from .edits import Edit, propose_edit
from .language import Desc, RefExp, referring_expressions, relation, resolve
from .rendering import render, render_background
from .scene import (
    ALL_BACKGROUNDS,
    ALL_SHAPES,
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    SIZES,
    Scene,
    SceneObject,
    WorldConfig,
    categories,
    category,
    generate_scene,
    polygon_area,
    rasterize,
    tight_box,
    to_object,
)
from .stories import Story, make_story, story_example

__all__ = [
    "SCENE_TASKS", "categories", "category", "edit_example", "examples_for_scene", "generation_example",
    "pair_example", "region_description", "scene_requirements", "to_object", "Edit", "propose_edit", "Desc", "RefExp", "referring_expressions",
    "Story", "make_story", "story_example",
    "relation", "resolve", "ALL_BACKGROUNDS", "ALL_SHAPES", "BACKGROUNDS", "COLOURS", "SHAPES", "SIZES", "Scene", "SceneObject", "WorldConfig",
    "generate_scene", "polygon_area", "rasterize", "render", "render_background", "tight_box",
]
