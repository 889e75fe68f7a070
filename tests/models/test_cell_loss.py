"""The cell identity loss: the Processor gives each labelled object's centre and label token, the
model reads the label from the encoder's output at that cell, and training on it alone teaches the
image path to name objects where they are."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers import small_world_model
from vlseq.models.config import ModelConfig, VisionConfig
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.processing import Processor
from vlseq.tasks import get_task

BINS = 32


@pytest.fixture(scope="module")
def world():
    return small_world_model(8, ("detect", "vqa", "caption", "refexp"), cell_loss=1.0)


def test_processor_gives_each_labelled_object_its_centre_and_label_token(world) -> None:
    exs, tok, _ = world
    proc = Processor(tok, 32, BINS, cell_labels=True)
    det = next(e for e in exs if e.task == "detect" and len(e.objects) >= 2)
    enc = proc.encode(get_task("detect"), det)
    assert len(enc.cells) == len(det.objects)
    for (x, y, t, _), o in zip(enc.cells, det.objects):
        assert x == pytest.approx((o.box[0] + o.box[2]) / 2 / det.width)
        assert y == pytest.approx((o.box[1] + o.box[3]) / 2 / det.height)
        assert t == (tok.encode(o.label)[0],)
    # text tasks and a processor without the option give none; without targets (inference) none either
    vqa = next(e for e in exs if e.task == "vqa")
    assert proc.encode(get_task("vqa"), vqa).cells == []
    assert Processor(tok, 32, BINS).encode(get_task("detect"), det).cells == []
    assert proc.encode(get_task("detect"), det, with_target=False).cells == []
    batch = proc.collate([proc.encode(get_task("detect"), det), proc.encode(get_task("vqa"), vqa)])
    assert batch["cell_xy"].shape == (2, len(det.objects), 2)
    assert batch["cell_token"][1].tolist() == [[-100]] * len(det.objects)  # the VQA row is padding


def test_all_words_name_every_described_box(world) -> None:
    """``cell_words="all"``: grounded phrases and region captions teach their boxes' cells every
    content word ("a large red circle" -> large, red, circle); class names stay one token."""
    exs, tok, _ = world
    proc = Processor(tok, 32, BINS, cell_labels=True, cell_words="all")
    det = next(e for e in exs if e.task == "detect")
    assert proc.encode(get_task("detect"), det).cells == Processor(tok, 32, BINS, cell_labels=True).encode(
        get_task("detect"), det).cells
    gc = next(e for e in exs if e.task == "grounded_caption")
    cells = proc.encode(get_task("grounded_caption"), gc).cells
    assert len(cells) == sum(len(ph.boxes) for ph in gc.phrases)
    phrase = gc.answers[0][gc.phrases[0].start : gc.phrases[0].end]
    words = [w for w in phrase.lower().split() if w not in ("a", "an", "the")]
    assert len(words) >= 2 and cells[0][2] == tuple(tok.encode(w)[0] for w in words)
    rc = next(e for e in exs if e.task == "region_caption")
    (x, y, ts, wt), = proc.encode(get_task("region_caption"), rc).cells
    assert x == pytest.approx((rc.region[0] + rc.region[2]) / 2 / rc.width) and len(ts) >= 2 and wt == 1.0
    assert Processor(tok, 32, BINS, cell_labels=True).encode(get_task("region_caption"), rc).cells == []
    with pytest.raises(ValueError, match="cell_words"):
        Processor(tok, 32, BINS, cell_words="every")


def test_described_words_weigh_less_than_class_names(world) -> None:
    """``cell_words_weight``: the words of boxes that a non-box task describes carry that weight in
    the batch; class names of box and object-list tasks keep 1."""
    exs, tok, _ = world
    proc = Processor(tok, 32, BINS, cell_labels=True, cell_words="all", cell_words_weight=0.25)
    det = next(e for e in exs if e.task == "detect")
    rc = next(e for e in exs if e.task == "region_caption")
    assert {c[3] for c in proc.encode(get_task("detect"), det).cells} == {1.0}
    assert [c[3] for c in proc.encode(get_task("region_caption"), rc).cells] == [0.25]
    batch = proc.collate([proc.encode(get_task("detect"), det), proc.encode(get_task("region_caption"), rc)])
    assert batch["cell_weight"][0, : len(det.objects)].tolist() == [1.0] * len(det.objects)
    assert batch["cell_weight"][1, 0] == 0.25 and float(batch["cell_weight"][1, 1:].sum()) == 0.0


def _two_objects() -> tuple[VLSeqModel, torch.Tensor, torch.Tensor]:
    """A small model with the cell loss, random encoder outputs (1, h*w, 16) and two objects'
    centres (1, 2, 2), one in the first cell and one in the last."""
    torch.manual_seed(0)
    mc = ModelConfig(vocab_size=40, d_model=16, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=32,
                     image_size=32, num_bins=8, max_positions=64, vision=VisionConfig(channels=(8, 8, 16)), cell_loss=1.0)
    model = VLSeqModel(mc)
    h, w = model.grid
    return model, torch.randn(1, h * w, 16), torch.tensor([[[0.1, 0.1], [0.9, 0.9]]])


def test_pair_weights_make_a_weighted_mean() -> None:
    """Each (object, word) pair's loss counts with its object's weight; equal weights give the plain mean."""
    model, hidden, xy = _two_objects()
    h, w = model.grid
    tokens = torch.tensor([[[5, 7], [9, -100]]])
    with torch.no_grad():
        plain = model.cell_identity_loss(hidden, xy, tokens)
        same = model.cell_identity_loss(hidden, xy, tokens, torch.tensor([[0.5, 0.5]]))
        only0 = model.cell_identity_loss(hidden, xy, tokens, torch.tensor([[1.0, 0.0]]))
        first = model.cell_identity_loss(hidden, xy[:, :1], tokens[:, :1])
    assert float(same) == pytest.approx(float(plain), rel=1e-6)
    # object 1 at weight 0 drops out; object 0's two words are not affected by it except as a class
    f = hidden[0, 0]
    lg = f @ model.lm.get_input_embeddings().weight[[5, 7, 9]].t()
    want = (torch.logsumexp(lg[[0, 2]], 0) - lg[0] + torch.logsumexp(lg[[1, 2]], 0) - lg[1]) / 2
    assert float(only0) == pytest.approx(float(want), rel=1e-5)
    assert float(first) != pytest.approx(float(only0))  # without object 1, word 9 is not a class of the batch


def test_an_objects_other_words_do_not_compete() -> None:
    """Each (object, word) pair is one softmax over the batch's naming tokens without the object's
    other words; with one word per object it is the plain softmax over the batch's classes."""
    model, hidden, xy = _two_objects()
    h, w = model.grid
    emb = model.lm.get_input_embeddings().weight
    f = hidden[0, [0, h * w - 1]]  # the two objects' cells
    two = torch.tensor([[[5, 7], [9, -100]]])  # object 0: words 5 and 7; object 1: word 9
    with torch.no_grad():
        got = model.cell_identity_loss(hidden, xy, two)
    lg = f @ emb[[5, 7, 9]].t()  # (2, 3)
    want = (torch.logsumexp(lg[0, [0, 2]], 0) - lg[0, 0] + torch.logsumexp(lg[0, [1, 2]], 0) - lg[0, 1]
            + torch.logsumexp(lg[1], 0) - lg[1, 2]) / 3
    assert float(got) == pytest.approx(float(want), rel=1e-5)
    one = torch.tensor([[5, 9]])
    assert float(model.cell_identity_loss(hidden, xy, one)) == pytest.approx(
        float(torch.nn.functional.cross_entropy(f @ emb[[5, 9]].t(), torch.tensor([0, 1]))), rel=1e-5)


def test_loss_is_added_with_its_weight_and_off_by_default(world) -> None:
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, cell_labels=True)
    det = [e for e in exs if e.task == "detect"][:4]
    batch = proc.collate([proc.encode(get_task("detect"), e) for e in det])
    torch.manual_seed(0)
    model = VLSeqModel(mc).eval()
    out = model(**batch)
    off = VLSeqModel(dataclasses.replace(mc, cell_loss=0.0)).eval()
    off.load_state_dict(model.state_dict())
    out_off = off(**batch)
    assert "cell_loss" not in out_off
    assert float(out["cell_loss"].detach()) > 0
    assert float(out["loss"].detach()) == pytest.approx(float(out_off["loss"].detach()) + float(out["cell_loss"].detach()), rel=1e-5)


def test_training_on_it_names_objects_at_their_cells(world) -> None:
    """The loss is learnable: 60 steps on it alone bring the label at each object's cell from
    chance to most objects named (on these training objects)."""
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, cell_labels=True)
    det = [e for e in exs if e.task == "detect"]
    batch = proc.collate([proc.encode(get_task("detect"), e) for e in det])
    torch.manual_seed(0)
    model = VLSeqModel(mc)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def named() -> tuple[float, torch.Tensor]:
        embeds, mask = model.encoder_inputs(batch["pixel_values"], batch["input_ids"], batch["attention_mask"])
        hidden = model.encode(embeds, mask, model.tokens_per_image).last_hidden_state
        return model.cell_identity_loss(hidden, batch["cell_xy"], batch["cell_token"]), hidden

    before = float(named()[0])
    for _ in range(60):
        loss, _ = named()
        opt.zero_grad()
        loss.backward()
        opt.step()
    after = float(named()[0])
    assert after < 0.3 * before


def test_cell_head_starts_as_the_identity(world) -> None:
    """``model.cell_head``: the loss reads a learned map of the cell, equal to the cell at the start."""
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, cell_labels=True)
    batch = proc.collate([proc.encode(get_task("detect"), e) for e in exs if e.task == "detect"][:4])
    torch.manual_seed(0)
    plain = VLSeqModel(mc).eval()
    headed = VLSeqModel(dataclasses.replace(mc, cell_head=True)).eval()
    headed.load_state_dict(plain.state_dict(), strict=False)
    assert torch.equal(headed.cell_head.weight, torch.eye(mc.d_model))
    with torch.no_grad():
        assert float(headed(**batch)["cell_loss"]) == pytest.approx(float(plain(**batch)["cell_loss"]), rel=1e-5)


def test_the_stem_form_reads_the_image_tokens_before_the_encoder(world) -> None:
    """``model.cell_loss_stem``: the same loss at the encoder's image inputs, added with its own
    weight; on alone (no ``cell_loss``) it still gets its labels and touches no encoder weight."""
    exs, tok, mc = world
    proc = Processor(tok, 32, BINS, cell_labels=True)
    batch = proc.collate([proc.encode(get_task("detect"), e) for e in exs if e.task == "detect"][:4])
    torch.manual_seed(0)
    both = VLSeqModel(dataclasses.replace(mc, cell_loss_stem=0.5)).eval()
    out = both(**batch)
    embeds, _ = both.encoder_inputs(batch["pixel_values"], batch["input_ids"], batch["attention_mask"])
    want = both.cell_identity_loss(embeds[:, :both.tokens_per_image], batch["cell_xy"], batch["cell_token"])
    assert float(out["cell_stem_loss"]) == pytest.approx(float(want), rel=1e-5)
    plain = VLSeqModel(mc).eval()
    plain.load_state_dict(both.state_dict())
    base = plain(**batch)
    assert float(out["loss"]) == pytest.approx(float(base["loss"]) + 0.5 * float(out["cell_stem_loss"]), rel=1e-5)

    stem_only = VLSeqModel(dataclasses.replace(mc, cell_loss=0.0, cell_loss_stem=1.0))
    out = stem_only(**batch)
    assert "cell_loss" not in out
    out["cell_stem_loss"].backward()
    enc = stem_only.lm.get_encoder()
    assert all(p.grad is None or not bool(p.grad.any()) for p in enc.layers.parameters())
    assert any(p.grad is not None and bool(p.grad.any()) for p in stem_only.vision.parameters())


def test_a_negative_cell_loss_is_refused() -> None:
    with pytest.raises(ValueError, match="cell_loss_stem"):
        ModelConfig(vocab_size=64, cell_loss_stem=-0.1)
