"""Visual dialogs (VisDial style): a caption and up to five rounds of question and answer about one scene.

The questions and answers are the VQA generator's (:func:`~vlseq.data.world.questions.questions`),
asked one after another, so round ``k`` sees the caption and rounds ``0..k-1`` as its history. Each
round is one ``dialog`` :class:`~vlseq.data.example.Example`.

For evaluation VisDial ranks 100 candidate answers per round. The world's answers come from a closed
vocabulary (:func:`answer_vocabulary`: colours, shapes, counts, yes/no and four sides), which holds
fewer than 100 answers (30 with the default world), so a round's candidates are the right answer
plus every other answer of the vocabulary, deduplicated, in a random order: fewer than 100 whenever
the vocabulary is smaller, and exactly 100 (the right one plus 99 drawn) when it is larger.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..example import Example, ImageRef
from .language import captions
from .questions import questions
from .scene import Scene, WorldConfig

#: Rounds per dialog (VisDial has ten; the world's question generator gives up to six distinct ones).
MAX_ROUNDS = 5
#: Candidate answers per round (VisDial's 100).
NUM_OPTIONS = 100
_SIDES = ("left", "right", "top", "bottom")


def answer_vocabulary(cfg: WorldConfig) -> list[str]:
    """Every answer the question generator can give in a world of ``cfg``, deduplicated, in a fixed order."""
    counts = [str(n) for n in range(cfg.max_objects + 1)]
    return list(dict.fromkeys([*cfg.colours, *cfg.shapes, *counts, "yes", "no", *_SIDES]))


def candidates(answer: str, vocabulary: Sequence[str], rng: np.random.Generator,
               n: int = NUM_OPTIONS) -> tuple[list[str], int]:
    """``(options, gt_index)``: ``answer`` plus up to ``n - 1`` other answers of ``vocabulary``
    (deduplicated), shuffled; ``options[gt_index] == answer``."""
    others = [a for a in dict.fromkeys(vocabulary) if a != answer]
    picked = [others[int(k)] for k in rng.permutation(len(others))[: n - 1]]
    options = [answer, *picked]
    order = [int(k) for k in rng.permutation(len(options))]
    return [options[k] for k in order], order.index(0)


def dialog_examples(scene: Scene, image_ref: ImageRef, rng: np.random.Generator, config: WorldConfig | None = None,
                    image_id: str = "", rounds: int = MAX_ROUNDS) -> list[Example]:
    """The ``dialog`` examples of one scene, one per round (see the module docstring).

    ``text`` is the round's question, ``answers`` its answer, ``options`` the candidates;
    ``meta``: ``caption``, ``history`` (the earlier rounds as ``(question, answer)`` pairs),
    ``round`` (from 0), ``dialog_id`` and ``gt_index`` (where the answer sits in ``options``).
    """
    cfg = config or WorldConfig(size=scene.width)
    caption = captions(scene, rng, 1)[0]
    vocab = answer_vocabulary(cfg)
    qas = questions(scene, rng, rounds)
    dialog_id = image_id or str(scene.seed)
    out: list[Example] = []
    history: list[tuple[str, str]] = []
    for k, qa in enumerate(qas):
        if qa.answer not in vocab:  # the vocabulary must cover every answer, or ranking would be unfair
            raise ValueError(f"answer {qa.answer!r} is not in the world's answer vocabulary {vocab}")
        options, gt = candidates(qa.answer, vocab, rng)
        out.append(Example(task="dialog", images=[image_ref], width=scene.width, height=scene.height,
                           image_id=image_id, text=qa.question, answers=[qa.answer], options=options,
                           source=f"synthetic:{image_id}#round {k}",
                           meta={"caption": caption, "history": list(history), "round": k, "dialog_id": dialog_id,
                                 "gt_index": gt, "question_type": qa.question_type}))
        history.append((qa.question, qa.answer))
    return out
