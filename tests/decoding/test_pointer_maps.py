"""pointer_maps: one attention map over the image cells per box coordinate a sequence writes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from helpers import make_checkpoint, scene_image
from vlseq.decoding.pointer_maps import pointer_maps
from vlseq.tasks import get_task


def _pipeline(path):
    from vlseq import Pipeline

    return Pipeline.from_pretrained(path)


def test_one_map_per_coordinate_in_sequence_order(tmp_path) -> None:
    pipe = _pipeline(make_checkpoint(tmp_path / "pointer", pointer="cell_offset"))
    [ex] = pipe.examples([Image.fromarray(scene_image(3, size=48))], "refexp", "the red circle")
    task = pipe.processor.bind(get_task("refexp"))
    seq = "<obj>the red circle<loc_1><loc_2><loc_20><loc_25></obj>"
    model = pipe.model
    model.train()  # the mode is restored after the teacher-forced pass
    maps = pointer_maps(model, pipe.processor, task, ex, seq)
    assert model.training
    head = model.lm.lm_head
    assert head.record is False and head.last_attention is None  # recording switched off again
    assert [slot for slot, _ in maps] == [0, 1, 2, 3]
    for _, m in maps:
        assert isinstance(m, np.ndarray) and m.shape == head.grid
        assert m.min() >= 0 and abs(float(m.sum()) - 1.0) < 1e-4  # a distribution over the one image's cells


def test_a_model_without_a_pointer_head_is_a_value_error(tmp_path) -> None:
    pipe = _pipeline(make_checkpoint(tmp_path / "plain"))
    [ex] = pipe.examples([Image.fromarray(scene_image(3, size=48))], "refexp", "the red circle")
    with pytest.raises(ValueError, match="no pointer head"):
        pointer_maps(pipe.model, pipe.processor, get_task("refexp"), ex, "<obj>x<loc_1><loc_2><loc_3><loc_4></obj>")
