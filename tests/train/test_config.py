"""Facts of the training config that other code reads from one place: the time budget, the object order."""

from __future__ import annotations

import inspect
import math

import pytest

from vlseq.tasks.detection import DEFAULT_OBJECT_ORDER, OBJECT_ORDERS
from vlseq.train.config import TrainConfig, load_config


@pytest.mark.parametrize(("minutes", "seconds"), [(None, math.inf), (0, math.inf), (0.0, math.inf), (1.5, 90.0),
                                                  (0.25, 15.0)])
def test_time_budget_in_seconds(minutes: float | None, seconds: float) -> None:
    assert TrainConfig(time_budget_min=minutes).time_budget_s == seconds


def test_the_loop_reads_the_budget_from_the_config() -> None:
    # progress() is the larger of the step and time fractions; its time fraction uses time_budget_s.
    from vlseq.train.loop import Trainer

    fake = type("T", (), {})()
    fake.cfg, fake.step, fake.elapsed = TrainConfig(max_steps=1000, time_budget_min=2), 100, 60.0
    assert Trainer.progress(fake) == pytest.approx(0.5)
    fake.cfg = TrainConfig(max_steps=1000, time_budget_min=None)
    assert Trainer.progress(fake) == pytest.approx(0.1)
    assert load_config("debug", ["time_budget_min=0.5"]).time_budget_s == 30.0


def test_the_training_config_and_the_processor_default_to_one_object_order() -> None:
    from vlseq.processing import Processor

    assert DEFAULT_OBJECT_ORDER == "position" and DEFAULT_OBJECT_ORDER in OBJECT_ORDERS
    assert TrainConfig().object_order == DEFAULT_OBJECT_ORDER
    assert inspect.signature(Processor).parameters["object_order"].default == DEFAULT_OBJECT_ORDER


@pytest.mark.parametrize("override,key", [("point_answers=maybe", "'point_answers'"), ("box_first=1", "'box_first'"),
                                          ("data.skip_bad=yes", "'data.skip_bad'"),
                                          ("model.encoder_skip=0", "'model.encoder_skip'"),
                                          ("model.vision.stem_skip=on", "'model.vision.stem_skip'")])
def test_a_boolean_key_refuses_anything_but_true_or_false(override: str, key: str) -> None:
    # Python reads any non-empty string as true: "maybe" would turn the lever on without a word.
    with pytest.raises(ValueError, match=f"config key {key} must be true or false"):
        load_config("tiny", [override])
    assert load_config("tiny", ["point_answers=false", "model.vision.stem_skip=true"]).point_answers is False


@pytest.mark.parametrize("value", ["-0.1", "1.5"])
def test_colour_swap_must_be_a_probability(value: str) -> None:
    with pytest.raises(ValueError, match="'colour_swap' must be a probability"):
        load_config("debug", [f"colour_swap={value}"])


def test_colour_swap_is_off_by_default_in_the_config_and_the_processor() -> None:
    from vlseq.processing import Processor

    assert load_config("debug", ["colour_swap=0.5"]).colour_swap == 0.5
    assert TrainConfig().colour_swap == inspect.signature(Processor).parameters["colour_swap"].default == 0.0


def test_colour_swap_where_is_checked_and_defaults_alike_in_the_processor() -> None:
    from vlseq.processing import Processor

    with pytest.raises(ValueError, match="'colour_swap_where' must be one of uncoloured, located, got 'all'"):
        load_config("debug", ["colour_swap_where=all"])
    assert load_config("debug", ["colour_swap_where=located"]).colour_swap_where == "located"
    assert TrainConfig().colour_swap_where == inspect.signature(Processor).parameters["colour_swap_where"].default
