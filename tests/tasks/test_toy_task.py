"""A task defined here and nowhere else: registered through the public API with a reader for its own
file, it trains (two steps of the real Trainer), evaluates (its metric and its own baseline), predicts
through the Pipeline and draws an example sheet -- no file of the package names it.

The toy task asks the colour of the one square in a picture; its answer is one of :data:`COLOURS`
(a ``choice`` grammar), its file ``toy.jsonl`` (one ``{"image", "colour"}`` line per picture) in a
split directory.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path
from typing import Iterator, Sequence

import pytest
from PIL import Image

from vlseq.codec.markup import escape_markup
from vlseq.data.example import Example
from vlseq.data.readers import FileReader, ReadContext, register_reader, unregister_reader
from vlseq.tasks import GrammarSpec, Prediction, Task, file_feeds, get_task, register, task_names, unregister
from vlseq.tasks.judge import choice_right
from vlseq.tasks.priors import constant_text

COLOURS = ("red", "green", "blue")
RGB = {"red": (220, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 220)}
QUESTION = "what colour is the square?"
SIZE = 32


class ToyColour(Task):
    """The colour of the square: one of :data:`COLOURS`, scored by exact-match accuracy."""

    name = "toy_colour"
    headline = ("accuracy",)
    output = "choice"
    needs = ("text", "answers")
    files = ("toy.jsonl",)
    baseline_kind = "most common colour"

    def prompt(self, ex: Example, bins: int) -> str:
        return escape_markup(ex.text)

    def target(self, ex: Example, bins: int, rng: random.Random | None = None) -> str:
        return ex.answers[0]

    def grammar(self, ex: Example) -> GrammarSpec:
        return GrammarSpec("choice", labels=COLOURS)

    def evaluate(self, examples: Sequence[Example], predictions: Sequence[Prediction]) -> dict[str, float]:
        right = [p.text == ex.answers[0] for ex, p in zip(examples, predictions)]
        return {"accuracy": sum(right) / max(1, len(right))}

    def baseline_answers(self, examples: Sequence[Example]) -> list[str] | None:
        return [ex.answers[0] for ex in examples if ex.answers]

    def baseline_predictions(self, examples: Sequence[Example], prior: Sequence[Example],
                             bins: int | None) -> list[Prediction] | None:
        return constant_text(self, examples, self.baseline_answer(prior), bins)

    def verdict(self, ex: Example, pred: Prediction) -> bool | None:
        return choice_right(ex, pred)


def read_toy(path: Path, tasks: frozenset, context: ReadContext) -> dict[str, list[Example]]:
    """``toy.jsonl``: one picture and its square's colour per line, images relative to the file."""
    root = Path(context.image_root) if context.image_root is not None else path.parent
    out = []
    for k, line in enumerate(path.read_text().splitlines()):
        rec = json.loads(line)
        image = root / rec["image"]
        with Image.open(image) as im:
            w, h = im.size
        out.append(Example(task="toy_colour", images=[str(image)], width=w, height=h, image_id=str(k), text=QUESTION,
                           answers=[rec["colour"]], source=f"{path.name}#{k}"))
    return {"toy_colour": out}


def picture(colour: str, seed: int) -> Image.Image:
    """A grey picture with one square of ``colour`` somewhere in it."""
    rng = random.Random(seed)
    img = Image.new("RGB", (SIZE, SIZE), (128, 128, 128))
    x, y, s = rng.randrange(0, 16), rng.randrange(0, 16), rng.randrange(8, 16)
    img.paste(RGB[colour], (x, y, x + s, y + s))
    return img


def write_split(d: Path, colours: Sequence[str], seed: int) -> None:
    (d / "images").mkdir(parents=True)
    lines = []
    for k, c in enumerate(colours):
        picture(c, seed + k).save(d / "images" / f"{k}.png")
        lines.append(json.dumps({"image": f"images/{k}.png", "colour": c}))
    (d / "toy.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def toy() -> Iterator[None]:
    """The toy reader and task registered for this module's tests, and forgotten after them."""
    register_reader("toy.jsonl", FileReader(read_toy, ("toy_colour",)))
    register(ToyColour)
    try:
        yield
    finally:
        unregister("toy_colour")
        unregister_reader("toy.jsonl")


@pytest.fixture(scope="module")
def trained(toy, tmp_path_factory) -> dict:
    """Two training steps on the toy split, then the checkpoint, the evaluation and the split."""
    from vlseq.evaluation.evaluate import evaluate_examples
    from vlseq.train.config import load_config
    from vlseq.train.loop import Trainer

    root = tmp_path_factory.mktemp("toy")
    write_split(root / "data" / "train", ["red", "red", "red", "green", "blue", "red", "green", "red"], seed=0)
    write_split(root / "data" / "val", ["red", "green", "blue", "blue"], seed=100)
    entries = json.dumps([{"name": "toy", "path": str(root / "data")}])
    cfg = load_config("debug", [f"out_dir={root / 'run'}", "data.synth=null", f"data.datasets={entries}",
                                'tasks=["toy_colour"]', "max_steps=2", "save_every=0", "log_every=1", "batch_size=4",
                                "eval_examples=4"])
    trainer = Trainer(cfg)
    summary = trainer.run()
    val = trainer.val_examples()
    metrics = evaluate_examples(trainer.eval_model(), trainer.processor, val, out_dir=root / "eval",
                                baseline_examples=trainer.train_data)
    return {"root": root, "summary": summary, "val": val, "metrics": metrics, "train": trainer.train_data,
            "bins": trainer.processor.bins}


def test_the_task_is_asked_like_a_built_in_one(toy) -> None:
    assert "toy_colour" in task_names()
    assert file_feeds()["toy.jsonl"] == ("toy_colour",)
    t = get_task("toy_colour")
    assert t.inputs == ("text",) and t.image_input == "each" and not t.writes_objects and not t.writes_image
    with pytest.raises(ValueError, match="registered twice"):
        register(ToyColour)


def test_it_trains_and_evaluates_with_its_own_baseline(trained) -> None:
    assert trained["summary"]["step"] == 2
    assert set(trained["val"]) == {"toy_colour@toy"} and len(trained["val"]["toy_colour@toy"]) == 4
    m = trained["metrics"]
    assert 0.0 <= m["toy_colour@toy/accuracy"] <= 1.0 and m["toy_colour@toy/n"] == 4
    # the baseline always says the most common training colour ("red"): right once in the four val pictures
    train_colours = Counter(ex.answers[0] for ex in trained["train"]["toy_colour@toy"])
    assert train_colours.most_common(1)[0][0] == "red"
    assert m["toy_colour@toy/baseline/accuracy"] == pytest.approx(0.25)
    assert m["toy_colour@toy/baseline/chance_accuracy"] == pytest.approx(1 / 3)  # a closed set of three
    assert m["toy_colour@toy/baseline/prior_from_eval"] == 0.0
    # the end-of-run evaluation asked the same task
    assert "toy_colour@toy/baseline/accuracy" in trained["summary"]["metrics"]


def test_the_pipeline_predicts_it(trained) -> None:
    from vlseq import Pipeline

    pipe = Pipeline.from_pretrained(trained["summary"]["final"])
    assert pipe.tasks == ["toy_colour"]
    r = pipe(picture("blue", 7), task="toy_colour", text=QUESTION)
    assert r.task == "toy_colour" and r.text in COLOURS and r.prompt == QUESTION  # the grammar's closed set
    with pytest.raises(ValueError, match="needs text="):  # its inputs, from the task
        pipe(picture("blue", 7), task="toy_colour")


def test_a_sheet_draws_it_with_its_verdicts(trained) -> None:
    from vlseq.viz.report import write_report_pages

    out = trained["root"] / "sheet"
    panels = write_report_pages(out, trained["val"], trained["root"] / "eval" / "predictions.jsonl", trained["bins"])
    assert (out / "sheet.png").is_file() and (out / "index.html").is_file()
    assert panels and all(p.source == "toy_colour@toy" and p.right in (True, False) for p in panels)
