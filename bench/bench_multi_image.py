"""What an image sequence (a story) costs: encoder tokens and training-step time.

A story example carries up to five images; each is ``tokens_per_image`` encoder tokens, and a
batch is padded to its longest row's image count. So a story in a mixed batch makes every row
pay for its images, unless batches are grouped by image count. Measured on the ``tiny`` preset's
model (random weights, fp32, forward + backward + AdamW), one batch reused:

* ``1 image``: every row one image (the nine-task mixture);
* ``1 row of K images``: one row of ``K`` images, the others one (padded to ``K``: a mixed batch);
* ``K images``: every row ``K`` images (a batch of stories only).

    python bench/bench_multi_image.py                 # batch 64, K = 5
    python bench/bench_multi_image.py --quick         # a seconds-long smoke run
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    BOS,
    EOS,
    LOC_OFFSET,
    NUM_BINS,
    PAD,
    VOCAB,
    base_parser,
    print_table,
    set_threads,
    shift_right,
    synthetic_batch,
    time_calls,
)
from vlseq.models.vlseq_model import VLSeqModel  # noqa: E402
from vlseq.train.config import load_config  # noqa: E402


def build(preset: str, images: int, quick: bool) -> VLSeqModel:
    over = [f"model.vocab_size={VOCAB}", f"model.num_bins={NUM_BINS}", f"model.loc_offset={LOC_OFFSET}",
            f"model.max_images={images}", "model.max_positions=1024", f"model.pad_token_id={PAD}",
            f"model.bos_token_id={BOS}", f"model.eos_token_id={EOS}"]
    if quick:
        over += ["model.d_model=32", "model.ffn_dim=64", "model.encoder_layers=1", "model.decoder_layers=1",
                 "model.heads=2", "model.vision.channels=[8,16,32]"]
    torch.manual_seed(0)
    return VLSeqModel(load_config(preset, over).model)


def main(argv: list[str] | None = None) -> int:
    ap = base_parser(__doc__.split("\n")[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--images", type=int, default=5, help="K: images of the longest sequence")
    ap.add_argument("--prompt-len", type=int, default=24)
    ap.add_argument("--target-len", type=int, default=40)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args(argv)
    if args.quick:
        args.batch, args.steps = 4, 1
    threads = set_threads(args.threads)
    k = args.images
    model = build(args.preset, k, args.quick)
    s = model.config.image_size
    base = synthetic_batch(args.batch, s, args.prompt_len, args.target_len, args.seed)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()

    def inputs(n_images: int, rows_full: int) -> dict[str, torch.Tensor]:
        pix = base.pixel_values[:, None].repeat(1, n_images, 1, 1, 1)
        mask = torch.zeros(args.batch, n_images, dtype=torch.bool)
        mask[:, 0] = True
        mask[:rows_full] = True
        labels = base.target
        return {"pixel_values": pix, "image_mask": mask, "input_ids": base.prompt,
                "attention_mask": torch.ones_like(base.prompt), "decoder_input_ids": shift_right(labels),
                "labels": labels}

    def step(kw: dict[str, torch.Tensor]) -> None:
        opt.zero_grad(set_to_none=True)
        model(**kw)["loss"].backward()
        opt.step()

    variants = {"1 image": inputs(1, args.batch), f"1 row of {k} images": inputs(k, 1),
                f"{k} images": inputs(k, args.batch)}
    rows, first = [], None
    for name, kw in variants.items():
        t = time_calls(lambda kw=kw: step(kw), args.steps, warmup=1)
        med = sorted(t)[len(t) // 2]
        first = first or med
        n_tok = kw["pixel_values"].shape[1] * model.tokens_per_image + args.prompt_len
        rows.append([name, n_tok, f"{med:.3f}", f"{args.batch / med:.1f}", f"{med / first:.2f}x"])
    print_table(f"{args.preset}: {model.tokens_per_image} encoder tokens per image, batch {args.batch}, prompt "
                f"{args.prompt_len}, target {args.target_len}, {threads} threads, median of {args.steps} steps",
                ["batch", "encoder tokens per row", "step s", "samples/s", "vs 1 image"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
