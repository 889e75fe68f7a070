"""Generation speed: vlseq vs transformers' Florence-2 (same size), and the grammar's overhead.

Greedy decoding with the KV cache, exactly ``--new-tokens`` new tokens per row (``</s>`` held back
with ``min_new_tokens``), timed over the whole ``generate()`` call (vision + encoder + decoder).
tokens/s = batch * new tokens / seconds, median of ``--repeats`` after ``--warmup`` calls.

Four tables: vlseq vs Florence-2 per batch size (goal: >= 2x at batch 1); vlseq's greedy decode
step against the same model through transformers' ``generate()``; vlseq with and without
:class:`~vlseq.decoding.grammar_processor.GrammarLogitsProcessor` over a
:class:`~vlseq.codec.grammar.GroundedTextGrammar` on the standard vocabulary layout (goal:
overhead <= 5%); and the design choices behind the speed (image tokens per model, attention
implementation, threads), with vlseq re-timed at batch 1 on one thread.

    python bench/bench_generate.py                           # tiny and 34m, batch 1, 8, 32
    python bench/bench_generate.py --configs tiny --batches 1 --repeats 5
    python bench/bench_generate.py --quick                   # a seconds-long smoke run
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    NUM_BINS,
    VOCAB,
    base_parser,
    config_names,
    fmt,
    median,
    print_table,
    ratio,
    set_threads,
    synthetic_batch,
    time_calls,
    time_interleaved,
)
from _subjects import Subject, VLSeqSubject, build_subjects, generator  # noqa: E402
from vlseq.codec.grammar import GroundedTextGrammar, VocabLayout  # noqa: E402
from vlseq.decoding.grammar_processor import GrammarLogitsProcessor  # noqa: E402

SPEED_GOAL = 2.0  # vlseq tokens/s over Florence-2's at batch 1
OVERHEAD_GOAL = 0.05  # grammar-constrained vs free decoding


def grammar_processor(new_tokens: int) -> GrammarLogitsProcessor:
    """Grounded-text grammar over the benchmark vocabulary in vlseq's standard id order."""
    layout = VocabLayout.standard(NUM_BINS, VOCAB - NUM_BINS - 9)
    if layout.vocab_size != VOCAB:
        raise RuntimeError(f"standard layout has {layout.vocab_size} ids, the models {VOCAB}")
    return GrammarLogitsProcessor(GroundedTextGrammar(layout), prompt_length=1, max_new_tokens=new_tokens)


def measure_config(name: str, args: Any) -> tuple[list[dict[str, Any]], list[Subject]]:
    """Per batch size: vlseq, Florence-2 and vlseq + grammar, taking turns call by call."""
    subjects = build_subjects(name, ["florence2"], args.image_size, args.seed)
    vl, fl = subjects
    size = vl.model.config.image_size
    hf = copy.copy(vl)
    hf.fast = False  # the same model through transformers' generate()
    rows = []
    for b in args.batches:
        batch = synthetic_batch(b, size, args.prompt_len, 8, args.seed)
        proc, proc_hf = grammar_processor(args.new_tokens), grammar_processor(args.new_tokens)
        times = time_interleaved({"vlseq": generator(vl, batch, args.new_tokens),
                                  "florence2": generator(fl, batch, args.new_tokens),
                                  "grammar": generator(vl, batch, args.new_tokens, [proc]),
                                  "generate()": generator(hf, batch, args.new_tokens),
                                  "generate() grammar": generator(hf, batch, args.new_tokens, [proc_hf])},
                                 args.repeats, args.warmup)
        for p in (proc, proc_hf):
            if p.invalid_tokens:
                raise RuntimeError(f"grammar processor saw {p.invalid_tokens} forbidden tokens")
        for key, t in times.items():
            model = {"florence2": "florence2", "generate()": "vlseq generate()",
                     "generate() grammar": "vlseq generate()"}.get(key, "vlseq")
            rows.append({"config": name, "model": model, "batch": b, "grammar": key.endswith("grammar"),
                         "s": median(t), "tok_per_s": b * args.new_tokens / median(t)})
    return rows, subjects


def ablations(vl: VLSeqSubject, args: Any, size: int) -> list[list[Any]]:
    """vlseq at batch 1 as configured, then with one thread. (Its greedy decode step calls
    ``scaled_dot_product_attention`` itself: transformers' attention setting does not reach it.)"""
    run = generator(vl, synthetic_batch(1, size, args.prompt_len, 8, args.seed), args.new_tokens)

    def timed() -> float:
        return median(time_calls(run, args.repeats, args.warmup))

    threads = torch.get_num_threads()
    base = timed()
    out = [[f"as configured ({threads} thread{'s' if threads > 1 else ''})", fmt(args.new_tokens / base), "1.00x"]]
    if threads > 1:
        torch.set_num_threads(1)
        try:
            t = timed()
        finally:
            torch.set_num_threads(threads)
        out.append(["1 thread", fmt(args.new_tokens / t), ratio(base, t)])
    return out


def report(name: str, rows: list[dict[str, Any]], subjects: list[Subject], args: Any) -> None:
    size = subjects[0].model.config.image_size
    by = {(r["model"], r["batch"], r["grammar"]): r["tok_per_s"] for r in rows}
    table = [[b, fmt(by[("vlseq", b, False)]), fmt(by[("florence2", b, False)]),
              ratio(by[("vlseq", b, False)], by[("florence2", b, False)])] for b in args.batches]
    print_table(f"config `{name}`, image {size} px: tokens/s, {args.new_tokens} new tokens",
                ["batch", "vlseq", "florence2", "vlseq/florence2"], table)
    b1 = by.get(("vlseq", 1, False)), by.get(("florence2", 1, False))
    if None not in b1:
        got = b1[0] / b1[1]
        print(f"batch 1: vlseq/florence2 = {got:.2f}x (goal >= {SPEED_GOAL}x: {'met' if got >= SPEED_GOAL else 'NOT met'})")
    gt = []
    for b in args.batches:
        free, con = by[("vlseq", b, False)], by[("vlseq", b, True)]
        over = free / con - 1
        gt.append([b, fmt(free), fmt(con), f"{100 * over:+.1f}%", "met" if over <= OVERHEAD_GOAL else "NOT met"])
    print_table(f"config `{name}`: vlseq with the grounded-text grammar (tokens/s)",
                ["batch", "free", "grammar", "overhead", f"goal <= {OVERHEAD_GOAL:.0%}"], gt)
    step = [[f"{b}{' + grammar' if g else ''}", fmt(by[("vlseq", b, g)]), fmt(by[("vlseq generate()", b, g)]),
             ratio(by[("vlseq", b, g)], by[("vlseq generate()", b, g)])] for g in (False, True) for b in args.batches]
    print_table(f"config `{name}`: vlseq's greedy decode step against transformers' generate() (tokens/s)",
                ["batch", "decode step", "generate()", "step/generate()"], step)
    design = []
    for s in subjects:
        design.append([s.name, fmt(s.params), s.image_tokens, s.image_tokens + args.prompt_len, s.attn_impl,
                       getattr(s.lm_config, "decoder_layers", "?"), torch.get_num_threads()])
    print_table(f"config `{name}`: design choices",
                ["model", "params", "image tokens", "encoder tokens", "attention", "decoder layers", "threads"], design)
    print_table(f"config `{name}`: vlseq at batch 1, one choice changed",
                ["setting", "tokens/s", "speed vs configured"], ablations(subjects[0], args, size))


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    ap = base_parser(__doc__)
    ap.add_argument("--configs", default="tiny,34m", help="comma-separated: debug, tiny, small, 34m")
    ap.add_argument("--batches", default="1,8,32", help="comma-separated batch sizes")
    ap.add_argument("--new-tokens", type=int, default=64)
    ap.add_argument("--prompt-len", type=int, default=16)
    ap.add_argument("--image-size", type=int, default=None, help="default: the preset's")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args(argv)
    if args.quick:
        args.configs, args.batches, args.new_tokens, args.prompt_len, args.repeats = "tiny", "1,2", 8, 8, 1
    args.batches = [int(b) for b in args.batches.split(",")]
    threads = set_threads(args.threads)
    print(f"## Generation speed (greedy, KV cache, fp32, random weights)\n\ntorch {torch.__version__}, {threads} threads, "
          f"{args.new_tokens} new tokens forced, prompt {args.prompt_len} tokens, vocabulary {VOCAB:,} for both models, "
          f"median of {args.repeats} calls (models taking turns) after {args.warmup} warmup" + (" — QUICK smoke run, not a measurement" if args.quick else ""))
    all_rows = []
    for name in config_names(args.configs):
        rows, subjects = measure_config(name, args)
        report(name, rows, subjects, args)
        all_rows += rows
    return all_rows


if __name__ == "__main__":
    main()
