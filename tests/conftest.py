import sys
from pathlib import Path

import numpy as np
import pytest

# the helper modules beside the tests (op_specs, nn_helpers, mnist_helpers) import by their plain names
sys.path.insert(0, str(Path(__file__).parent))

import deepgrad  # noqa: E402


@pytest.fixture(autouse=True)
def _seed():
    deepgrad.manual_seed(0)
    np.random.seed(0)
    yield
