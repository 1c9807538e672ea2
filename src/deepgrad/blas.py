"""Direct calls to the BLAS library NumPy was built with: ``C = A @ B`` or ``C += A @ B`` on strided views.

``np.matmul`` always overwrites its output, and it copies an operand whose rows lie further apart than its
row length. BLAS's ``gemm`` does neither: each matrix is a pointer, a leading dimension (the distance
between rows) and a transpose flag, and ``C = alpha A B + beta C``. That is what the shifted-product
convolution needs (``ops/conv.py``): its nine products per 3x3 layer read windows of one padded buffer as
matrices with a long row stride, and add into the same output.

The library is the OpenBLAS that NumPy's wheels ship (``numpy.libs``, ``numpy/.dylibs``) or whichever BLAS
the process has loaded, found by its 64-bit-integer ``cblas_?gemm`` symbols. When none is found (another
BLAS, another platform), or with ``DEEPGRAD_DIRECT_BLAS=0``, ``available()`` is False and the callers take
their NumPy routes, which give the same values.

>>> import numpy as np
>>> a, b = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
>>> out = np.zeros((2, 4), np.float32)
>>> if available(np.float32):
...     matmul(a, b, out)
...     matmul(a, b, out, accumulate=True)
... else:
...     out[...] = 2 * (a @ b)
>>> out[0, 0].item()
6.0
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from deepgrad._switches import switched_off

__all__ = ["available", "matmul", "enabled", "set_enabled", "disabled", "library", "shorten_thread_spin"]

# cblas enums
_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
# 64-bit-integer (ILP64) builds only: these names say their integer width. NumPy >= 2 wheels: scipy_*64_;
# NumPy 1.x wheels and distributions' openblas64: *64_.
_SYMBOLS = {
    np.dtype(np.float32): ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
    np.dtype(np.float64): ("scipy_cblas_dgemm64_", "cblas_dgemm64_"),
}


class _State:
    def __init__(self) -> None:
        self.wanted = not switched_off("DEEPGRAD_DIRECT_BLAS")
        self.searched = False
        self.path: str | None = None
        self.gemm: dict[np.dtype, Any] = {}


_state = _State()


def _candidate_libraries() -> list[str]:
    """Shared libraries that may hold NumPy's BLAS: the ones its wheel ships, then those the process has
    mapped whose name mentions blas."""
    root = os.path.dirname(os.path.dirname(np.__file__))
    found = []
    for pattern in ("numpy.libs/*blas*", "numpy/.dylibs/*blas*"):
        found += sorted(glob.glob(os.path.join(root, pattern)))
    with contextlib.suppress(OSError):
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split(maxsplit=5)[-1].strip()
                if "blas" in os.path.basename(path).lower() and path not in found:
                    found.append(path)
    return found


def _search() -> None:
    _state.searched = True
    for path in _candidate_libraries():
        try:
            library_handle = ctypes.CDLL(path)
        except OSError:
            continue
        functions = {}
        for dtype, names in _SYMBOLS.items():
            for name in names:
                function = getattr(library_handle, name, None)
                if function is not None:
                    scalar = ctypes.c_float if dtype == np.float32 else ctypes.c_double
                    index, pointer, flag = ctypes.c_int64, ctypes.c_void_p, ctypes.c_int
                    function.argtypes = [flag, flag, flag, index, index, index, scalar, pointer, index]
                    function.argtypes += [pointer, index, scalar, pointer, index]
                    function.restype = None
                    functions[dtype] = function
                    break
        if len(functions) == len(_SYMBOLS):
            _state.path, _state.gemm = path, functions
            return


def library() -> str | None:
    """The path of the BLAS library the direct calls use, or None when there is none."""
    if not _state.searched:
        _search()
    return _state.path


def enabled() -> bool:
    """Whether direct BLAS calls are switched on (``DEEPGRAD_DIRECT_BLAS``, ``set_enabled``)."""
    return _state.wanted


def set_enabled(on: bool) -> None:
    """Switch the direct BLAS calls on or off for the whole process (the callers then take NumPy routes)."""
    _state.wanted = bool(on)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run a block without direct BLAS calls (tests compare the two routes with it)."""
    previous = _state.wanted
    _state.wanted = False
    try:
        yield
    finally:
        _state.wanted = previous


def available(dtype: Any) -> bool:
    """Whether ``matmul`` can run for arrays of ``dtype`` (float32 or float64) in this process."""
    return _state.wanted and np.dtype(dtype) in _SYMBOLS and library() is not None


def _operand(matrix: np.ndarray, name: str) -> tuple[int, int]:
    """(transpose flag, leading dimension) of a 2-D view whose rows or columns are contiguous."""
    item = matrix.itemsize
    rows, columns = matrix.shape
    row_step, column_step = matrix.strides
    if column_step == item or columns == 1:
        if row_step % item == 0 and row_step // item >= max(columns, 1):
            return _NO_TRANS, max(row_step // item, columns, 1)
    if row_step == item or rows == 1:
        if column_step % item == 0 and column_step // item >= max(rows, 1):
            return _TRANS, max(column_step // item, rows, 1)
    raise ValueError(
        f"blas.matmul: {name} of shape {matrix.shape} and strides {matrix.strides} has neither contiguous rows "
        "nor contiguous columns"
    )


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray, accumulate: bool = False) -> None:
    """out = a @ b, or out += a @ b with ``accumulate``: 2-D float views of one dtype, each with contiguous
    rows or contiguous columns (any distance between them); ``out`` with contiguous rows, sharing no memory
    with ``a`` or ``b``. Only when ``available(dtype)``."""
    if not (a.ndim == b.ndim == out.ndim == 2):
        raise ValueError(f"blas.matmul takes matrices, got shapes {a.shape}, {b.shape} and out {out.shape}")
    if not a.dtype == b.dtype == out.dtype or not available(a.dtype):
        raise TypeError(
            f"blas.matmul: no direct BLAS call for dtypes {a.dtype}, {b.dtype} and out {out.dtype} "
            "(check blas.available(dtype) first)"
        )
    (m, k), (k_b, n) = a.shape, b.shape
    if k != k_b or out.shape != (m, n):
        raise ValueError(f"blas.matmul: shapes {a.shape} @ {b.shape} do not give out's {out.shape}")
    if not out.flags.writeable or np.may_share_memory(out, a) or np.may_share_memory(out, b):
        raise ValueError("blas.matmul: out must be writeable and share no memory with a or b")
    if m == 0 or n == 0:
        return
    if k == 0:
        if not accumulate:
            out[...] = 0
        return
    (flag_a, lead_a), (flag_b, lead_b) = _operand(a, "a"), _operand(b, "b")
    flag_out, lead_out = _operand(out, "out")
    if flag_out != _NO_TRANS:  # C's rows must be contiguous: compute out^T = b^T a^T instead
        flip = {_NO_TRANS: _TRANS, _TRANS: _NO_TRANS}
        flag_a, lead_a, flag_b, lead_b, m, n = flip[flag_b], lead_b, flip[flag_a], lead_a, n, m
        a, b = b, a
    _state.gemm[a.dtype](
        _ROW_MAJOR, flag_a, flag_b, m, n, k, 1.0, a.ctypes.data, lead_a, b.ctypes.data, lead_b,
        1.0 if accumulate else 0.0, out.ctypes.data, lead_out,
    )  # fmt: skip


# OpenBLAS's worker threads (its pthreads build, as NumPy's wheels ship) spin after each threaded product,
# calling sched_yield, for 2^28 CPU cycles (about 0.1 s) before they sleep. A training step runs a threaded
# product every few milliseconds, so the workers never sleep: on a 2-core machine one core is always taken by a
# spinning worker, and deepgrad's own kernel threads (pooling, batch norm, the per-sample convolution blocks;
# ``deepgrad.threads``) share it with the spin. Measured on a LeNet-5 step at batch 128, 2 cores: the worker
# used 2.6 s of CPU in 2.7 s of wall time (0.5 s once the spin was shortened), and the first convolution and
# pooling ran 1.5-2x slower in the step than alone.
SPIN_EXPONENT = 20  # 2^20 cycles, about 0.4 ms: back-to-back products still find the workers awake
_SPIN_SETTING = "OPENBLAS_THREAD_TIMEOUT"  # OpenBLAS's variable, read by its thread start-up (4..30)


def shorten_thread_spin(exponent: int = SPIN_EXPONENT) -> bool:
    """Restart OpenBLAS's worker threads with a spin of 2^``exponent`` cycles before they sleep; True when done.

    Nothing happens when ``OPENBLAS_THREAD_TIMEOUT`` is set (the user's choice wins), when
    ``DEEPGRAD_BLAS_SPIN_TUNING=0``, or when NumPy's BLAS is not OpenBLAS's pthreads build. The restart joins
    the workers: call it while no other thread is inside a BLAS call (deepgrad calls it once, at import).
    """
    if isinstance(exponent, bool) or not isinstance(exponent, int) or not 4 <= exponent <= 30:
        raise ValueError(
            f"shorten_thread_spin: exponent must be an integer from 4 to 30 (OpenBLAS's range), got {exponent!r}"
        )
    if switched_off("DEEPGRAD_BLAS_SPIN_TUNING") or _SPIN_SETTING in os.environ:
        return False
    path = library()
    if path is None:
        return False
    handle = ctypes.CDLL(path)
    names = ("openblas_read_env", "blas_thread_shutdown_", "blas_thread_init")
    functions = [getattr(handle, name, None) for name in names]
    parallel = next(
        (getattr(handle, name) for name in ("scipy_openblas_get_parallel64_", "openblas_get_parallel64_",
                                            "openblas_get_parallel") if hasattr(handle, name)),
        None,
    )  # fmt: skip
    if None in functions or parallel is None or parallel() != 1:  # 1: pthreads (2 would be OpenMP's threads)
        return False
    read_settings, stop_workers, start_workers = functions
    os.environ[_SPIN_SETTING] = str(exponent)
    try:
        read_settings()
    finally:
        del os.environ[_SPIN_SETTING]
    stop_workers()
    start_workers()
    return True
