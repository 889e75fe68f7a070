"""``python -m vlseq.cli``: the ``vlseq`` command (for launchers such as torchrun that take a module)."""

import sys

from . import main

sys.exit(main())
