"""The ``deepgrad`` console script's entry point, outside the package on purpose.

A Ctrl-C while ``deepgrad`` itself is still being imported (NumPy and the ops load in about 0.3 s) would
otherwise end in a ``KeyboardInterrupt`` traceback: the console script imports the package before any of
its code can catch anything. Here the interrupt is caught first, then ``deepgrad.cli`` takes over.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any


def _interrupted_while_loading(signum: int, frame: Any) -> None:
    # Exit at once rather than raise: an exception raised in the middle of a C extension's import (NumPy's)
    # comes out as that import's ImportError. Nothing has been written yet, so there is nothing to clean up.
    print("deepgrad: interrupted", file=sys.stderr, flush=True)
    os._exit(130)


# Installed as soon as this module is imported, which is the console script's first step.
_previous_handler = signal.signal(signal.SIGINT, _interrupted_while_loading)


def main() -> int:
    """Import the command line with Ctrl-C handled, then run it (its own handlers take over from there)."""
    try:
        from deepgrad.cli import main as run_command
    finally:
        signal.signal(signal.SIGINT, _previous_handler)
    return run_command()


if __name__ == "__main__":
    sys.exit(main())
