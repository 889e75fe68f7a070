"""What a split teaches, before a run is spent on it: the numbers behind ``vlseq data inspect``.

Per task of a split (:func:`inspect_split`): examples and distinct images, image sizes, objects per
image with a histogram of box sizes in coordinate bins, the category table, answer frequencies with
the task's own fixed-answer baseline (:meth:`Task.baseline <vlseq.tasks.Task.baseline>`, the very
one ``vlseq eval`` reports; its answer taken from the split itself) scored by the task's real metric,
caption lengths, and prompt and target
lengths in tokens against the limits the Processor truncates at. :func:`format_split` writes them
as markdown, with warnings for what makes a run learn nothing (boxes under one bin, truncated
targets, a constant answer that already scores high, an empty task); :func:`inspect_sources` runs
it all over the splits to read (:mod:`~vlseq.evaluation.data_sources`: split directories, or the
splits of dataset entries named per split) and writes the report and each split's contact sheet.

A box smaller than one bin on a side has both ends in one bin; the codec widens it to one bin
(:func:`~vlseq.codec.coords.quantize_box`), so its target no longer says where it is within a bin.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from ..data.example import Example
from ..models.io import SETTINGS
from ..processing import CheckpointSettings
from ..tasks import Task, file_feeds, get_task, task_names
from ..tokenizer import SETTINGS_FILE, VLTokenizer
from ..viz.truth_sheet import Panel, image_key, truth_sheet
from .data_sources import SPLIT_ORDER, Source, entry_sources, split_dirs

__all__ = ["Lengths", "TaskStats", "Texts", "Inspection", "Source", "SPLIT_ORDER", "split_dirs", "entry_sources",
           "inspect_split", "inspect_sources", "format_split", "load_tokenizer", "DEFAULT_BINS"]

#: the coordinate grid when neither the command, a config nor a checkpoint gives one
DEFAULT_BINS = 64
#: the vocabulary of a tokenizer trained here, as a training run trains one (``tokenizer_vocab``)
VOCAB = 2000
#: rows of the answer and category tables
TOP = 10
#: a constant answer scoring at least this is flagged: the task can be learned without the image
HIGH_BASELINE = 0.5


@dataclass
class Lengths:
    """Token lengths of prompts or targets: mean, max and how many exceed ``limit``."""

    mean: float
    max: int
    over: int
    limit: int


@dataclass
class TaskStats:
    """The numbers of one task of one split (see the module docstring)."""

    task: str
    examples: int
    images: int
    width: tuple[int, float, int] = (0, 0.0, 0)  # min, median, max over distinct images
    height: tuple[int, float, int] = (0, 0.0, 0)
    objects: int = 0  # distinct (label, box) per image
    objects_per_image: tuple[float, int] = (0.0, 0)  # mean, max over images with examples
    box_hist: list[tuple[str, int]] = field(default_factory=list)  # shorter side in bins
    small_boxes: int = 0  # shorter side under one bin
    categories: Counter = field(default_factory=Counter)
    answers: Counter = field(default_factory=Counter)  # each example's answer as the fixed-answer baseline counts it
    baseline: tuple[str, float] | None = None  # (what is always answered, its score), e.g. ("'no'", 0.16)
    baseline_by_type: dict[str, float] = field(default_factory=dict)
    baseline_label: str = ""  # e.g. "majority answer baseline (accuracy)"
    caption_words: tuple[float, int] | None = None
    prompt_tokens: Lengths | None = None
    target_tokens: Lengths | None = None  # None for image targets (their length is the code grid's)
    bad: int = 0  # examples whose prompt or target could not be written (skipped)


def example_boxes(ex: Example) -> list[tuple[str | None, tuple[float, float, float, float]]]:
    """``(category, box)`` of every box an example's prompt or target holds: its objects (labelled),
    its phrases' boxes and its input region (no category: a phrase is worded anew by each caption). A VQA
    example's objects (the one its question is about) are in neither, so they do not count."""
    objects = [] if ex.task == "vqa" else ex.objects
    out: list[tuple[str | None, tuple[float, float, float, float]]] = [(o.label, tuple(o.box)) for o in objects]
    if not objects:
        out += [(None, tuple(b)) for p in ex.phrases for b in p.boxes]
    if ex.region is not None:
        out.append((None, tuple(ex.region)))
    return out


def bin_edges(bins: int) -> list[float]:
    """Histogram edges in bins: 0, 1, 2, 4, ... up to ``bins`` (a box can span the whole grid)."""
    edges = [0.0, 1.0]
    while edges[-1] * 2 < bins:
        edges.append(edges[-1] * 2)
    return edges + [float(bins)]


def box_histogram(sides: Sequence[float], bins: int) -> list[tuple[str, int]]:
    """Counts of box sides (in bins) per :func:`bin_edges` interval; the last one includes ``bins``."""
    edges = bin_edges(bins)
    counts = [0] * (len(edges) - 1)
    for s in sides:
        k = next((i for i in range(len(counts)) if s < edges[i + 1]), len(counts) - 1)
        counts[k] += 1
    return [(f"<{edges[1]:g}" if i == 0 else f"{edges[i]:g}-{edges[i + 1]:g}", n) for i, n in enumerate(counts)]


def answer_baseline(task: Task, examples: Sequence[Example], bins: int) -> tuple[tuple[str, float], dict[str, float], str]:
    """A fixed-answer task's own baseline on ``examples``, its answer taken from them as well
    (:meth:`Task.baseline_answer`, :meth:`Task.baseline`): ``(repr of the answer, its primary metric)``,
    the metric's parts (``accuracy/yes/no`` -> ``{"yes/no": ...}``) and what to call it."""
    metric = task.headline[0]
    scores = task.baseline(examples, None, bins)
    parts = {k[len(metric) + 1:]: v for k, v in scores.items() if k.startswith(f"{metric}/")}
    return (repr(task.baseline_answer(examples)), scores[metric]), parts, f"{task.baseline_kind} baseline ({metric})"


@dataclass
class Texts:
    """The prompts and targets of one split as a run writes them (targets None for image outputs)."""

    prompts: dict[str, list[str]]
    targets: dict[str, list[str] | None]
    bad: dict[str, int]
    kept: dict[str, list[Example]]


def split_texts(split: Mapping[str, Sequence[Example]], bins: int, skip_bad: bool = False) -> Texts:
    """Every example's prompt and target (first reference, objects by position: the fixed choice).

    An example whose task cannot write it raises the task's ``ValueError`` naming the record, or with
    ``skip_bad`` is left out and counted.
    """
    out = Texts({}, {}, {}, {})
    for name, exs in split.items():
        task = get_task(name)
        prompts, targets, kept, bad = [], [], [], 0
        for ex in exs:
            try:
                prompt = task.prompt(ex, bins)
                target = None if task.writes_image else task.target(ex, bins, None)
            except ValueError:
                if not skip_bad:
                    raise
                bad += 1
                continue
            prompts.append(prompt)
            targets.append(target)
            kept.append(ex)
        out.prompts[name], out.kept[name], out.bad[name] = prompts, kept, bad
        out.targets[name] = None if task.writes_image else [t for t in targets if t is not None]
    return out


def train_tokenizer(texts: Texts, bins: int) -> VLTokenizer:
    """A tokenizer trained on the split's own texts, on the corpus a training run builds its own from:
    prompts, non-image targets and up to five answers per example (markup tokens are added by the tokenizer)."""
    corpus: list[str] = []
    for name, prompts in texts.prompts.items():
        corpus += prompts
        corpus += texts.targets[name] or []
        corpus += [a for ex in texts.kept[name] for a in ex.answers[:5]]
    return VLTokenizer.train(corpus, bins, vocab_size=VOCAB)


def token_lengths(tokenizer: VLTokenizer, texts: Sequence[str], limit: int, extra: int = 0) -> Lengths | None:
    """Lengths of ``texts`` in tokens (+ ``extra``: the ``<s>``/``</s>`` a target gets) against ``limit``."""
    if not texts:
        return None
    n: list[int] = []
    for i in range(0, len(texts), 4096):  # batched: the library encodes a batch in one call
        n += [len(ids) + extra for ids in tokenizer.hf(list(texts[i:i + 4096]), add_special_tokens=False)["input_ids"]]
    return Lengths(sum(n) / len(n), max(n), sum(k > limit for k in n), limit)


def _min_med_max(values: Sequence[int]) -> tuple[int, float, int]:
    return (min(values), float(statistics.median(values)), max(values)) if values else (0, 0.0, 0)


def task_stats(name: str, examples: Sequence[Example], bins: int) -> TaskStats:
    """The numbers of one task that need no tokenizer (see :class:`TaskStats`)."""
    sizes: dict[str, tuple[int, int]] = {}
    per_image: dict[str, set] = {}
    for ex in examples:
        key = image_key(ex)
        sizes[key] = (ex.width, ex.height)
        per_image.setdefault(key, set()).update(example_boxes(ex))
    st = TaskStats(name, len(examples), len(sizes))
    st.width = _min_med_max([w for w, _ in sizes.values()])
    st.height = _min_med_max([h for _, h in sizes.values()])
    counts = [len(v) for v in per_image.values()]
    st.objects = sum(counts)
    if st.objects:
        st.objects_per_image = (st.objects / len(counts), max(counts))
        sides = [min((b[2] - b[0]) / sizes[k][0], (b[3] - b[1]) / sizes[k][1]) * bins
                 for k, objs in per_image.items() for _, b in objs]
        st.box_hist = box_histogram(sides, bins)
        st.small_boxes = sum(s < 1 for s in sides)
        st.categories = Counter(label for objs in per_image.values() for label, _ in objs if label is not None)
    task = get_task(name) if name in task_names() else None
    answers = task.baseline_answers(examples) if task is not None and examples else None
    if task is not None and answers:  # a fixed-answer baseline (VQA's majority answer, classify's majority class)
        st.answers = Counter(answers)
        st.baseline, st.baseline_by_type, st.baseline_label = answer_baseline(task, examples, bins)
    if "caption" in name and examples:
        words = [len(a.split()) for ex in examples for a in ex.answers]
        st.caption_words = (sum(words) / len(words), max(words)) if words else None
    return st


def inspect_split(split: Mapping[str, Sequence[Example]], bins: int, tokenizer: VLTokenizer | None = None,
                  max_target_tokens: int = 128, max_prompt_tokens: int = 64,
                  skip_bad: bool = False) -> tuple[list[TaskStats], VLTokenizer, dict[str, list[Example]]]:
    """Stats per task of ``split`` (task -> examples), the tokenizer the token counts used (``tokenizer``,
    or one trained on the split's own texts) and the examples kept (all but those skipped as bad)."""
    texts = split_texts(split, bins, skip_bad)
    tok = tokenizer if tokenizer is not None else train_tokenizer(texts, bins)
    out = []
    for name, exs in texts.kept.items():
        st = task_stats(name, exs, bins)
        st.bad = texts.bad[name]
        st.prompt_tokens = token_lengths(tok, texts.prompts[name], max_prompt_tokens)
        targets = texts.targets[name]
        st.target_tokens = token_lengths(tok, targets, max_target_tokens, extra=2) if targets is not None else None
        out.append(st)
    return out, tok, texts.kept


def warnings_for(stats: Sequence[TaskStats], bins: int) -> list[str]:
    """What in these numbers would make a run learn nothing, or less than it should."""
    out = []
    for st in stats:
        if not st.examples:
            out.append(f"{st.task}: no examples (the file is there but empty): the task is never trained")
        if st.small_boxes:
            out.append(f"{st.task}: {st.small_boxes} of {st.objects} boxes are smaller than one bin of {bins} on a side: "
                       "their targets cannot say where they are (raise model.num_bins or the image size)")
        for what, n in (("target", st.target_tokens), ("prompt", st.prompt_tokens)):
            if n is not None and n.over:
                out.append(f"{st.task}: {n.over} {what}s are longer than {n.limit} tokens and are cut "
                           f"(max {n.max}): raise max_{what}_tokens")
        if st.baseline is not None and st.baseline[1] >= HIGH_BASELINE:
            out.append(f"{st.task}: always answering {st.baseline[0]} scores {st.baseline[1]:.3f}: "
                       "a model can reach that without looking at the image")
        if st.baseline is not None and len(st.answers) == 1:
            out.append(f"{st.task}: every example has the same answer")
        if st.bad:
            out.append(f"{st.task}: {st.bad} examples skipped: their prompt or target could not be written")
    return out


def load_tokenizer(path: str | Path, bins: int | None = None) -> tuple[VLTokenizer, CheckpointSettings | None]:
    """The tokenizer of a checkpoint or tokenizer directory, and the checkpoint's settings when it is one.

    ``bins``: the coordinate grid asked for; a vlseq tokenizer made for another grid is a ``ValueError``
    (its ``<loc_k>`` tokens would not be the ones counted). A foreign tokenizer gets ``bins`` (default
    :data:`DEFAULT_BINS`, or the checkpoint's) coordinate tokens added.
    """
    p = Path(path)
    settings = None
    if (p / SETTINGS).is_file():
        settings = CheckpointSettings.from_dict(json.loads((p / SETTINGS).read_text()), str(p / SETTINGS))
    own = (p / SETTINGS_FILE).is_file()
    default = settings.num_bins if settings is not None else DEFAULT_BINS
    tok = VLTokenizer.from_pretrained(p, num_bins=None if own else (bins or default))
    if bins is not None and tok.num_bins != bins:
        raise ValueError(f"{p}: the tokenizer has {tok.num_bins} coordinate bins, not {bins} (--bins or the config's "
                         "model.num_bins): its coordinate tokens would not be the ones counted")
    return tok, settings


# --------------------------------------------------------------------------- the markdown report


def _num(x: float) -> str:
    return f"{x:.1f}" if x != int(x) else f"{int(x)}"


def _table(head: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(map(str, r)) + " |" for r in rows]


def format_split(name: str, stats: Sequence[TaskStats], bins: int, tokenizer_note: str, notes: Sequence[str] = (),
                 max_target_tokens: int = 128, max_prompt_tokens: int = 64) -> str:
    """One split's section of the report: the overview table, boxes, categories, answers, captions, warnings."""
    lines = [f"## {name}", "", f"{tokenizer_note}; {bins} coordinate bins", ""]
    lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    rows = []
    for st in stats:
        p, t = st.prompt_tokens, st.target_tokens
        rows.append([st.task, st.examples, st.images, "/".join(map(_num, st.width)), "/".join(map(_num, st.height)),
                     f"{p.mean:.1f}/{p.max}" if p else "-", p.over if p else "-",
                     f"{t.mean:.1f}/{t.max}" if t else "image codes", t.over if t else "-"])
    lines += _table(["task", "examples", "images", "width min/med/max", "height min/med/max", "prompt tokens mean/max",
                     f"prompts > {max_prompt_tokens}", "target tokens mean/max", f"targets > {max_target_tokens}"], rows)
    boxed = [st for st in stats if st.objects]
    if boxed:
        lines += ["", f"### Boxes: objects per image, shorter side in bins (grid of {bins})", ""]
        lines += _table(["task", "objects", "per image mean/max"] + [k for k, _ in boxed[0].box_hist],
                        [[st.task, st.objects, f"{st.objects_per_image[0]:.2f}/{st.objects_per_image[1]}"]
                         + [n for _, n in st.box_hist] for st in boxed])
    cats = [st for st in stats if st.categories]
    if cats:
        lines += ["", f"### Categories (top {TOP})", ""]
        lines += _table(["task", "categories", "frequencies"],
                        [[st.task, len(st.categories), ", ".join(f"{c} {n}" for c, n in st.categories.most_common(TOP))]
                         for st in cats])
    for st in stats:
        if st.baseline is None:
            continue
        total = sum(st.answers.values())
        kind = st.baseline_label or "baseline"
        lines += ["", f"### {st.task}: answers (top {TOP} of {len(st.answers)})", ""]
        lines += _table(["answer", "examples", "share"],
                        [[a, n, f"{n / total:.3f}"] for a, n in st.answers.most_common(TOP)])
        by_type = ", ".join(f"{k} {v:.3f}" for k, v in st.baseline_by_type.items())
        lines += ["", f"{kind}: always {st.baseline[0]} scores **{st.baseline[1]:.3f}**"
                  + (f" (per answer type: {by_type})" if by_type else "")]
    caps = [st for st in stats if st.caption_words]
    if caps:
        lines += ["", "### Caption length (words)", ""]
        lines += _table(["task", "mean", "max"], [[st.task, f"{st.caption_words[0]:.1f}", st.caption_words[1]]
                                                  for st in caps if st.caption_words])
    warns = warnings_for(stats, bins)
    lines += ["", "### Warnings", ""] + ([f"- {w}" for w in warns] or ["- none"])
    return "\n".join(lines) + "\n"


def tokenizer_note(tokenizer: VLTokenizer, source: str | None) -> str:
    """Which tokenizer the token counts used, for the report."""
    if source:
        return f"tokenizer: {source} ({tokenizer.vocab_size} tokens)"
    return (f"tokenizer: trained on this split's own prompts and targets, as a run trains one "
            f"(WordPiece, {tokenizer.vocab_size} tokens; pass --tokenizer to count with a checkpoint's)")


# --------------------------------------------------------------------------- sources -> report + sheets (data_sources)

@dataclass
class Inspection:
    """The report, the numbers per split and, when written, each split's contact sheet and its panels."""

    markdown: str
    stats: dict[str, list[TaskStats]] = field(default_factory=dict)
    sheets: dict[str, tuple[Path, list[Panel]]] = field(default_factory=dict)


def inspect_sources(sources: Sequence[Source], bins: int, tokenizer: VLTokenizer | None = None,
                    tokenizer_source: str | None = None, max_target_tokens: int = 128, max_prompt_tokens: int = 64,
                    skip_bad: bool = False, out: Path | None = None, per_task: int = 3,
                    title: str | None = None) -> Inspection:
    """Inspect each split; with ``out``, write ``out/report.md`` and ``out/contact_sheet_<split>.png``.

    ``title``: what the report's heading names (default: where each source is read from).

    Without ``tokenizer``, each split's token counts use a tokenizer trained on that split's texts.
    A bad record raises the readers' DataError (or a task's ValueError) naming the file and record;
    with ``skip_bad`` it is skipped and counted in the split's notes.
    """
    title = title or ", ".join(f"`{s.where}`" for s in sources)
    result = Inspection(f"# Data inspection: {title}\n")
    feeds = file_feeds()
    for src in sources:
        have = src.available(feeds)
        want = [t for t in src.tasks if t in have] if src.tasks is not None else None
        notes = []
        if src.tasks is not None and len(want or []) < len(src.tasks):
            notes.append(f"tasks of {src.tasks_from} no file here provides: "
                         f"{', '.join(t for t in src.tasks if t not in have)}")
        split = src.load(want, skip_bad, feeds)
        if split.report.skipped:
            notes.append(f"skipped {split.report.skipped} bad records: "
                         + ", ".join(f"{k} {n}" for k, n in sorted(split.report.counts.items())))
        stats, tok, kept = inspect_split(split, bins, tokenizer, max_target_tokens, max_prompt_tokens, skip_bad)
        name, n = src.name, 1
        while name in result.stats:  # e.g. an entry named like the synthetic world: both keep a section
            n += 1
            name = f"{src.name}-{n}"
        result.stats[name] = stats
        if out is not None:
            sheet, panels = truth_sheet(kept, bins, per_task, skip_bad)
            png = out / f"contact_sheet_{name.replace('/', '_')}.png"
            sheet.save(png)
            result.sheets[name] = (png, panels)
            notes.append(f"contact sheet: {png.name} ({len(panels)} panels, ground truth drawn)")
        note = tokenizer_note(tok, tokenizer_source if tokenizer is not None else None)
        result.markdown += "\n" + format_split(f"{name} (`{src.where}`)", stats, bins, note, notes,
                                                  max_target_tokens, max_prompt_tokens)
    if out is not None:
        (out / "report.md").write_text(result.markdown)
    return result
