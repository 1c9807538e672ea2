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

__all__ = ["available", "matmul", "enabled", "set_enabled", "disabled", "library"]

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
        self.wanted = os.environ.get("DEEPGRAD_DIRECT_BLAS", "1").strip().lower() not in ("0", "false", "no", "off")
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
