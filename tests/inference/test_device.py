"""Devices and precision: ``auto`` resolves to what the machine has, bad names fail with one clear
message, bfloat16 inference on the CPU runs end to end (pixels follow the weights' dtype, the pointer
head too) and gives outputs that parse; ``score_threshold`` / ``top_k`` select boxes by score."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from helpers import make_checkpoint, scene_image
from vlseq.inference.device import resolve_device, resolve_dtype
from vlseq.inference.pipeline import GroundedPhrase, Result, keep_objects

NO_CUDA = not torch.cuda.is_available()


def test_auto_is_cuda_when_present_else_cpu() -> None:
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device(" CPU ") == torch.device("cpu") and resolve_device(torch.device("cpu")).type == "cpu"


@pytest.mark.parametrize("spec,message", [("gpu", "is not one of auto, cpu, cuda, cuda:N or mps"),
                                          ("cuda:x", "is not one of"), ("", "is not one of"), (3, "must be a string")])
def test_bad_device_names_say_what_is_accepted(spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        resolve_device(spec)


@pytest.mark.skipif(not NO_CUDA, reason="this machine has CUDA")
def test_cuda_asked_for_but_absent() -> None:
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(ValueError, match="asks for CUDA, but this machine has no CUDA GPU"):
            resolve_device(spec)


def test_dtypes_and_float16_refused_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert resolve_dtype(None, cpu) == torch.float32 and resolve_dtype("bfloat16", cpu) == torch.bfloat16
    assert resolve_dtype(torch.bfloat16, cpu) == torch.bfloat16
    with pytest.raises(ValueError, match="float16 is not run on the CPU.*use bfloat16"):
        resolve_dtype("float16", cpu)
    with pytest.raises(ValueError, match="dtype 'half' is not one of float32, bfloat16, float16"):
        resolve_dtype("half", cpu)
    assert resolve_dtype("float16", torch.device("cuda")) == torch.float16  # checked against the device, not run


@pytest.fixture(scope="module")
def pointer_ckpt(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ck") / "pointer", pointer="cell_offset")


def test_bfloat16_on_cpu_end_to_end(pointer_ckpt) -> None:
    from vlseq import Pipeline

    pipe = Pipeline.from_pretrained(pointer_ckpt, dtype="bfloat16")  # device="auto": the CPU here
    assert pipe.dtype == torch.bfloat16 and pipe.device.type == ("cuda" if not NO_CUDA else "cpu")
    img = Image.fromarray(scene_image(0)).resize((90, 60))
    r = pipe(img, task="refexp", text="the red circle")
    assert r.errors == [] and r.sequence.startswith("<obj>")
    [(x1, y1, x2, y2)] = r.boxes
    assert 0 <= x1 < x2 <= 90 and 0 <= y1 < y2 <= 60 and 0 < r.scores[0] <= 1
    det = pipe(img, task="detect")
    assert det.errors == [] and det.boxes and len(det.scores) == len(det.boxes)
    assert set(det.labels) <= set(pipe.categories)
    assert isinstance(pipe(img, task="vqa", text="what colour is the circle?").text, str)
    sheet = pipe.attention(img, r, "refexp", "the red circle")  # the pointer head's maps, read in bfloat16
    assert sheet.size[0] > 0


def test_score_threshold_and_top_k_through_the_pipeline(pointer_ckpt) -> None:
    from vlseq import Pipeline

    pipe = Pipeline.from_pretrained(pointer_ckpt, device="cpu")
    img = Image.fromarray(scene_image(1))
    full = pipe(img, task="detect")
    assert len(full.scores) >= 2
    best = sorted(full.scores, reverse=True)
    top = pipe(img, task="detect", top_k=1)
    assert top.scores == [best[0]] and top.sequence == full.sequence  # the text stays what the model wrote
    cut = pipe(img, task="detect", score_threshold=best[1])
    assert sorted(cut.scores, reverse=True) == [s for s in best if s >= best[1]]
    with pytest.raises(ValueError, match="only greedy decoding gives"):
        pipe(img, task="detect", top_k=1, num_beams=2)
    with pytest.raises(ValueError, match=r"score_threshold must lie in \[0, 1\]"):
        pipe(img, task="detect", score_threshold=2)
    with pytest.raises(ValueError, match="top_k must be an integer >= 1"):
        pipe(img, task="detect", top_k=0)


def test_keep_objects_keeps_polygons_with_their_boxes() -> None:
    poly = [[(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)], [(2.0, 2.0), (3.0, 2.0), (3.0, 3.0)]]
    r = Result(task="instance_segment", prompt="", text="a b", sequence="", width=10, height=10, phrases=[
        GroundedPhrase("a", (0, 1), [(0, 0, 1, 1), (2, 2, 3, 3)], polygons=poly, scores=[0.2, 0.9]),
        GroundedPhrase("b", (2, 3), [(4, 4, 5, 5)], scores=[0.5])])
    kept = keep_objects(r, score_threshold=0.3)
    assert [p.text for p in kept.phrases] == ["a", "b"] and kept.boxes == [(2, 2, 3, 3), (4, 4, 5, 5)]
    assert kept.polygons == [poly[1]] and kept.scores == [0.9, 0.5]
    assert keep_objects(r, top_k=1).boxes == [(2, 2, 3, 3)]
    assert keep_objects(r, top_k=2).labels == ["a", "b"]  # sequence order kept
    assert keep_objects(r, score_threshold=0.95).phrases == []
    assert keep_objects(r) is r


def test_the_cli_offers_every_dtype_the_resolver_knows() -> None:
    """``--dtype``'s choices are listed without importing torch; they must be the resolver's names."""
    from vlseq.cli.options import DTYPES as CLI_DTYPES
    from vlseq.inference.device import DTYPES

    assert set(CLI_DTYPES) == set(DTYPES)
