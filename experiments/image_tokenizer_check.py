"""What an image tokenizer leaves for render-and-check: the world's checker on its round trips.

    python experiments/image_tokenizer_check.py --data data/synth-tiny-all/val --n 200 \\
        --tokenizers runs/image_tokenizer_64 runs/imtok-d4

A model that writes images as codes can pass the checker at most as often as the checker passes
the target images after the image tokenizer's encode-decode: a tokenizer that blurs small shapes
away caps ``check_all`` whatever the model does. Per tokenizer it prints the codes per image,
the held-out PSNR of the round trip and the checker's scores on it, beside the true images'.
"""

from __future__ import annotations

import argparse

import numpy as np

from vlseq.data.images import load_rgb
from vlseq.data.readers import load_split
from vlseq.evaluation.checker import found_counts, judge_counts
from vlseq.evaluation.render_check import world_checker
from vlseq.models.image_tokenizer import ImageTokenizer
from vlseq.tasks.image import psnr


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="a world's split folder (its generate_image examples)")
    ap.add_argument("--tokenizers", nargs="+", required=True, help="image tokenizer directories")
    ap.add_argument("--n", type=int, default=200)
    a = ap.parse_args(argv)
    exs = [ex for ex in load_split(a.data, tasks=["generate_image"], check_images=False)["generate_image"]
           if ex.meta.get("requirements")][:a.n]
    checker = world_checker(exs)
    if checker is None:
        raise SystemExit(f"{a.data}: not a split of a world written by vlseq synth (no checker)")
    reqs = [ex.meta["requirements"] for ex in exs]
    cs = checker.config.image_size
    truth = np.stack([load_rgb(ex.target_image, (cs, cs)) for ex in exs])
    rows = [("true images", "-", "-", judge_counts(checker.config, found_counts(checker, list(truth)), reqs))]
    for path in a.tokenizers:
        it = ImageTokenizer.from_pretrained(path)
        s = it.config.image_size
        images = truth if s == cs else np.stack([load_rgb(ex.target_image, (s, s)) for ex in exs])
        codes = it.encode_arrays(images)
        recon = it.decode_to_arrays(codes)
        db = float(np.mean([psnr(r, t) for r, t in zip(recon, images)]))
        judged = judge_counts(checker.config, found_counts(checker, list(recon)), reqs)
        rows.append((path, str(codes.shape[1]), f"{db:.1f}", judged))
    print("| images | codes | PSNR, dB | check_all | check_objects | check_colours | check_counts |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, n, db, j in rows:
        print(f"| {name} | {n} | {db} | {j['all']:.3f} | {j['objects']:.3f} | {j['colours']:.3f} | {j['counts']:.3f} |")
    print(f"\n{len(exs)} prompts of {a.data}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
