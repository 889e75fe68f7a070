"""Data: the typed example, readers for public formats, the synthetic world, task mixtures."""

from .example import Example, ImageRef, Object

__all__ = ["Example", "ImageRef", "Object"]
