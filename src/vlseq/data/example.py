"""The typed example every reader and the synthetic world yield, and every task consumes.

One record serves every task; a task reads the fields it needs (``vlseq.tasks``):

=================  ===========================  ==================================================
task               ``text`` (input side)        outputs
=================  ===========================  ==================================================
caption            --                           ``answers``: reference captions
vqa                the question                 ``answers``: the (10) annotator answers; ``objects``
                                                (not a target): the one object asked about, where known
classify           the statement                ``answers[0]``: the label, one of ``options``
refexp / segment   the expression               ``objects``: the referred object(s)
ground             the caption                  ``phrases``: spans over ``text`` with boxes
grounded_caption   --                           ``answers[0]`` + ``phrases`` spans over it
detect             --                           ``objects`` (label = category)
localize           the class name               ``objects`` of that class
region_caption     --                           ``region`` (input) + ``answers``
instance_segment   --                           ``objects`` with ``polygon`` (label = category)
keypoints          --                           ``objects`` with ``keypoints``; names in ``meta["keypoint_names"]``
generate_image     the caption                  ``target_image`` (input image: a blank canvas)
edit_image         the instruction              ``target_image``
paragraph          --                           ``answers[0]``: the paragraph (``phrases``: its object
                                                mentions, where known, for a grounded variant)
multiple_choice    the question (plain text)    ``options``: the choices, ``answers[0]`` the right one;
                                                ``objects``: the detections its tags cite
story              --                           ``answers[0]``: the story, one sentence per image of
                                                ``images`` (in order; ``meta["sentences"]``)
dialog             the round's question         ``answers[0]``: the answer; ``options``: the candidates;
                                                ``meta["caption"]``, ``meta["history"]`` (q, a) pairs
=================  ===========================  ==================================================

``multiple_choice`` examples come in two stages (VCR): ``meta["stage"]`` ``"qa"`` (choose the
answer) or ``"qar"`` (given ``meta["answer"]``, choose the rationale), paired by ``meta["qid"]``;
``meta["question_tokens"]`` / ``"choice_tokens"`` / ``"answer_tokens"`` keep the tagged text
(:mod:`vlseq.data.tagged`) so a prompt can show a cited object's box.

Image-output examples may carry ``meta["requirements"]`` (what the output must show; see
:mod:`vlseq.evaluation.render_check`).

Boxes are absolute pixel ``(x1, y1, x2, y2)`` of ``images[0]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from ..codec.coords import Box, Point
from ..codec.markup import Phrase

#: A path on disk, a PIL image or an ``(H, W, 3)`` uint8 numpy array.
ImageRef = Union[str, Path, Any]


@dataclass
class Object:
    """One annotated object: its category label, pixel xyxy box, and optional polygon/keypoints."""

    label: str
    box: Box
    polygon: list[Point] | None = None
    keypoints: dict[str, Point] | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Example:
    """One (images, task, inputs, outputs) record; see the module docstring for the fields per task."""

    task: str
    images: list[ImageRef]
    width: int
    height: int
    image_id: str = ""
    text: str = ""
    answers: list[str] = field(default_factory=list)
    phrases: list[Phrase] = field(default_factory=list)
    objects: list[Object] = field(default_factory=list)
    region: Box | None = None
    options: list[str] = field(default_factory=list)
    target_image: ImageRef | None = None
    source: str = ""  # file and record id, for error messages
    meta: dict[str, Any] = field(default_factory=dict)


#: Names used when an example does not say: the synthetic world's extreme points.
DEFAULT_NAMES: tuple[str, ...] = ("top", "left", "right", "bottom")


def keypoint_names(ex: Example) -> tuple[str, ...]:
    """The ordered keypoint names of an example (``meta["keypoint_names"]`` or :data:`DEFAULT_NAMES`)."""
    names = tuple(" ".join(str(n).split()) for n in ex.meta.get("keypoint_names", DEFAULT_NAMES))
    if not names or any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{ex.source or ex.image_id}: meta['keypoint_names'] must be distinct non-empty names, "
                         f"got {ex.meta.get('keypoint_names')!r}")
    return names
