"""The greedy loop writes, token for token, what transformers' ``generate()`` writes with the same
grammar processor, for every task, with the pointer head on; beam search still goes through
``generate()``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers import make_checkpoint
from vlseq.cli import synth
from vlseq.data.readers import load_split
from vlseq.decoding.constrain import grammar_for
from vlseq.decoding.generate import max_new_tokens_for
from vlseq.decoding.grammar_processor import GrammarLogitsProcessor
from vlseq.inference.pipeline import Pipeline
from vlseq.tasks import get_task, task_names


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Pipeline, dict]:
    root: Path = tmp_path_factory.mktemp("greedy")
    assert synth.main(["--out", str(root / "world"), "--train", "1", "--val", "6", "--test", "1", "--test-heldout", "0",
                       "--size", "32", "--workers", "1", "--no-progress", "--no-contact-sheet"]) == 0
    pipe = Pipeline.from_pretrained(make_checkpoint(root / "ck", image_tokenizer=True, pointer="cell_offset",
                                                 max_images=8))
    return pipe, load_split(root / "world" / "val")


def _both(pipe: Pipeline, task: str, exs: list, **kw) -> tuple[torch.Tensor, torch.Tensor]:
    t, proc, model = get_task(task), pipe.processor, pipe.model.eval()
    batch = proc.collate([proc.encode(t, ex, with_target=False) for ex in exs])
    out = []
    for loop in (True, False):
        try:
            budget = max(max_new_tokens_for(t, ex, proc) for ex in exs)
            grammars = [grammar_for(proc.grammar_spec(t, ex), proc.tokenizer) for ex in exs]
            procs = [GrammarLogitsProcessor(grammars, prompt_length=1, max_new_tokens=budget)]
        except ValueError:  # the test checkpoint's small vocabulary lacks words of the options (dialog)
            budget, procs = 12, []
        out.append(model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"],
                                  batch["image_mask"], logits_processor=procs, max_new_tokens=budget, loop=loop, **kw))
    return out[0], out[1]


def test_the_loop_writes_what_generate_writes_for_every_task(setup) -> None:
    pipe, split = setup
    assert set(split) == set(task_names())  # the world writes every task
    for task, exs in sorted(split.items()):
        fast, ref = _both(pipe, task, exs[:3])
        assert fast.shape[1] > 2, task  # outputs with content
        assert torch.equal(fast, ref), task


def test_beam_search_goes_through_generate(setup) -> None:
    pipe, split = setup
    fast, ref = _both(pipe, "detect", split["detect"][:2], num_beams=2)
    assert torch.equal(fast, ref)
