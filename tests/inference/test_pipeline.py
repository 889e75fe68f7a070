"""Pipeline: typed results in pixels of the original image, EXIF and every image mode, batching,
each task's inputs, per-box scores, drawing; ``import vlseq`` stays light.

The checkpoint is a debug-sized model with random weights: outputs are nonsense but every
structural promise (one box for refexp, labels from the categories, coordinates in the image,
scores in (0, 1]) is forced by the grammar and the code under test, not by training.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import BINS, IMAGE_CODEBOOK, SIZE, make_checkpoint, scene_image


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "debug")


@pytest.fixture(scope="module")
def pipe(ckpt):
    from vlseq import Pipeline

    return Pipeline.from_pretrained(ckpt)


def test_refexp_result_in_original_pixels(pipe) -> None:
    from vlseq.inference.pipeline import Result

    img = Image.fromarray(scene_image(0)).resize((150, 70))
    r = pipe(img, task="refexp", text="the  red circle")
    assert isinstance(r, Result) and r.task == "refexp" and (r.width, r.height) == (150, 70)
    assert r.prompt == "the red circle" and r.errors == []
    [ph] = r.phrases  # the grammar forces exactly one phrase with one box
    assert ph.text == "the red circle" and r.text[ph.span[0] : ph.span[1]] == ph.text
    [(x1, y1, x2, y2)] = r.boxes
    assert 0 <= x1 < x2 <= 150 and 0 <= y1 < y2 <= 70
    assert r.labels == ["the red circle"]
    assert len(r.scores) == 1 and 0 < r.scores[0] <= 1
    assert r.sequence.startswith("<obj>") and r.sequence.endswith("</obj>")


def test_boxes_follow_the_original_size(pipe) -> None:
    small = Image.fromarray(scene_image(1, 32))
    big = small.resize((96, 96), Image.NEAREST)  # same pixels once resized to the model's 32 px
    a, b = pipe(small, task="localize", text="circle"), pipe(big, task="localize", text="circle")
    assert a.sequence == b.sequence
    assert np.allclose(np.array(b.boxes), np.array(a.boxes) * 3)


def test_exif_orientation_is_applied(pipe, tmp_path) -> None:
    upright = Image.fromarray(scene_image(2)).resize((80, 40))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # 40x80 pixels; orientation 6 turns them back
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.png"
    stored.save(path, exif=exif)
    r = pipe(path, task="refexp", text="the red circle")
    ref = pipe(upright, task="refexp", text="the red circle")
    assert (r.width, r.height) == (80, 40)
    assert r.sequence == ref.sequence and r.boxes == ref.boxes


@pytest.mark.parametrize("make,size", [
    (lambda a: Image.fromarray(a).convert("L"), (96, 96)),
    (lambda a: Image.fromarray(a).convert("RGBA"), (96, 96)),
    (lambda a: Image.fromarray(a).convert("P"), (96, 96)),
    (lambda a: Image.fromarray((a[:, :, 0].astype(np.uint16) * 257)), (96, 96)),
    (lambda a: a[:50, :70, 0], (70, 50)),
    (lambda a: a[:50, :70, :1], (70, 50)),
    (lambda a: a.astype(np.float32) / 255.0, (96, 96)),
    (lambda a: np.dstack([a, np.full(a.shape[:2], 255, np.uint8)]), (96, 96)),
    (lambda a: a[:, :, 0] > 128, (96, 96)),
])
def test_any_image_mode(pipe, make, size) -> None:
    r = pipe(make(scene_image(3)), task="refexp", text="the red circle")
    assert (r.width, r.height) == size and len(r.boxes) == 1


def test_bad_images_are_named(pipe, tmp_path) -> None:
    from vlseq.data.readers.validate import DataError

    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(DataError, match="notes.png"):
        pipe(bad, task="caption")
    with pytest.raises(ValueError, match="dtype"):
        pipe(np.zeros((8, 8, 3), np.int64), task="caption")
    with pytest.raises(ValueError, match="shape"):
        pipe(np.zeros((8, 8, 2), np.uint8), task="caption")
    with pytest.raises(TypeError, match="cannot read an image"):
        pipe(3.5, task="caption")


def test_a_list_runs_batched_like_single_calls(pipe) -> None:
    imgs = [scene_image(s) for s in (4, 5, 6)]
    batch = pipe(imgs, task="detect", batch_size=2)
    assert isinstance(batch, list) and len(batch) == 3
    for img, r in zip(imgs, batch):
        one = pipe(img, task="detect")
        assert r.sequence == one.sequence
        assert np.allclose(r.scores, one.scores, atol=1e-4)
    per_image = pipe(imgs[:2], task="vqa", text=["what colour is the circle?", "what is left of the square?"])
    assert [r.prompt for r in per_image] == ["what colour is the circle?", "what is left of the square?"]
    assert pipe([], task="caption") == []


def test_detect_categories(pipe, tmp_path) -> None:
    from vlseq import Pipeline

    r = pipe(scene_image(7), task="detect")  # the checkpoint's own categories
    assert r.prompt == "detect: " + ", ".join(pipe.categories)
    assert set(r.labels) <= set(pipe.categories) and len(r.scores) == len(r.boxes)
    mine = pipe(scene_image(7), task="detect", categories="circle, square")
    assert mine.prompt == "detect: circle, square" and set(mine.labels) <= {"circle", "square"}
    bare = Pipeline.from_pretrained(make_checkpoint(tmp_path / "nocat", categories=False))
    with pytest.raises(ValueError, match="categories"):
        bare(scene_image(7), task="detect")
    assert bare(scene_image(7), task="detect", categories=["star"]).prompt == "detect: star"


def test_task_inputs(pipe) -> None:
    img = scene_image(8)
    with pytest.raises(ValueError, match="needs text="):
        pipe(img, task="vqa")
    with pytest.raises(ValueError, match="needs options="):
        pipe(img, task="classify", text="there is a red circle")
    with pytest.raises(ValueError, match="needs region="):
        pipe(img, task="region_caption")
    with pytest.raises(ValueError, match="inside the 96x96 image"):
        pipe(img, task="region_caption", region=(10, 10, 120, 40))
    with pytest.raises(KeyError, match="unknown task"):
        pipe(img, task="teleport")
    c = pipe(img, task="classify", text="there is a red circle", options=["yes", "no"])
    assert c.text in ("yes", "no") and c.boxes == []
    rc = pipe(img, task="region_caption", region=(10, 10, 60, 40))
    assert rc.region == (10.0, 10.0, 60.0, 40.0) and rc.prompt.startswith("describe <loc_")
    cap = pipe(img, task="caption", scores=False)
    assert cap.boxes == [] and cap.scores == [] and "<" not in cap.text


def test_box_scores_reads_boxes_like_the_parser(pipe) -> None:
    from vlseq.decoding.boxes import box_scores

    tok = pipe.tokenizer
    s = tok.special_ids
    loc = tok.loc_id
    word = tok.encode("circle")
    ids = ([s["<obj>"]] + word + [loc(1), loc(2), loc(5), loc(6)] + [s["<poly>"], loc(1), loc(2), loc(3), loc(4), s["</poly>"]]
           + [loc(0), loc(1), loc(2), loc(3), s["</obj>"]] + [loc(9)] * 4
           + [s["<obj>"]] + word + [loc(2), loc(2), loc(6), loc(6)] + word + [loc(3), loc(3)] + word + [loc(4), loc(4)]
           + [s["</obj>"], s["</s>"], s["<obj>"], loc(1)])
    lab = [0.5] * len(word)  # each label token at 0.5: the label's probability is 0.5 ** len(word)
    probs = ([0.0] + lab + [0.1, 0.2, 0.3, 0.4] + [0.9] * 6 + [1.0, 1.0, 0.5, 0.5, 0.0] + [0.7] * 4
             + [0.0] + lab + [0.2] * 4 + [0.0] * len(word) + [0.9, 0.9] + [0.0] * len(word) + [0.9, 0.9]
             + [0.0] * 4)
    assert len(probs) == len(ids)
    # polygon points, keypoints (a name, then two coordinates), coordinates outside <obj> and after </s> are not
    # boxes; a box's score is its label's probability times the mean of its coordinates'
    p_label = 0.5 ** len(word)
    assert box_scores(ids, probs, tok) == pytest.approx([0.25 * p_label, 0.75 * p_label, 0.2 * p_label])
    seq = pipe.processor.decode(ids)
    from vlseq.codec import parse

    assert len(parse(seq, 32, 32, BINS).objects) == 3


def test_scores_are_optional_in_predict_examples(pipe) -> None:
    """predict_examples keeps its old output (no scores) unless asked."""
    from vlseq.decoding.generate import predict_examples
    from vlseq.tasks import get_task

    img = Image.fromarray(scene_image(9))
    [ex] = pipe.examples([img], "refexp", "the red circle")
    task = get_task("refexp")
    [plain] = predict_examples(pipe.model, pipe.processor, task, [ex])
    [scored] = predict_examples(pipe.model, pipe.processor, task, [ex], scores=True)
    assert plain.scores == [] and plain.sequence == scored.sequence and len(scored.scores) == 1


def test_json_draw_and_html(pipe) -> None:
    from vlseq.viz.draw import colour

    img = Image.fromarray(scene_image(10))
    r = pipe(img, task="detect")
    d = json.loads(json.dumps(r.to_json()))
    assert d["task"] == "detect" and d["width"] == 96 and len(d["phrases"]) == len(r.phrases)
    assert all(len(p["boxes"]) == len(p["scores"]) for p in d["phrases"])
    ref = pipe(img, task="refexp", text="the red circle")
    pic = ref.draw(img)
    assert pic.size == (384, 384)  # small images are upscaled so labels stay readable
    x1, y1, x2, y2 = (v * 4 for v in ref.boxes[0])  # the box's left edge, halfway down: the phrase's colour
    assert pic.getpixel((int(x1) + 1, int((y1 + y2) / 2))) == colour(0)
    with pytest.raises(ValueError, match="this result is for 96x96"):
        r.draw(img.resize((50, 50)))
    g = pipe(img, task="ground", text="a red circle and a blue square")
    assert g.html().count("<b ") == len(g.phrases)


def test_draw_keypoints_and_polygons() -> None:
    from vlseq.viz.draw import colour, draw

    img = Image.new("RGB", (100, 50), (128, 128, 128))
    phrases = [{"text": "a", "boxes": [[10, 10, 40, 40]], "polygons": [[[50, 5], [90, 5], [90, 45]]], "scores": [0.5]},
               {"text": "b", "boxes": [[60, 20, 70, 30]], "keypoints": [["top", [6, 45]]]}]
    pic = draw(img, phrases, min_side=100)
    assert pic.size == (100, 50)
    assert pic.getpixel((6, 45)) == colour(1)  # the keypoint's dot
    inside = pic.getpixel((85, 10))  # the polygon: translucent colour(0) over grey
    assert inside != (128, 128, 128) and abs(inside[0] - colour(0)[0]) < abs(128 - colour(0)[0])


def test_category_tasks_use_the_checkpoint_categories(pipe) -> None:
    from vlseq.tasks import task_names

    for task in ("instance_segment", "keypoints"):
        if task in task_names():
            r = pipe(scene_image(11), task=task)
            assert ", ".join(pipe.categories) in r.prompt and set(r.labels) <= set(pipe.categories)
            assert len(r.scores) == len(r.boxes)


def test_import_vlseq_stays_light() -> None:
    code = ("import sys, vlseq; assert 'torch' not in sys.modules, 'torch imported'; "
            "from vlseq import Pipeline; assert Pipeline.__name__ == 'Pipeline'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr


def test_scores_equal_generates_output_scores(pipe) -> None:
    """The recorded probabilities are generate's own output_scores after a softmax."""
    import torch

    from vlseq.decoding.boxes import box_scores
    from vlseq.decoding.constrain import grammar_for
    from vlseq.decoding.generate import max_new_tokens_for, predict_examples
    from vlseq.decoding.grammar_processor import GrammarLogitsProcessor
    from vlseq.tasks import get_task

    exs = pipe.examples([Image.fromarray(scene_image(s)) for s in range(4)], "detect")
    task, proc = get_task("detect"), pipe.processor
    preds = predict_examples(pipe.model, proc, task, exs, scores=True)
    batch = proc.collate([proc.encode(task, ex, with_target=False) for ex in exs])
    budget = max(max_new_tokens_for(task, ex, proc) for ex in exs)
    grammar = GrammarLogitsProcessor([grammar_for(task.grammar(ex), proc.tokenizer) for ex in exs], prompt_length=1,
                                     max_new_tokens=budget)
    with torch.no_grad():
        out = pipe.model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"],
                                  logits_processor=[grammar], max_new_tokens=budget, output_scores=True,
                                  return_dict_in_generate=True)
    ids = out.sequences
    probs = torch.stack([torch.softmax(s.float(), -1).gather(1, ids[:, t + 1 : t + 2]).squeeze(1)
                         for t, s in enumerate(out.scores)], dim=1)
    assert sum(len(p.scores) for p in preds) > 0
    for b, p in enumerate(preds):
        assert p.sequence == proc.decode(ids[b, 1:].tolist())
        assert p.scores == pytest.approx(box_scores(ids[b, 1:].tolist(), probs[b].tolist(), proc.tokenizer), abs=1e-6)


@pytest.fixture(scope="module")
def image_pipe(tmp_path_factory):
    from vlseq import Pipeline

    return Pipeline.from_pretrained(make_checkpoint(tmp_path_factory.mktemp("ck") / "images", image_tokenizer=True))


def test_generate_and_edit_images(image_pipe) -> None:
    r = image_pipe(None, task="generate_image", text="a red circle and a blue square.")
    assert r.output_image.shape == (SIZE, SIZE, 3) and r.output_image.dtype == np.uint8
    assert r.sequence.count("<img_") == 16 and r.to_json()["output_image_size"] == [SIZE, SIZE]
    assert r.draw().size == (384, 384)  # the output image itself, upscaled
    two = image_pipe(None, task="generate_image", text=["a red circle.", "a blue square."])
    assert len(two) == 2 and all(x.output_image is not None for x in two)
    e = image_pipe(scene_image(0), task="edit_image", text="make the red circle blue.")
    assert e.output_image.shape == (SIZE, SIZE, 3) and (e.width, e.height) == (96, 96)
    with pytest.raises(ValueError, match="needs text="):
        image_pipe(scene_image(0), task="edit_image")
    with pytest.raises(ValueError, match="'edit_image' needs an image"):
        image_pipe(None, task="edit_image", text="x")


def test_image_codes_are_sampled_from_a_fixed_seed(image_pipe) -> None:
    """Image tasks sample their codes (greedy decoding writes background everywhere): the same call
    gives the same image, another seed another one, the caller's random stream is left alone, and
    greedy decoding is what a task without sampling gets."""
    import copy

    import torch

    from vlseq.decoding.generate import predict_examples
    from vlseq.tasks import get_task

    task = image_pipe.processor.bind(get_task("generate_image"))
    assert task.sampling and task.sampling["do_sample"]
    texts = ["a red circle.", "a blue square.", "a red circle."]
    exs = image_pipe.examples(image_pipe.canvases(texts), "generate_image", texts)
    torch.manual_seed(123)
    before = torch.rand(3)
    torch.manual_seed(123)
    a = [p.sequence for p in predict_examples(image_pipe.model, image_pipe.processor, task, exs)]
    assert torch.equal(torch.rand(3), before)  # the sampling drew from a forked random state
    assert a == [p.sequence for p in predict_examples(image_pipe.model, image_pipe.processor, task, exs)]
    assert a != [p.sequence for p in predict_examples(image_pipe.model, image_pipe.processor, task, exs, seed=1)]
    greedy = copy.copy(task)
    greedy.sampling = None
    g = [p.sequence for p in predict_examples(image_pipe.model, image_pipe.processor, greedy, exs)]
    assert g[0] == g[2] and all(s.count("<img_") == 16 for s in a + g)  # greedy: one prompt, one image


def test_image_tasks_need_an_image_tokenizer(pipe) -> None:
    with pytest.raises(ValueError, match="'generate_image' writes an image, but this checkpoint has no image tokenizer"):
        pipe(None, task="generate_image", text="a red circle.")


def test_instance_masks_are_drawn(pipe) -> None:
    img = scene_image(0)
    r = pipe(img, task="instance_segment")
    assert r.polygons and all(len(p) >= 3 for p in r.polygons)
    drawn = np.asarray(r.draw(img, min_side=96)).astype(int)
    assert (np.abs(drawn - img.astype(int)).sum(-1) > 0).mean() > 0.01  # translucent fills changed the picture


def test_checkpoint_image_tokenizer_is_found_and_checked(tmp_path) -> None:
    import shutil

    from vlseq.models.io import IMAGE_TOKENIZER_DIR, load_image_tokenizer

    ck = make_checkpoint(tmp_path / "images", image_tokenizer=True)
    it = load_image_tokenizer(ck, IMAGE_CODEBOOK)
    assert it is not None and it.config.codebook_size == IMAGE_CODEBOOK and it.num_codes == 16
    with pytest.raises(ValueError, match=f"codebook size {IMAGE_CODEBOOK} but the checkpoint's tokenizer has 8"):
        load_image_tokenizer(ck, 8)
    shutil.rmtree(ck / IMAGE_TOKENIZER_DIR)
    with pytest.raises(ValueError, match="has 16 image tokens but the checkpoint has no image_tokenizer/"):
        load_image_tokenizer(ck, IMAGE_CODEBOOK)
    assert load_image_tokenizer(make_checkpoint(tmp_path / "plain"), 0) is None


def test_story_takes_its_images_as_one_example(pipe) -> None:
    imgs = [Image.fromarray(scene_image(s, size=64)) for s in (1, 2)]  # the debug model takes 2 images
    r = pipe(imgs, "story")
    assert not isinstance(r, list) and isinstance(r.text, str) and r.sequence
    [ex] = pipe.examples(imgs, "story")
    assert len(ex.images) == 2 and ex.task == "story"
    with pytest.raises(ValueError, match="at most 2"):
        pipe([Image.fromarray(scene_image(s, size=64)) for s in (1, 2, 3)], "story")


def test_choices_and_history_are_keywords(pipe) -> None:
    from vlseq.tasks import get_task

    img = Image.fromarray(scene_image(4, size=64))
    choices = ["yes", "no", "red", "blue"]
    r = pipe(img, "multiple_choice", "what colour is the circle?", choices=choices)
    assert r.text in choices
    r = pipe(img, "dialog", "is there a circle?", choices=["yes", "no"], history=[("what shape is left?", "circle")])
    assert r.text in ("yes", "no")
    [ex] = pipe.examples([img], "dialog", "is there a circle?", history=[("what shape is left?", "circle")])
    assert ex.meta["history"] == [("what shape is left?", "circle")]
    assert "history: what shape is left? circle." in get_task("dialog").prompt(ex, 32)
    [ex] = pipe.examples([img], "dialog", "is there a circle?", caption="  a red   circle. ")
    assert ex.meta == {"caption": "a red circle."}
    assert get_task("dialog").prompt(ex, 32) == "is there a circle? caption: a red circle."
    with pytest.raises(ValueError, match="choices="):
        pipe(img, "multiple_choice", "what colour is the circle?")
