"""The Florence-2 wrapper: a user's Florence-2 directory (tiny config + BART-style byte-level BPE
tokenizer with ``<loc_0..999>``, as transformers saves them) fine-tuned through vlseq's interface:
weights loaded unchanged, loss balanced and falling, grammar-constrained generations that parse,
checkpoints that rebuild the architecture without the original directory, image pairs tiled,
and the preset training through vlseq's own Trainer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import Florence2Config, Florence2ForConditionalGeneration, PreTrainedTokenizerFast

from vlseq.codec.tokens import OBJ_CLOSE, OBJ_OPEN, loc_token
from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, pair_example, render
from vlseq.decoding.generate import predict_examples
from vlseq.models.config import ModelConfig
from vlseq.models.factory import build_model
from vlseq.models.florence2 import IMAGENET_MEAN, Florence2Model
from vlseq.models.io import from_pretrained, save_pretrained
from vlseq.processing import Processor
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer, check_roundtrip_ids
from vlseq.train.config import load_config

BINS = 1000  # Florence-2's coordinate tokens
SIZE = 32
TASKS = ("refexp", "vqa", "detect", "caption", "classify")
# Florence-2's task tokens precede its coordinate tokens in its vocabulary.
FLORENCE_TASK_TOKENS = ["<od>", "</od>", "<ocr>", "</ocr>", "<cap>", "</cap>", "<grounding>", "</grounding>",
                        "<seg>", "</seg>", "<sep>", "<poly>", "</poly>", "<and>"]
MEAN, STD = [0.5, 0.45, 0.4], [0.25, 0.2, 0.3]  # deliberately not ImageNet's: must be read from the directory


def _examples() -> dict[str, list]:
    cfg = WorldConfig(size=SIZE, max_objects=3)
    exs = []
    for s in range(4):
        scene = generate_scene(s, cfg)
        exs += examples_for_scene(scene, render(scene), np.random.default_rng(s), cfg, image_id=str(s))
    return {t: [e for e in exs if e.task == t] for t in TASKS}


def _florence_tokenizer(texts: list[str]) -> PreTrainedTokenizerFast:
    """A BART-style byte-level BPE: <s>=0 <pad>=1 </s>=2 <unk>=3, text pieces, task tokens, <loc_k>."""
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    tok.add_tokens(FLORENCE_TASK_TOKENS + [loc_token(k) for k in range(BINS)])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   unk_token="<unk>")


def _tiny_florence_config(vocab_size: int) -> Florence2Config:
    vision = dict(depths=[1, 1], patch_size=[7, 3], patch_stride=[4, 2], patch_padding=[3, 1],
                  patch_prenorm=[False, True], embed_dim=[16, 32], num_heads=[1, 2], num_groups=[1, 2],
                  window_size=4, projection_dim=32, drop_path_rate=0.0, max_position_embeddings=12)
    text = dict(vocab_size=vocab_size, d_model=32, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
                decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=256,
                dropout=0.0)
    return Florence2Config(vision_config=vision, text_config=text)


@pytest.fixture(scope="module")
def user_dir(tmp_path_factory) -> tuple[Path, Florence2ForConditionalGeneration, dict]:
    """A directory as a user has it: transformers' Florence-2 save + its tokenizer + preprocessor stats."""
    by_task = _examples()
    texts = []
    for t, es in by_task.items():
        task = get_task(t)
        for e in es:
            texts += [task.prompt(e, BINS), task.target(e, BINS)] + list(e.answers)
    texts = [re.sub(r"<[^>]+>", " ", t) for t in texts]
    path = tmp_path_factory.mktemp("florence2") / "Florence-2-tiny"
    hf_tok = _florence_tokenizer(texts)
    torch.manual_seed(0)
    original = Florence2ForConditionalGeneration(_tiny_florence_config(len(hf_tok))).eval()
    original.save_pretrained(path)
    hf_tok.save_pretrained(path)
    (path / "preprocessor_config.json").write_text(json.dumps({"image_mean": MEAN, "image_std": STD}))
    return path, original, by_task


def _model_config(path: Path, tok: VLTokenizer, **kw) -> ModelConfig:
    return ModelConfig(model_type="florence2", vocab_size=len(tok), pad_token_id=tok.pad_id, bos_token_id=tok.bos_id,
                       eos_token_id=tok.eos_id, image_size=SIZE, num_bins=BINS, lm_pretrained=str(path), **kw)


@pytest.fixture(scope="module")
def setup(user_dir):
    path, original, by_task = user_dir
    tok = VLTokenizer.from_pretrained(path, num_bins=BINS)
    proc = Processor(tok, SIZE, BINS)
    return path, original, by_task, tok, proc


def _batch(proc, items):
    return proc.collate([proc.encode(get_task(t), e) for t, e in items])


def test_tokenizer_keeps_florence_ids_and_adds_markup(setup) -> None:
    path, original, by_task, tok, proc = setup
    hf = PreTrainedTokenizerFast.from_pretrained(str(path))
    assert (tok.bos_id, tok.pad_id, tok.eos_id) == (0, 1, 2)
    assert tok.loc_id(0) == hf.convert_tokens_to_ids("<loc_0>")
    assert tok.loc_id(999) == hf.convert_tokens_to_ids("<loc_999>")
    assert tok.special_ids["<sep>"] == hf.convert_tokens_to_ids("<sep>")  # Florence-2's own, reused
    assert tok.special_ids[OBJ_OPEN] >= len(hf) and tok.special_ids[OBJ_CLOSE] >= len(hf)  # appended
    assert len(tok) == len(hf) + 2 and check_roundtrip_ids(tok) == []


def test_weights_from_user_dir_equal_the_originals(setup) -> None:
    path, original, by_task, tok, proc = setup
    model = build_model(_model_config(path, tok))
    assert isinstance(model, Florence2Model)
    f = model.florence
    assert f.lm_head.weight.data_ptr() == f.get_input_embeddings().weight.data_ptr()  # tied after the resize
    assert f.get_input_embeddings().num_embeddings == len(tok)
    ours, theirs = f.state_dict(), original.state_dict()
    assert ours.keys() == theirs.keys()
    n_old = original.get_input_embeddings().num_embeddings
    for k, v in theirs.items():
        w = ours[k]
        if w.shape != v.shape:  # the (tied) embeddings grew by the appended markup tokens
            assert w.shape[0] == len(tok) and v.shape[0] == n_old, k
            w = w[:n_old]
        assert torch.equal(w, v), k
    # The architecture is recorded for checkpoints, and the pixel statistics were read from the directory.
    hf_cfg = model.config.vision.hf_config
    assert hf_cfg["text_config"]["vocab_size"] == len(tok) and hf_cfg["image_mean"] == MEAN
    assert model.config.d_model == 32
    x = torch.rand(1, 1, 3, SIZE, SIZE)
    expect = (x - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    assert torch.allclose(model.to_florence_pixels((x - 0.5) / 0.5), expect, atol=1e-6)


def test_matches_florence2_own_forward(setup) -> None:
    """Same logits as transformers' Florence-2 fed its own layout: <image>*N <s> prompt </s>, decoder </s> <s> ..."""
    path, original, by_task, tok, proc = setup
    model = build_model(_model_config(path, tok)).eval()
    b = _batch(proc, [("vqa", by_task["vqa"][0])])
    out = model(**b)
    n_prompt = int(b["attention_mask"].sum())
    pix = model.to_florence_pixels(b["pixel_values"][:, 0])
    with torch.no_grad():
        img = original.model.get_image_features(pix).pooler_output
        ids = torch.tensor([[tok.bos_id] + b["input_ids"][0, :n_prompt].tolist() + [tok.eos_id]])
        embeds = torch.cat([img, original.get_input_embeddings()(ids)], 1)
        dec = torch.cat([torch.tensor([[tok.eos_id]]), b["decoder_input_ids"]], 1)
        ref = original(inputs_embeds=embeds, decoder_input_ids=dec).logits[:, 1:]
    n_old = ref.shape[-1]
    assert torch.allclose(out["logits"][..., :n_old], ref, atol=1e-5)


def test_loss_is_balanced_finite_and_falls(setup) -> None:
    path, original, by_task, tok, proc = setup
    torch.manual_seed(0)
    model = build_model(_model_config(path, tok))
    items = [(t, by_task[t][0]) for t in ("refexp", "vqa", "detect", "caption")]
    b = _batch(proc, items)
    out = model(**b)
    assert out["logits"].shape[:2] == b["labels"].shape and out["logits"].shape[-1] >= len(tok)
    assert torch.allclose(out["loss"], out["sample_loss"].mean())
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        loss = model(**b)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(np.isfinite(losses))
    assert losses[-1] < losses[0] * 0.6, losses


def test_generate_parses_and_checkpoint_round_trip(setup, tmp_path) -> None:
    path, original, by_task, tok, proc = setup
    torch.manual_seed(1)
    model = build_model(_model_config(path, tok)).eval()
    save_pretrained(model, tok, tmp_path / "ck", {"num_bins": BINS, "image_size": SIZE})
    cfg_saved = json.loads((tmp_path / "ck" / "config.json").read_text())
    assert cfg_saved["model_type"] == "florence2" and cfg_saved["vision"]["hf_config"]["model_type"] == "florence2"
    again, tok2, settings = from_pretrained(tmp_path / "ck")  # builds from config.json alone: lm_pretrained nulled
    assert isinstance(again, Florence2Model) and again.config.lm_pretrained is None
    assert len(tok2) == len(tok) and tok2.loc_id(0) == tok.loc_id(0)
    for t in ("detect", "refexp", "caption"):
        task = get_task(t)
        exs = by_task[t][:2]
        a = predict_examples(model, proc, task, exs)
        c = predict_examples(again, Processor(tok2, SIZE, BINS), task, exs)
        assert [p.sequence for p in a] == [p.sequence for p in c]
        assert all(p.parsed.errors == [] for p in a), [p.sequence for p in a]
    b = _batch(proc, [("vqa", by_task["vqa"][0])])
    ids = model.generate(b["pixel_values"], b["input_ids"], b["attention_mask"], max_new_tokens=4)
    assert ids[0, 0].item() == tok.bos_id and ids.shape[1] <= 5


def test_image_pairs_are_tiled_and_rows_are_independent(setup) -> None:
    path, original, by_task, tok, proc = setup
    model = build_model(_model_config(path, tok)).eval()
    cfg_w = WorldConfig(size=SIZE, max_objects=3)
    left, right = generate_scene(10, cfg_w), generate_scene(11, cfg_w)
    pair = pair_example(left, render(left), right, render(right), np.random.default_rng(0))
    single = by_task["classify"][0]
    both = _batch(proc, [("classify", pair), ("classify", single)])
    alone = _batch(proc, [("classify", single)])
    assert both["pixel_values"].shape[:2] == (2, 2)
    out = model(**both)
    assert torch.isfinite(out["loss"])
    # The single-image row packed beside a pair gives what it gives alone (padding only at the end).
    t = alone["labels"].shape[1]
    ref = model(**alone)["logits"][0]
    assert torch.allclose(out["logits"][1, :t], ref, atol=1e-5)
    assert model.tile_width == {1: SIZE, 2: 2 * SIZE}
    _, mask = model.encoder_inputs(both["pixel_values"], both["input_ids"], both["attention_mask"], both["image_mask"])
    n_prompt = both["attention_mask"].sum(1)
    assert (mask.sum(1) - n_prompt - 2).tolist() == [4 * 8 + 1, 4 * 4 + 1]  # 4x8 cells + pooled; 4x4 + pooled
    three = dict(both, pixel_values=torch.cat([both["pixel_values"], both["pixel_values"][:, :1]], 1),
                 image_mask=torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="at most 2"):
        model(**three)


def test_pairs_squeezed_when_positions_are_short(setup) -> None:
    """Built from a Florence2Config dict alone (no weights): 64 px pairs side by side would need
    8x16+1 image tokens + the prompt reserve > 160 positions, so each pair is squeezed into 64x64."""
    path, original, by_task, tok, proc = setup
    hf = _tiny_florence_config(len(tok)).to_dict()
    hf["text_config"]["max_position_embeddings"] = 160
    cfg = ModelConfig(model_type="florence2", vocab_size=len(tok), pad_token_id=tok.pad_id, bos_token_id=tok.bos_id,
                      eos_token_id=tok.eos_id, image_size=64, num_bins=BINS)
    cfg.vision.hf_config = hf
    model = build_model(cfg).eval()
    assert model.tile_width == {1: 64, 2: 64} and model.tokens_per_image == 8 * 8 + 1
    assert model.config.vision.hf_config["image_mean"] == list(IMAGENET_MEAN)  # no directory: ImageNet's
    p64 = Processor(tok, 64, BINS)
    cfg_w = WorldConfig(size=SIZE, max_objects=3)
    left, right = generate_scene(12, cfg_w), generate_scene(13, cfg_w)
    pair = pair_example(left, render(left), right, render(right), np.random.default_rng(1))
    b = _batch(p64, [("classify", pair), ("classify", by_task["classify"][0])])
    _, mask = model.encoder_inputs(b["pixel_values"], b["input_ids"], b["attention_mask"], b["image_mask"])
    assert (mask.sum(1) - b["attention_mask"].sum(1) - 2).tolist() == [65, 65]
    assert torch.isfinite(model(**b)["loss"])


def test_bad_configs_fail_clearly(setup, tmp_path) -> None:
    path, original, by_task, tok, proc = setup
    with pytest.raises(ValueError, match="lm_pretrained"):
        build_model(ModelConfig(model_type="florence2", vocab_size=len(tok)))
    with pytest.raises(FileNotFoundError, match="no config.json"):
        build_model(_model_config(tmp_path / "missing", tok))
    # A directory whose weights are not Florence-2's (here: a BART under a Florence-2 config.json).
    from transformers import BartForConditionalGeneration

    wrong = tmp_path / "wrong"
    BartForConditionalGeneration(original.config.text_config).save_pretrained(wrong)
    (wrong / "config.json").write_text((path / "config.json").read_text())
    with pytest.raises(ValueError, match="weights do not match"):
        build_model(_model_config(wrong, tok))
    too_big = _model_config(path, tok)
    too_big.image_size = 512  # 64 cells per side > the tiny position table's 12
    with pytest.raises(ValueError, match="position"):
        build_model(too_big)


def test_preset_trains_with_vlseq_trainer(user_dir, tmp_path) -> None:
    """The florence2 preset, pointed at the user's directory, runs through the unchanged Trainer."""
    from vlseq.train.loop import Trainer

    path = user_dir[0]
    preset = load_config("florence2")
    assert preset.model.model_type == "florence2" and preset.model.num_bins == BINS
    over = [
        f"tokenizer={path}", f"model.lm_pretrained={path}", f"model.image_size={SIZE}", f"out_dir={tmp_path / 'run'}",
        f"data.synth={tmp_path / 'synth'}",
        'data.synth_generate={"train": 16, "val": 4, "test": 4, "size": 32, "seed": 0}',
        "max_steps=2", "batch_size=4", "warmup_steps=1", "save_every=2", "log_every=1", "mixed_precision=no",
        "eval_examples=1", 'tasks=["refexp", "classify"]', "max_target_tokens=48"]
    summary = Trainer(load_config("florence2", over), evaluate_at_end=False).run()
    assert summary["step"] == 2
    resumed = Trainer(load_config("florence2", over), evaluate_at_end=False)  # from checkpoints/step_0000002
    assert resumed.step == 2
    model, tok, settings = from_pretrained(tmp_path / "run" / "final")
    assert isinstance(model, Florence2Model) and settings["num_bins"] == BINS
