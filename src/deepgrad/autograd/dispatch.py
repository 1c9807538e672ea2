"""NumPy's protocols on Tensors: how a backward formula written with NumPy runs on Tensors under create_graph.

Backward formulas are written once, with NumPy operators and functions (``grad * np.cos(x)``). In an ordinary
backward they receive arrays. Under ``create_graph=True`` the engine hands them Tensors, NumPy calls
``Tensor.__array_ufunc__`` / ``Tensor.__array_function__``, and these tables turn each NumPy call into the
Tensor operation that records it in the graph, so the gradient can be differentiated again.

Every entry is written with Tensor methods only (this module is below ``deepgrad.tensor`` and does not import
it). When the first operand is not a Tensor (``np.subtract(2.0, t)``) the second one is, and its reflected
method does the work (``t.__rsub__(2.0)``). The one entry that needs a module-level function,
``np.concatenate`` (``deepgrad.cat``), is registered by ``deepgrad.tensor`` with ``register``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad.autograd.function import Function


def _binary(name: str, reflected: str) -> Callable[[Any, Any], Any]:
    def apply(a: Any, b: Any) -> Any:
        if isinstance(a, Function.tensor_class):
            return getattr(a, name)(b)
        return getattr(b, reflected)(a)

    apply.__name__ = name
    return apply


def _unary(name: str) -> Callable[[Any], Any]:
    def apply(x: Any) -> Any:
        return getattr(x, name)()

    apply.__name__ = name
    return apply


def _where(condition: Any, a: Any, b: Any) -> Any:
    """a where condition else b; when a is not a Tensor, b is (or the condition is): swap the branches."""
    tensor_class = Function.tensor_class
    if isinstance(a, tensor_class):
        return a.where(condition, b)
    if isinstance(b, tensor_class):
        condition = condition.array if isinstance(condition, tensor_class) else condition
        return b.where(~condition.astype(bool), a)
    return tensor_class(a).where(condition, b)


def _expand_dims(t: Any, axis: Any) -> Any:
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    ndim = t.ndim + len(axes)
    shape = list(t.shape)
    for a in sorted(a % ndim for a in axes):
        shape.insert(a, 1)
    return t.reshape(tuple(shape))


def _transpose(a: Any, axes: Any = None) -> Any:
    return a.permute(*(axes if axes is not None else reversed(range(a.ndim))))


def _reshape(a: Any, shape: Any = None, **kwargs: Any) -> Any:
    return a.reshape(shape if shape is not None else kwargs["newshape"])


UFUNCS: dict[Any, Callable] = {
    np.add: _binary("__add__", "__radd__"),
    np.subtract: _binary("__sub__", "__rsub__"),
    np.multiply: _binary("__mul__", "__rmul__"),
    np.true_divide: _binary("__truediv__", "__rtruediv__"),
    np.power: _binary("__pow__", "__rpow__"),
    np.matmul: _binary("__matmul__", "__rmatmul__"),
    np.maximum: _binary("maximum", "maximum"),  # symmetric: ties split the gradient evenly either way
    np.minimum: _binary("minimum", "minimum"),
    np.greater: _binary("__gt__", "__lt__"),
    np.less: _binary("__lt__", "__gt__"),
    np.equal: _binary("__eq__", "__eq__"),
    np.negative: _unary("__neg__"),
    np.positive: _unary("__pos__"),
    np.exp: _unary("exp"),
    np.log: _unary("log"),
    np.log1p: _unary("log1p"),
    np.sqrt: _unary("sqrt"),
    np.abs: _unary("abs"),
    np.sin: _unary("sin"),
    np.cos: _unary("cos"),
    np.tanh: _unary("tanh"),
    np.sign: _unary("sign"),
}

ARRAY_FUNCTIONS: dict[Any, Callable] = {
    np.sum: lambda a, axis=None, keepdims=False, **_: a.sum(axis, keepdims),
    np.reshape: _reshape,
    np.transpose: _transpose,
    np.swapaxes: lambda a, axis1, axis2: a.transpose(axis1, axis2),
    np.broadcast_to: lambda a, shape, **_: a.broadcast_to(shape),
    np.expand_dims: _expand_dims,
    np.squeeze: lambda a, axis=None: a.squeeze(axis),
    np.where: _where,
    np.take_along_axis: lambda arr, indices, axis: arr.gather(axis, indices),
}


def register(numpy_function: Any, implementation: Callable) -> None:
    """Let ``numpy_function`` called on Tensors run ``implementation`` (for functions above this layer)."""
    ARRAY_FUNCTIONS[numpy_function] = implementation


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_ufunc__``: the recorded Tensor operation for ``ufunc(*inputs)``, or NotImplemented."""
    implementation = UFUNCS.get(ufunc)
    if method != "__call__" or kwargs or implementation is None:
        return NotImplemented
    return implementation(*inputs)


def array_function(func: Callable, args: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_function__``: the recorded Tensor operation for ``func(*args, **kwargs)``."""
    implementation = ARRAY_FUNCTIONS.get(func)
    if implementation is None:
        return NotImplemented
    return implementation(*args, **kwargs)
