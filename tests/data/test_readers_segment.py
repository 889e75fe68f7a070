"""segment (refexp.json) and instance_segment (instances.json) examples from the readers."""

from __future__ import annotations

import json

from vlseq.data.readers import available_tasks, load_split
from vlseq.data.readers.mdetr import read_refexp, read_refexp_tasks
from vlseq.tasks import get_task

SQ = [2, 2, 12, 2, 12, 12, 2, 12]


def _write(d) -> None:
    d.mkdir(parents=True)
    images = [{"id": i, "file_name": f"images/{i:08d}.png", "width": 48, "height": 32} for i in (1, 2)]
    (d / "instances.json").write_text(json.dumps({
        "images": images,
        "categories": [{"id": 1, "name": "circle"}, {"id": 2, "name": "square"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "iscrowd": 0, "segmentation": [SQ]},
            {"id": 2, "image_id": 1, "category_id": 2, "bbox": [20, 5, 8, 8], "iscrowd": 0,
             "segmentation": [[20, 5, 28, 5, 28, 13], [20, 5, 28, 13, 20, 13]]},
            # image 2: an object without a polygon -> a detect example, no instance_segment one
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20], "iscrowd": 0}]}))
    expr = ["the red circle", "the blue square"]
    (d / "refexp.json").write_text(json.dumps({
        "images": [{"id": 100 + k, "file_name": "images/00000001.png", "width": 48, "height": 32, "caption": e,
                    "original_id": 1} for k, e in enumerate(expr)],
        "annotations": [
            {"id": 1, "image_id": 100, "bbox": [2, 2, 10, 10], "iscrowd": 0, "tokens_positive": [[0, 14]],
             "segmentation": [SQ, [30, 20, 34, 20, 34, 24]]},
            {"id": 2, "image_id": 101, "bbox": [20, 5, 8, 8], "iscrowd": 0, "tokens_positive": [[0, 15]]}]}))


def test_load_split_segment_and_instance_segment(tmp_path) -> None:
    d = tmp_path / "train"
    _write(d)
    assert available_tasks(d) == ["detect", "localize", "instance_segment", "refexp", "segment"]
    data = load_split(d, tasks=["segment", "instance_segment", "detect", "refexp"], check_images=False)
    assert {t: len(v) for t, v in data.items()} == {"segment": 1, "instance_segment": 1, "detect": 2, "refexp": 2}
    assert data.report.kept["segment"] == 1 and data.report.kept["instance_segment"] == 1
    (seg,) = data["segment"]
    assert seg.task == "segment" and seg.text == "the red circle"
    assert seg.objects[0].polygon == [(2.0, 2.0), (12.0, 2.0), (12.0, 12.0), (2.0, 12.0)]
    assert len(seg.objects[0].attributes["polygons"]) == 2  # every part kept for the mask metric
    (inst,) = data["instance_segment"]
    assert inst.image_id == "1" and [o.label for o in inst.objects] == ["circle", "square"]
    # the examples feed their tasks directly
    assert get_task("segment").target(seg, 48).startswith("<obj>the red circle<loc_2><loc_3>")
    assert get_task("instance_segment").target(inst, 48).count("<poly>") == 2


def test_read_refexp_unchanged_and_tasks_variant(tmp_path) -> None:
    d = tmp_path / "train"
    _write(d)
    exs = read_refexp(d / "refexp.json", check_images=False)
    assert [e.task for e in exs] == ["refexp", "refexp"]
    both = read_refexp_tasks(d / "refexp.json", tasks=["segment"], check_images=False)
    assert list(both) == ["segment"] and [e.text for e in both["segment"]] == ["the red circle"]
