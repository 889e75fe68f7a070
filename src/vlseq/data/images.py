"""The one image loader: any file a dataset may hold, a PIL image or an array becomes an RGB PIL
image (:func:`load_image`), or a clear DataError naming the file.

Readers, the Processor, the Pipeline, the report pages and the image tokenizer all load through here,
so EXIF orientation and mode conversion are the same everywhere.

* EXIF orientation is applied (phone photos), so pixels match what a viewer shows.
* Every mode becomes RGB: palette (with transparency), 16/32-bit integer, float, CMYK, grayscale,
  RGBA/LA (composited on white, not black, so transparent backgrounds look like paper).
* An image over ``max_pixels`` is refused from its header alone, before any pixel is decoded, so a
  decompression bomb costs microseconds, not memory.
* Missing, zero-byte, truncated or non-image files raise :class:`DataError` naming the file.

Readers only read headers at load time (:func:`image_size`); pixels are decoded later, at use.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DataError
from .example import ImageRef

#: Default pixel limit (64 Mpx: 8192x8192). PIL's own bomb limit is ~89 Mpx; ours is checked first.
DEFAULT_MAX_PIXELS = 1 << 26

# EXIF orientations that swap width and height (transpose, rotate 90/270, transverse).
_SWAPS_AXES = {5, 6, 7, 8}
_ORIENTATION_TAG = 0x0112


def _open_lazy(path: Path, max_pixels: int) -> Image.Image:
    """Open (header only) and check the pixel count; every failure is a DataError."""
    try:
        with warnings.catch_warnings():
            # We enforce our own limit below; PIL's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)
    except FileNotFoundError:
        raise DataError(path, None, "missing_image", "image file not found") from None
    except IsADirectoryError:
        raise DataError(path, None, "bad_image", "image path is a directory") from None
    except Image.DecompressionBombError as e:
        raise DataError(path, None, "bad_image", f"image too large (decompression bomb guard): {e}") from None
    except UnidentifiedImageError:
        size = path.stat().st_size if path.exists() else -1
        what = "empty (zero-byte) file" if size == 0 else "not a recognised image format"
        raise DataError(path, None, "bad_image", f"cannot read image: {what}") from None
    except (OSError, ValueError, SyntaxError) as e:  # PIL raises SyntaxError for some broken headers
        raise DataError(path, None, "bad_image", f"cannot read image header: {e}") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        img.close()
        raise DataError(path, None, "bad_image", f"image has an empty size {w}x{h}")
    if w * h > max_pixels:
        img.close()
        raise DataError(path, None, "bad_image", f"image is {w}x{h} = {w * h} pixels, over the limit of {max_pixels}")
    return img


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_ORIENTATION_TAG, 1) or 1)
    except Exception:  # a corrupt EXIF block must not make a good image unreadable
        return 1


@functools.lru_cache(maxsize=1 << 16)
def _cached_size(path: str, max_pixels: int) -> tuple[int, int]:
    img = _open_lazy(Path(path), max_pixels)
    try:
        w, h = img.size
        if _orientation(img) in _SWAPS_AXES:
            w, h = h, w
        return w, h
    finally:
        img.close()


def image_size(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """``(width, height)`` as :func:`open_image` will return it (EXIF-rotated), from the header only.

    Cached per path (readers ask once per record, many records share an image).
    """
    return _cached_size(str(path), max_pixels)


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to RGB (see the module docstring for the rules)."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "RGBa", "La", "PA"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(bg, rgba).convert("RGB")
    if mode.startswith("I") or mode == "F":
        # 16/32-bit integer or float grayscale: scale to 8 bits by the type's range, not by the
        # image's max (which would brighten dark images differently per image).
        arr = np.asarray(img)
        if mode == "F":
            arr8 = np.clip(arr, 0, 255).astype(np.uint8) if arr.max(initial=0) > 1.0 else np.clip(arr * 255.0, 0, 255).astype(np.uint8)
        else:
            top = 65535.0 if arr.max(initial=0) <= 65535 else float(np.iinfo(np.int32).max)
            arr8 = np.clip(arr.astype(np.float64) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return Image.fromarray(arr8).convert("RGB")
    return img.convert("RGB")  # L, 1, CMYK, YCbCr, LAB, HSV


def open_image(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS, exif: bool = True) -> Image.Image:
    """Open an image file as a fully decoded RGB ``PIL.Image`` (``size == image_size(path)``).

    Raises :class:`DataError` (naming the file) for a missing, empty, truncated, non-image or
    over-limit file. ``exif=False`` skips the orientation step.
    """
    path = Path(path)
    img = _open_lazy(path, max_pixels)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img.load()
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        img.close()
        raise DataError(path, None, "bad_image", f"cannot decode image (truncated or corrupt): {e}") from None
    if exif and _orientation(img) != 1:
        img = ImageOps.exif_transpose(img)
    return to_rgb(img)


# --------------------------------------------------------------------------- used by the readers


def resolve_image(root: str | Path, name: str) -> Path:
    """The path of ``name`` (as written in a data file) under ``root``.

    Absolute names are kept. A bare file name that is not found directly under ``root`` is also
    looked for in ``root/images`` (the layout of a split dir written by the synthetic world).
    """
    p = Path(name)
    if p.is_absolute():
        return p
    direct = Path(root) / p
    if not direct.exists() and len(p.parts) == 1:
        alt = Path(root) / "images" / p
        if alt.exists():
            return alt
    return direct


def checked_size(path: Path, g, rid, expect: tuple[int, int] | None = None, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[int, int]:
    """Header-check one record's image: it exists, is readable, and (if given) has the record's size.

    ``g`` is the file's :class:`RecordGuard`; the DataError names the data file, the record and the
    image path. Returns ``(width, height)``.
    """
    try:
        w, h = image_size(path, max_pixels)
    except DataError as e:
        raise g.error(rid, e.problem, f"image {str(path)!r}: {e.detail}") from None
    if expect is not None and (w, h) != tuple(expect):
        raise g.error(rid, "bad_image", f"image {str(path)!r} is {w}x{h} but the record says {expect[0]}x{expect[1]}")
    return w, h


def blank_canvas(width: int, height: int) -> np.ndarray:
    """A shared, read-only ``(height, width, 3)`` uint8 grey image (one array per size, not per example)."""
    key = (int(width), int(height))
    if key not in _CANVAS:
        arr = np.full((key[1], key[0], 3), CANVAS_GREY, dtype=np.uint8)
        arr.setflags(write=False)
        _CANVAS[key] = arr
    return _CANVAS[key]


def load_image(ref: ImageRef, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """An RGB PIL image as a viewer shows it: EXIF orientation applied, any mode converted.

    Accepts a path (errors name the file: :class:`~vlseq.data.readers.validate.DataError`), a PIL
    image of any mode, or a numpy array ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``
    of uint8, uint16, bool or float (floats in ``[0, 1]`` are scaled to 255). Images over
    ``max_pixels`` are refused.
    """
    if isinstance(ref, (str, Path)):
        return open_image(ref, max_pixels=max_pixels)
    if isinstance(ref, np.ndarray):
        img = _array_image(ref)
    elif isinstance(ref, Image.Image):
        img = ImageOps.exif_transpose(ref)
    else:
        raise TypeError(f"cannot read an image from {type(ref).__name__} (expected a path, PIL image or numpy array)")
    if img.width * img.height > max_pixels:
        raise ValueError(f"image is {img.width}x{img.height} = {img.width * img.height} pixels, over the limit of {max_pixels}")
    return to_rgb(img)


def _array_image(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))):
        raise ValueError(f"image array must be (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); got shape {arr.shape}")
    if arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.floating):
        top = 1.0 if float(np.nanmax(arr, initial=0.0)) <= 1.0 else 255.0
        arr = np.clip(np.nan_to_num(arr) / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif arr.dtype == np.uint16 and arr.ndim == 2:
        return Image.fromarray(arr)  # mode I;16: to_rgb scales it by the type's range
    elif arr.dtype != np.uint8:
        raise ValueError(f"image array dtype must be uint8, uint16 (grayscale), bool or float; got {arr.dtype}")
    return Image.fromarray(np.ascontiguousarray(arr))


def load_rgb(ref: ImageRef, size: tuple[int, int]) -> np.ndarray:
    """``(H, W, 3)`` uint8 of any image :func:`load_image` reads, resized (bilinear) to ``size = (W, H)``."""
    img = load_image(ref)
    if img.size != tuple(size):
        img = img.resize(tuple(size), Image.BILINEAR)
    return np.asarray(img, dtype=np.uint8)



#: Grey level of the blank canvas given as input image to ``generate_image``.
CANVAS_GREY = 128


_CANVAS: dict[tuple[int, int], np.ndarray] = {}
