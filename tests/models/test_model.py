"""The model: forward/loss shapes, overfitting 8 examples to their exact targets, save/load,
several images per example, transformers vision backbones, initialisation from local HF dirs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from vlseq.data.world import WorldConfig, examples_for_scene, generate_scene, render
from vlseq.decoding.generate import predict_examples
from vlseq.models.config import ModelConfig, VisionConfig
from vlseq.models.io import from_pretrained, save_pretrained
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.processing import Processor
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer

BINS = 32
TASKS = ("refexp", "vqa", "detect", "caption", "classify")


def _world(n_scenes: int = 6, size: int = 32):
    cfg = WorldConfig(size=size, max_objects=3)
    exs = []
    for s in range(n_scenes):
        scene = generate_scene(s, cfg)
        exs += examples_for_scene(scene, render(scene), np.random.default_rng(s), cfg, image_id=str(s))
    return exs


@pytest.fixture(scope="module")
def setup():
    exs = _world()
    by_task = {t: [e for e in exs if e.task == t] for t in TASKS}
    texts = []
    for t, es in by_task.items():
        task = get_task(t)
        for e in es:
            texts += [task.prompt(e, BINS), task.target(e, BINS)] + list(e.answers)
    tok = VLTokenizer.train(texts, num_bins=BINS)
    cfg = ModelConfig(vocab_size=len(tok), d_model=64, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=128,
                      image_size=32, num_bins=BINS, max_positions=256, vision=VisionConfig(channels=(16, 32, 64)))
    proc = Processor(tok, 32, BINS)
    return by_task, tok, cfg, proc


def _batch(proc, items):
    return proc.collate([proc.encode(get_task(t), e) for t, e in items])


def test_forward_shapes_and_per_sample_loss(setup) -> None:
    by_task, tok, cfg, proc = setup
    torch.manual_seed(0)
    model = VLSeqModel(cfg)
    assert model.lm.lm_head.weight.data_ptr() == model.lm.get_input_embeddings().weight.data_ptr()  # tied
    items = [("vqa", by_task["vqa"][0]), ("detect", by_task["detect"][0])]
    b = _batch(proc, items)
    out = model(**b)
    assert out["logits"].shape == (2, b["labels"].shape[1], len(tok))
    assert out["sample_loss"].shape == (2,)
    # Per-sample balance: the loss is the mean of per-sample means, not a token mean.
    assert torch.allclose(out["loss"], out["sample_loss"].mean())


def test_overfits_eight_examples_to_exact_targets(setup) -> None:
    by_task, tok, cfg, proc = setup
    torch.manual_seed(0)
    model = VLSeqModel(cfg)
    items = [(t, by_task[t][i]) for t in ("refexp", "vqa", "detect", "caption") for i in range(2)]
    b = _batch(proc, items)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    first = None
    for _ in range(300):
        loss = model(**b)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
        if loss.item() < 0.02:
            break
    assert loss.item() < first * 0.05
    for t, e in items:
        task = get_task(t)
        [pred] = predict_examples(model, proc, task, [e])
        # Exact target ids (the decoded string differs only in spaces the tokenizer drops).
        assert tok.encode(pred.sequence) == tok.encode(task.target(e, BINS)), (t, pred.sequence)
        assert pred.parsed.errors == []


@pytest.mark.parametrize("lm", ["bart", "mbart"])
def test_save_load_identical_generations(setup, tmp_path, lm) -> None:
    by_task, tok, cfg, proc = setup
    cfg = dataclasses.replace(cfg, lm=lm)  # mbart: the same encoder-decoder with pre-LN layers
    torch.manual_seed(1)
    model = VLSeqModel(cfg).eval()
    save_pretrained(model, tok, tmp_path / "ck", {"num_bins": BINS})
    again, tok2, settings = from_pretrained(tmp_path / "ck")
    exs = by_task["detect"][:4]
    task = get_task("detect")
    a = predict_examples(model, proc, task, exs)
    b = predict_examples(again, Processor(tok2, 32, BINS), task, exs)
    assert [p.sequence for p in a] == [p.sequence for p in b]
    assert settings == {"num_bins": BINS}
    assert type(again.lm).__name__ == ("MBartForConditionalGeneration" if lm == "mbart" else "BartForConditionalGeneration")


@pytest.mark.parametrize("coarse", [0, 2])
def test_two_images_per_example(setup, coarse) -> None:
    by_task, tok, cfg, proc = setup
    model = VLSeqModel(dataclasses.replace(cfg, coarse_grid=coarse))
    from vlseq.data.world import pair_example

    cfg_w = WorldConfig(size=32, max_objects=3)
    left, right = generate_scene(10, cfg_w), generate_scene(11, cfg_w)
    pair = pair_example(left, render(left), right, render(right), np.random.default_rng(0))
    assert len(pair.images) == 2
    b = _batch(proc, [("classify", pair), ("classify", by_task["classify"][0])])
    assert b["pixel_values"].shape[:2] == (2, 2) and b["image_mask"].tolist() == [[True, True], [True, False]]
    out = model(**b)
    assert torch.isfinite(out["loss"])
    # A padding image skips the stem: in training its batch norm sees only the three real images,
    # and the real images' features are what they are without the padding.
    model.eval()
    with torch.no_grad():
        full = model.encode_images(b["pixel_values"])
        masked = model.encode_images(b["pixel_values"], b["image_mask"])
    n, k = model.tokens_per_image, model.coarse_tokens
    assert k == coarse * coarse
    assert masked.shape == full.shape == (2, 2 * (n + k), cfg.d_model)
    assert torch.allclose(masked[0], full[0], atol=1e-6) and torch.allclose(masked[1, :n], full[1, :n], atol=1e-6)
    # the coarse tokens follow both fine grids; the real image's lead its block
    assert torch.allclose(masked[1, 2 * n: 2 * n + k], full[1, 2 * n: 2 * n + k], atol=1e-6)
    model.train()
    seen = []
    towers = [model.vision] + ([model.coarse] if coarse else [])
    hooks = [t.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0])) for t in towers]
    model(**b)
    for hook in hooks:
        hook.remove()
    assert seen == [3] * len(towers)


@pytest.mark.parametrize("coarse", [0, 1, 2])
def test_a_row_does_not_depend_on_its_neighbours_images(setup, coarse) -> None:
    # A one-image row padded to two images beside a pair must give what it gives alone: BART adds
    # positions over the whole encoder input, so without the shift its prompt moved by one image's
    # tokens, and a model trained on batches of one image count answered at chance on mixed ones.
    # With coarse tokens, they too sit after the padding image's grid and must be moved back.
    by_task, tok, cfg, proc = setup
    torch.manual_seed(0)
    model = VLSeqModel(dataclasses.replace(cfg, coarse_grid=coarse))
    torch.nn.init.normal_(model.lm.get_encoder().embed_positions.weight, std=1.0)  # positions that matter
    model.eval()
    from vlseq.data.world import pair_example

    cfg_w = WorldConfig(size=32, max_objects=3)
    left, right = generate_scene(12, cfg_w), generate_scene(13, cfg_w)
    pair = pair_example(left, render(left), right, render(right), np.random.default_rng(1))
    single = by_task["classify"][0]
    with torch.no_grad():
        alone = model(**_batch(proc, [("classify", single)]))
        beside = model(**_batch(proc, [("classify", single), ("classify", pair)]))
        ids = _batch(proc, [("classify", single)])
        gen_alone = model.generate(ids["pixel_values"], ids["input_ids"], ids["attention_mask"], max_new_tokens=4)
        both = _batch(proc, [("classify", single), ("classify", pair)])
        gen_beside = model.generate(both["pixel_values"], both["input_ids"], both["attention_mask"],
                                    both["image_mask"], max_new_tokens=4)
    t = alone["logits"].shape[1]
    assert torch.allclose(alone["logits"][0], beside["logits"][0, :t], atol=1e-4)
    assert torch.allclose(alone["sample_loss"][0], beside["sample_loss"][0], atol=1e-5)
    assert gen_alone[0].tolist() == gen_beside[0, : gen_alone.shape[1]].tolist()


@pytest.mark.parametrize("kind,hf", [
    ("resnet", dict(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic")),
    ("vit", dict(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, patch_size=8)),
    ("convnext", dict(hidden_sizes=[8, 16], depths=[1, 1], num_stages=2)),
])
def test_transformers_backbones(setup, kind, hf) -> None:
    by_task, tok, cfg, proc = setup
    c = ModelConfig.from_dict({**cfg.to_dict(), "vision": {"kind": kind, "hf_config": hf}})
    model = VLSeqModel(c)
    b = _batch(proc, [("vqa", by_task["vqa"][0])])
    assert torch.isfinite(model(**b)["loss"])


def test_init_from_local_hf_dirs(setup, tmp_path) -> None:
    """Vision tower and language model initialised from HF model directories on disk."""
    from transformers import BartConfig, BartForConditionalGeneration, ResNetConfig, ResNetModel

    by_task, tok, cfg, proc = setup
    torch.manual_seed(3)
    resnet = ResNetModel(ResNetConfig(embedding_size=8, hidden_sizes=[8, 16], depths=[1, 1], layer_type="basic"))
    resnet.save_pretrained(tmp_path / "resnet")
    bart = BartForConditionalGeneration(BartConfig(vocab_size=100, d_model=64, encoder_layers=1, decoder_layers=1,
                                                   encoder_attention_heads=2, decoder_attention_heads=2,
                                                   encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=256))
    bart.save_pretrained(tmp_path / "bart")
    d = cfg.to_dict()
    d["vision"] = {"kind": "resnet", "pretrained": str(tmp_path / "resnet")}
    d["lm_pretrained"] = str(tmp_path / "bart")
    model = VLSeqModel(ModelConfig.from_dict(d))
    w = dict(resnet.named_parameters())["embedder.embedder.convolution.weight"]
    assert torch.equal(model.vision.model.embedder.embedder.convolution.weight, w)
    enc_w = bart.model.encoder.layers[0].fc1.weight
    assert torch.equal(model.lm.model.encoder.layers[0].fc1.weight, enc_w)
    assert model.lm.config.vocab_size >= len(tok)
    b = _batch(proc, [("vqa", by_task["vqa"][0])])
    assert torch.isfinite(model(**b)["loss"])


def test_sincos_positions_tell_every_cell_apart_at_feature_scale() -> None:
    from vlseq.models.positions import sincos_2d

    pos_row, pos_col = sincos_2d((8, 6), 64)
    table = (pos_row[:, None, :] + pos_col[None, :, :]).reshape(48, 64)
    dist = torch.cdist(table, table) + torch.eye(48) * 1e9
    assert dist.min() > 0.1  # 48 distinct cells
    # as loud as LayerNorm-ed features (per-channel RMS about 1), not a 0.1-scale whisper
    assert 0.4 < table.pow(2).mean().sqrt() < 1.5
    assert torch.all(pos_row[:, 32:] == 0) and torch.all(pos_col[:, :32] == 0)
    with pytest.raises(ValueError, match="divisible by 4"):
        sincos_2d((2, 2), 30)


def test_pos_init_is_checked() -> None:
    with pytest.raises(ValueError, match="pos_init"):
        ModelConfig(pos_init="rope")
    assert ModelConfig.from_dict({"pos_init": "normal"}).pos_init == "normal"


def test_fill_from_tokenizer_gives_the_loss_its_coordinate_ids(setup) -> None:
    by_task, tok, cfg, proc = setup
    mc = ModelConfig(num_bins=BINS).fill_from_tokenizer(tok)
    assert mc.vocab_size == len(tok) and mc.pad_token_id == tok.pad_id and mc.eos_token_id == tok.eos_id
    assert mc.loc_range == (tok.loc_id(0), BINS)
    assert ModelConfig().loc_range is None  # unknown ids: plain cross-entropy


def test_sincos_coordinates_order_the_bins_like_the_grid(setup) -> None:
    """Bin k's code is nearest to the code of the cell its centre lies in, on both axes."""
    from vlseq.models.positions import sincos_2d, sincos_coordinates

    table = sincos_coordinates(32, (4, 4), 64)
    pos_row, pos_col = sincos_2d((4, 4), 64)
    sim_x = table[:, 32:] @ pos_col[:, 32:].T  # (bins, columns)
    sim_y = table[:, :32] @ pos_row[:, :32].T
    assert sim_x.argmax(1).tolist() == sim_y.argmax(1).tolist() == [k // 8 for k in range(32)]
    by_tok, tok, cfg, proc = setup
    c = ModelConfig.from_dict({**cfg.to_dict(), "loc_init": "sincos", "loc_offset": tok.loc_offset})
    w = VLSeqModel(c).lm.get_input_embeddings().weight
    lo = tok.loc_offset
    rows = w[lo:lo + BINS] / w[lo:lo + BINS].norm(dim=1, keepdim=True)
    assert torch.allclose(rows, table / table.norm(dim=1, keepdim=True), atol=1e-5)
    with pytest.raises(ValueError, match="loc_init"):
        ModelConfig(loc_init="fourier")
