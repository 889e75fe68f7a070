"""The built-in tasks, in one list: adding a task is its module and one line here.

The registry (:mod:`vlseq.tasks.registry`) registers these on first use. Their modules import
:mod:`vlseq.tasks.base`, never the registry, so nothing here imports what imports it.
"""

from __future__ import annotations

from . import choice, detection, dialog, grounding, image, keypoints, paragraph, segmentation, story, text
from .base import Task

BUILTIN_TASKS: tuple[type[Task], ...] = (
    text.Caption,
    text.RegionCaption,
    text.VQA,
    text.Classify,
    detection.Detect,
    grounding.RefExp,
    grounding.Localize,
    grounding.Ground,
    grounding.GroundedCaption,
    segmentation.Segment,
    segmentation.InstanceSegment,
    keypoints.Keypoints,
    image.GenerateImage,
    image.EditImage,
    paragraph.Paragraph,
    story.Story,
    choice.MultipleChoice,
    dialog.Dialog,
)
