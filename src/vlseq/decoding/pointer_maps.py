"""Where the pointer head looked when a model wrote each box coordinate of a sequence.

With ``model.loc_pointer`` set, a coordinate token's logit gets a term from the decoder's attention
over the image cells (:class:`~vlseq.models.pointer.PointerHead`). Teacher-forcing a generated
sequence through the model again and recording that attention shows, per coordinate, which cells
the model read. The inference pipeline draws the maps (:meth:`vlseq.inference.pipeline.Pipeline.attention`,
:func:`vlseq.viz.draw.attention_sheet`); any diagnostic may read them the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .boxes import box_slots


@torch.no_grad()
def pointer_maps(model: Any, processor: Any, task: Any, ex: Any, sequence: str) -> list[tuple[int, np.ndarray]]:
    """Where the pointer head looked when it wrote each box coordinate of ``sequence`` (a model output
    for ``ex``): ``[(slot 0..3 = x1 y1 x2 y2, (gh, gw) numpy attention over the image cells), ...]``
    in sequence order, read by teacher-forcing the sequence. Raises ``ValueError`` for a model
    without a pointer head (``model.loc_pointer`` none).
    """
    from ..models.pointer import PointerHead  # here, not above: vlseq.models loads transformers

    head = getattr(getattr(model, "lm", None), "lm_head", None)
    if not isinstance(head, PointerHead):
        raise ValueError("this checkpoint has no pointer head (model.loc_pointer is 'none'): nothing to draw")
    device = next(model.parameters()).device
    tok = processor.tokenizer
    ids = tok.encode(sequence)
    batch = processor.collate([processor.encode(task, ex, with_target=False)])
    dec = torch.tensor([[tok.bos_id] + ids], device=device)
    was = model.training
    model.eval()
    head.record = True
    try:
        model(batch["pixel_values"].to(device), batch["input_ids"].to(device), batch["attention_mask"].to(device), dec,
              image_mask=batch["image_mask"].to(device))
        att = head.last_attention[0]  # (T, I*gh*gw); position t wrote ids[t]
    finally:
        # Recording keeps every step's attention alive: switch it off whatever happened.
        head.record, head.last_attention = False, None
        model.train(was)
    gh, gw = head.grid
    att = att.float()  # a bfloat16 / float16 model's maps: numpy has no bfloat16
    return [(slot, att[t].view(-1, gh, gw).sum(0).cpu().numpy()) for t, slot in enumerate(box_slots(ids, tok)) if slot >= 0]
