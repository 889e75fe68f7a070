"""The pointer head: coordinate logits from attention over the image grid."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vlseq.models.config import ModelConfig, VisionConfig
from vlseq.models.io import from_pretrained, save_pretrained
from vlseq.models.pointer import PointerHead, bin_cells
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.tokenizer import VLTokenizer

BINS = 32


def test_bin_cells_maps_each_bin_centre_to_its_cell() -> None:
    assert bin_cells(32, 4).tolist() == [k // 8 for k in range(32)]
    assert bin_cells(10, 4).tolist() == [0, 0, 1, 1, 1, 2, 2, 3, 3, 3]  # centres 0.2, 0.6, 1.0, ... cells


def test_uniform_attention_leaves_the_token_head_unchanged() -> None:
    torch.manual_seed(0)
    head = PointerHead(16, 50, (4, 4), loc_offset=10, num_bins=BINS, init_std=0.1)
    torch.nn.init.normal_(head.weight)
    torch.nn.init.zeros_(head.query.weight)  # q = 0: every cell equally likely
    h, mem = torch.randn(2, 3, 16), torch.randn(2, 16, 16)
    plain = head(h)
    with head.attach(mem):
        pointed = head(h)
    assert torch.allclose(plain, pointed, atol=1e-5)


@pytest.mark.parametrize("offsets", [False, True])
def test_the_gate_scales_the_pointer_term_and_can_shut_it(offsets) -> None:
    """``gate``: the term times sigmoid(w . h + 4), 0.982 at the start; a shut gate leaves the
    plain tied head (a coordinate in its box's frame is no place in the image)."""
    torch.manual_seed(0)
    kw = dict(loc_offset=10, num_bins=BINS, init_std=0.5, offsets=offsets)
    plain_head, gated = PointerHead(16, 50, (4, 4), **kw), PointerHead(16, 50, (4, 4), gate=True, **kw)
    gated.load_state_dict(plain_head.state_dict(), strict=False)  # the same weights, plus the gate's
    h, mem = torch.randn(2, 3, 16), torch.randn(2, 16, 16)
    plain = gated(h)  # detached from the image: no pointer term at all
    with plain_head.attach(mem):
        full = plain_head(h)
    with gated.attach(mem):
        started = gated(h)
    loc = slice(10, 10 + BINS)
    torch.testing.assert_close(started[..., loc] - plain[..., loc], torch.sigmoid(torch.tensor(4.0)) * (full - plain)[..., loc])
    with torch.no_grad():
        gated.gate.bias.fill_(-60.0)
    with gated.attach(mem):
        shut = gated(h)
    torch.testing.assert_close(shut, plain)


def test_the_pointer_raises_the_bins_of_the_attended_cell() -> None:
    """A key that matches the query in one cell: x bins of its column and y bins of its row win."""
    torch.manual_seed(0)
    d, grid = 8, (4, 4)
    head = PointerHead(d, 60, grid, loc_offset=20, num_bins=BINS, init_std=0.1)
    torch.nn.init.zeros_(head.weight)
    with torch.no_grad():
        head.query.weight.copy_(torch.eye(d) * 10)
        head.key.weight.copy_(torch.eye(d) * 10)
        head.query.bias.zero_()
        head.key.bias.zero_()
    h = torch.zeros(1, 2, d)
    h[0, :, 0] = 1.0
    mem = torch.zeros(1, 16, d)
    mem[0, 2 * 4 + 3, 0] = 1.0  # row 2, column 3
    for t, axis_bias, cell in ((0, 20.0, 3), (1, -20.0, 2)):  # gate: x (column) then y (row)
        with torch.no_grad():
            head.axis.bias.fill_(axis_bias)
        with head.attach(mem):
            logits = head(h)[0, t, 20:20 + BINS]
        best = int(logits.argmax())
        assert best // 8 == cell
    with head.attach(mem, valid=torch.zeros(1, 16, dtype=torch.bool).index_fill_(1, torch.tensor([0]), True)):
        logits = head(h)[0, 0, 20:20 + BINS]  # only cell (0, 0) is a real image cell
    assert int(logits.argmax()) // 8 == 0


def test_offsets_start_uniform_in_the_cell_and_can_pick_a_bin_inside_it() -> None:
    torch.manual_seed(0)
    cell = PointerHead(8, 60, (4, 4), loc_offset=20, num_bins=BINS, init_std=0.5)
    off = PointerHead(8, 60, (4, 4), loc_offset=20, num_bins=BINS, init_std=0.5, offsets=True)
    off.load_state_dict(cell.state_dict(), strict=False)
    h, mem = torch.randn(1, 2, 8), torch.randn(1, 16, 8)
    with cell.attach(mem), off.attach(mem):
        assert torch.allclose(cell(h), off(h), atol=1e-5)  # zero-initialised offsets: the cell pointer
    with torch.no_grad():
        off.weight.zero_()
        off.axis.bias.fill_(30.0)  # an x coordinate
        off.off_mem.bias[:8].copy_(torch.arange(8.0) * 10)  # every cell: its last x bin
    with off.attach(mem):
        logits = off(h)[0, 0, 20:20 + BINS]
    assert int(logits.argmax()) % 8 == 7
    with pytest.raises(ValueError, match="divisible"):
        PointerHead(8, 60, (3, 3), loc_offset=20, num_bins=BINS, init_std=0.5, offsets=True)


def _tok() -> VLTokenizer:
    return VLTokenizer.train(["a red circle", "detect: circle, square", "what colour"], num_bins=BINS)


def _cfg(tok: VLTokenizer, pointer: str = "cell", gate: bool = False) -> ModelConfig:
    return ModelConfig(d_model=32, encoder_layers=1, decoder_layers=1, heads=2, ffn_dim=64, image_size=32,
                       num_bins=BINS, max_positions=128, loc_pointer=pointer, loc_pointer_gate=gate,
                       vision=VisionConfig(channels=(8, 16, 32))).fill_from_tokenizer(tok)


def _written_out_offsets(head: PointerHead, att: torch.Tensor, g: torch.Tensor, off_mem: torch.Tensor,
                         h: torch.Tensor) -> torch.Tensor:
    """The offsets' log pointer term as the definition reads: a softmax over the bins of every
    (position, cell) pair, weighted by the attention and summed per grid column and row.
    att (B, T, N), g (B, T, 1), off_mem (B, N, px + py), h (B, T, d) -> (B, T, num_bins)."""
    gh, gw = head.grid
    b, t, _ = att.shape
    px = head.num_bins // gw
    off = off_mem[:, None] + head.off_dec(h)[:, :, None, :]  # (B, T, N, px + py)
    ox, oy = torch.softmax(off[..., :px], -1), torch.softmax(off[..., px:], -1)
    wx = (att[..., None] * ox).view(b, t, -1, gh, gw, px).sum(dim=(2, 3))  # (B, T, gw, px)
    wy = (att[..., None] * oy).view(b, t, -1, gh, gw, oy.shape[-1]).sum(dim=(2, 4))  # (B, T, gh, py)
    p = g * wx.flatten(-2) + (1 - g) * wy.flatten(-2)
    return torch.log((p * head.num_bins).clamp(min=1e-6))


@pytest.mark.parametrize("grid,bins,images,scale", [((8, 8), 64, 1, 0.3), ((4, 6), 48, 2, 0.3),
                                                    ((8, 8), 1008, 1, 0.3), ((8, 8), 64, 1, 8.0)])
def test_factored_offsets_equal_the_written_out_softmax(grid, bins, images, scale) -> None:
    """With several positions per row the head never forms the (positions, cells, bins) softmax;
    its values and gradients are that softmax's, also for offset logits far apart (scale 8: spreads
    of hundreds, where a float32 factorisation would underflow). Chosen positions and a decode step
    (one position per row) take the written-out form and agree with it too."""
    torch.manual_seed(0)
    d = 16
    head = PointerHead(d, 2000, grid, 10, bins, 0.02, offsets=True)
    for lin in (head.off_mem, head.off_dec):
        torch.nn.init.normal_(lin.weight, std=scale)
    b, t, n = 3, 5, images * grid[0] * grid[1]
    h = torch.randn(b, t, d, requires_grad=True)
    off_mem = head.off_mem(torch.randn(b, n, d))
    att = torch.softmax(torch.randn(b, t, n) * 3, -1)
    g = torch.rand(b, t, 1)
    got, want = head._bins(att, g, off_mem, h), _written_out_offsets(head, att, g, off_mem, h)
    assert got.shape == (b, t, bins)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    (grad_got,) = torch.autograd.grad(got.sum(), h)
    (grad_want,) = torch.autograd.grad(want.sum(), h)
    torch.testing.assert_close(grad_got, grad_want, atol=1e-4, rtol=1e-4)
    rows, cols = torch.tensor([0, 2, 2]), torch.tensor([1, 0, 4])
    chosen = head._bins(att[rows, cols], g[rows, cols], off_mem[rows], h[rows, cols])  # (M, bins)
    torch.testing.assert_close(chosen, want[rows, cols], atol=1e-5, rtol=1e-5)
    step = head._bins(att[:, :1], g[:, :1], off_mem, h[:, :1])  # one position per row: a decode step
    torch.testing.assert_close(step, want[:, :1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("pointer,gate", [("cell", False), ("cell_offset", False), ("cell_offset", True)])
def test_pointer_model_trains_generates_and_round_trips(tmp_path, pointer, gate) -> None:
    tok = _tok()
    torch.manual_seed(0)
    model = VLSeqModel(_cfg(tok, pointer, gate))
    assert isinstance(model.lm.lm_head, PointerHead)
    assert model.lm.lm_head.weight is model.lm.get_input_embeddings().weight  # still tied
    pv, ids = torch.randn(2, 1, 3, 32, 32), torch.randint(5, 20, (2, 4))
    am = torch.ones_like(ids)
    dec = torch.tensor([[tok.bos_id, tok.loc_id(3), tok.loc_id(9)]] * 2)
    out = model(pv, ids, am, dec, labels=dec)
    out["loss"].backward()
    assert model.lm.lm_head.query.weight.grad is not None and model.lm.lm_head.query.weight.grad.abs().sum() > 0
    model.eval()
    a = model.generate(pv, ids, am, max_new_tokens=4)
    beams = model.generate(pv, ids, am, max_new_tokens=4, num_beams=2)
    assert a.shape[0] == beams.shape[0] == 2
    save_pretrained(model, tok, tmp_path / "ck", {"num_bins": BINS})
    again, _, _ = from_pretrained(tmp_path / "ck")
    assert again.config.loc_pointer == pointer and torch.equal(again.generate(pv, ids, am, max_new_tokens=4), a)
    assert (again.lm.lm_head.gate is not None) == gate


def test_pointer_setting_is_checked() -> None:
    assert ModelConfig(loc_pointer=True).loc_pointer == "cell" and ModelConfig(loc_pointer=False).loc_pointer == "none"
    with pytest.raises(ValueError, match="loc_pointer"):
        ModelConfig(loc_pointer="grid")


def test_pointer_needs_the_coordinate_ids() -> None:
    with pytest.raises(ValueError, match="coordinate token ids"):
        VLSeqModel(ModelConfig(vocab_size=100, d_model=32, heads=2, image_size=32, num_bins=BINS, loc_pointer="cell",
                               vision=VisionConfig(channels=(8, 16, 32))))


@pytest.mark.parametrize("offsets", [False, True])
def test_pointer_only_at_coordinates_matches_the_full_pointer_there(offsets) -> None:
    """``only_coords``: at the named positions the logits are the full pointer's; elsewhere the plain head's."""
    torch.manual_seed(0)
    full = PointerHead(8, 60, (4, 4), loc_offset=20, num_bins=BINS, init_std=0.5, offsets=offsets)
    sparse = PointerHead(8, 60, (4, 4), loc_offset=20, num_bins=BINS, init_std=0.5, offsets=offsets, only_coords=True)
    sparse.load_state_dict(full.state_dict())
    if offsets:
        for lin in (full.off_mem, full.off_dec):
            torch.nn.init.normal_(lin.weight)
        sparse.load_state_dict(full.state_dict())
    h, mem = torch.randn(2, 5, 8), torch.randn(2, 16, 8)
    where = torch.tensor([[True, False, True, False, False], [False, False, False, True, True]])
    valid = torch.ones(2, 16, dtype=torch.bool)
    valid[1, 8:] = False
    with full.attach(mem, valid), sparse.attach(mem, valid, where):
        a, b = full(h), sparse(h)
    plain = full(h)
    assert torch.allclose(a[where], b[where], atol=1e-5)
    assert torch.equal(b[~where], plain[~where])
    assert not torch.allclose(a[where], plain[where], atol=1e-3)  # the pointer did act there
    sparse.record = True  # diagnostics see the attention at every position, and the same logits
    with sparse.attach(mem, valid, where):
        recorded = sparse(h)
    assert torch.allclose(recorded, b, atol=1e-5) and sparse.last_attention.shape == (2, 5, 16)


def test_pointer_finds_coordinate_positions_from_the_token_head_at_inference() -> None:
    torch.manual_seed(0)
    head = PointerHead(8, 60, (4, 4), loc_offset=20, num_bins=BINS, init_std=0.5, only_coords=True)
    logits = torch.zeros(1, 3, 60)
    logits[0, 0, 5] = 10.0  # a word
    logits[0, 1, 20:20 + BINS] = 3.0  # the coordinate tokens together, not one of them
    logits[0, 2, 30] = 10.0  # one coordinate
    assert head.coordinate_positions(logits).tolist() == [[False, True, True]]
    # attached without positions, the head chooses them from its own plain logits
    h, mem = torch.randn(1, 4, 8), torch.randn(1, 16, 8)
    with torch.no_grad():
        head.weight.zero_()
        head.weight[25] = h[0, 2] * 50  # position 2 puts its mass on <loc_5>
    plain = head(h)
    with head.attach(mem):
        pointed = head(h)
    changed = (plain != pointed).any(-1)[0].tolist()
    assert changed == head.coordinate_positions(plain)[0].tolist() and changed[2]


def test_model_with_the_pointer_at_coordinates_trains_on_them_and_generates() -> None:
    tok = _tok()
    cfg = _cfg(tok, "cell_offset")
    cfg.loc_pointer_at = "coords"
    torch.manual_seed(0)
    model = VLSeqModel(cfg)
    assert model.lm.lm_head.only_coords
    pv, ids = torch.randn(2, 1, 3, 32, 32), torch.randint(5, 20, (2, 4))
    am = torch.ones_like(ids)
    word = tok.encode("circle")[0]
    dec = torch.tensor([[tok.bos_id, word, tok.loc_id(3), tok.loc_id(9)]] * 2)
    labels = torch.cat([dec[:, 1:], torch.full((2, 1), tok.eos_id)], dim=1)
    out = model(pv, ids, am, dec, labels=labels)
    out["loss"].backward()
    assert model.lm.lm_head.off_dec.weight.grad is not None
    full = VLSeqModel(dataclasses.replace(cfg, loc_pointer_at="all"))
    full.load_state_dict(model.state_dict())
    model.eval(), full.eval()
    with torch.no_grad():
        a, b = model(pv, ids, am, dec, labels=labels)["logits"], full(pv, ids, am, dec, labels=labels)["logits"]
    coords = (labels >= cfg.loc_offset) & (labels < cfg.loc_offset + BINS)
    assert torch.allclose(a[coords], b[coords], atol=1e-5)
    assert model.generate(pv, ids, am, max_new_tokens=4, num_beams=2).shape[0] == 2
    with pytest.raises(ValueError, match="loc_pointer_at"):
        ModelConfig(loc_pointer_at="some")
