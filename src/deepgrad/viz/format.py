"""How numbers, tensors and tables are written in graphs, traces and pages (text only, no graph knowledge).

>>> format_number(-0.5344), summarize(np.ones((2, 3)))
('-0.53', '(2, 3) norm 2.45')
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Tensors with at most this many elements show their values in graph labels; larger ones their shape.
SMALL = 6

# How ops are drawn in deepgrad's own SVG and on the step-through page (the DOT labels use the op names).
OP_SYMBOLS = {"add": "+", "sub": "\u2212", "mul": "\u00d7", "div": "\u00f7", "pow": "^", "neg": "\u2212x"}


def format_number(value: Any, precision: int = 2) -> str:
    """A number as the lectures write it: fixed ``precision`` decimals, scientific when tiny or huge.

    >>> format_number(-0.5344), format_number(1.0), format_number(3.2e-7)
    ('-0.53', '1.00', '3.2e-7')
    """
    v = float(value)
    if np.isnan(v):
        return "nan"
    if np.isinf(v):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return f"{0.0:.{precision}f}"
    if abs(v) >= 1e6 or abs(v) < 10.0**-precision:
        return f"{v:.{max(precision, 1)}g}".replace("e-0", "e-").replace("e+0", "e+")
    return f"{v:.{precision}f}"


def format_constant(value: Any) -> str:
    """A constant as written in an expression: ``1`` rather than ``1.00``."""
    return f"{float(value):g}"


def format_shape(shape: tuple[int, ...]) -> str:
    """``(128, 10)``; a 1-d shape without the trailing comma: ``(3)``."""
    return "(" + ", ".join(str(s) for s in shape) + ")"


def format_value(array: Any, precision: int = 2, small: int = SMALL) -> str:
    """Scalars as numbers, small tensors element by element, larger ones as shape and L2 norm."""
    array = np.asarray(array)
    if array.size == 1 and array.ndim == 0:
        return format_number(array, precision)
    if array.size <= small:
        return np.array2string(
            array,
            separator=", ",
            formatter={"all": lambda v: format_number(v, precision)},
        ).replace("\n", "")
    return summarize(array, precision)


def l2_norm(array: Any) -> float:
    """sqrt(sum(x^2)) in float64 (0 for arrays that are not numbers)."""
    array = np.asarray(array)
    return float(np.sqrt(np.sum(np.square(array, dtype=np.float64)))) if array.dtype.kind in "fciu" else 0.0


def summarize(array: Any, precision: int = 2) -> str:
    """Shape and L2 norm, e.g. ``(128, 10) norm 3.21`` (how the trace shows a tensor)."""
    array = np.asarray(array)
    if array.ndim == 0:
        return format_number(array, precision)
    return f"{format_shape(array.shape)} norm {format_number(l2_norm(array), precision)}"


def shorten(text: str, limit: int = 28) -> str:
    """``text`` cut to ``limit`` characters, the last one an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def format_table(header: list[str], rows: list[list[str]], right: set[int]) -> str:
    """A plain-text table: columns as wide as their widest cell, the ``right`` columns right-aligned.

    >>> print(format_table(["a", "b"], [["x", "1"], ["yy", "22"]], right={1}))
    a    b
    --  --
    x    1
    yy  22
    """
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        parts = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(cells, widths))]
        return "  ".join(parts).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row) for row in rows)])
