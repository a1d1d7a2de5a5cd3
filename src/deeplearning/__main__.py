"""``python -m deeplearning``: the command line (see `deeplearning.cli`)."""

import sys

from .cli import main

sys.exit(main())
