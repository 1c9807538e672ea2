"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``arange``, ``randn``, ... (PyTorch's names and arguments).

Every factory takes ``device=`` as PyTorch's do: ``"cpu"`` (or ``deepgrad.device("cpu")``) works, any other
device raises one clear error (see ``deepgrad.backend.array_module``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.devices import check_device
from deepgrad.tensor import Tensor, _shape_args


def tensor(
    data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """A new leaf tensor from a number, nested lists or a NumPy array (the data is copied).

    As in PyTorch: Python floats give float32 (the default dtype), ints int64, bools bool; NumPy arrays and
    NumPy scalars keep their dtype (float64 stays float64).

    >>> import numpy as np, deepgrad
    >>> deepgrad.tensor([[1, 2], [3, 4]]).dtype, deepgrad.tensor(1.5).dtype, deepgrad.tensor(np.ones(2)).dtype
    (dtype('int64'), dtype('float32'), dtype('float64'))
    """
    check_device(device)
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` and keeping its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor._make(array, False, None)


def _filled(shape: tuple, fill: Any, dtype: Any, requires_grad: bool, device: Any = None) -> Tensor:
    check_device(device)
    dtype = backend.DEFAULT_FLOAT if dtype is None else backend.to_dtype(dtype)
    if any(s < 0 for s in shape):
        raise ValueError(f"negative dimension in shape {shape}")
    return Tensor._make(np.full(shape, fill, dtype=dtype), False, None).requires_grad_(requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _filled(_shape_args(size), 0, dtype, requires_grad, device)


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(_shape_args(size), 1, dtype, requires_grad, device)


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(_shape_args(size), 0, dtype, requires_grad, device)


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with one value; the dtype follows the value when not given."""
    if dtype is None:
        dtype = Tensor(fill_value).dtype
    return _filled(_shape_args((size,)), fill_value, dtype, requires_grad, device)


def zeros_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, 0, dtype or t.dtype, requires_grad, device)


def ones_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, 1, dtype or t.dtype, requires_grad, device)


def empty_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, 0, dtype or t.dtype, requires_grad, device)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return _filled(t.shape, fill_value, dtype or t.dtype, requires_grad, device)


def arange(
    start: float,
    end: float | None = None,
    step: float = 1,
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Values from start (inclusive) to end (exclusive); int64 for integer arguments, else float32."""
    check_device(device)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = backend.DEFAULT_INT if integral else backend.DEFAULT_FLOAT
    return Tensor(np.arange(start, end, step), dtype=dtype, requires_grad=requires_grad)


def linspace(
    start: float, end: float, steps: int, dtype: Any = None, device: Any = None, requires_grad: bool = False
) -> Tensor:
    """``steps`` evenly spaced values from start to end, both included."""
    check_device(device)
    if steps < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    return Tensor(
        np.linspace(start, end, steps),
        dtype=dtype or backend.DEFAULT_FLOAT,
        requires_grad=requires_grad,
    )


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix (n x m)."""
    check_device(device)
    return Tensor(np.eye(n, m), dtype=dtype or backend.DEFAULT_FLOAT, requires_grad=requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples from [0, 1)."""
    check_device(device)
    dtype = backend.to_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    data = backend.generator().random(_shape_args(size), dtype=np.float64).astype(dtype)
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    check_device(device)
    dtype = backend.to_dtype(dtype) if dtype is not None else backend.DEFAULT_FLOAT
    data = backend.generator().standard_normal(_shape_args(size)).astype(dtype)
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def randint(
    low: int,
    high: int | None = None,
    size: Any = (),
    dtype: Any = None,
    device: Any = None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers from low (inclusive) to high (exclusive): ``randint(10, (3,))`` or ``randint(0, 10, (3,))``."""
    check_device(device)
    if high is None or (isinstance(high, (tuple, list)) and size == ()):
        if isinstance(high, (tuple, list)):
            size = high
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    data = backend.generator().integers(low, high, size=_shape_args((size,)) if size != () else ())
    return Tensor(np.asarray(data), dtype=dtype or backend.DEFAULT_INT, requires_grad=requires_grad)


def randperm(n: int, dtype: Any = None, device: Any = None) -> Tensor:
    """A random permutation of 0..n-1."""
    check_device(device)
    return Tensor(backend.generator().permutation(n), dtype=dtype or backend.DEFAULT_INT)


def rand_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def randn_like(t: Tensor, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, device=device, requires_grad=requires_grad)


def randint_like(t: Tensor, low: int, high: int | None = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Integers from low to high (exclusive) in ``t``'s shape and dtype: ``randint_like(t, 10)`` or ``(t, 0, 10)``."""
    low, high = (0, low) if high is None else (low, high)
    return randint(low, high, t.shape, dtype=dtype or t.dtype, device=device)


def logspace(start: float, end: float, steps: int, base: float = 10.0, dtype: Any = None, device: Any = None) -> Tensor:
    """``steps`` values from base^start to base^end, evenly spaced in the exponent."""
    check_device(device)
    return Tensor(np.logspace(start, end, steps, base=base), dtype=dtype or backend.DEFAULT_FLOAT)


def bernoulli(input: Tensor, p: float | None = None) -> Tensor:
    """0/1 draws, 1 with probability ``input`` (elementwise; or ``p`` for every element), in input's dtype."""
    probabilities = input.array if p is None else np.full(input.shape, p)
    if np.any((probabilities < 0) | (probabilities > 1)):
        raise ValueError(f"bernoulli: probabilities must be in [0, 1] (shape {input.shape})")
    draws = backend.generator().random(input.shape) < probabilities
    return Tensor(draws, dtype=input.dtype)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False) -> Tensor:
    """``num_samples`` category indices per row of non-negative weights ``input`` (1-D, or 2-D: one row each),
    drawn in proportion to the weights; without ``replacement`` each category at most once (int64)."""
    weights = np.asarray(input.array, dtype=np.float64)
    if weights.ndim not in (1, 2) or weights.shape[-1] == 0:
        raise ValueError(f"multinomial: expected 1-D or 2-D weights, got shape {input.shape}")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise ValueError("multinomial: weights must be finite and non-negative")
    rows = weights.reshape(-1, weights.shape[-1])
    out = np.empty((rows.shape[0], num_samples), dtype=np.int64)
    for r, row in enumerate(rows):
        available = int(np.count_nonzero(row))
        if available == 0 or (not replacement and num_samples > available):
            raise RuntimeError(
                f"multinomial: row {r} has {available} categories with non-zero weight, "
                f"{num_samples} samples asked {'with' if replacement else 'without'} replacement"
            )
        out[r] = backend.generator().choice(row.size, num_samples, replace=replacement, p=row / row.sum())
    return Tensor(out.reshape(*weights.shape[:-1], num_samples), dtype=backend.DEFAULT_INT)


def normal(mean: Any, std: Any = 1.0, size: Any = None, dtype: Any = None, device: Any = None) -> Tensor:
    """Normal draws: elementwise for tensor ``mean`` / ``std`` (broadcast), or of ``size`` for numbers."""
    check_device(device)
    mean_data = mean.array if isinstance(mean, Tensor) else mean
    std_data = std.array if isinstance(std, Tensor) else std
    shape = _shape_args((size,)) if size is not None else np.broadcast_shapes(np.shape(mean_data), np.shape(std_data))
    if np.any(np.asarray(std_data) < 0):
        raise ValueError("normal: std must be non-negative")
    like = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dtype = dtype or (like.dtype if like is not None else backend.DEFAULT_FLOAT)
    return Tensor(backend.generator().normal(mean_data, std_data, shape), dtype=dtype)


def _legacy_constructor(name: str, dtype: Any) -> Any:
    """PyTorch's legacy typed constructor ``torch.<name>``: sizes give a new tensor, data is copied."""

    def construct(*args: Any, device: Any = None) -> Tensor:
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in args):
            return empty(*args, dtype=dtype, device=device)  # torch.FloatTensor(2, 3); () gives shape (0,)
        if len(args) != 1:
            raise TypeError(f"{name}() takes sizes (ints) or one sequence of data, got {len(args)} arguments")
        return tensor(args[0], dtype=dtype, device=device)

    construct.__name__ = construct.__qualname__ = name
    construct.__doc__ = f"Legacy ``torch.{name}(data)`` / ``torch.{name}(*sizes)``: as ``tensor(data, dtype=...)``."
    return construct


FloatTensor = _legacy_constructor("FloatTensor", backend.float32)
DoubleTensor = _legacy_constructor("DoubleTensor", backend.float64)
LongTensor = _legacy_constructor("LongTensor", backend.int64)
IntTensor = _legacy_constructor("IntTensor", backend.int32)
ByteTensor = _legacy_constructor("ByteTensor", backend.uint8)
BoolTensor = _legacy_constructor("BoolTensor", backend.bool_)
