"""The ``vlseq`` command: one subcommand per entry point, each a ``main(argv)`` in its module.

Subcommands are imported lazily so ``vlseq synth`` does not pay for importing torch.

Batch jobs fail cleanly: a bad data file (:class:`~vlseq.data.readers.DataError`), a missing file,
a bad config value or a full disk while checkpointing ends the command with one line
``vlseq: error: <message naming the file and record>`` and exit code 2, not a traceback
(``VLSEQ_TRACEBACK=1`` shows it). When bad records were skipped (``data.skip_bad=true``,
``--skip-bad``), their count is printed at the end: ``vlseq: skipped N bad records``.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from typing import Sequence

#: exit code of a command that stopped on bad input (argparse uses 2 for bad arguments too)
EXIT_BAD_INPUT = 2

#: subcommand -> ("module", "one-line help")
COMMANDS: dict[str, tuple[str, str]] = {
    "codec-demo": ("vlseq.cli.codec_demo", "show the sequence format on a small example"),
    "synth": ("vlseq.cli.synth", "write the synthetic world in public formats"),
    "train": ("vlseq.cli.train", "train a model on a task mixture"),
    "eval": ("vlseq.cli.eval", "evaluate a checkpoint on every task's metric"),
    "quickstart": ("vlseq.cli.quickstart", "synthesise, train tiny, evaluate, report"),
    "predict": ("vlseq.cli.predict", "run a checkpoint on images"),
    "demo": ("vlseq.cli.demo", "the web demo"),
    "shard": ("vlseq.cli.shard", "write datasets as WebDataset tar shards"),
    "train-image-tokenizer": ("vlseq.cli.image_tokenizer", "train the VQ image tokenizer; report held-out PSNR"),
    "data": ("vlseq.cli.data", "inspect training data: counts, boxes, answer baselines, lengths, a contact sheet"),
}


def _usage() -> str:
    lines = ["usage: vlseq COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<12} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"vlseq: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    counter = SkipCounter()
    # Every skipped record is one warning on the readers' logger (RecordGuard.handle): count them.
    readers_log = logging.getLogger("vlseq.data.readers")
    readers_log.addHandler(counter)
    try:
        return int(module.main(rest) or 0)
    except KeyboardInterrupt:
        print("vlseq: interrupted", file=sys.stderr)
        return 130
    except _clean_errors() as e:
        if os.environ.get("VLSEQ_TRACEBACK"):
            raise
        _close_progress_bars()
        print(f"vlseq: error: {_message(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    finally:
        readers_log.removeHandler(counter)
        if counter.count:
            print(f"vlseq: skipped {counter.count} bad records ({counter.summary()})", file=sys.stderr)


class SkipCounter(logging.Handler):
    """Counts the skipped-record warnings of the data readers, per problem file."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.count = 0
        self.files: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        err = record.args[0] if isinstance(record.args, tuple) and record.args else None
        file = getattr(err, "file", "?")
        self.files[file] = self.files.get(file, 0) + 1

    def summary(self) -> str:
        return ", ".join(f"{f}: {n}" for f, n in sorted(self.files.items()))


def _clean_errors() -> tuple[type[BaseException], ...]:
    """The exception types reported as one line: input and environment problems, not bugs."""
    from ..data.readers.validate import DataError  # light: no torch
    from ..metrics.meteor import MeteorError  # light: no torch

    # OSErrors about a path (a file where a folder belongs, an existing output, no permission) are
    # the user's input too; OSErrors without a path (a full disk mid-write) stay tracebacks.
    errors: list[type[BaseException]] = [DataError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
                                         FileExistsError, PermissionError, ValueError, MeteorError]
    io = sys.modules.get("vlseq.models.io")  # only loaded by commands that write checkpoints
    if io is not None:
        errors.append(io.CheckpointWriteError)
    return tuple(errors)


def _close_progress_bars() -> None:
    """End open tqdm bars (their line has no newline yet) so the error starts on a line of its own."""
    tqdm = sys.modules.get("tqdm")
    for bar in list(getattr(getattr(tqdm, "tqdm", None), "_instances", None) or ()):
        bar.close()


def _message(e: BaseException) -> str:
    if isinstance(e, OSError) and e.filename:  # "<what is wrong>: <path>", not "[Errno 17] ...: '<path>'"
        return f"{e.strerror or e}: {e.filename}"
    return str(e)

