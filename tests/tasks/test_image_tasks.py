"""Image-output tasks (generate_image, edit_image), the image grammar and image tokens in the vocabulary."""

from __future__ import annotations

import random

import numpy as np
import pytest

from vlseq.codec import parse
from vlseq.codec.grammar import GrammarError, ImageGrammar, TextGrammar, VocabLayout
from vlseq.codec.tokens import img_token, special_tokens
from vlseq.data.example import Example
from vlseq.data.images import blank_canvas
from vlseq.tasks.base import GrammarSpec, Prediction
from vlseq.tasks.image import TARGET_CODES, generation_examples, image_tokens, psnr, with_target_codes
from vlseq.tasks.registry import get_task, task_names
from vlseq.tokenizer import VLTokenizer

K = 24  # codebook size
N = 16  # a 4x4 grid


@pytest.fixture(scope="module")
def tok() -> VLTokenizer:
    return VLTokenizer.train(["a red circle left of a blue square", "move the cross to the left."], num_bins=16,
                             vocab_size=300, num_image_tokens=K)


def _example(task: str = "edit_image", codes=None) -> Example:
    img = np.zeros((32, 32, 3), dtype=np.uint8)
    meta = {} if codes is None else {TARGET_CODES: list(codes)}
    return Example(task=task, images=[img], width=32, height=32, image_id="7", text="make the square red.",
                   target_image=np.full((32, 32, 3), 200, dtype=np.uint8), source="edits.jsonl:7", meta=meta)


def test_tasks_registered():
    assert {"generate_image", "edit_image"} <= set(task_names())
    for name in ("generate_image", "edit_image"):
        assert get_task(name).output == "image"


def test_tokenizer_encodes_image_tokens_as_single_ids(tok):
    assert tok.num_image_tokens == K and tok.img_offset >= 0
    codes = [0, 5, K - 1, 5, 3]
    assert tok.encode(image_tokens(codes)) == [tok.img_offset + c for c in codes]
    assert tok.decode_markup(tok.encode(image_tokens(codes)) + [tok.eos_id]) == image_tokens(codes)


def test_layout_knows_image_ids(tok):
    layout = tok.layout()
    assert layout.num_image_tokens == K and layout.img_offset == tok.img_offset
    assert not layout.text_mask[layout.img_offset : layout.img_offset + K].any()
    std = VocabLayout.standard(num_bins=8, num_text_tokens=10, num_image_tokens=K)
    assert std.img_offset == len(special_tokens(8)) and std.num_image_tokens == K
    assert std.render([std.img_offset + 3, std.eos_id]) == img_token(3) + "</s>"
    assert VocabLayout.standard(num_bins=8, num_text_tokens=10).num_image_tokens == 0


def test_layout_rejects_image_ids_among_text():
    std = VocabLayout.standard(num_bins=8, num_text_tokens=10, num_image_tokens=K)
    fields = {k: getattr(std, k) for k in ("vocab_size", "eos_id", "pad_id", "bos_id", "obj_open", "obj_close",
                                          "poly_open", "poly_close", "sep", "loc_offset", "num_bins", "unk_id",
                                          "img_offset", "num_image_tokens")}
    with pytest.raises(ValueError, match="text_ids contain image ids"):
        VocabLayout(**fields, text_ids=np.array([std.img_offset]))
    with pytest.raises(ValueError, match="overlap the coordinate ids"):
        VocabLayout(**{**fields, "img_offset": std.loc_offset}, text_ids=std.text_ids)


def test_image_grammar_random_sampling_always_parses_to_n_codes(tok):
    g = ImageGrammar(tok.layout(), N)
    rnd = random.Random(0)
    for _ in range(40):
        state, ids = g.initial_state(), []
        budget = rnd.choice([1, 5, N, N + 1, 200])  # a too-small budget is raised to what finishes the grid
        for step in range(N + 5):
            allowed = np.flatnonzero(g.allowed(state, max(1, budget - step)))
            t = int(rnd.choice(allowed.tolist()))
            ids.append(t)
            state = g.advance(state, t)
            if g.is_done(state):
                break
        assert g.is_done(state) and len(ids) == N + 1
        p = parse(tok.decode_markup(ids), 32, 32, 16)
        assert len(p.image_codes) == N and p.errors == [] and p.text == ""
        assert p.image_codes == [i - tok.img_offset for i in ids[:-1]]


def test_image_grammar_rejects_what_does_not_fit(tok):
    layout = tok.layout()
    g = ImageGrammar(layout, 2)
    s = g.initial_state()
    with pytest.raises(GrammarError):
        g.advance(s, tok.eos_id)  # too early
    with pytest.raises(GrammarError):
        g.advance(s, tok.loc_id(0))
    s = g.replay([layout.img_offset, layout.img_offset + 1])
    with pytest.raises(GrammarError):
        g.advance(s, layout.img_offset)  # one too many
    assert g.accepts([layout.img_offset, layout.img_offset + 1, tok.eos_id])
    assert not TextGrammar(layout).allowed(TextGrammar(layout).initial_state())[layout.img_offset:layout.img_offset + K].any()
    with pytest.raises(ValueError, match="no image tokens"):
        ImageGrammar(VocabLayout.standard(8, 10), 4)


def test_grammar_for_maps_image_spec(tok):
    from vlseq.decoding.constrain import grammar_for

    task = get_task("generate_image")
    task.num_codes = N
    spec = task.grammar(_example("generate_image"))
    assert spec == GrammarSpec("image", image_tokens=N)
    g = grammar_for(spec, tok)
    assert isinstance(g, ImageGrammar) and g.n_tokens == N


def test_targets_spell_the_codes(tok):
    codes = [i % K for i in range(N)]
    for name in ("generate_image", "edit_image"):
        task = get_task(name)
        task.num_codes = N
        ex = _example(name, codes)
        target = task.target(ex, 16)
        assert target == "".join(f"<img_{c}>" for c in codes)
        assert target.count("<img_") == N
        assert tok.encode(target) == [tok.img_offset + c for c in codes]
        assert task.prompt(ex, 16) == "make the square red."


def test_target_errors_name_the_record():
    task = get_task("edit_image")
    task.num_codes = N
    with pytest.raises(ValueError, match="edits.jsonl:7.*target_codes"):
        task.target(_example(), 16)
    with pytest.raises(ValueError, match="edits.jsonl:7.*3 codes"):
        task.target(_example(codes=[1, 2, 3]), 16)


def test_with_target_codes_copies():
    ex = _example()
    ex2 = with_target_codes(ex, np.arange(4))
    assert ex2.meta[TARGET_CODES] == [0, 1, 2, 3] and TARGET_CODES not in ex.meta and ex2.images is ex.images


def test_generation_examples_from_captions():
    cap = Example(task="caption", images=["images/00000001.png"], width=64, height=48, image_id="1",
                  answers=["a red circle.", "one red circle."], source="captions.json:1")
    gens = generation_examples([cap])
    assert len(gens) == 1 and len(generation_examples([cap], all_captions=True)) == 2
    g = gens[0]
    assert g.task == "generate_image" and g.text == "a red circle." and g.target_image == "images/00000001.png"
    assert g.images[0].shape == (48, 64, 3) and (g.images[0] == 128).all()  # an uninformative input canvas
    assert g.images[0] is blank_canvas(64, 48)
    with pytest.raises(ValueError, match="captions.json:1"):
        generation_examples([Example(task="caption", images=[], width=1, height=1, source="captions.json:1")])


def test_edit_examples_from_split_reader(tmp_path):
    """edits.jsonl as the world writes it -> edit_image Examples whose target is the edited image."""
    from PIL import Image

    from vlseq.data.readers import load_split

    (tmp_path / "images").mkdir()
    for name, v in (("a.png", 10), ("b.png", 200)):
        Image.fromarray(np.full((32, 32, 3), v, dtype=np.uint8)).save(tmp_path / "images" / name)
    (tmp_path / "edits.jsonl").write_text('{"id": 1, "input_image": "images/a.png", "edited_image": "images/b.png", '
                                          '"edit_prompt": "make it lighter."}\n')
    ex = load_split(tmp_path, ["edit_image"])["edit_image"][0]
    task = get_task("edit_image")
    task.check(ex)
    assert str(ex.target_image).endswith("b.png") and task.prompt(ex, 16) == "make it lighter."


def test_evaluate_psnr():
    task = get_task("edit_image")
    task.num_codes = N
    exs = [_example(), _example()]
    seq_ok = image_tokens([1] * N)
    preds = [Prediction(seq_ok, parse(seq_ok, 32, 32, 16)), Prediction("<img_1>", parse("<img_1>", 32, 32, 16))]
    with pytest.raises(ValueError, match="decode_image"):
        task.evaluate(exs, preds)
    task.decode_image = lambda codes: np.full((32, 32, 3), 200, dtype=np.uint8)  # a perfect decoder
    r = task.evaluate(exs, preds)
    assert r["valid_rate"] == 0.5
    grey = psnr(np.full((32, 32, 3), 128, np.uint8), np.full((32, 32, 3), 200, np.uint8))
    assert r["psnr"] == pytest.approx((100.0 + grey) / 2)
    assert grey == pytest.approx(10 * np.log10(255**2 / 72**2))
