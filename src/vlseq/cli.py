"""The ``vlseq`` command: one subcommand per entry point, each a ``main(argv)`` in its module.

Subcommands are imported lazily so ``vlseq synth`` does not pay for importing torch.
"""

from __future__ import annotations

import importlib
import sys
from typing import Sequence

#: subcommand -> ("module", "one-line help")
COMMANDS: dict[str, tuple[str, str]] = {
    "codec-demo": ("vlseq.codec.demo", "show the sequence format on a small example"),
    "synth": ("vlseq.data.synth", "write the synthetic world in public formats"),
    "train": ("vlseq.train.cli", "train a model on a task mixture"),
    "eval": ("vlseq.evaluate", "evaluate a checkpoint on every task's metric"),
    "quickstart": ("vlseq.quickstart", "synthesise, train tiny, evaluate, report"),
    "predict": ("vlseq.predict", "run a checkpoint on images"),
    "demo": ("vlseq.demo", "the web demo"),
    "shard": ("vlseq.data.shards", "write datasets as WebDataset tar shards"),
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
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
