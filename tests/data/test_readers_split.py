"""load_split on a split dir laid out like the synthetic world's (every file the readers know)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from vlseq.codec import GroundedText, validate
from vlseq.data import Example
from vlseq.data.readers import TASKS, DataError, available_tasks, load_split

SIZES = {1: (48, 32), 2: (40, 40)}


def _write_split(d: Path) -> Path:
    """A two-image split in the synthetic world's formats (hand-written here, independent of its writers)."""
    (d / "images").mkdir(parents=True)
    for i, (w, h) in SIZES.items():
        Image.new("RGB", (w, h), (200, 30 * i, 10)).save(d / "images" / f"{i:08d}.png")
    images = [{"id": i, "file_name": f"images/{i:08d}.png", "width": w, "height": h} for i, (w, h) in SIZES.items()]
    dump = lambda name, obj: (d / name).write_text(json.dumps(obj))  # noqa: E731
    lines = lambda name, rows: (d / name).write_text("".join(json.dumps(r) + "\n" for r in rows))  # noqa: E731
    dump("captions.json", {"images": images, "annotations": [
        {"id": 1, "image_id": 1, "caption": "a red circle and a blue square."},
        {"id": 2, "image_id": 1, "caption": "two shapes."},
        {"id": 3, "image_id": 2, "caption": "a green triangle."}]})
    dump("instances.json", {"images": images, "categories": [{"id": 1, "name": "circle", "supercategory": "shape"},
                                                             {"id": 2, "name": "square", "supercategory": "shape"},
                                                             {"id": 3, "name": "triangle", "supercategory": "shape"}],
                            "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0,
         "segmentation": [[2, 2, 12, 2, 12, 12, 2, 12]]},
        {"id": 2, "image_id": 1, "category_id": 2, "bbox": [20, 5, 8, 8], "area": 64, "iscrowd": 0, "segmentation": []},
        {"id": 3, "image_id": 2, "category_id": 3, "bbox": [5, 5, 20, 20], "area": 200, "iscrowd": 0}]})
    dump("vqa_questions.json", {"questions": [{"image_id": 1, "question": "what colour is the circle?", "question_id": 10},
                                              {"image_id": 2, "question": "how many shapes?", "question_id": 11}]})
    ans = lambda a: [{"answer": a, "answer_confidence": "yes", "answer_id": k + 1} for k in range(10)]  # noqa: E731
    dump("vqa_annotations.json", {"annotations": [
        {"question_id": 10, "image_id": 1, "question_type": "what color", "answer_type": "other",
         "multiple_choice_answer": "red", "answers": ans("red")},
        {"question_id": 11, "image_id": 2, "question_type": "how many", "answer_type": "number",
         "multiple_choice_answer": "1", "answers": ans("1")}]})
    expr = "the red circle"
    dump("refexp.json", {"images": [{"id": 100, "file_name": "images/00000001.png", "width": 48, "height": 32,
                                     "caption": expr, "dataset_name": "synthetic", "original_id": 1,
                                     "tokens_negative": [], "sentence_id": 0}],
                         "annotations": [{"id": 1, "image_id": 100, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0,
                                          "category_id": 1, "tokens_positive": [[0, len(expr)]]}],
                         "categories": [{"id": 1, "name": "circle", "supercategory": "shape"}]})
    cap = "a red circle left of a blue square."
    s1, s2 = cap.index("a red circle"), cap.index("a blue square")
    dump("grounding.json", {"images": [{"id": 200, "file_name": "images/00000001.png", "width": 48, "height": 32,
                                        "caption": cap, "tokens_positive_eval": [[[s1, s1 + 12]], [[s2, s2 + 13]]]}],
                            "annotations": [
        {"id": 1, "image_id": 200, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0, "category_id": 1, "tokens_positive": [[s1, s1 + 12]]},
        {"id": 2, "image_id": 200, "bbox": [20, 5, 8, 8], "area": 64, "iscrowd": 0, "category_id": 1, "tokens_positive": [[s2, s2 + 13]]}]})
    lines("classify.jsonl", [
        {"id": 1, "images": ["images/00000001.png"], "sentence": "there is a circle.", "label": "yes",
         "options": ["yes", "no"], "kind": "entailment"},
        {"id": 2, "images": ["images/00000001.png", "images/00000002.png"], "sentence": "both have a circle.",
         "label": "no", "options": ["yes", "no"], "kind": "pair"}])
    lines("region_captions.jsonl", [{"id": 1, "image": "images/00000001.png", "x": 2, "y": 2, "width": 10, "height": 10,
                                     "phrase": "a small red circle"}])
    lines("edits.jsonl", [{"id": 1, "input_image": "images/00000001.png", "edited_image": "images/00000002.png",
                           "edit_prompt": "make it green"}])
    dump("keypoints.json", {"images": images[:1], "categories": [{"id": 1, "name": "circle", "keypoints": ["top"]}],
                            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10],
                                             "area": 100, "iscrowd": 0, "keypoints": [7, 2, 2]}]})
    lines("generations.jsonl", [{"id": 1, "image": "images/00000001.png", "caption": "a red circle."}])
    dump("paragraphs_v1.json", [{"image_id": 1, "url": "images/00000001.png",
                                 "paragraph": "there are two shapes. a red circle is left of a blue square."}])
    dump("story.json", {"images": [{"id": "1", "file_name": "images/00000001.png"}, {"id": "2"}],
                        "annotations": [[{"story_id": "s", "photo_flickr_id": "2", "worker_arranged_photo_order": 1,
                                          "text": "it left."}],
                                        [{"story_id": "s", "photo_flickr_id": "1", "worker_arranged_photo_order": 0,
                                          "text": "a circle."}]]})
    (d / "2.jpg").write_bytes((d / "images" / "00000002.png").read_bytes())  # VIST's default name, {id}.jpg
    dump("visdial.json", {"data": {"questions": ["is it red?"], "answers": ["yes", "no"], "dialogs": [
        {"image_id": 1, "caption": "a red circle.", "file_name": "images/00000001.png",
         "dialog": [{"question": 0, "answer": 0, "answer_options": [1, 0], "gt_index": 1}]}]}})
    (d / "vcr_metadata").mkdir()
    dump("vcr_metadata/00000001.json", {"boxes": [[2, 2, 12, 12, 1.0], [20, 5, 28, 13, 1.0]], "names": ["circle", "square"],
                                        "width": 48, "height": 32})
    lines("vcr.jsonl", [{"annot_id": "train-0", "img_id": 1, "img_fn": "images/00000001.png",
                         "metadata_fn": "vcr_metadata/00000001.json", "objects": ["circle", "square"],
                         "question": ["what", "color", "is", "the", [0], "?"],
                         "answer_choices": [["the", [0], "is", c, "."] for c in ("red", "blue", "green", "white")],
                         "answer_label": 0,
                         "rationale_choices": [["the", [k], "is", "on", "the", side, "."] for k, side in
                                               ((0, "left"), (0, "right"), (1, "left"), (1, "top"))],
                         "rationale_label": 0}])
    return d


@pytest.fixture()
def split(tmp_path):
    return _write_split(tmp_path / "train")


def test_load_split_every_task(split):
    assert available_tasks(split) == list(TASKS)
    data = load_split(split)
    assert list(data) == list(TASKS)
    counts = {t: len(v) for t, v in data.items()}
    assert counts == {"caption": 2, "detect": 2, "localize": 3, "vqa": 2, "refexp": 1, "ground": 1,
                      "grounded_caption": 1, "classify": 2, "region_caption": 1, "edit_image": 1,
                      "segment": 0, "instance_segment": 0, "keypoints": 1, "generate_image": 1, "paragraph": 1,
                      "multiple_choice": 2, "story": 1, "dialog": 1}
    assert data.report.skipped == 0 and data.report.kept == counts
    for task, exs in data.items():
        for e in exs:
            assert isinstance(e, Example) and e.task == task
            files = [e.target_image] if task == "generate_image" else e.images  # its input is a blank canvas
            assert all(Path(p).is_file() for p in files)
            for o in e.objects:  # pixel xyxy inside the image
                x1, y1, x2, y2 = o.box
                assert 0 <= x1 <= x2 <= e.width and 0 <= y1 <= y2 <= e.height
    vqa = data["vqa"][0]  # VQA found the image's file name and size through captions.json
    assert vqa.images == [str(split / "images" / "00000001.png")] and (vqa.width, vqa.height) == (48, 32)
    assert data["detect"][0].options == ["circle", "square", "triangle"]
    g = data["ground"][0]
    validate(GroundedText(g.text, g.phrases))
    assert [g.text[p.start:p.end] for p in g.phrases] == ["a red circle", "a blue square"]


def test_load_split_subset_and_errors(split, tmp_path):
    data = load_split(split, tasks=["vqa", "caption"])
    assert list(data) == ["vqa", "caption"]
    (split / "edits.jsonl").unlink()
    with pytest.raises(DataError, match=r"no file provides task\(s\) \['edit_image'\] \(expected \['edits.jsonl'\]\)"):
        load_split(split, tasks=["edit_image"])
    with pytest.raises(ValueError, match="unknown task"):
        load_split(split, tasks=["juggle"])
    with pytest.raises(DataError, match="split directory not found"):
        load_split(tmp_path / "nowhere")


def test_load_split_skip_bad_and_image_checks(split):
    (split / "images" / "00000002.png").write_bytes(b"")  # a zero-byte image
    with pytest.raises(DataError) as e:
        load_split(split, tasks=["caption"])
    assert "captions.json: record 2: image" in str(e.value) and "zero-byte" in str(e.value)
    data = load_split(split, skip_bad=True)
    # image 2 is used by captions, instances, vqa, the classify pair and the edit: each file reports it
    assert data.report.counts == {"bad_image": 5}
    assert {f.split("/")[-1] for f in data.report.per_file} == {"captions.json", "instances.json", "vqa_questions.json",
                                                              "classify.jsonl", "edits.jsonl"}
    assert len(data["caption"]) == 1 and len(data["edit_image"]) == 0
    assert "skipped 5 bad records (bad_image=5)" in data.report.summary()
    quick = load_split(split, tasks=["caption", "detect"], check_images=False)  # annotations only
    assert len(quick["caption"]) == 2 and len(quick["detect"]) == 2


def _key(e: Example) -> tuple:
    """What a round trip through the files must preserve, per task (boxes to 1e-6 px)."""
    r = lambda b: tuple(round(float(v), 6) for v in b)  # noqa: E731
    names = tuple(Path(str(p)).name for p in e.images)
    if e.task == "caption":
        return (e.image_id, tuple(e.answers))
    if e.task == "vqa":
        return (e.image_id, e.text, tuple(e.answers))
    if e.task in ("detect", "localize", "refexp", "instance_segment"):
        return (e.image_id, e.text, tuple(sorted((o.label, r(o.box)) for o in e.objects)), tuple(e.options))
    if e.task == "keypoints":
        objs = tuple(sorted((o.label, r(o.box), tuple((n, r(p)) for n, p in sorted(o.keypoints.items())))
                            for o in e.objects))
        return (e.image_id, objs, tuple(e.options), tuple(e.meta["keypoint_names"]))
    if e.task == "generate_image":
        return (e.image_id, e.text, Path(str(e.target_image)).name, str(e.meta["requirements"]))
    if e.task in ("ground", "grounded_caption"):
        return (e.image_id, e.text, tuple(e.answers), tuple((p.start, p.end, tuple(sorted(map(r, p.boxes)))) for p in e.phrases))
    if e.task == "classify":
        return (names, e.text, tuple(e.answers), tuple(e.options), e.meta.get("kind"))
    if e.task == "region_caption":
        return (e.image_id, r(e.region), tuple(e.answers))
    if e.task == "edit_image":
        return (names, e.text, Path(str(e.target_image)).name, str(e.meta["requirements"]))
    if e.task == "paragraph":
        return (e.image_id, names, tuple(e.answers))
    if e.task == "multiple_choice":
        return (e.image_id, names, e.meta["stage"], e.meta["qid"], e.text, tuple(e.options), tuple(e.answers),
                e.meta.get("answer"), tuple((o.label, r(o.box)) for o in e.objects))
    if e.task == "story":
        return (names, tuple(e.answers), tuple(e.meta["sentences"]))
    if e.task == "dialog":
        return (e.image_id, names, e.text, tuple(e.answers), tuple(e.options), e.meta["gt_index"], e.meta["caption"],
                tuple(map(tuple, e.meta["history"])), e.meta["round"])
    raise AssertionError(e.task)


def test_round_trip_with_world_writers(tmp_path):
    """Examples of the synthetic world, written by its writers, read back into the same Examples."""
    writers = pytest.importorskip("vlseq.data.writers", reason="the synthetic world's writers are not in this tree yet")
    world = pytest.importorskip("vlseq.data.world", reason="the synthetic world is not in this tree yet")
    import numpy as np

    cfg = world.WorldConfig(size=64)
    d = tmp_path / "train"
    w = writers.SplitWriter(d, "train", world.categories(cfg))
    made: list[Example] = []
    n = 4
    prev = None  # the scene before (odd scenes pair with it)
    for i in range(n):
        scene = world.generate_scene(np.random.default_rng([7, i, 0]), cfg)
        rng = np.random.default_rng([7, i, 1])
        writers.save_png(world.render(scene), d / writers.image_path(i))
        w.add_image(i, scene.width, scene.height)
        exs = world.examples_for_scene(scene, writers.image_path(i), rng, cfg, image_id=str(i))
        edit = world.edit_example(scene, writers.image_path(i), rng, cfg, target_ref=writers.image_path(n + i), image_id=str(i))
        if i == 0:  # one story: its later images after the edited targets
            refs = [writers.image_path(2 * n + k) for k in range(4)]
            story, tale = world.story_example(scene, writers.image_path(i), rng, cfg, refs, image_id=str(i))
            for k, later in enumerate(tale.scenes[1:]):
                writers.save_png(world.render(later), d / refs[k])
                w.add_image(2 * n + k, scene.width, scene.height)
            exs.append(story)
        if edit is not None:
            writers.save_png(world.render(edit[1].scene), d / writers.image_path(n + i))
            exs.append(edit[0])
        if i % 2 == 1:
            exs.append(world.pair_example(prev, writers.image_path(i - 1), scene, writers.image_path(i), rng, image_id=str(i - 1)))
        prev = scene
        w.add_examples(exs)
        made += [e for e in exs if e.task != "segment"]
    w.close()
    data = load_split(d)  # strict: the world's files must have no bad record
    assert data.report.skipped == 0
    assert {e.task for e in made} >= {"caption", "vqa", "detect", "refexp", "ground", "classify", "region_caption",
                                      "instance_segment", "keypoints", "generate_image", "edit_image", "paragraph",
                                      "multiple_choice", "dialog", "story"}
    for task in {e.task for e in made}:
        want = sorted(_key(e) for e in made if e.task == task)
        got = sorted(_key(e) for e in data[task])
        if task in ("ground", "grounded_caption"):  # the writer stores a caption once per image
            want = sorted(set(want))
        assert got == want, task
    # sizes and resolved image files agree with what was rendered (generate_image's input is a blank canvas)
    for exs in data.values():
        for e in exs:
            first = e.target_image if e.task == "generate_image" else e.images[0]
            assert Path(first).is_file() and (e.width, e.height) == (64, 64)
