"""The hand-written greedy decoder gives, token for token, what transformers' ``generate()`` gives:
on a briefly trained model, for every task of the world, with the grammar and the pointer on, for
BART and mBART layers, with modality experts, with padded prompts and with ``min_new_tokens``. Beam search still goes
through ``generate()``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from helpers import small_world_model
from vlseq.decoding.constrain import grammar_for
from vlseq.decoding.generate import max_new_tokens_for
from vlseq.decoding.grammar_processor import GrammarLogitsProcessor
from vlseq.models.vlseq_model import VLSeqModel
from vlseq.processing import Processor
from vlseq.tasks import get_task

BINS = 32
TASKS = ("caption", "vqa", "classify", "detect", "refexp", "localize", "ground", "grounded_caption", "region_caption")


def _trained(lm: str, pointer_at: str, experts: int = 0) -> tuple[list, Processor, VLSeqModel]:
    exs, tok, mc = small_world_model(10, TASKS, loc_pointer="cell_offset", lm=lm, loc_pointer_at=pointer_at,
                                     modality_experts=experts)
    proc = Processor(tok, 32, BINS)
    torch.manual_seed(0)
    model = VLSeqModel(mc)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    encoded = [proc.encode(get_task(e.task), e) for e in exs if e.task in TASKS]
    # 30 steps: the outputs are no longer the constant ones of an untrained model, so the two
    # decoders are compared on varied, confident and unconfident tokens alike
    for step in range(30):
        batch = proc.collate(encoded[(step * 16) % len(encoded):][:16])
        loss = model(**batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    return exs, proc, model.eval()


# the third: modality experts, which the step must route itself (it calls the layers, not the decoder)
@pytest.fixture(scope="module", params=[("bart", "all"), ("mbart", "coords"), ("bart", "all", 4)])
def trained(request):
    return _trained(*request.param)


def _both(model: VLSeqModel, proc: Processor, task_name: str, chunk: list, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    task = get_task(task_name)
    batch = proc.collate([proc.encode(task, ex, with_target=False) for ex in chunk])
    budget = max(max_new_tokens_for(task, ex, proc) for ex in chunk)
    outs = []
    for fast in (True, False):
        grammars = [grammar_for(proc.grammar_spec(task, ex), proc.tokenizer) for ex in chunk]
        procs = [GrammarLogitsProcessor(grammars, prompt_length=1, max_new_tokens=budget)]
        outs.append(model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"],
                                   batch["image_mask"], logits_processor=procs, max_new_tokens=budget, fast=fast, **kw))
    return outs[0], outs[1]


@pytest.mark.parametrize("task_name", TASKS)
def test_greedy_is_generate_token_for_token(trained, task_name: str) -> None:
    exs, proc, model = trained
    chunk = [e for e in exs if e.task == task_name][:6]  # prompts of several lengths: padded rows
    assert chunk, task_name
    fast, slow = _both(model, proc, task_name, chunk)
    assert fast.tolist() == slow.tolist()
    assert fast.shape[1] > 2  # more than a start token and an end


def test_min_new_tokens_and_unconstrained(trained) -> None:
    exs, proc, model = trained
    chunk = [e for e in exs if e.task == "caption"][:3]
    batch = proc.collate([proc.encode(get_task("caption"), ex, with_target=False) for ex in chunk])
    args = (batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"])
    fast = model.generate(*args, max_new_tokens=12, min_new_tokens=12)
    slow = model.generate(*args, max_new_tokens=12, min_new_tokens=12, fast=False)
    assert fast.tolist() == slow.tolist()
    assert fast.shape == (3, 13)


def test_beam_search_still_runs_through_generate(trained) -> None:
    exs, proc, model = trained
    chunk = [e for e in exs if e.task == "detect"][:2]
    batch = proc.collate([proc.encode(get_task("detect"), ex, with_target=False) for ex in chunk])
    out = model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"],
                         max_new_tokens=10, num_beams=3, num_return_sequences=2)
    assert out.shape[0] == 4


def test_the_step_reads_the_weights_of_the_call(trained) -> None:
    """The fused projections are rebuilt per call: a weight changed after one generation is seen
    by the next (no stale copy of a fine-tuned model's weights)."""
    exs, proc, model = trained
    chunk = [e for e in exs if e.task == "caption"][:2]
    batch = proc.collate([proc.encode(get_task("caption"), ex, with_target=False) for ex in chunk])
    args = (batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"])
    other = VLSeqModel(dataclasses.replace(model.config)).eval()
    other.load_state_dict(model.state_dict())
    model.generate(*args, max_new_tokens=8)
    with torch.no_grad():
        for layer in other.lm.get_decoder().layers:
            layer.self_attn.k_proj.weight.mul_(-3.0)
    assert other.generate(*args, max_new_tokens=8).tolist() == other.generate(*args, max_new_tokens=8,
                                                                                fast=False).tolist()
