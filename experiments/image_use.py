"""Does the model use the image? Validation loss with the true images vs with shuffled images.

    python experiments/image_use.py [--preset tiny] [--synth data/synth-5k] [--tasks detect]
        [--steps 300] [--every 50] [--variant NAME=KEY=VALUE[,KEY=VALUE...] ...] [--json PATH]
        [--score N]
    python experiments/image_use.py --quick     # seconds: debug sizes, a 24-scene world

Each variant (the preset with some ``model.*`` settings changed) trains from the same seed on the
same batches; every ``--every`` steps it scores one fixed validation batch twice: with each
example's own image, and with the images rolled by half the batch (every example sees another
scene). With ``--score N`` each variant is also decoded and scored on N validation examples per task
at the end (the tasks' own metrics: does it localise, not only look). A model that reads the image has a clearly higher loss on the shuffled batch; a model that
writes the language prior has the same loss on both. ``detect`` is the sharpest probe: its prompt is
the same for every image, so all it can learn beyond the prior comes from the pixels.

This is how the quickstart's "image ignored" collapse was traced to BART's 0.02 weight init at
d_model 128 (see BENCHMARKS.md).
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))  # the shared bench helpers (_common)

from _common import base_parser, markdown_table, set_threads  # noqa: E402
from vlseq.data.readers.split import load_split  # noqa: E402
from vlseq.evaluation.diagnostics import loss_true_and_shuffled  # noqa: E402
from vlseq.evaluation.evaluate import evaluate_examples  # noqa: E402
from vlseq.models.factory import build_model  # noqa: E402
from vlseq.processing import Processor  # noqa: E402
from vlseq.tasks.registry import get_task  # noqa: E402
from vlseq.tokenizer import VLTokenizer  # noqa: E402
from vlseq.train.config import TrainConfig, load_config  # noqa: E402
from vlseq.train.data import ensure_synth  # noqa: E402
from vlseq.train.loop import corpus  # noqa: E402
from vlseq.train.optim import build_optimizer, build_scheduler  # noqa: E402

DEFAULT_VARIANTS = [
    "default=",
    "bart-init-0.02=init_std=0.02",
    "groupnorm-1-conv-stem=vision.norm=\"group\",vision.blocks=1",
    "both-old=init_std=0.02,vision.norm=\"group\",vision.blocks=1",
]


def parse_variant(text: str) -> tuple[str, list[str]]:
    """``name=k=v,k=v`` -> (name, ["model.k=v", ...]); a training key (``lr``, ``batch_size``, ...)
    stays at the top level."""
    name, _, rest = text.partition("=")
    if not name:
        raise SystemExit(f"--variant {text!r}: expected NAME=KEY=VALUE[,KEY=VALUE...]")
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)} - {"model"}
    return name, [kv if kv.split("=", 1)[0] in train_keys else f"model.{kv}" for kv in rest.split(",") if kv]


def run_variant(name: str, overrides: Sequence[str], args: Any, train: dict, val_batch: dict,
                tok: VLTokenizer, proc: Processor, val: dict | None = None) -> list[dict[str, Any]]:
    """Train one variant for ``args.steps`` steps; return its loss rows."""
    cfg = load_config(args.preset, overrides)
    mc = cfg.model
    mc.fill_from_tokenizer(tok)
    torch.manual_seed(0)
    model = build_model(mc)
    opt = build_optimizer(model, cfg.lr, cfg.weight_decay)
    sched = build_scheduler(opt, min(cfg.warmup_steps, args.steps // 3), args.steps, cfg.min_lr_ratio)
    pool = [(t, e) for t, exs in train.items() for e in exs]
    rng = random.Random(0)  # the same batches for every variant
    rows, t0 = [], time.perf_counter()
    model.train()
    for step in range(1, args.steps + 1):
        items = [pool[rng.randrange(len(pool))] for _ in range(cfg.batch_size)]
        batch = proc.collate([proc.encode(get_task(t), e, random.Random(rng.getrandbits(32))) for t, e in items])
        loss = model(**batch)["loss"]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip_grad)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        if step % args.every == 0 or step == args.steps:
            true, shuf = loss_true_and_shuffled(model, val_batch)
            rows.append({"variant": name, "step": step, "train_loss": float(loss.detach()), "val_loss": true,
                         "val_loss_shuffled": shuf, "gap": shuf - true, "seconds": time.perf_counter() - t0})
            print(f"{name:>24s} step {step:5d}  val {true:.4f}  shuffled {shuf:.4f}  gap {shuf - true:+.4f}", flush=True)
    if args.score and val:
        model.eval()
        scores = evaluate_examples(model, proc, {t: val.get(t, [])[:args.score] for t in args.tasks})
        rows[-1]["scores"] = {k: v for k, v in scores.items() if not k.endswith(("/seconds", "/n"))}
        print(f"{name:>24s} scores {json.dumps({k: round(v, 4) for k, v in rows[-1]['scores'].items()})}", flush=True)
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    ap = base_parser(__doc__)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--synth", default="data/synth-5k", help="a synthetic world (generated here when missing)")
    ap.add_argument("--scenes", type=int, default=5000, help="train scenes when generating --synth")
    ap.add_argument("--tasks", nargs="+", default=["detect"])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--val", type=int, default=128, help="validation examples in the fixed batch")
    ap.add_argument("--variant", action="append", default=None, help="NAME=KEY=VALUE[,KEY=VALUE...] (model keys; training keys such as lr stay top-level)")
    ap.add_argument("--json", default=None, help="also write the rows here")
    ap.add_argument("--score", type=int, default=0, help="decode and score N val examples per task at the end")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    tmp = None
    if args.quick:
        tmp = tempfile.TemporaryDirectory()
        args.preset, args.synth, args.scenes, args.steps, args.every, args.val = "debug", f"{tmp.name}/w", 24, 4, 2, 8
    cfg = load_config(args.preset, [])
    size = cfg.model.image_size
    ensure_synth(Path(args.synth), {"train": args.scenes, "val": max(64, args.val), "test": 8, "size": size, "seed": 0})
    train = load_split(Path(args.synth) / "train", tasks=args.tasks)
    val = load_split(Path(args.synth) / "val", tasks=args.tasks)
    tok = VLTokenizer.train(corpus(train, cfg.model.num_bins), cfg.model.num_bins, vocab_size=cfg.tokenizer_vocab)
    proc = Processor(tok, size, cfg.model.num_bins, cfg.max_prompt_tokens, cfg.max_target_tokens)
    per_task = max(1, args.val // len(args.tasks))
    val_items = [(t, e) for t in args.tasks for e in val.get(t, [])[:per_task]]
    if len(val_items) < 2:
        raise SystemExit(f"{args.synth}/val: fewer than 2 examples of {args.tasks}")
    val_batch = proc.collate([proc.encode(get_task(t), e, random.Random(0)) for t, e in val_items])
    rows: list[dict[str, Any]] = []
    for spec in args.variant or DEFAULT_VARIANTS:
        name, overrides = parse_variant(spec)
        rows += run_variant(name, overrides, args, train, val_batch, tok, proc, val)
    print()
    print(f"preset {args.preset}, tasks {args.tasks}, {args.steps} steps of batch {cfg.batch_size}, "
          f"{len(val_items)} validation examples")
    print(markdown_table(["variant", "step", "val loss", "val loss, shuffled images", "gap"],
                         [[r["variant"], r["step"], f"{r['val_loss']:.4f}", f"{r['val_loss_shuffled']:.4f}",
                           f"{r['gap']:+.4f}"] for r in rows]))
    scored = [r for r in rows if "scores" in r]
    if scored:
        keys = sorted({k for r in scored for k in r["scores"]})
        print()
        print(markdown_table(["variant", "step", *keys],
                             [[r["variant"], r["step"], *(f"{r['scores'].get(k, float('nan')):.3f}" for k in keys)]
                              for r in scored]))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
