"""Evaluation: batched grammar-constrained generation, parsing, and each task's standard metric.

``vlseq eval --checkpoint DIR --data SPLIT_DIR [--tasks ...] [--out DIR]`` writes
``predictions.jsonl`` (appended as batches finish, so nothing computed is lost),
``metrics.json`` and an HTML page + PNG sheet of examples with predicted and true boxes.
Image-output tasks also get the render-and-check scores and the image tokenizer's
reconstruction PSNR (:mod:`vlseq.render_check`).
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import LogitsProcessor

from .codec.tokens import OBJ_CLOSE, OBJ_OPEN, POLY_CLOSE, POLY_OPEN
from .data.example import Example
from .models.constrain import grammar_for, keypoint_ids
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
        # <obj> label box </obj> </s>, then room for a whole polygon and every keypoint where the
        # grammar allows them (a budget without that room forbids them: empty masks, no points)
        n = 8 + max(len(processor.tokenizer.label_ids(l)) for l in spec.labels)
        if spec.polygons:
            n += 2 + 2 * spec.max_polygon_points
        # each name as the grammar tokenizes it (after a coordinate), then its two coordinates
        n += sum(len(ids) + 2 for ids in keypoint_ids(spec, processor.tokenizer) or ())
        return min(limit, n)
    if spec.kind == "text":
        return min(limit, 48)
    if spec.kind == "image":  # exactly the grid, then </s>
        return min(limit, spec.image_tokens + 1)
    return limit


LABEL = -2  #: box_slots' mark for a word of an object's label / phrase (inside <obj>, before its first coordinate)


def box_slots(ids: Sequence[int], tokenizer) -> list[int]:
    """Which box coordinate each position of a row is: 0..3 for ``x1 y1 x2 y2``, :data:`LABEL` for
    the words of an object's label before its first coordinate, -1 for anything else.

    ``ids`` are decoder ids (no start token). Boxes are read the way :func:`vlseq.codec.parse`
    reads them: inside ``<obj>``, four coordinates at a time, in sequence order; coordinates inside
    ``<poly>`` and the two after a keypoint name (text after a coordinate) are not box coordinates;
    the row ends at ``</s>``. An unfinished last box keeps its slots.
    """
    obj_open, obj_close = tokenizer.special_ids[OBJ_OPEN], tokenizer.special_ids[OBJ_CLOSE]
    poly_open, poly_close = tokenizer.special_ids[POLY_OPEN], tokenizer.special_ids[POLY_CLOSE]
    lo, hi = tokenizer.loc_offset, tokenizer.loc_offset + tokenizer.num_bins
    special = set(tokenizer.special_ids.values()) | set(tokenizer.hf.all_special_ids)
    out = [-1] * len(ids)
    slot = 0
    in_obj = in_poly = seen_coord = False
    kp_coords: int | None = None  # coordinates read of the pending keypoint (None: no keypoint pending)
    for pos, i in enumerate(ids):
        i = int(i)
        if i == tokenizer.eos_id:
            break
        if i == obj_open or i == obj_close:
            in_obj, in_poly, seen_coord, kp_coords, slot = i == obj_open, False, False, None, 0
        elif not in_obj:
            continue
        elif i == poly_open:
            in_poly, kp_coords, slot = True, None, 0
        elif i == poly_close:
            in_poly, seen_coord = False, True
        elif in_poly:
            continue
        elif lo <= i < hi:
            seen_coord = True
            if kp_coords is not None:
                kp_coords = None if kp_coords == 1 else kp_coords + 1
            else:
                out[pos] = slot
                slot = (slot + 1) % 4
        elif i not in special and seen_coord:  # a keypoint's name (or more of it): its 2 coordinates follow
            kp_coords, slot = 0, 0
        elif i not in special:
            out[pos] = LABEL
    return out


def box_scores(ids: Sequence[int], probs: Sequence[float], tokenizer) -> list[float]:
    """Per-box scores of one generated row: the probability of the object's label (the product over
    its tokens) times the mean probability of the box's 4 coordinate tokens.

    ``ids`` are the generated ids after the decoder start token and ``probs[i]`` the probability
    ``ids[i]`` had when it was chosen; boxes and labels are found by :func:`box_slots`. The label
    factor is Pix2Seq's detection score: a box in the right place under an unsure class then ranks
    below one whose class the model is sure of (which is what COCO AP, ranked per class, rewards).
    """
    out: list[float] = []
    group: list[float] = []
    label, in_label = 1.0, False
    for slot, p in zip(box_slots(ids, tokenizer), probs):
        if slot == LABEL:
            label, in_label = (label if in_label else 1.0) * float(p), True
            continue
        in_label = False
        if slot == 0:
            group = []
        if slot >= 0:
            group.append(float(p))
            if slot == 3 and len(group) == 4:
                out.append(label * sum(group) / 4)
    return out


class ChosenTokenProbs(LogitsProcessor):
    """Records the probability each generated token had under the final decoding distribution.

    Put it last in the logits processors (after the grammar), greedy decoding only. Each call
    sees the token chosen at the previous step (``input_ids[:, -1]``) and the distribution it was
    chosen from; :meth:`probs` adds the last step. The numbers are those of generate's
    ``output_scores`` after a softmax, without keeping (steps, batch, vocab) scores in memory, and
    it works for any model whose ``generate`` takes logits processors.
    """

    def __init__(self) -> None:
        self.steps: list[torch.Tensor] = []
        self._prev: torch.Tensor | None = None

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if self._prev is not None:
            self.steps.append(self._prev.gather(1, input_ids[:, -1:]).squeeze(1))
        self._prev = torch.softmax(scores.float(), dim=-1)
        return scores

    def probs(self, ids: torch.Tensor) -> torch.Tensor | None:
        """(B, T-1) probabilities of ``ids[:, 1:]`` (the returned rows after the start token);
        None when the steps recorded do not line up with the row length."""
        if self._prev is None:
            return None
        last = self._prev.gather(1, ids[:, -1:].to(self._prev.device)).squeeze(1)
        out = torch.stack(self.steps + [last], dim=1)
        return out if out.shape[1] == ids.shape[1] - 1 else None


@torch.no_grad()
def generate_predictions(model, processor: Processor, task: Task, examples: Sequence[Example], constrained: bool = True,
                         num_beams: int = 1, scores: bool = False) -> list[Prediction]:
    """Generate and parse one batch: one prediction per example, in the order given.

    With ``scores`` (greedy decoding only), each prediction gets per-box scores
    (:func:`box_scores`): the probabilities under the decoding distribution, i.e. after the
    grammar's mask (:class:`ChosenTokenProbs`), when their count matches the parsed boxes.
    """
    model.eval()
    device = next(model.parameters()).device
    chunk = list(examples)
    batch = processor.collate([processor.encode(task, ex, with_target=False) for ex in chunk])
    batch = {k: v.to(device) for k, v in batch.items()}
    budget = max(max_new_tokens_for(task, ex, processor) for ex in chunk)
    procs: list[Any] = []
    if constrained:
        grammars = [grammar_for(task.grammar(ex), processor.tokenizer) for ex in chunk]
        procs = [GrammarLogitsProcessor(grammars, prompt_length=1, max_new_tokens=budget)]
    recorder = ChosenTokenProbs() if scores and num_beams == 1 else None
    if recorder is not None:
        procs.append(recorder)
    ids = model.generate(batch["pixel_values"], batch["input_ids"], batch["attention_mask"], batch["image_mask"],
                         logits_processor=procs, max_new_tokens=budget, num_beams=num_beams)
    probs = recorder.probs(ids) if recorder is not None else None
    rows = probs.tolist() if probs is not None else None
    preds: list[Prediction] = []
    for b, (ex, row) in enumerate(zip(chunk, ids.tolist())):
        pred = task.parse(processor.decode(row[1:]), ex, processor.bins)
        if rows is not None:
            per_box = box_scores(row[1:], rows[b], processor.tokenizer)
            if len(per_box) == len(pred.objects):
                pred.scores = per_box
        preds.append(pred)
    return preds


def predict_examples(model, processor: Processor, task: Task, examples: Sequence[Example], batch_size: int = 32,
                     constrained: bool = True, num_beams: int = 1, scores: bool = False) -> list[Prediction]:
    """Generate and parse one prediction per example (rows in the order given), ``batch_size`` at a time.

    ``scores``: add per-box scores where greedy decoding gives them (see :func:`generate_predictions`).
    """
    preds: list[Prediction] = []
    for i in range(0, len(examples), batch_size):
        preds.extend(generate_predictions(model, processor, task, examples[i : i + batch_size], constrained, num_beams,
                                          scores))
    return preds


def evaluate_examples(model, processor: Processor, examples: dict[str, Sequence[Example]], batch_size: int = 32,
                      out_dir: Path | None = None, constrained: bool = True, num_beams: int = 1,
                      categories: Sequence[str] | None = None) -> dict[str, Any]:
    """Metrics per source (``task`` or ``task@dataset``), flattened as ``source/metric``.

    With ``out_dir``, predictions are appended to ``out_dir/predictions.jsonl`` per task as
    they are computed. Image-output tasks (``processor`` holds the image tokenizer) add
    :func:`vlseq.render_check.image_metrics`, whose detection runs over ``categories`` (the
    checkpoint's; default: the labels the examples ask for).
    """
    metrics: dict[str, Any] = {}
    pred_file = None
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        pred_file = (out_dir / "predictions.jsonl").open("a")
    try:
        for source, exs in examples.items():
            if not exs:
                continue
            task = processor.bind(get_task(source.split("@", 1)[0]))
            t0 = time.time()
            # Ranked outputs (object lists) get per-box scores so mAP ranks by confidence.
            preds = predict_examples(model, processor, task, exs, batch_size, constrained, num_beams,
                                     scores=task.output == "objects" and num_beams == 1)
            if pred_file is not None:
                for ex, p in zip(exs, preds):
                    pred_file.write(json.dumps({"source": source, "image_id": ex.image_id, "prompt": task.prompt(ex, processor.bins),
                                                **p.to_json()}) + "\n")
                pred_file.flush()
            scores = task.evaluate(exs, preds)
            if task.output == "image":
                from .render_check import image_metrics

                scores.update(image_metrics(model, processor, task, exs, preds, categories, batch_size))  # type: ignore[arg-type]
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


def decodable_examples(processor: Processor, examples: Sequence[Example], report) -> list[Example]:
    """The examples whose images decode; each other one is logged and counted in ``report`` (a ReadReport).

    A truncated image passes the readers' header check and fails only at pixel decode, so skip mode
    decodes up front (the processor caches the pixels for generation).
    """
    from .data.readers.validate import DataError, RecordGuard

    kept = []
    for ex in examples:
        try:
            for ref in ex.images:
                processor.image_array(ref)
        except DataError as e:
            RecordGuard(e.file, skip_bad=True, report=report).handle(
                DataError(e.file, ex.source or ex.image_id or None, e.problem, e.detail))
            continue
        kept.append(ex)
    return kept


def main(argv: Sequence[str] | None = None) -> int:
    from .data.readers.split import load_split
    from .models.io import from_pretrained, load_image_tokenizer

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
    ap.add_argument("--image-use", type=int, default=0, metavar="N",
                    help="also compare the loss with true vs shuffled images on N examples per task (image_use.json)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    model, tok, settings = from_pretrained(args.checkpoint)
    tasks = args.tasks or settings.get("tasks")
    processor = Processor(tok, settings["image_size"], settings["num_bins"], settings.get("max_prompt_tokens", 64),
                          settings.get("max_target_tokens", 128),
                          image_tokenizer=load_image_tokenizer(args.checkpoint, tok.num_image_tokens))
    data = load_split(args.data, tasks=tasks, skip_bad=args.skip_bad)
    report = data.report
    data = {t: list(v)[: args.max_per_task] if args.max_per_task else list(v) for t, v in data.items() if v}
    if args.skip_bad:
        data = {t: kept for t, v in data.items() if (kept := decodable_examples(processor, v, report))}
        log.info("%s: %s", args.data, report.summary())
    if not data:
        print(f"vlseq eval: no examples for tasks {tasks} in {args.data}")
        return 1
    out = Path(args.out) if args.out else Path(args.checkpoint) / f"eval-{Path(args.data).name}"
    metrics = evaluate_examples(model, processor, data, args.batch_size, out, not args.no_grammar, args.beams,
                                categories=settings.get("categories") or None)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from .viz import write_report_pages

    decode = processor.bind(get_task("generate_image")).decode_image if processor.image_tokenizer is not None else None
    write_report_pages(out, data, out / "predictions.jsonl", settings["num_bins"], decode_image=decode)
    print(format_metrics(metrics))
    if args.image_use:
        from .diagnostics import format_image_use, image_use

        uses = image_use(model, processor, data, n=args.image_use)
        (out / "image_use.json").write_text(json.dumps({t: {"loss": a, "loss_shuffled": b} for t, (a, b) in uses.items()}, indent=2))
        print(format_image_use(uses))
    print(f"wrote {out / 'metrics.json'}, {out / 'predictions.jsonl'}, {out / 'index.html'}")
    return 0


HEADLINE = {
    "caption": ["cider", "bleu4"], "region_caption": ["cider"], "vqa": ["accuracy"], "classify": ["accuracy"],
    "refexp": ["acc@0.5"], "localize": ["acc@0.5"], "ground": ["recall@1", "recall@5"],
    "grounded_caption": ["f1_all", "f1_loc", "cider"], "detect": ["map_50", "map", "map_50_agnostic"],
    "segment": ["miou", "box_acc@0.5"], "instance_segment": ["mask_map", "mask_map_50"], "keypoints": ["pck@0.1"],
    "generate_image": ["check_all", "check_all_truth", "psnr", "recon_psnr"],
    "edit_image": ["check_all", "check_all_truth", "psnr", "recon_psnr"],
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
