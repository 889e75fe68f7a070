"""Evaluation: batched grammar-constrained generation, parsing, and each task's standard metric.

``vlseq eval --checkpoint DIR --data SPLIT_DIR [--tasks ...] [--out DIR]`` writes
``predictions.jsonl`` (appended as batches finish, so nothing computed is lost),
``metrics.json`` and an HTML page + PNG sheet of examples with predicted and true boxes.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from .data.example import Example
from .models.constrain import grammar_for
from .models.grammar_processor import GrammarLogitsProcessor
from .processor import Processor
from .tasks import Prediction, Task, get_task

log = logging.getLogger(__name__)


def max_new_tokens_for(task: Task, ex: Example, processor: Processor) -> int:
    """Generation budget: enough for the task's longest plausible output, never past the target limit."""
    limit = processor.max_target_tokens - 1
    spec = task.grammar(ex)
    if spec.kind == "choice":
        return min(limit, 2 + max(len(processor.tokenizer.encode(l)) for l in spec.labels))
    if spec.kind == "box":
        return min(limit, 8 + max(len(processor.tokenizer.label_ids(l)) for l in spec.labels))
    if spec.kind == "text":
        return min(limit, 48)
    return limit


@torch.no_grad()
def predict_examples(model, processor: Processor, task: Task, examples: Sequence[Example], batch_size: int = 32,
                     constrained: bool = True, num_beams: int = 1) -> list[Prediction]:
    """Generate and parse one prediction per example (rows in the order given)."""
    model.eval()
    device = next(model.parameters()).device
    preds: list[Prediction] = []
    for i in range(0, len(examples), batch_size):
        chunk = list(examples[i : i + batch_size])
        batch = processor.collate([processor.encode(task, ex, with_target=False) for ex in chunk])
        batch = {k: v.to(device) for k, v in batch.items()}
        budget = max(max_new_tokens_for(task, ex, processor) for ex in chunk)
        procs = []
        if constrained:
            grammars = [grammar_for(task.grammar(ex), processor.tokenizer) for ex in chunk]
            procs = [GrammarLogitsProcessor(grammars, prompt_length=1, max_new_tokens=budget)]
        ids = model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"],
                             logits_processor=procs, max_new_tokens=budget, num_beams=num_beams)
        for ex, row in zip(chunk, ids.tolist()):
            preds.append(task.parse(processor.decode(row[1:]), ex, processor.bins))
    return preds


def evaluate_examples(model, processor: Processor, examples: dict[str, Sequence[Example]], batch_size: int = 32,
                      out_dir: Path | None = None, constrained: bool = True, num_beams: int = 1) -> dict[str, Any]:
    """Metrics per source (``task`` or ``task@dataset``), flattened as ``source/metric``.

    With ``out_dir``, predictions are appended to ``out_dir/predictions.jsonl`` per task as
    they are computed.
    """
    metrics: dict[str, Any] = {}
    pred_file = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        pred_file = (out_dir / "predictions.jsonl").open("a")
    try:
        for source, exs in examples.items():
            task = get_task(source.split("@", 1)[0])
            t0 = time.time()
            preds = predict_examples(model, processor, task, exs, batch_size, constrained, num_beams)
            if pred_file is not None:
                for ex, p in zip(exs, preds):
                    pred_file.write(json.dumps({"source": source, "image_id": ex.image_id, "prompt": task.prompt(ex, processor.bins),
                                                **p.to_json()}) + "\n")
                pred_file.flush()
            scores = task.evaluate(exs, preds)
            n_err = sum(1 for p in preds if p.parsed.errors)
            scores["parse_error_rate"] = n_err / max(1, len(preds))
            scores["seconds"] = time.time() - t0
            scores["n"] = len(preds)
            for k, v in scores.items():
                metrics[f"{source}/{k}"] = v
            log.info("%s: %s", source, {k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()})
    finally:
        if pred_file is not None:
            pred_file.close()
    return metrics


def main(argv: Sequence[str] | None = None) -> int:
    from .data.readers.split import load_split
    from .models.io import from_pretrained

    ap = argparse.ArgumentParser(prog="vlseq eval", description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="checkpoint directory (vlseq train's final/ or best/)")
    ap.add_argument("--data", required=True, help="a split directory in the readers' formats (e.g. data/synth-tiny/val)")
    ap.add_argument("--tasks", nargs="*", default=None, help="tasks to evaluate (default: the checkpoint's)")
    ap.add_argument("--max-per-task", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--beams", type=int, default=1)
    ap.add_argument("--no-grammar", action="store_true", help="decode without the grammar (to measure what it buys)")
    ap.add_argument("--skip-bad", action="store_true", help="skip bad records (counted and logged) instead of stopping")
    ap.add_argument("--out", default=None, help="output directory (default: CHECKPOINT/eval-<split>)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model, tok, settings = from_pretrained(args.checkpoint)
    tasks = args.tasks or settings.get("tasks")
    processor = Processor(tok, settings["image_size"], settings["num_bins"], settings.get("max_prompt_tokens", 64),
                          settings.get("max_target_tokens", 128))
    data = load_split(args.data, tasks=tasks, skip_bad=args.skip_bad)
    data = {t: list(v)[: args.max_per_task] if args.max_per_task else list(v) for t, v in data.items() if v}
    if not data:
        print(f"vlseq eval: no examples for tasks {tasks} in {args.data}")
        return 1
    out = Path(args.out) if args.out else Path(args.checkpoint) / f"eval-{Path(args.data).name}"
    metrics = evaluate_examples(model, processor, data, args.batch_size, out, not args.no_grammar, args.beams)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from .viz import write_report_pages

    write_report_pages(out, data, out / "predictions.jsonl", settings["num_bins"])
    print(format_metrics(metrics))
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.jsonl'}, {out / 'index.html'}")
    return 0


HEADLINE = {
    "caption": ["cider", "bleu4"], "region_caption": ["cider"], "vqa": ["accuracy"], "classify": ["accuracy"],
    "refexp": ["acc@0.5"], "localize": ["acc@0.5"], "ground": ["recall@1", "recall@5"],
    "grounded_caption": ["f1_all", "f1_loc", "cider"], "detect": ["map_50", "map"],
}


def format_metrics(metrics: dict[str, Any]) -> str:
    """A markdown table: one row per source with its headline metrics and the parse-error rate."""
    sources = sorted({k.rsplit("/", 1)[0] for k in metrics})
    lines = ["| task | metric | value | parse errors | n |", "|---|---|---|---|---|"]
    for s in sources:
        task = s.split("@", 1)[0]
        for m in HEADLINE.get(task, []):
            v = metrics.get(f"{s}/{m}")
            if v is not None:
                lines.append(f"| {s} | {m} | {v:.3f} | {metrics.get(f'{s}/parse_error_rate', 0):.3f} | {metrics.get(f'{s}/n', '')} |")
    return "\n".join(lines)
