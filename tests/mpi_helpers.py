"""MPI for the distributed tests: the mpiexec beside this Python (the mpich wheel's) and the skip marker."""

import shutil
import sys
from pathlib import Path

import pytest


def mpiexec() -> str | None:
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else shutil.which("mpiexec")


def _have_mpi() -> bool:
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return False
    return mpiexec() is not None


needs_mpi = pytest.mark.skipif(
    not _have_mpi(), reason='needs the distributed extra: pip install "deepgrad[distributed]"'
)
