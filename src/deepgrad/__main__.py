"""``python -m deepgrad``: the ``deepgrad`` command."""

import sys

from deepgrad.cli.app import main

sys.exit(main())
