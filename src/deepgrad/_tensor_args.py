"""Argument handling for the Tensor methods: data -> array, dtype promotion, dims and shapes, ``to()`` arguments.

Kept apart from ``deepgrad.tensor`` so the Tensor class reads as operations. Nothing here computes a value
or a gradient; these functions only decide dtypes, axes and shapes (PyTorch's rules), and raise clear errors.
They know Tensors by their methods (``.array``, ``.dtype``, ``.to``); the few that must recognise one use
``Function.tensor_class``, the one inverted dependency (see ``deepgrad.autograd.function``).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.autograd.function import Function

SCALAR_TYPES = (int, float, bool, np.number, np.bool_)
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


def _to_array(data: Any, dtype: Any = None) -> Any:
    """Python numbers and nested lists: float -> float32, int -> int64, bool -> bool.
    Arrays keep their dtype (and their array library), except float64, which becomes float32 unless dtype
    says otherwise. The data is always copied."""
    if isinstance(data, Function.tensor_class):
        data = data.array
    if backend.is_array(data):
        array = data.astype(backend.to_dtype(dtype)) if dtype is not None else data.copy()
    elif dtype is not None:
        return np.array(data, dtype=backend.to_dtype(dtype))
    else:
        try:
            array = np.array(data)
        except ValueError as error:
            raise ValueError(f"tensor(): cannot make a tensor from {type(data).__name__}: {error}") from None
        if array.dtype.kind == "i":
            array = array.astype(backend.DEFAULT_INT, copy=False)
    if dtype is not None:
        return array
    if array.dtype == np.float64:
        array = array.astype(backend.DEFAULT_FLOAT)
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"tensor(): unsupported data of dtype {array.dtype} (numbers, nested lists or numeric arrays only)"
        )
    return array


def _to_arguments(args: tuple, kwargs: dict) -> Any:
    """The dtype that ``to(*args, **kwargs)`` asks for (None if none), as Tensor.to and Module.to take them:
    a dtype, a Tensor (its dtype) or a device, positionally or as ``dtype=``/``device=``. Only the CPU exists."""
    unknown = set(kwargs) - {"dtype", "device", "non_blocking", "copy"}
    if unknown:
        raise TypeError(f"to() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    dtype = kwargs.get("dtype")
    for arg in (*args, kwargs.get("device")):
        if arg is None:
            continue
        if isinstance(arg, Function.tensor_class):
            dtype = arg.dtype
        elif str(arg).split(":")[0] in DEVICE_TYPES:
            try:
                backend.array_module(str(arg))
            except ValueError as error:
                raise ValueError(f"to(): {error}") from None
        else:
            dtype = arg
    return dtype


def scalar_dtype(value: Any, like_dtype: np.dtype) -> np.dtype:
    """The dtype a Python/NumPy scalar takes next to a tensor of ``like_dtype``: the tensor's own when the kinds
    agree (so float32 stays float32), the default float for a float scalar with an integer tensor."""
    kind = like_dtype.kind
    if kind == "f" or (kind in "iu" and isinstance(value, (int, np.integer))):
        return like_dtype
    if isinstance(value, (bool, np.bool_)) and kind == "b":
        return like_dtype
    if isinstance(value, (float, np.floating)):
        return backend.DEFAULT_FLOAT
    return backend.DEFAULT_INT


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Type promotion as in PyTorch: an integer or bool operand takes the float operand's dtype
    (NumPy would turn int64 * float32 into float64), and within one kind a 0-d tensor takes the dtype of
    an operand with dimensions (float32 * 0-d float64 stays float32)."""
    dtype_a, dtype_b = a.array.dtype, b.array.dtype
    if dtype_a == dtype_b:
        return a, b
    kind_a, kind_b = dtype_a.kind, dtype_b.kind
    if kind_a == kind_b:
        if a.array.ndim == 0 and b.array.ndim:
            return a.to(dtype_b), b
        if b.array.ndim == 0 and a.array.ndim:
            return a, b.to(dtype_a)
        return a, b
    if kind_a == "f":
        return a, b.to(a.dtype)
    if kind_b == "f":
        return a.to(b.dtype), b
    return a, b


def _float_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """True division: integer tensors give the default float dtype, as in PyTorch."""
    if a.dtype.kind != "f" and b.dtype.kind != "f":
        return a.float(), b.float()
    return _pair(a, b)


def _numpy_aliases(dim: Any, keepdim: bool, axis: Any, keepdims: bool | None) -> tuple[Any, bool]:
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    return dim, bool(keepdim)


def _normalize_dim(dim: Any, ndim: int, name: str) -> int:
    try:
        dim = int(dim)
    except TypeError:
        raise TypeError(f"{name}: dim must be an integer, got {dim!r}") from None
    if not -builtins.max(ndim, 1) <= dim < builtins.max(ndim, 1):
        raise IndexError(f"{name}: dimension {dim} is out of range for a tensor with {ndim} dimensions")
    return dim % builtins.max(ndim, 1)


def _axes(dim: Any, ndim: int) -> tuple[int, ...]:
    """Normalise dim (None, an int, or a sequence) to a sorted tuple of non-negative axes."""
    if dim is None:
        return tuple(range(ndim))
    if isinstance(dim, (int, np.integer)):
        return (_normalize_dim(dim, ndim, "dim"),) if ndim else ()
    axes = tuple(sorted(_normalize_dim(d, ndim, "dim") for d in dim))
    if len(set(axes)) != len(axes):
        raise ValueError(f"dim {tuple(dim)} repeats an axis")
    return axes


def _count(shape: tuple[int, ...], axes: tuple[int, ...]) -> int:
    count = 1
    for a in axes:
        count *= shape[a]
    return count


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(s for i, s in enumerate(shape) if i not in axes)


def _check_nonempty(t: Any, name: str) -> None:
    if t.array.size == 0:
        raise ValueError(f"{name}: the tensor is empty (shape {t.shape}); the result is undefined")


def _shape_args(args: tuple) -> tuple[int, ...]:
    """Accept f(2, 3), f((2, 3)) and f([2, 3])."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)
