"""Where the tests find real MNIST. A module of its own: importing from a conftest breaks as soon as a
second conftest.py (src/conftest.py, for the doctests) is loaded under the same module name."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def mnist_dir() -> Path | None:
    """Real MNIST for tests: $DEEPGRAD_MNIST or ../shared/data/mnist beside the project; None if absent."""
    candidates = [
        os.environ.get("DEEPGRAD_MNIST"),
        PROJECT_ROOT.parent / "shared" / "data" / "mnist",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    return None
