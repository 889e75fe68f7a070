"""The grammar logits processor inside transformers' generate(): greedy, beam search, sampling."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import BartConfig, BartForConditionalGeneration, LogitsProcessorList

from vlseq.codec import parse
from vlseq.codec.grammar import (
    ChoiceGrammar,
    Grammar,
    GroundedTextGrammar,
    ObjectListGrammar,
    SingleBoxGrammar,
    TextGrammar,
    VocabLayout,
)
from vlseq.decoding.grammar_processor import GrammarLogitsProcessor

BINS = 16
LAYOUT = VocabLayout.standard(num_bins=BINS, num_text_tokens=20)
TEXT = LAYOUT.text_ids.tolist()
LABELS = [[TEXT[0]], [TEXT[0], TEXT[1]], [TEXT[2], TEXT[3], TEXT[4]]]
MAX_NEW = 20


@pytest.fixture(scope="module")
def model() -> BartForConditionalGeneration:
    """A tiny random BART over the fake layout, biased towards markup so outputs have structure."""
    cfg = BartConfig(
        vocab_size=LAYOUT.vocab_size, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64, init_std=1.0,
        pad_token_id=LAYOUT.pad_id, bos_token_id=LAYOUT.bos_id, eos_token_id=LAYOUT.eos_id,
        decoder_start_token_id=LAYOUT.bos_id, forced_eos_token_id=None, forced_bos_token_id=None,
    )
    torch.manual_seed(0)
    m = BartForConditionalGeneration(cfg).eval()
    with torch.no_grad():
        m.final_logits_bias[0, [LAYOUT.obj_open, LAYOUT.obj_close, LAYOUT.poly_open, LAYOUT.poly_close]] = 3.0
        m.final_logits_bias[0, LAYOUT.loc_offset : LAYOUT.loc_offset + BINS] = 1.0
    return m


GRAMMARS = {
    "text": TextGrammar(LAYOUT),
    "grounded": GroundedTextGrammar(LAYOUT, polygons=True, max_polygon_points=4),
    "objects": ObjectListGrammar(LAYOUT, LABELS, max_objects=3),
    "single": SingleBoxGrammar(LAYOUT, [LABELS[2]]),
    "choice": ChoiceGrammar(LAYOUT, [[TEXT[5]], [TEXT[5], TEXT[6]], [TEXT[7], TEXT[8]]]),
}
MODES = {"greedy": {}, "beam": {"num_beams": 3}, "sample": {"do_sample": True}}


def output_ids(row: list[int]) -> list[int]:
    """Generated ids after the decoder start, through the first </s> (which must be there)."""
    ids = row[1:]
    assert LAYOUT.eos_id in ids, f"no </s> in {LAYOUT.render(ids)}"
    return ids[: ids.index(LAYOUT.eos_id) + 1]


def check(g: Grammar, row: list[int], budget: int = MAX_NEW):
    ids = output_ids(row)
    assert len(ids) <= budget and g.accepts(ids)
    p = parse(LAYOUT.render(ids), 100.0, 80.0, BINS)
    assert p.errors == [], LAYOUT.render(ids)
    in_poly, box_locs = False, 0
    for t in ids:
        in_poly = (in_poly or t == LAYOUT.poly_open) and t != LAYOUT.poly_close
        box_locs += not in_poly and LAYOUT.loc_offset <= t < LAYOUT.loc_offset + BINS
    assert len(p.objects) * 4 == box_locs
    return p


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(GRAMMARS))
def test_generate_outputs_parse(model: BartForConditionalGeneration, name: str, mode: str) -> None:
    g = GRAMMARS[name]
    torch.manual_seed(1)
    x = torch.randint(TEXT[0], LAYOUT.vocab_size, (4, 7))
    proc = GrammarLogitsProcessor(g, prompt_length=1, max_new_tokens=MAX_NEW)
    out = model.generate(input_ids=x, max_new_tokens=MAX_NEW, logits_processor=LogitsProcessorList([proc]),
                         **MODES[mode])
    assert out.shape[0] == 4 * MODES[mode].get("num_return_sequences", 1)
    for row in out.tolist():
        p = check(g, row)
        if name == "single":
            assert [lab for lab, _ in p.objects] == [" ".join(f"w{t}" for t in LABELS[2])]


def test_one_grammar_per_batch_item_under_beam_sampling(model: BartForConditionalGeneration) -> None:
    grammars = [SingleBoxGrammar(LAYOUT, [lab]) for lab in LABELS]
    proc = GrammarLogitsProcessor(grammars, prompt_length=1, max_new_tokens=MAX_NEW)
    x = torch.randint(TEXT[0], LAYOUT.vocab_size, (3, 5))
    out = model.generate(input_ids=x, max_new_tokens=MAX_NEW, num_beams=3, num_return_sequences=2, do_sample=True,
                         logits_processor=LogitsProcessorList([proc]))
    for i, row in enumerate(out.tolist()):
        p = check(grammars[i // 2], row)
        assert p.objects[0][0] == " ".join(f"w{t}" for t in LABELS[i // 2])


def test_prefix_cache_follows_reordered_rows() -> None:
    """Rows shuffled between steps (as beam search does) get the masks of a from-scratch replay."""
    g = GRAMMARS["grounded"]
    proc = GrammarLogitsProcessor(g, prompt_length=1, max_new_tokens=30)
    rng = np.random.default_rng(0)
    ids = torch.full((6, 1), LAYOUT.bos_id)
    for step in range(30):
        scores = torch.from_numpy(rng.normal(size=(6, LAYOUT.vocab_size))).float()
        scores[:, LAYOUT.obj_open] += 3
        masked = proc(ids, scores)
        if step:  # a new processor knows no prefix and replays each row from scratch
            fresh = GrammarLogitsProcessor(g, prompt_length=1, max_new_tokens=30)
            assert torch.equal(torch.isfinite(masked), torch.isfinite(fresh(ids, scores)))
        nxt = masked.argmax(-1)
        order = torch.from_numpy(rng.permutation(6)) if step % 2 else torch.arange(6)
        ids = torch.cat([ids, nxt[:, None]], 1)[order]
        ids[:2] = ids[0]  # two beams with one prefix
    assert proc.invalid_tokens == 0
    for row in ids.tolist():
        check(g, row, budget=30)


def test_wider_scores_and_conflicting_processors(model: BartForConditionalGeneration) -> None:
    g = GRAMMARS["choice"]
    proc = GrammarLogitsProcessor(g, prompt_length=1, max_new_tokens=MAX_NEW)
    scores = torch.zeros(2, LAYOUT.vocab_size + 7)  # a model vocabulary padded past the tokenizer's
    out = proc(torch.full((2, 1), LAYOUT.bos_id), scores)
    assert torch.isneginf(out[:, LAYOUT.vocab_size :]).all()
    assert sorted(torch.isfinite(out[0]).nonzero().flatten().tolist()) == [TEXT[5], TEXT[7]]
    # dtypes numpy lacks take the torch path, with the same mask
    out16 = proc(torch.full((2, 1), LAYOUT.bos_id), scores.to(torch.bfloat16))
    assert out16.dtype == torch.bfloat16 and torch.equal(torch.isfinite(out16), torch.isfinite(out))
    # min_new_tokens forbids </s> where the grammar allows nothing else: the grammar wins.
    x = torch.randint(TEXT[0], LAYOUT.vocab_size, (3, 5))
    out = model.generate(input_ids=x, max_new_tokens=MAX_NEW, min_new_tokens=10,
                         logits_processor=LogitsProcessorList([proc]))
    for row in out.tolist():
        check(g, row)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="needs at least 10 tokens"):
        GrammarLogitsProcessor(GRAMMARS["single"], max_new_tokens=9)
    proc = GrammarLogitsProcessor([GRAMMARS["text"]] * 2, prompt_length=2)
    with pytest.raises(ValueError, match="not a multiple"):
        proc(torch.zeros(3, 4, dtype=torch.long), torch.zeros(3, LAYOUT.vocab_size))
    with pytest.raises(ValueError, match="shorter than prompt_length"):
        proc(torch.zeros(2, 1, dtype=torch.long), torch.zeros(2, LAYOUT.vocab_size))


def test_bench_quick_runs(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path(__file__).resolve().parents[2] / "bench" / "bench_grammar.py"
    spec = importlib.util.spec_from_file_location("bench_grammar", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    rows = bench.main(["--quick"])
    text = capsys.readouterr().out
    assert "us/step/row" in text and len(rows) >= 5
    assert all(r["us_per_step"] > 0 for r in rows)
