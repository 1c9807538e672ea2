import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

import deepgrad  # noqa: E402

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


@pytest.fixture(autouse=True)
def _seed():
    deepgrad.manual_seed(0)
    np.random.seed(0)
    yield
