"""How an image's pixels enter a model: ``x`` in [0, 1] -> ``(x - PIXEL_MEAN) / PIXEL_STD``, about [-1, 1].

The processor writes batches this way, the VQ image tokenizer reads and writes its own pixels this
way, and the Florence-2 adapter converts from it to its checkpoint's statistics; all three take the
numbers from here. It sits in the codec, the lowest layer, because the models may not import the
processor and the processor may not import the models.

Plain arithmetic operators only, so the functions take numpy arrays and torch tensors alike (and
need neither). With these constants (powers of two) ``normalize_pixels(x)`` is bit for bit
``x * 2 - 1``: scaling by two commutes with rounding.
"""

from __future__ import annotations

from typing import TypeVar

#: Channel mean and std of the model input, the same for all three channels.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.5

#: A float array or tensor (numpy or torch).
Pixels = TypeVar("Pixels")


def normalize_pixels(x: Pixels, inplace: bool = False) -> Pixels:
    """``x`` in [0, 1] -> the model's input scale, ``(x - PIXEL_MEAN) / PIXEL_STD``.

    ``inplace``: overwrite ``x`` (a float array or tensor that needs no gradient) and return it,
    which spares a batch-sized temporary where a fresh batch is built (the processor's collate).
    """
    if inplace:
        x -= PIXEL_MEAN
        x /= PIXEL_STD
        return x
    return (x - PIXEL_MEAN) / PIXEL_STD


def denormalize_pixels(y: Pixels) -> Pixels:
    """The inverse of :func:`normalize_pixels`: the model's scale -> [0, 1] (not clamped), a new array."""
    return y * PIXEL_STD + PIXEL_MEAN
