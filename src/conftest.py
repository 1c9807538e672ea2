"""pytest set-up for the doctests in ``src/deepgrad`` (collected by ``--doctest-modules``, see pyproject.toml).

Each doctest runs in a fresh temporary working directory (a doctest that writes a file never writes into
the checkout), with the random generators seeded, and skips when it needs an optional extra that is not
installed.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

import deepgrad

# module whose doctests need an optional extra -> the package that extra installs
OPTIONAL_EXTRAS = {
    "deepgrad.io": "safetensors",
    "deepgrad.compiled": "numba",
}


@pytest.fixture(autouse=True)
def _doctest_sandbox(request: pytest.FixtureRequest, tmp_path, monkeypatch) -> None:
    test = getattr(request.node, "dtest", None)
    if test is not None:
        module = test.globs.get("__name__", "")
        for prefix, package in OPTIONAL_EXTRAS.items():
            if module == prefix or module.startswith(prefix + "."):
                try:
                    importlib.import_module(package)
                except ImportError:
                    pytest.skip(f"{module}'s examples need the optional package {package}")
    monkeypatch.chdir(tmp_path)
    deepgrad.manual_seed(0)
    np.random.seed(0)
