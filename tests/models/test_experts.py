"""Modality experts: the route follows the tokens, each position gets its own expert's term, the
model starts as the shared one, trains, saves and loads, and an EMA copy routes on its own."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from helpers import small_world_model
from vlseq.models.experts import RoutedLinear, TokenRouter, install_modality_experts
from vlseq.models.io import from_pretrained, save_pretrained
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.processing import Processor
from vlseq.tasks import get_task

TASKS = ("caption", "detect", "refexp")


def test_router_kinds() -> None:
    r = TokenRouter(loc_offset=9, num_bins=4, img_offset=13, num_image_tokens=3)
    ids = torch.tensor([[1, 8, 9, 12, 13, 15, 16, 40]])
    assert r.kinds(ids).tolist() == [[0, 0, 1, 1, 2, 2, 0, 0]]
    assert r.num_experts == 3
    assert TokenRouter(9, 4).num_experts == 2  # no image tokens: words and coordinates
    with pytest.raises(ValueError, match="coordinate token ids"):
        TokenRouter(-1, 4)
    with pytest.raises(ValueError, match="image token ids"):
        TokenRouter(9, 4, img_offset=-1, num_image_tokens=3)


def test_each_position_gets_its_own_expert() -> None:
    torch.manual_seed(0)
    router = TokenRouter(loc_offset=9, num_bins=4, img_offset=13, num_image_tokens=3)
    base = nn.Linear(6, 5)
    lin = RoutedLinear(base, router, rank=2)
    ids = torch.tensor([[1, 9, 13], [14, 20, 10]])
    router.set(ids)
    x = torch.randn(2, 3, 6)
    assert torch.equal(lin(x), base(x))  # U starts at zero: the shared layer exactly
    with torch.no_grad():
        lin.up.normal_()
    out = lin(x)
    kinds = router.kinds(ids)
    for b in range(2):
        for t in range(3):
            m = int(kinds[b, t])
            d, u = lin.down[m * 2:(m + 1) * 2], lin.up[:, m * 2:(m + 1) * 2]  # (r, in), (out, r)
            want = base(x[b, t]) + u @ (d @ x[b, t])
            torch.testing.assert_close(out[b, t], want)
    # the wrapped layer's parameters are shared, under their own names
    assert lin.weight is base.weight and {n for n, _ in lin.named_parameters()} == {"weight", "bias", "down", "up"}
    router.set(ids[:, :2])
    with pytest.raises(RuntimeError, match="does not match"):
        lin(x)


def _model(experts: int = 4):
    exs, tok, mc = small_world_model(6, TASKS, modality_experts=experts)
    proc = Processor(tok, 32, 32)
    torch.manual_seed(0)
    batch = proc.collate([proc.encode(get_task(e.task), e) for e in exs if e.task in TASKS][:12])
    return VLSeqModel(mc), tok, batch


def test_model_starts_as_the_shared_one_and_trains_each_expert() -> None:
    model, tok, batch = _model()
    shared = VLSeqModel(type(model.config)(**{**model.config.to_dict(), "vision": model.config.vision,
                                               "modality_experts": 0}))
    missing, unexpected = shared.load_state_dict(model.state_dict(), strict=False)
    assert not missing and all(k.endswith((".down", ".up")) for k in unexpected) and unexpected
    model.eval(), shared.eval()
    torch.testing.assert_close(model(**batch)["logits"], shared(**batch)["logits"])
    extra = sum(p.numel() for n, p in model.named_parameters() if n.endswith((".down", ".up")))
    assert 0 < extra < 0.1 * model.num_parameters()

    model.train()
    model(**batch)["loss"].backward()
    fc2 = model.lm.get_decoder().layers[0].fc2
    r = model.config.modality_experts
    for m in range(model.router.num_experts):  # words and coordinates are both read in these targets
        assert fc2.up.grad[:, m * r:(m + 1) * r].abs().sum() > 0


def test_words_alone_leave_the_coordinate_expert_untouched() -> None:
    model, tok, batch = _model()
    caption = [i for i in range(batch["labels"].shape[0])
               if not ((batch["decoder_input_ids"][i] >= tok.loc_offset)
                       & (batch["decoder_input_ids"][i] < tok.loc_offset + tok.num_bins)).any()]
    assert caption
    sub = {k: v[caption] for k, v in batch.items() if isinstance(v, torch.Tensor)}
    model(**sub)["loss"].backward()
    fc1 = model.lm.get_decoder().layers[0].fc1
    r = model.config.modality_experts
    assert fc1.up.grad[:, r:2 * r].abs().sum() == 0
    assert fc1.up.grad[:, :r].abs().sum() > 0


def test_save_load_and_an_ema_copy(tmp_path) -> None:
    model, tok, batch = _model()
    with torch.no_grad():
        for lin in model.modules():
            if isinstance(lin, RoutedLinear):
                lin.up.normal_(std=0.1)
    model.eval()
    want = model(**batch)["logits"]
    save_pretrained(model, tok, tmp_path / "m")
    loaded, _, _ = from_pretrained(tmp_path / "m")
    torch.testing.assert_close(loaded.eval()(**batch)["logits"], want)
    # torch's AveragedModel deep-copies the model: the copy's layers read the copy's router
    twin = copy.deepcopy(model)
    assert twin.router is not model.router
    assert twin.lm.get_decoder().layers[0].fc2.router is twin.router
    torch.testing.assert_close(twin(**batch)["logits"], want)


def test_embeddings_only_decoder_call_is_refused() -> None:
    router = TokenRouter(9, 4)
    dec = nn.Module()
    dec.layers = nn.ModuleList([nn.Module()])
    dec.layers[0].fc1, dec.layers[0].fc2 = nn.Linear(3, 4), nn.Linear(4, 3)
    dec.forward = lambda input_ids=None, inputs_embeds=None: None
    install_modality_experts(dec, router, 2)
    with pytest.raises(ValueError, match="embeddings only"):
        dec(inputs_embeds=torch.zeros(1, 2, 3))
