"""The VQ-VAE image tokenizer: training reduces the loss, shapes, save/load, the Processor hook, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vlseq.data.world import WorldConfig, edit_example, generate_scene, render
from vlseq.models.image_tokenizer import ImageTokenizer, ImageTokenizerConfig, to_arrays, to_pixels

torch.set_num_threads(1)

SMALL = ImageTokenizerConfig(image_size=32, downsample=4, channels=16, dim=16, codebook_size=32)


@pytest.fixture(scope="module")
def world_images() -> np.ndarray:
    cfg = WorldConfig(size=32)
    return np.stack([render(generate_scene(s, cfg)) for s in range(12)])


def test_config_validates():
    assert SMALL.grid == 8 and SMALL.num_codes == 64
    assert ImageTokenizerConfig().num_codes == 64  # 64 px, stride 8
    with pytest.raises(ValueError, match="power of two"):
        ImageTokenizerConfig(downsample=6)
    with pytest.raises(ValueError, match="not divisible"):
        ImageTokenizerConfig(image_size=60, downsample=8)
    with pytest.raises(ValueError, match="unknown image tokenizer setting"):
        ImageTokenizerConfig.from_dict({"image_size": 32, "colour": 1})


def test_training_reduces_loss(world_images):
    torch.manual_seed(0)
    model = ImageTokenizer(SMALL)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    batch = to_pixels(world_images[:8])  # one fixed batch: the loss curve is not batch noise
    losses = []
    for _ in range(40):
        out = model.loss(batch)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["mse"]))
    assert np.mean(losses[-5:]) < 0.75 * np.mean(losses[:5]), losses


def initialised(images: np.ndarray, seed: int = 0) -> ImageTokenizer:
    """A tokenizer after one training forward (the codebook's k-means init + an EMA update), in eval mode."""
    torch.manual_seed(seed)
    model = ImageTokenizer(SMALL)
    model.loss(to_pixels(images))
    return model.eval()


def test_encode_decode_shapes_and_range(world_images):
    model = initialised(world_images)
    px = to_pixels(world_images[:3])
    codes = model.encode(px)
    assert codes.shape == (3, 64) and codes.dtype == torch.long
    assert int(codes.min()) >= 0 and int(codes.max()) < SMALL.codebook_size
    rec = model.decode(codes)
    assert rec.shape == (3, 3, 32, 32)
    assert float(rec.min()) >= 0.0 and float(rec.max()) <= 1.0
    # encode picks the same codes as the quantiser in the forward pass
    _, fwd_codes, _ = model(px)
    assert torch.equal(fwd_codes, codes)
    arr = model.decode_to_arrays(codes.numpy())
    assert arr.shape == (3, 32, 32, 3) and arr.dtype == np.uint8
    assert np.array_equal(model.encode_arrays(world_images[:3]), codes.numpy())
    with pytest.raises(ValueError, match="expected pixels"):
        model.encode(torch.zeros(1, 3, 16, 16))
    with pytest.raises(ValueError, match="codes must lie"):
        model.decode(torch.full((1, 64), SMALL.codebook_size))
    with pytest.raises(ValueError, match="expected codes"):
        model.decode(torch.zeros(1, 10, dtype=torch.long))


def test_uint8_conversion_round_trip(world_images):
    assert np.array_equal(to_arrays(to_pixels(world_images)), world_images)


def test_save_load_round_trip(tmp_path, world_images):
    model = initialised(world_images[:8], seed=1)
    model.save_pretrained(tmp_path / "tok")
    assert json.loads((tmp_path / "tok" / "image_tokenizer.json").read_text())["codebook_size"] == 32
    loaded = ImageTokenizer.from_pretrained(tmp_path / "tok")
    px = to_pixels(world_images)
    assert loaded.config == SMALL
    assert torch.equal(loaded.encode(px), model.encode(px))
    codes = model.encode(px)
    assert torch.equal(loaded.decode(codes), model.decode(codes))


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="image_tokenizer.json"):
        ImageTokenizer.from_pretrained(tmp_path)
    ImageTokenizer(SMALL).save_pretrained(tmp_path)
    (tmp_path / "image_tokenizer.json").write_text(json.dumps({**SMALL.to_dict(), "codebook_size": 64}))
    with pytest.raises(Exception, match="model.safetensors|size mismatch"):
        ImageTokenizer.from_pretrained(tmp_path)


def test_processor_turns_edit_target_into_image_tokens():
    from vlseq.processing import Processor
    from vlseq.tasks.registry import get_task
    from vlseq.tokenizer import VLTokenizer

    cfg = WorldConfig(size=32)
    scene = generate_scene(3, cfg)
    rng = np.random.default_rng(0)
    made = None
    for _ in range(20):
        made = edit_example(scene, render(scene), rng, cfg)
        if made is not None:
            break
    assert made is not None
    ex, _ = made
    vq = ImageTokenizer(SMALL).eval()
    tok = VLTokenizer.train([ex.text, "a red circle"], num_bins=16, vocab_size=200, num_image_tokens=SMALL.codebook_size)
    task = get_task("edit_image")
    with pytest.raises(ValueError, match="image_tokenizer"):
        Processor(tok, 32, 16).encode(task, ex)
    proc = Processor(tok, 32, 16, max_target_tokens=80, image_tokenizer=vq)
    enc = proc.encode(task, ex)
    expected = vq.encode_arrays(np.asarray(ex.target_image)[None])[0]
    assert enc.target == [tok.bos_id] + [tok.img_offset + int(c) for c in expected] + [tok.eos_id]
    assert "target_codes" not in ex.meta  # the caller's example is not changed
    assert np.array_equal(enc.images[0], ex.images[0])  # the source image is the input


def test_cli_trains_and_reports_psnr(tmp_path):
    from vlseq.cli.image_tokenizer import main, run

    res = run(["--data", "synth", "--out", str(tmp_path / "vq"), "--size", "32", "--downsample", "4", "--codebook",
                "32", "--channels", "16", "--dim", "16", "--steps", "6", "--batch", "4", "--max-images", "12",
                "--heldout", "4", "--threads", "1", "--log-every", "3"])
    assert res["steps"] == 6 and res["heldout_images"] == 4
    assert 0.0 < res["heldout_psnr_db"] < 100.0
    saved = json.loads((tmp_path / "vq" / "train_log.json").read_text())
    assert saved["heldout_psnr_db"] == res["heldout_psnr_db"]
    assert ImageTokenizer.from_pretrained(tmp_path / "vq").config.num_codes == 64
    with pytest.raises(FileNotFoundError, match="no .*images"):
        main(["--data", str(tmp_path / "vq"), "--out", str(tmp_path / "x")])


def test_the_encoder_sees_the_models_pixel_scale() -> None:
    # One pixel scale (vlseq.codec.pixels): the Processor's batches and the tokenizer's encoder input agree bit for bit.
    from vlseq.codec.pixels import normalize_pixels
    from vlseq.processing import Encoded, Processor
    from vlseq.tokenizer import VLTokenizer

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1, 8, 8, 3), dtype=np.uint8)
    proc = Processor(VLTokenizer.train(["a"], num_bins=8), 8, 8)
    batch = proc.collate([Encoded(img, [1], [])])
    expect = normalize_pixels(torch.from_numpy(img).permute(0, 3, 1, 2).float() / 255.0)
    assert torch.equal(batch["pixel_values"][0].view(torch.int32), expect.view(torch.int32))

    torch.manual_seed(0)
    vq = ImageTokenizer(ImageTokenizerConfig(image_size=8, downsample=2, channels=4, dim=4, codebook_size=4)).eval()
    seen: list[torch.Tensor] = []
    vq.encoder.register_forward_pre_hook(lambda _m, args: seen.append(args[0]))
    pixels = torch.from_numpy(img).permute(0, 3, 1, 2).float() / 255.0
    vq.encode(pixels)
    assert torch.equal(seen[0].view(torch.int32), batch["pixel_values"][:, 0].view(torch.int32))
