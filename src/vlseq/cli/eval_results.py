"""``vlseq eval --results FILE --results-format coco|vqa|refs``: the evaluated predictions with the data's own ids.

One result file holds one source's predictions (``detect``, ``vqa@vqav2``, ...): a COCO results file
is scored against one annotation file, and two sources' ids may collide. COCO results take their
image and category ids from ``--annotations`` or, by default, from the ``instances.json`` the
evaluated examples were read from (the split directory's, or the dataset entry's file for the
split). The conversion itself is :mod:`vlseq.evaluation.export`.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from ..data.example import Example
from ..evaluation.export import (
    FORMAT_TASKS,
    CocoIds,
    ExportReport,
    coco_results,
    prediction_phrases,
    refs_results,
    vqa_results,
    write_results,
)
from ..tasks import Prediction, task_of
from .paths import output_file


@dataclass
class EvalResults:
    """Collects one source's predictions during ``vlseq eval`` and writes them as ``format``."""

    path: str
    format: str
    annotations: str | None = None
    source: str | None = None  # the evaluated source the file holds (check_sources picks it)
    coco_ids: CocoIds | None = None
    collected: list[tuple[Example, Prediction]] = field(default_factory=list)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "EvalResults | None":
        """The collector ``--results`` asks for (None without it); ``ValueError`` for options that do not fit."""
        if args.results is None:
            if args.results_format is not None or args.annotations is not None:
                raise ValueError("--results-format and --annotations go with --results FILE")
            return None
        if args.results_format is None:
            raise ValueError(f"--results needs --results-format ({', '.join(FORMAT_TASKS)})")
        if args.annotations is not None and args.results_format != "coco":
            raise ValueError("--annotations names the COCO file of --results-format coco; vqa and refs results "
                             "take their ids from the evaluated examples")
        output_file(args.results, flag="--results", overwrite=True)  # a re-run rewrites it, as it does metrics.json
        return cls(args.results, args.results_format, args.annotations)

    def check_sources(self, sources: Sequence[str], args: argparse.Namespace) -> str | None:
        """Pick the one evaluated source of this format (a problem line when there is none or several);
        for COCO, read the annotation file's ids now, so a bad file fails before the evaluation."""
        tasks = FORMAT_TASKS[self.format]
        fit = [s for s in sources if task_of(s) in tasks]
        if not fit:
            return (f"--results-format {self.format} holds {', '.join(tasks)} predictions; none of the evaluated "
                    f"sources ({', '.join(sources)}) is one (add it with --tasks)")
        if len(fit) > 1:
            return (f"--results holds one source's predictions, but {len(fit)} evaluated sources write "
                    f"{self.format} results ({', '.join(fit)}): evaluate one at a time (--tasks)")
        self.source = fit[0]
        if self.format == "coco":
            path = self.annotations or instances_file(args, self.source)
            if path is None:
                return (f"no instances.json found for {self.source}'s image and category ids: "
                        "name the COCO file with --annotations")
            try:
                self.coco_ids = CocoIds.from_file(path)
            except (ValueError, FileNotFoundError) as e:
                return str(e)
        return None

    def add(self, source: str, examples: Sequence[Example], predictions: list[Prediction]) -> None:
        """``evaluate_examples``' ``on_predictions``: keep the chosen source's pairs."""
        if source == self.source:
            self.collected.extend(zip(examples, predictions))

    def write(self) -> ExportReport:
        """Write the file; the report says what was written and what could not be."""
        pairs = self.collected
        if self.format == "coco":
            assert self.coco_ids is not None, "check_sources reads the annotation file first"
            records, report = coco_results(((ex.image_id, prediction_phrases(p)) for ex, p in pairs), self.coco_ids,
                                           by="id")
        elif self.format == "vqa":
            records, report = vqa_results((ex.meta.get("question_id", ex.source), p.text) for ex, p in pairs)
        else:
            records, report = refs_results(((ex, prediction_phrases(p)) for ex, p in pairs), task_of(self.source or ""))
        write_results(self.path, records)
        return report


def instances_file(args: argparse.Namespace, source: str) -> Path | None:
    """The ``instances.json`` ``source``'s examples were read from: the ``--data`` split's, or the file
    the ``--dataset-config`` entry named in ``source`` (``task@name``) gives for ``--split``."""
    from ..data.readers.datasets import entry_name, read_dataset_config, referenced_files, split_dir
    from ..data.readers.split import split_files

    if args.dataset_config is None:
        return split_files(Path(args.data)).get("instances.json")
    name = source.split("@", 1)[1] if "@" in source else None
    for entry in read_dataset_config(args.dataset_config):
        if name is None or entry_name(entry) == name:
            d = split_dir(entry, args.split)
            found = split_files(d if d is not None and d.is_dir() else None,
                                referenced_files(entry, args.split)).get("instances.json")
            if found is not None:
                return found
    return None
