"""vlseq: one encoder-decoder model for every image-text task.

Every output -- a caption, an answer, a class, boxes, grounded phrases, polygons -- is one
token sequence of text, coordinate tokens (``<loc_k>``) and markup (``<obj>``, ``</obj>``,
``<poly>``, ``</poly>``). See :mod:`vlseq.codec` for the sequence contract.
"""

__version__ = "0.1.0"
