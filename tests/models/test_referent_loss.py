"""The referent loss: a question about one object (and a region caption) gives the Processor that
object's centre, and the model's pointer, read at the answer's first position, is taught to look
at the cell that holds it."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers import small_world_model
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.processing import Processor
from vlseq.tasks import get_task

BINS = 32


@pytest.fixture(scope="module")
def world():
    return small_world_model(12, ("detect", "vqa", "region_caption"), loc_pointer="cell_offset", referent_loss=1.0)


def _about_one(exs):
    return [e for e in exs if e.task == "vqa" and len([o for o in e.objects if o.box is not None]) == 1]


def test_a_question_about_one_object_gives_its_centre(world) -> None:
    exs, tok, _ = world
    proc = Processor(tok, 32, BINS, referents=True)
    q = _about_one(exs)[0]
    box = q.objects[0].box
    enc = proc.encode(get_task("vqa"), q)
    assert enc.referent == pytest.approx(((box[0] + box[2]) / 2 / q.width, (box[1] + box[3]) / 2 / q.height))
    # a question that names no one object, a box task, inference and a processor without the option: none
    count = next(e for e in exs if e.task == "vqa" and not e.objects)
    assert proc.encode(get_task("vqa"), count).referent is None
    det = next(e for e in exs if e.task == "detect")
    assert proc.encode(get_task("detect"), det).referent is None
    assert proc.encode(get_task("vqa"), q, with_target=False).referent is None
    assert Processor(tok, 32, BINS).encode(get_task("vqa"), q).referent is None
    rc = next(e for e in exs if e.task == "region_caption")
    assert proc.encode(get_task("region_caption"), rc).referent is not None
    batch = proc.collate([proc.encode(get_task("vqa"), q), proc.encode(get_task("detect"), det)])
    assert batch["referent_xy"][0].tolist() == pytest.approx(list(enc.referent))
    assert batch["referent_xy"][1].tolist() == [-1.0, -1.0]


def test_loss_is_the_pointers_cross_entropy_at_the_referent_cell(world) -> None:
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, referents=True)
    qs = _about_one(exs)[:3]
    batch = proc.collate([proc.encode(get_task("vqa"), e) for e in qs])
    torch.manual_seed(0)
    model = VLSeqModel(mc).eval()
    with torch.no_grad():
        out = model(**batch)
        off = VLSeqModel(dataclasses.replace(mc, referent_loss=0.0)).eval()
        off.load_state_dict(model.state_dict())
        out_off = off(**batch)
        assert "referent_loss" not in out_off
        assert float(out["loss"]) == pytest.approx(float(out_off["loss"]) + float(out["referent_loss"]), rel=1e-5)
        # by hand: the pointer's attention over the cells from the decoder state that the head reads
        head = model.lm.lm_head
        head.record = True
        model(**batch)
        att = head.last_attention[:, 0]  # (B, cells) at position 0
        h, w = model.grid
        xy = batch["referent_xy"]
        target = (xy[:, 1] * h).long() * w + (xy[:, 0] * w).long()
        want = -torch.log(att[torch.arange(len(qs)), target]).mean()
    assert float(out["referent_loss"]) == pytest.approx(float(want), rel=1e-4)


def test_training_on_it_points_at_the_asked_object(world) -> None:
    """The loss is learnable: steps on it alone move the pointer's mass onto the asked objects."""
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, referents=True)
    batch = proc.collate([proc.encode(get_task("vqa"), e) for e in _about_one(exs)])
    torch.manual_seed(0)
    model = VLSeqModel(mc)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def loss() -> torch.Tensor:
        return model(**batch)["referent_loss"]

    before = float(loss().detach())
    for _ in range(40):
        lo = loss()
        opt.zero_grad()
        lo.backward()
        opt.step()
    assert float(loss().detach()) < 0.5 * before


def test_it_needs_the_pointer(world) -> None:
    _, _, mc = world
    with pytest.raises(ValueError, match="loc_pointer"):
        VLSeqModel(dataclasses.replace(mc, loc_pointer="none"))


def test_refexp_names_its_one_object_as_referent(world) -> None:
    exs, tok, _ = world
    proc = Processor(tok, 32, BINS, referents=True)
    ref = next(e for e in exs if e.task == "refexp" and len(e.objects) == 1)
    box = ref.objects[0].box
    assert proc.encode(get_task("refexp"), ref).referent == pytest.approx(
        ((box[0] + box[2]) / 2 / ref.width, (box[1] + box[3]) / 2 / ref.height))


@pytest.mark.parametrize("via", ["encoder", "attention"])
def test_the_other_forms_score_what_they_name(world, via: str) -> None:
    """``encoder``: a linear score per cell of the encoder's output; ``attention``: the last decoder
    layer's first cross-attention head at the first position, renormalised over the image cells."""
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, referents=True)
    qs = _about_one(exs)[:3]
    batch = proc.collate([proc.encode(get_task("vqa"), e) for e in qs])
    torch.manual_seed(0)
    model = VLSeqModel(dataclasses.replace(mc, referent_via=via)).eval()
    if via == "encoder":
        with torch.no_grad():
            model.referent_head.weight.normal_()  # starts at zero: every cell alike
    h, w = model.grid
    xy = batch["referent_xy"]
    target = (xy[:, 1] * h).long() * w + (xy[:, 0] * w).long()
    with torch.no_grad():
        out = model(**batch)
        embeds, mask = model.encoder_inputs(batch["pixel_values"], batch["input_ids"], batch["attention_mask"])
        enc = model.encode(embeds, mask, h * w)
        if via == "encoder":
            p = torch.softmax(model.referent_head(enc.last_hidden_state[:, : h * w])[..., 0], dim=-1)
        else:
            model.lm.config._attn_implementation = "eager"  # the only path that returns attention weights
            dec_mask = (batch["decoder_input_ids"] != mc.pad_token_id).long()
            with model.pointing(enc, mask, h * w):
                o = model.lm(encoder_outputs=enc, attention_mask=mask, decoder_input_ids=batch["decoder_input_ids"],
                             decoder_attention_mask=dec_mask, output_attentions=True)
            att = o.cross_attentions[-1][:, 0, 0, : h * w]  # head 0, position 0, the image cells
            p = att / att.sum(-1, keepdim=True)
        want = -torch.log(p[torch.arange(len(qs)), target]).mean()
    assert float(out["referent_loss"]) == pytest.approx(float(want), rel=1e-4)


@pytest.mark.parametrize("via", ["encoder", "attention"])
def test_the_other_forms_learn_and_need_no_pointer(world, via: str) -> None:
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, referents=True)
    batch = proc.collate([proc.encode(get_task("vqa"), e) for e in _about_one(exs)])
    torch.manual_seed(0)
    model = VLSeqModel(dataclasses.replace(mc, referent_via=via, loc_pointer="none"))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    before = float(model(**batch)["referent_loss"].detach())
    for _ in range(40):
        lo = model(**batch)["referent_loss"]
        opt.zero_grad()
        lo.backward()
        opt.step()
    assert float(model(**batch)["referent_loss"].detach()) < 0.5 * before
