"""What grammar-constrained decoding costs: the logits processor's time per generated token.

For each grammar, a decode of ``--steps`` tokens is simulated at each batch size: random scores
(biased so ``</s>`` is rare and markup common, so outputs are long and structured) go through
:class:`GrammarLogitsProcessor`, the next token is sampled from the masked scores, and only the
processor's calls are timed. A tiny random BART's greedy decode step at the same vocabulary and
batch gives the reference the cost is a fraction of.

    python bench/bench_grammar.py                 # 200 bins, 1000 text tokens, batch 1 and 32
    python bench/bench_grammar.py --bins 1000 --text-tokens 50000
    python bench/bench_grammar.py --quick         # a one-second smoke run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from vlseq.codec.grammar import (
    ChoiceGrammar,
    Grammar,
    GroundedTextGrammar,
    ObjectListGrammar,
    SingleBoxGrammar,
    TextGrammar,
    VocabLayout,
)
from vlseq.decoding.grammar_processor import GrammarLogitsProcessor  # noqa: E402


def make_grammars(layout: VocabLayout, rng: np.random.Generator) -> dict[str, Grammar]:
    """Realistic instances: 80 labels of 1-3 tokens, a 6-token expression, 500 answers of 1-3 tokens."""
    text = layout.text_ids

    def seqs(n: int) -> list[list[int]]:
        return [rng.choice(text, size=int(rng.integers(1, 4))).tolist() for _ in range(n)]

    return {
        "text": TextGrammar(layout),
        "grounded+poly": GroundedTextGrammar(layout, polygons=True, max_polygon_points=16),
        "object list (80 labels)": ObjectListGrammar(layout, seqs(80)),
        "single box (forced)": SingleBoxGrammar(layout, [rng.choice(text, size=6).tolist()]),
        "choice (500 answers)": ChoiceGrammar(layout, seqs(500)),
    }


def time_processor(g: Grammar, batch: int, steps: int, repeats: int, seed: int = 0) -> float:
    """Median over ``repeats`` of the processor's seconds per decode step for ``batch`` rows."""
    lay = g.layout
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    bias = torch.zeros(lay.vocab_size)
    bias[lay.eos_id] = -4.0
    bias[[lay.obj_open, lay.obj_close, lay.poly_open, lay.poly_close]] = 2.0
    pool = [torch.randn(batch, lay.vocab_size, generator=gen) * 2 + bias for _ in range(8)]
    times = []
    for _ in range(repeats + 1):  # the first run warms up and is not counted
        proc = GrammarLogitsProcessor(g, prompt_length=1, max_new_tokens=steps)
        ids = torch.full((batch, 1), lay.bos_id, dtype=torch.long)
        total = 0.0
        for s in range(steps):
            scores = pool[s % len(pool)].clone()
            t0 = time.perf_counter()
            out = proc(ids, scores)
            total += time.perf_counter() - t0
            # Sample from the masked softmax (Gumbel-max), in numpy to keep the untimed part cheap.
            nxt = (out.numpy() + rng.gumbel(size=out.shape)).argmax(axis=1)
            ids = torch.cat([ids, torch.from_numpy(nxt)[:, None]], 1)
        times.append(total / steps)
    return statistics.median(times[1:])


def model_step(layout: VocabLayout, batch: int, steps: int, d_model: int, layers: int, src_len: int) -> float:
    """Seconds per greedy decode step (KV cache) of a random BART at this vocabulary and batch."""
    from transformers import BartConfig, BartForConditionalGeneration

    cfg = BartConfig(
        vocab_size=layout.vocab_size, d_model=d_model, encoder_layers=layers, decoder_layers=layers,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=4 * d_model,
        decoder_ffn_dim=4 * d_model, max_position_embeddings=max(256, src_len, steps + 2),
        pad_token_id=layout.pad_id, bos_token_id=layout.bos_id, eos_token_id=layout.eos_id,
        decoder_start_token_id=layout.bos_id, forced_eos_token_id=None, forced_bos_token_id=None,
    )
    torch.manual_seed(0)
    model = BartForConditionalGeneration(cfg).eval()
    x = torch.randint(int(layout.text_ids[0]), layout.vocab_size, (batch, src_len))

    def run(n: int) -> float:
        best = float("inf")
        for _ in range(3):  # the fastest of three: shared cores make single runs noisy
            t0 = time.perf_counter()
            with torch.no_grad():
                model.generate(input_ids=x, max_new_tokens=n, min_new_tokens=n, do_sample=False)
            best = min(best, time.perf_counter() - t0)
        return best

    run(2)
    # The difference of two lengths cancels the encoder pass and generate()'s fixed overhead.
    return (run(steps + 4) - run(4)) / steps


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bins", type=int, default=200, help="coordinate tokens")
    ap.add_argument("--text-tokens", type=int, default=1000, help="plain-text tokens")
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--steps", type=int, default=64, help="generated tokens per decode")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model-dim", type=int, default=256, help="reference BART width (0: skip the model)")
    ap.add_argument("--model-layers", type=int, default=3)
    ap.add_argument("--src-len", type=int, default=64, help="encoder tokens of the reference model")
    ap.add_argument("--quick", action="store_true", help="tiny sizes and no model: a smoke run")
    args = ap.parse_args(argv)
    if args.quick:
        args.bins, args.text_tokens, args.batch, args.steps, args.repeats, args.model_dim = 32, 100, [1, 4], 16, 1, 0
    layout = VocabLayout.standard(args.bins, args.text_tokens)
    grammars = make_grammars(layout, np.random.default_rng(0))
    print(f"vocab {layout.vocab_size} ({args.bins} bins, {args.text_tokens} text tokens), {args.steps} steps, "
          f"median of {args.repeats}, torch threads {torch.get_num_threads()}")
    ref = {}
    if args.model_dim:
        for b in args.batch:
            ref[b] = model_step(layout, b, args.steps, args.model_dim, args.model_layers, args.src_len)
            print(f"reference BART d={args.model_dim} {args.model_layers}+{args.model_layers} layers, batch {b}: "
                  f"{ref[b] * 1e3:.2f} ms per decode step")
    rows = []
    header = f"{'grammar':<26}{'batch':>6}{'us/step':>10}{'us/step/row':>13}{'% of model step':>17}"
    print(header)
    print("-" * len(header))
    for name, g in grammars.items():
        for b in args.batch:
            t = time_processor(g, b, args.steps, args.repeats)
            pct = f"{100 * t / ref[b]:.1f}" if b in ref else "-"
            print(f"{name:<26}{b:>6}{t * 1e6:>10.1f}{t * 1e6 / b:>13.1f}{pct:>17}")
            rows.append({"grammar": name, "batch": b, "us_per_step": t * 1e6, "us_per_step_row": t * 1e6 / b,
                         "model_step_us": ref[b] * 1e6 if b in ref else None})
    return rows


if __name__ == "__main__":
    main()
