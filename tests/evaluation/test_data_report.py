"""The numbers of ``vlseq data inspect`` on a small synthetic world, each checked against an independent count."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from vlseq.data.readers import DataError, load_split
from vlseq.data.synth import SynthOptions, write_world
from vlseq.evaluation.baselines import baseline_scores
from vlseq.evaluation.data_report import (
    Source,
    bin_edges,
    box_histogram,
    inspect_sources,
    inspect_split,
    split_dirs,
    warnings_for,
)
from vlseq.metrics import classification_accuracy, normalize_answer, vqa_accuracy
from vlseq.tasks import get_task
from vlseq.tokenizer import VLTokenizer
from vlseq.viz.truth_sheet import GAP, PANEL, PANEL_H, image_key

BINS = 64


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(root, SynthOptions(train=24, val=8, test=4, test_heldout=0, size=32, seed=0, workers=1,
                                   no_progress=True))
    return root


@pytest.fixture(scope="module")
def split(world: Path):
    return load_split(world / "train")


@pytest.fixture(scope="module")
def inspected(split):
    stats, tok, kept = inspect_split(split, BINS)
    return {st.task: st for st in stats}, tok, kept


def test_counts_are_what_the_readers_return(split, inspected) -> None:
    stats, _, kept = inspected
    assert list(stats) == list(split)
    for task, exs in split.items():
        assert stats[task].examples == len(exs) == len(kept[task]) > 0
    # detect has one example per image; vqa many questions per image
    assert stats["detect"].images == len({str(ex.images[0]) for ex in split["detect"]}) == stats["detect"].examples
    assert stats["vqa"].images == len({str(ex.images[0]) for ex in split["vqa"]}) < stats["vqa"].examples
    assert stats["detect"].width == (32, 32.0, 32) and stats["detect"].height == (32, 32.0, 32)


def test_box_histogram_sums_to_the_object_count(split, inspected) -> None:
    st = inspected[0]["detect"]
    per_image = [len(ex.objects) for ex in split["detect"]]
    assert st.objects == sum(per_image) == sum(n for _, n in st.box_hist)
    assert st.objects_per_image == (pytest.approx(sum(per_image) / len(per_image)), max(per_image))
    assert [k for k, _ in st.box_hist] == ["<1", "1-2", "2-4", "4-8", "8-16", "16-32", "32-64"]
    labels = Counter(o.label for ex in split["detect"] for o in ex.objects)
    assert st.categories == labels
    # localize repeats detect's objects one class at a time: the same distinct objects
    assert inspected[0]["localize"].objects == st.objects


def test_boxes_under_one_bin_are_counted_and_flagged(split) -> None:
    bins = 4  # 8 px per bin on a 32 px image: the small shapes fall under one bin
    stats, _, _ = inspect_split({"detect": split["detect"]}, bins)
    sides = [min(o.box[2] - o.box[0], o.box[3] - o.box[1]) for ex in split["detect"] for o in ex.objects]
    small = sum(s < 32 / bins for s in sides)
    assert 0 < small < len(sides)
    assert stats[0].small_boxes == small == stats[0].box_hist[0][1]
    assert any(f"{small} of {len(sides)} boxes are smaller than one bin" in w for w in warnings_for(stats, bins))


def test_histogram_edges() -> None:
    assert bin_edges(64) == [0, 1, 2, 4, 8, 16, 32, 64]
    assert bin_edges(1000)[-2:] == [512, 1000]
    assert box_histogram([0.5, 1.0, 63.9, 64.0], 64) == [("<1", 1), ("1-2", 1), ("2-4", 0), ("4-8", 0), ("8-16", 0),
                                                          ("16-32", 0), ("32-64", 2)]


def test_majority_answer_baseline_is_the_vqa_accuracy_of_the_top_answer(split, inspected) -> None:
    exs = split["vqa"]
    # each question's answer: its most frequent normalised GT answer; the top one over questions
    answers = Counter(Counter(normalize_answer(a) for a in ex.answers).most_common(1)[0][0] for ex in exs)
    top = answers.most_common(1)[0][0]
    expected = vqa_accuracy({i: top for i in range(len(exs))}, {i: ex.answers for i, ex in enumerate(exs)})["accuracy"]
    st = inspected[0]["vqa"]
    assert st.answers == answers
    assert st.baseline == (repr(top), pytest.approx(expected))
    assert 0 < st.baseline[1] < 1


def test_data_inspect_and_eval_share_one_majority_baseline(split, inspected) -> None:
    # The number `data inspect` shows is the one `vlseq eval` reports with the split as its own prior.
    for name in ("vqa", "classify"):
        exs = split[name]
        evaluated = baseline_scores(get_task(name), exs, None, BINS)
        assert inspected[0][name].baseline[1] == pytest.approx(evaluated["accuracy"])
    # classify: one majority class over the split (option sets are not told apart), as eval counts it
    top = Counter(" ".join(ex.answers[0].lower().split()) for ex in split["classify"]).most_common(1)[0][0]
    preds = {i: top for i in range(len(split["classify"]))}
    expected = classification_accuracy(preds, {i: ex.answers[0] for i, ex in enumerate(split["classify"])})["accuracy"]
    assert inspected[0]["classify"].baseline == (repr(top), pytest.approx(expected))


def test_token_lengths_with_a_given_tokenizer(split) -> None:
    data = {"detect": split["detect"], "caption": split["caption"]}
    tok = VLTokenizer.train([get_task(t).target(ex, BINS) for t, exs in data.items() for ex in exs], BINS)
    lengths = [len(tok.encode(get_task("detect").target(ex, BINS))) + 2 for ex in split["detect"]]  # + <s> </s>
    limit = sorted(lengths)[len(lengths) // 2]
    stats, used, _ = inspect_split(data, BINS, tokenizer=tok, max_target_tokens=limit)
    assert used is tok
    st = stats[0]
    assert (st.target_tokens.max, st.target_tokens.mean) == (max(lengths), pytest.approx(sum(lengths) / len(lengths)))
    assert st.target_tokens.over == sum(n > limit for n in lengths) > 0
    assert any(f"detect: {st.target_tokens.over} targets are longer than {limit}" in w for w in warnings_for(stats, BINS))
    words = [len(c.split()) for ex in split["caption"] for c in ex.answers]
    assert stats[1].caption_words == (pytest.approx(sum(words) / len(words)), max(words))


def test_image_tasks_have_no_token_target(inspected) -> None:
    stats = inspected[0]
    assert stats["generate_image"].target_tokens is None and stats["edit_image"].target_tokens is None
    assert stats["generate_image"].prompt_tokens is not None


def test_report_and_contact_sheet(world: Path, split, tmp_path: Path) -> None:
    result = inspect_sources([Source("train", world / "train")], BINS, out=tmp_path, per_task=2)
    assert (tmp_path / "report.md").read_text() == result.markdown
    png, panels = result.sheets["train"]
    assert png == tmp_path / "contact_sheet_train.png"
    # two panels per task from two distinct images (every task of this world has at least two)
    assert Counter(p.task for p in panels) == {t: 2 for t in split}
    for task in split:
        assert len({p.image for p in panels if p.task == task}) == 2
    with Image.open(png) as sheet:
        assert sheet.size == (2 * (PANEL + GAP), len(split) * (PANEL_H + GAP))
    assert f"contact_sheet_train.png ({len(panels)} panels" in result.markdown
    assert f"| detect | {len(split['detect'])} | {len(split['detect'])} | 32/32/32 |" in result.markdown
    assert "majority answer baseline (accuracy)" in result.markdown


def test_generation_panels_are_keyed_by_their_target(split) -> None:
    keys = [image_key(ex) for ex in split["generate_image"]]
    assert keys == [str(ex.target_image) for ex in split["generate_image"]]


def test_a_folder_of_splits_is_each_split_in_order(world: Path) -> None:
    names = [s.name for s in split_dirs(world)]
    assert names[:3] == ["train", "val", "test"] and set(names) == {"train", "val", "test", "caption_only_eval"}
    assert split_dirs(world / "val") == [Source("val", world / "val")]
    with pytest.raises(DataError, match="split directory not found"):
        split_dirs(world / "missing")


def test_a_bad_record_names_its_file_or_is_skipped(world: Path, tmp_path: Path) -> None:
    bad = tmp_path / "train"
    bad.mkdir()
    (bad / "images").symlink_to(world / "train" / "images")
    caps = json.loads((world / "train" / "captions.json").read_text())
    caps["annotations"][3]["image_id"] = 999  # an image that does not exist
    (bad / "captions.json").write_text(json.dumps(caps))
    with pytest.raises(DataError, match=r"captions.json: record 4"):
        inspect_sources([Source("train", bad)], BINS)
    result = inspect_sources([Source("train", bad)], BINS, skip_bad=True)
    assert "skipped 1 bad records: unknown_ref 1" in result.markdown
    assert result.stats["train"][0].examples == len(load_split(bad, skip_bad=True)["caption"])


def test_config_tasks_no_file_provides_are_noted(world: Path) -> None:
    src = Source("val", world / "caption_only_eval", ("caption", "detect"))
    result = inspect_sources([src], BINS)
    assert "tasks of the config no file here provides: detect" in result.markdown
    assert [st.task for st in result.stats["val"]] == ["caption"]

