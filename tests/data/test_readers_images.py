"""open_image / image_size: every mode to RGB, EXIF orientation, bombs refused fast, bad files named."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vlseq.data.readers import DataError, image_size, open_image


def _png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims ``width x height`` (a decompression-bomb shape)."""
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    # IHDR data starts at byte 16 (8 signature + 4 length + 4 type); its CRC follows 13 bytes later.
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize(
    "mode, make",
    [
        ("L", lambda: Image.new("L", (6, 4), 128)),
        ("1", lambda: Image.new("1", (6, 4), 1)),
        ("P", lambda: Image.new("RGB", (6, 4), (10, 200, 30)).convert("P", palette=Image.Palette.ADAPTIVE)),
        ("RGBA", lambda: Image.new("RGBA", (6, 4), (10, 20, 30, 0))),
        ("LA", lambda: Image.new("LA", (6, 4), (50, 255))),
        ("I;16", lambda: Image.fromarray(np.full((4, 6), 65535, dtype=np.uint16))),
        ("CMYK", lambda: Image.new("CMYK", (6, 4), (0, 0, 0, 0))),
    ],
)
def test_every_mode_becomes_rgb(tmp_path, mode, make):
    ext = "jpg" if mode == "CMYK" else "png"
    path = tmp_path / f"x.{ext}"
    make().save(path)
    img = open_image(path)
    assert img.mode == "RGB" and img.size == (6, 4)
    px = np.asarray(img)
    if mode == "RGBA":  # fully transparent -> the white background
        assert (px == 255).all()
    if mode == "I;16":  # full-scale 16-bit -> full-scale 8-bit, not clipped garbage
        assert (px == 255).all()
    if mode == "CMYK":  # no ink is white
        assert px.min() >= 250
    if mode == "P":
        assert tuple(px[0, 0]) == (10, 200, 30)


def test_palette_with_transparency(tmp_path):
    img = Image.new("P", (3, 3), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.putpixel((1, 1), 1)
    img.info["transparency"] = 0
    img.save(tmp_path / "p.png", transparency=0)
    px = np.asarray(open_image(tmp_path / "p.png"))
    assert tuple(px[0, 0]) == (255, 255, 255) and tuple(px[1, 1]) == (255, 0, 0)


def test_exif_orientation_applied_and_size_agrees(tmp_path):
    arr = np.zeros((4, 10, 3), np.uint8)
    arr[:, :5] = (255, 0, 0)  # left half red
    img = Image.fromarray(arr)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rot.jpg"
    img.save(path, exif=exif, quality=95)
    out = open_image(path)
    assert out.size == (4, 10) == image_size(path)
    top = np.asarray(out)[1, :, 0].mean()  # after a clockwise turn the red left half is on top
    assert top > 200
    assert open_image(path, exif=False).size == (10, 4)


def test_bomb_refused_fast_from_header(tmp_path):
    path = _png_claiming(tmp_path / "bomb.png", 100_000, 100_000)
    t = time.perf_counter()
    with pytest.raises(DataError) as e:
        open_image(path)
    assert time.perf_counter() - t < 1.0
    assert "bomb.png" in str(e.value) and ("too large" in str(e.value) or "over the limit" in str(e.value))
    # our own (lower) limit applies too, before PIL's
    big = tmp_path / "big.png"
    Image.new("L", (300, 300)).save(big)
    with pytest.raises(DataError, match="over the limit of 10000"):
        open_image(big, max_pixels=10_000)
    with pytest.raises(DataError, match="over the limit"):
        image_size(big, max_pixels=10_000)


def test_truncated_zero_byte_non_image_missing(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(good)
    trunc = tmp_path / "trunc.png"
    trunc.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "text.jpg"
    text.write_text("not an image at all")
    cases = [(trunc, "truncated"), (empty, "zero-byte"), (text, "not a recognised image"),
             (tmp_path / "absent.png", "not found")]
    for path, words in cases:
        with pytest.raises(DataError) as e:
            open_image(path)
        assert path.name in str(e.value) and words in str(e.value), str(e.value)
    # the header of a truncated file is still fine: size is known without decoding
    assert image_size(trunc) == (64, 64)
