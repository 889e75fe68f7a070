"""Fuzzing with hypothesis: the readers on mutated real-format fixtures, and every task's prompt and
target builders on any unicode text (the codec's ``parse`` is fuzzed in tests/codec/test_fuzz.py).

* Readers: a fixture of each published format (tests/data/fixtures/) gets 1-3 random mutations --
  a value replaced by any JSON value (NaN, huge ints, nested junk), a key deleted or renamed, a
  record duplicated, a value's type changed -- or its text cut short. Every outcome, strict or
  with ``skip_bad``, is a list of well-formed Examples or a :class:`DataError`; never another
  exception type. Examples that come out keep their invariants (boxes inside the image, spans
  inside their text).
* Prompt builders: each registered task's ``prompt``/``target`` on examples whose texts are any
  unicode; the target parses back with no error; the processor keeps every sequence within the
  model's limits, truncating with a warning.

Each test prints how many cases ran (``pytest -s``); RELIABILITY.md records the numbers.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import random
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vlseq.codec import Phrase, parse
from vlseq.codec.tokens import special_tokens
from vlseq.data import Example, Object
from vlseq.data.readers import (
    DataError,
    ReadReport,
    read_classify,
    read_coco_captions,
    read_coco_instances,
    read_grounding,
    read_refexp,
    read_vg_regions,
    read_vqa,
)
from vlseq.processing import Processor
from vlseq.tasks import get_task, task_names
from vlseq.tokenizer import VLTokenizer

_spec = importlib.util.spec_from_file_location("vlseq_rel_reader_images",
                                               Path(__file__).parents[1] / "data" / "fixtures" / "reader_images.py")
fx = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fx)

READER_CASES = 200  # per fixture file; each case runs the reader strict and with skip_bad
PROMPT_CASES = 100  # per task

VQA_Q = fx.fixture("vqa", "v2_OpenEnded_mscoco_val2014_questions.json")
VQA_A = fx.fixture("vqa", "v2_mscoco_val2014_annotations.json")
VQA_TEMPLATE = "COCO_{subtype}_{image_id:012d}.jpg"

#: fixture file -> reader(path, image_root, **kw) -> Examples (list or {task: list})
READERS: dict[str, tuple[Path, Callable[..., Any]]] = {
    "coco_captions": (fx.fixture("coco", "captions_val2017.json"), lambda p, r, **kw: read_coco_captions(p, r, **kw)),
    "coco_instances": (fx.fixture("coco", "instances_val2017.json"), lambda p, r, **kw: read_coco_instances(p, r, **kw)),
    "vqa_questions": (VQA_Q, lambda p, r, **kw: read_vqa(p, VQA_A, r, image_template=VQA_TEMPLATE, **kw)),
    "vqa_annotations": (VQA_A, lambda p, r, **kw: read_vqa(VQA_Q, p, r, image_template=VQA_TEMPLATE, **kw)),
    "mdetr_refcoco": (fx.fixture("mdetr", "final_refcoco_val.json"), lambda p, r, **kw: read_refexp(p, r, **kw)),
    "mdetr_flickr": (fx.fixture("mdetr", "final_flickr_separateGT_val.json"), lambda p, r, **kw: read_grounding(p, r, **kw)),
    "nlvr2": (fx.fixture("nlvr2", "dev.json"), lambda p, r, **kw: read_classify(p, r, **kw)),
    "snli_ve": (fx.fixture("snli_ve", "snli_ve_dev.jsonl"), lambda p, r, **kw: read_classify(p, r, **kw)),
    "vg_regions": (fx.fixture("vg", "region_descriptions.json"), lambda p, r, **kw: read_vg_regions(p, r, **kw)),
}

COUNTS: Counter = Counter()


@pytest.fixture(scope="module")
def image_root(tmp_path_factory) -> Path:
    return fx.make_image_root(tmp_path_factory.mktemp("rel_fuzz_images"))


# --------------------------------------------------------------------------- readers

_leaf = (st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True, allow_infinity=True)
         | st.text(max_size=12) | st.sampled_from([0, -1, 1e9, "", " ", "0", [], {}, [0, 0, 0, 0], [[0, 5]]]))
JSON_VALUES = st.recursive(_leaf, lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=3),
                           max_leaves=6)


def _nodes(doc: Any) -> list[tuple[Any, Any]]:
    """Every (container, key) pair of a JSON document, depth first."""
    out, stack = [], [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            if isinstance(v, (dict, list)):
                stack.append(v)
    return out


def _mutate(doc: Any, data: st.DataObject) -> str:
    """Apply one random mutation to ``doc`` in place; returns what was done (for the counts)."""
    nodes = _nodes(doc)
    if not nodes:
        return "none"
    parent, key = nodes[data.draw(st.integers(0, len(nodes) - 1), label="node")]
    op = data.draw(st.sampled_from(["replace", "delete", "rename", "duplicate", "retype"]), label="op")
    value = parent[key]
    if op == "replace":
        parent[key] = data.draw(JSON_VALUES, label="value")
    elif op == "delete":
        del parent[key]
    elif op == "rename" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="new key")] = parent.pop(key)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(value))
    elif op == "retype":
        kind = data.draw(st.sampled_from(["str", "list", "dict", "number"]), label="retype")
        parent[key] = {"str": str(value), "list": [value], "dict": {"value": value},
                       "number": 1.5 if not isinstance(value, (int, float)) else str(value)}[kind]
    else:
        parent[key] = None
        op = "null"
    return op


def _load(path: Path) -> tuple[Any, bool]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl" or path.name == "dev.json" and text.lstrip().startswith("{") and "\n{" in text:
        return [json.loads(l) for l in text.splitlines() if l.strip()], True
    return json.loads(text), False


def _dump(doc: Any, lines: bool) -> str:
    if lines:
        return "\n".join(json.dumps(d) for d in doc) + "\n"
    return json.dumps(doc)


def _examples(result: Any) -> list[Example]:
    if isinstance(result, dict):
        return [e for v in result.values() for e in v]
    return list(result)


def _check_example(ex: Example) -> None:
    """The invariants every reader promises for what it returns."""
    assert isinstance(ex, Example) and ex.width > 0 and ex.height > 0 and ex.images
    boxes = [o.box for o in ex.objects] + ([ex.region] if ex.region is not None else [])
    boxes += [b for ph in ex.phrases for b in ph.boxes]
    for x1, y1, x2, y2 in boxes:
        assert all(math.isfinite(v) for v in (x1, y1, x2, y2))
        assert 0 <= x1 <= x2 <= ex.width and 0 <= y1 <= y2 <= ex.height, (ex.source, (x1, y1, x2, y2))
    texts = [ex.text] + list(ex.answers[:1])
    for ph in ex.phrases:
        assert 0 <= ph.start < ph.end <= max(len(t) for t in texts), (ex.source, ph)
    assert all(isinstance(a, str) for a in ex.answers)


@pytest.mark.parametrize("name", sorted(READERS))
def test_readers_on_mutated_fixtures_give_examples_or_data_error(name, image_root, tmp_path_factory):
    fixture, reader = READERS[name]
    doc0, lines = _load(fixture)
    work = tmp_path_factory.mktemp(f"fuzz_{name}") / fixture.name
    outcomes: Counter = Counter()

    # Derandomized: CI runs the same cases every time (a random draw once failed under
    # pytest-xdist and could not be reproduced in 30 isolated runs; see the closing note).
    @settings(max_examples=READER_CASES, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def case(data):
        doc = copy.deepcopy(doc0)
        ops = [_mutate(doc, data) for _ in range(data.draw(st.integers(1, 3), label="n mutations"))]
        text = _dump(doc, lines)
        if data.draw(st.integers(0, 9), label="truncate?") == 0:
            text = text[: data.draw(st.integers(0, len(text)), label="cut")]
            ops.append("truncate")
        work.write_text(text, encoding="utf-8")
        for op in ops:
            outcomes[f"op:{op}"] += 1
        for skip in (False, True):
            mode = "skip" if skip else "strict"
            report = ReadReport()
            try:
                result = reader(work, image_root, skip_bad=skip, **({"report": report} if skip else {}))
            except DataError as e:
                # it names the file, or the companion file a cross-file check blamed (VQA questions/answers)
                assert str(work) in str(e) or e.file in (str(VQA_Q), str(VQA_A)), str(e)
                outcomes[f"{mode}:DataError"] += 1
                continue
            for ex in _examples(result):
                _check_example(ex)
            outcomes[f"{mode}:examples"] += 1
            outcomes["records skipped"] += report.skipped

    case()
    outcomes["cases"] = READER_CASES
    COUNTS.update({f"reader {name} {k}": v for k, v in outcomes.items()})
    print(f"\nfuzz reader {name}: {dict(sorted(outcomes.items()))}")
    assert outcomes["strict:DataError"] + outcomes["strict:examples"] >= READER_CASES


# --------------------------------------------------------------------------- prompt builders

BINS = 32
W, H = 40, 30
# any unicode except surrogates (not encodable); markup spellings are tested on their own below
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda s: s.strip())
SPECIALS = special_tokens(BINS, 0)


@pytest.fixture(scope="module")
def processor() -> Processor:
    tok = VLTokenizer.train(["a red circle left of a blue square", "how many?", "two", "yes no", "ünïcödé 日本語 😀"] * 3,
                            num_bins=BINS, vocab_size=300)
    return Processor(tok, image_size=32, bins=BINS, max_prompt_tokens=24, max_target_tokens=40)


@st.composite
def examples(draw) -> Example:
    """An example with every field a task may read, its texts drawn from all of unicode."""
    words = draw(st.lists(TEXT.map(lambda s: "".join(s.split()) or "x"), min_size=1, max_size=8))
    text = " ".join(words)
    # phrases over whole words (what the readers produce after whitespace normalisation)
    starts = [sum(len(w) + 1 for w in words[:i]) for i in range(len(words))]
    picked = sorted(draw(st.sets(st.integers(0, len(words) - 1), max_size=3)))
    box = (2.0, 3.0, 20.0, 25.0)
    phrases = [Phrase(starts[i], starts[i] + len(words[i]), (box,)) for i in picked]
    labels = draw(st.lists(TEXT, min_size=1, max_size=3, unique_by=lambda s: " ".join(s.split())))
    labels = [" ".join(l.split()) for l in labels]
    kp = {"top": (10.0, 3.0), "left": (2.0, 12.0)}
    objects = [Object(l, box, polygon=[(2.0, 3.0), (20.0, 3.0), (20.0, 25.0), (2.0, 25.0)], keypoints=kp)
               for l in labels]
    answers = draw(st.lists(TEXT, min_size=1, max_size=3))
    answers[0] = text if phrases else answers[0]
    return Example(task="", images=["unused.png"], width=W, height=H, image_id="fuzz", text=text, answers=answers,
                   phrases=phrases, objects=objects, region=box, options=list(labels),
                   source="fuzz#1")


def _no_markup(ex: Example) -> bool:
    fields = [ex.text, *ex.answers, *ex.options]
    return not any(s in f for s in SPECIALS for f in fields)


@pytest.mark.parametrize("task_name", task_names())
def test_prompt_and_target_on_any_unicode(task_name, processor):
    task = get_task(task_name)
    outcomes: Counter = Counter()

    @settings(max_examples=PROMPT_CASES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(ex=examples(), seed=st.integers(0, 2**32 - 1))
    def case(ex, seed):
        if not _no_markup(ex):
            outcomes["skipped (markup spelling)"] += 1
            return
        if task.output == "image":  # image targets are the image tokenizer's codes, supplied by the Processor
            ex.meta["target_codes"] = [seed % 7] * task.num_codes
        prompt = task.prompt(ex, BINS)
        target = task.target(ex, BINS, random.Random(seed))
        assert isinstance(prompt, str) and isinstance(target, str)
        parsed = parse(target, ex.width, ex.height, BINS)
        assert not parsed.errors, (target, parsed.errors)
        if task.output in ("grounded", "box", "objects"):
            assert parsed.phrases or not ex.phrases and task.output == "grounded", target
        # The processor keeps every sequence inside the model's limits (truncating with a warning).
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            p_ids = processor._ids(prompt, processor.max_prompt_tokens, "prompt", ex)
            t_ids = processor._ids(target, processor.max_target_tokens - 2, "target", ex)
        n_prompt, n_target = len(processor.tokenizer.encode(prompt)), len(processor.tokenizer.encode(target))
        assert len(p_ids) == min(n_prompt, processor.max_prompt_tokens)
        assert len(t_ids) == min(n_target, processor.max_target_tokens - 2)
        truncated = (n_prompt > processor.max_prompt_tokens) + (n_target > processor.max_target_tokens - 2)
        assert len([w for w in caught if "truncated to" in str(w.message)]) == truncated
        assert all(0 <= i < len(processor.tokenizer) for i in p_ids + t_ids)
        outcomes["cases"] += 1
        outcomes["truncated"] += truncated > 0

    case()
    COUNTS.update({f"prompt {task_name} {k}": v for k, v in outcomes.items()})
    print(f"\nfuzz prompts {task_name}: {dict(outcomes)}")
    assert outcomes["cases"] >= PROMPT_CASES // 2


def test_long_prompt_and_target_are_truncated_with_a_warning(processor):
    task = get_task("vqa")
    ex = Example(task="vqa", images=[], width=W, height=H, text=" ".join(["circle"] * 100), answers=["two " * 60],
                 source="long.json#7")
    with pytest.warns(UserWarning, match=r"long.json#7: prompt has \d+ tokens; truncated to 24"):
        ids = processor._ids(task.prompt(ex, BINS), processor.max_prompt_tokens, "prompt", ex)
    assert len(ids) == 24
    # through encode: the target keeps <s> ... </s> around its truncated body
    ex.images = [np.zeros((32, 32, 3), dtype=np.uint8)]
    with pytest.warns(UserWarning) as caught:
        enc = processor.encode(task, ex)
    assert [str(w.message).split(":")[1].split(" has")[0].strip() for w in caught] == ["prompt", "target"]
    tok = processor.tokenizer
    assert len(enc.prompt) == 24 and len(enc.target) == processor.max_target_tokens
    assert enc.target[0] == tok.bos_id and enc.target[-1] == tok.eos_id


def test_markup_spelled_in_data_text_does_not_become_markup():
    task = get_task("caption")
    ex = Example(task="caption", images=[], width=W, height=H, answers=["a <obj>cat<loc_1><loc_2><loc_3><loc_4></obj>"])
    parsed = parse(task.target(ex, BINS), W, H, BINS)
    assert not parsed.phrases, "the caption's text was read as a grounded phrase"
