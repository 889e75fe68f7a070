"""The writers produce the public formats: JSON that loads, COCO files pycocotools accepts, spans."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from vlseq.data.example import Example, Object
from vlseq.data.readers import read_vqa
from vlseq.data.world import WorldConfig, categories, examples_for_scene, generate_scene, pair_example, render
from vlseq.data.writers import SplitWriter, example_records, image_path, save_png

# pycocotools decodes masks through a numpy-1 API that numpy 2 warns about; not ours to fix
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    root = tmp_path_factory.mktemp("split")
    cfg = WorldConfig(size=64)
    w = SplitWriter(root, "val", categories(cfg))
    scenes = []
    for i in range(6):
        scene = generate_scene(i, cfg)
        scenes.append(scene)
        save_png(render(scene), root / image_path(i))
        w.add_image(i, 64, 64)
        w.add_examples(examples_for_scene(scene, image_path(i), np.random.default_rng(i), cfg, image_id=str(i)))
    w.add_examples([pair_example(scenes[0], image_path(0), scenes[1], image_path(1), np.random.default_rng(0),
                                 image_id="0")])
    counts = w.close({"seed": 0})
    return root, scenes, counts


def test_coco_files_load_with_pycocotools(split):
    root, scenes, counts = split
    inst = COCO(str(root / "instances.json"))
    assert len(inst.getImgIds()) == 6
    assert len(inst.getAnnIds()) == sum(len(s.objects) for s in scenes) == counts["instances.json"]
    for ann in inst.loadAnns(inst.getAnnIds()):
        x, y, w, h = ann["bbox"]
        o = next(o for o in scenes[ann["image_id"]].objects if o.box == (x, y, x + w, y + h))
        assert ann["area"] == o.area
        m = inst.annToMask(ann).astype(bool)  # the polygon, rasterised by pycocotools
        assert (m & o.visible).sum() / (m | o.visible).sum() > 0.6
        assert inst.loadCats(ann["category_id"])[0]["name"] == o.shape
        assert len(ann["segmentation"][0]) >= 6
    ref = COCO(str(root / "refexp.json"))
    for img in ref.loadImgs(ref.getImgIds()):
        (ann,) = ref.loadAnns(ref.getAnnIds(imgIds=img["id"]))
        assert img["file_name"] == f"{img['original_id']:08d}.png" and img["dataset_name"] == "synthetic"
        assert ann["tokens_positive"] == [[0, len(img["caption"])]]
    grd = COCO(str(root / "grounding.json"))
    for img in grd.loadImgs(grd.getImgIds()):
        anns = grd.loadAnns(grd.getAnnIds(imgIds=img["id"]))
        spans = [a["tokens_positive"][0] for a in anns]
        assert all([s] in img["tokens_positive_eval"] for s in spans)
        for s, e in spans:
            phrase = img["caption"][s:e]
            assert 0 <= s < e <= len(img["caption"]) and phrase == phrase.strip()
            assert phrase.split()[0] in ("a", "an", "two", "three", "four", "five")
        assert {a["phrase_ids"] for a in anns} == set(range(len(img["tokens_positive_eval"])))


def test_captions_and_vqa_files(split):
    root, scenes, counts = split
    caps = json.loads((root / "captions.json").read_text())
    assert set(caps) >= {"info", "licenses", "images", "annotations"}
    assert {a["image_id"] for a in caps["annotations"]} == set(range(6))
    assert len(caps["annotations"]) == 30 and len({a["id"] for a in caps["annotations"]}) == 30
    q = json.loads((root / "vqa_questions.json").read_text())
    a = json.loads((root / "vqa_annotations.json").read_text())
    assert q["task_type"] == "Open-Ended" and q["data_subtype"] == "val"
    assert [x["question_id"] for x in q["questions"]] == [x["question_id"] for x in a["annotations"]]
    for ann in a["annotations"]:
        assert [x["answer_id"] for x in ann["answers"]] == list(range(1, 11))
        assert ann["answer_type"] in ("yes/no", "number", "other")
        assert ann["multiple_choice_answer"] == ann["answers"][0]["answer"]


def test_vqa_objects_round_trip(split):
    """The asked-about object goes into the annotation's optional ``objects`` and comes back on reading."""
    root, scenes, counts = split
    cfg = WorldConfig(size=64)
    want = [e for i, scene in enumerate(scenes)
            for e in examples_for_scene(scene, image_path(i), np.random.default_rng(i), cfg, image_id=str(i))
            if e.task == "vqa"]
    a = json.loads((root / "vqa_annotations.json").read_text())
    assert len(a["annotations"]) == len(want)
    for ann, e in zip(a["annotations"], want):
        assert ann.get("objects", []) == [{"bbox": [o.box[0], o.box[1], o.box[2] - o.box[0], o.box[3] - o.box[1]],
                                           "label": o.label} for o in e.objects]
    got = read_vqa(root / "vqa_questions.json", root / "vqa_annotations.json", image_root=root)
    assert [g.text for g in got] == [e.text for e in want]
    assert [[(o.label, o.box) for o in g.objects] for g in got] == [[(o.label, o.box) for o in e.objects] for e in want]
    assert any(g.objects and g.meta["question_type"] == "shape" for g in got)
    assert any(not g.objects for g in got)  # count / exists / relation: no objects field, none read


def test_jsonl_files(split):
    root, scenes, counts = split
    cls = [json.loads(line) for line in (root / "classify.jsonl").read_text().splitlines()]
    assert {c["kind"] for c in cls} == {"entailment", "match", "pair"}
    for c in cls:
        assert c["label"] in c["options"] and all((root / p).exists() for p in c["images"])
    assert len(next(c for c in cls if c["kind"] == "pair")["images"]) == 2
    regions = [json.loads(line) for line in (root / "region_captions.jsonl").read_text().splitlines()]
    assert len(regions) == sum(len(s.objects) for s in scenes)
    assert set(regions[0]) >= {"id", "image", "x", "y", "width", "height", "phrase"}
    manifest = json.loads((root / "manifest.json").read_text())
    assert manifest["split"] == "val" and manifest["counts"]["images"] == 6 and manifest["seed"] == 0


def test_bad_records_name_the_problem():
    ex = Example(task="detect", images=["images/x.png"], width=8, height=8, image_id="scene-a", source="f.json#3")
    with pytest.raises(ValueError, match="f.json#3.*not an integer"):
        example_records(ex, {})
    ex = Example(task="detect", images=["x"], width=8, height=8, image_id="1", source="f.json#4",
                 objects=[Object("blob", (0, 0, 2, 2))])
    with pytest.raises(ValueError, match="f.json#4.*'blob'"):
        example_records(ex, {"circle": 1})
    with pytest.raises(ValueError, match="no file format"):
        example_records(Example(task="dance", images=["x"], width=8, height=8, image_id="1"), {})


def test_keypoints_and_generations_files(split):
    root, scenes, counts = split
    kp = COCO(str(root / "keypoints.json"))
    assert len(kp.getAnnIds()) == sum(len(s.objects) for s in scenes) == counts["keypoints.json"]
    assert all(c["keypoints"] == ["top", "left", "right", "bottom"] for c in kp.loadCats(kp.getCatIds()))
    for ann in kp.loadAnns(kp.getAnnIds()):
        vis = ann["keypoints"][2::3]
        assert len(ann["keypoints"]) == 12 and set(vis) <= {0, 2} and ann["num_keypoints"] == vis.count(2)
    gens = [json.loads(line) for line in (root / "generations.jsonl").read_text().splitlines()]
    assert len(gens) == 6 == counts["generations.jsonl"]
    for g in gens:
        assert (root / g["image"]).exists() and g["caption"].endswith(".")
        assert sum(r["count"] for r in g["requirements"]) == len(scenes[g["image_id"]].objects)


def test_keypoint_name_lists_must_agree(tmp_path):
    w = SplitWriter(tmp_path, "val", ["circle"])
    for i, names in enumerate((["top"], ["bottom"])):
        w.add_examples([Example(task="keypoints", images=["x"], width=8, height=8, image_id=str(i),
                                objects=[Object("circle", (0, 0, 2, 2), keypoints={})], options=["circle"],
                                meta={"keypoint_names": names})])
    with pytest.raises(ValueError, match="image 1 names keypoints"):
        w.close()
