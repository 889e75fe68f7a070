"""CheckpointSettings: the coordinate frame a checkpoint wrote its polygons and keypoints in, and
the refusal to run its polygon and keypoint tasks when that is the image's frame of older versions."""

from __future__ import annotations

import pytest

from vlseq.processing import CheckpointSettings, Processor
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer


@pytest.fixture(scope="module")
def tok() -> VLTokenizer:
    return VLTokenizer.train(["a red circle", "segment: the red circle", "keypoints: circle"], num_bins=16)


def test_new_settings_say_box_frame_and_old_ones_read_as_image_frame() -> None:
    new = CheckpointSettings(num_bins=16, image_size=32, tasks=("segment",))
    assert new.coordinate_frame == "box" and new.to_dict()["coordinate_frame"] == "box"
    assert CheckpointSettings.from_dict(new.to_dict()) == new
    old = {k: v for k, v in new.to_dict().items() if k != "coordinate_frame"}  # a checkpoint of before the frame
    assert CheckpointSettings.from_dict(old).coordinate_frame == "image"


def test_an_image_frame_checkpoint_runs_its_box_tasks_and_refuses_polygons_and_keypoints(tok) -> None:
    old = CheckpointSettings.from_dict({"num_bins": 16, "image_size": 32})
    proc = Processor.from_settings(tok, old)
    assert proc.bind(get_task("detect")).name == "detect"
    for name in ("segment", "instance_segment", "keypoints"):
        with pytest.raises(ValueError, match=rf"task '{name}': this checkpoint writes polygons and keypoints in the image's frame"):
            proc.bind(get_task(name))
    new = Processor.from_settings(tok, CheckpointSettings(num_bins=16, image_size=32))
    assert new.bind(get_task("segment")).name == "segment"
    with pytest.raises(ValueError, match="coordinate_frame must be"):
        Processor(tok, 32, 16, coordinate_frame="pixels")
