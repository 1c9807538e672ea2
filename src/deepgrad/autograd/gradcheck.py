"""Check analytical gradients against central finite differences, in float64.

For every input element x_k:  dJ/dx_k  ~=  (f(x + eps e_k) - f(x - eps e_k)) / (2 eps).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.autograd.engine import grad as autograd_grad
from deepgrad.autograd.function import Function


class GradcheckError(AssertionError):
    """Raised by gradcheck when an analytical gradient disagrees with the numerical one."""


def _as_tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _prepare_inputs(inputs: Sequence[Any]) -> list:
    tensor_class = Function.tensor_class
    prepared = []
    for position, value in enumerate(_as_tuple(inputs)):
        if isinstance(value, tensor_class) and value.dtype.kind == "f":
            if value.dtype != np.float64:
                raise TypeError(
                    f"gradcheck: input {position} is {value.dtype}; finite differences need float64 "
                    "inputs (make them with dtype=deepgrad.float64)"
                )
        prepared.append(value)
    return prepared


def _outputs(fn: Callable, inputs: list) -> tuple:
    return tuple(_as_tuple(fn(*inputs)))


def gradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """True when ``fn``'s backward agrees with central differences for every input that requires grad.

    Compares the full Jacobians: |analytical - numerical| <= atol + rtol * |numerical| elementwise.
    On failure the error names the input, the element index, and both values. The Jacobians are arrays
    of the inputs' array type; only the verdict and the values in a failure message become Python numbers.

    >>> import deepgrad
    >>> x = deepgrad.randn(3, dtype=deepgrad.float64, requires_grad=True)
    >>> deepgrad.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
    True
    """
    tensor_class = Function.tensor_class
    inputs = _prepare_inputs(inputs)
    differentiable = [i for i, x in enumerate(inputs) if isinstance(x, tensor_class) and x.requires_grad]
    if not differentiable:
        raise ValueError("gradcheck: no input requires grad")
    for out_index, out in enumerate(_outputs(fn, inputs)):
        analytical = _analytical_jacobians(out, [inputs[i] for i in differentiable])
        for i, jacobian in zip(differentiable, analytical):
            message = _compare_columns(fn, inputs, out_index, i, jacobian, (eps, atol, rtol))
            if message is not None:
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def _analytical_jacobians(out: Any, wrt: list) -> list:
    """d out / d x for every x in ``wrt`` by backward, one row (output element) at a time."""
    out_size = out.array.size
    jacobians = [np.zeros((out_size, x.array.size), like=x.array) for x in wrt]
    if not out.requires_grad:
        return jacobians
    for row in range(out_size):
        unit = np.zeros(out_size, dtype=out.dtype, like=out.array)
        unit[row] = 1.0
        grads = autograd_grad(out, wrt, grad_outputs=np.reshape(unit, out.shape), retain_graph=True, allow_unused=True)
        for jacobian, g in zip(jacobians, grads):
            if g is not None:
                jacobian[row] = np.reshape(g.array, (-1,))
    return jacobians


def _compare_columns(
    fn: Callable, inputs: list, out_index: int, i: int, analytical: Any, tolerances: tuple
) -> str | None:
    """Central differences for each element of input ``i``, against its analytical column; a message on the
    first disagreement, else None."""
    eps, atol, rtol = tolerances
    data = inputs[i].array
    for k in range(data.size):
        # index the array itself (a reshaped copy of a non-contiguous input would not reach fn)
        at = np.unravel_index(k, data.shape)
        original = data[at]
        # not under no_grad: fn may itself differentiate (gradgradcheck)
        data[at] = original + eps
        plus = _flat_float64(_outputs(fn, inputs)[out_index].array, like=data)
        data[at] = original - eps
        minus = _flat_float64(_outputs(fn, inputs)[out_index].array, like=data)
        data[at] = original
        numerical = (plus - minus) / (2 * eps)
        got = analytical[:, k]
        bad = np.abs(got - numerical) > atol + rtol * np.abs(numerical)
        if bool(np.any(bad)):
            row = int(np.argmax(bad))
            element = tuple(int(e) for e in at)
            return (
                f"gradcheck: gradient of output {out_index} (element {row}) with respect to input {i} "
                f"(shape {tuple(data.shape)}) at element {element} is wrong: "
                f"numerical {float(numerical[row]):.8g}, analytical {float(got[row]):.8g}"
            )
    return None


def _flat_float64(array: Any, like: Any) -> Any:
    return np.reshape(np.array(array, dtype=np.float64, copy=True, like=like), (-1,))


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Sequence[Any],
    grad_outputs: Sequence[Any] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
) -> bool:
    """gradcheck of the first derivatives: checks that gradients made with ``create_graph=True``
    are themselves differentiated correctly (second derivatives).

    The upstream gradients ``grad_outputs`` (random when not given) are inputs of the checked
    function too, as in PyTorch.
    """
    tensor_class = Function.tensor_class
    inputs = _prepare_inputs(inputs)
    outputs = _outputs(fn, inputs)
    if grad_outputs is None:
        grad_outputs = [
            tensor_class._make(np.asarray(backend.generator().standard_normal(o.shape), like=o.array), True, None)
            for o in outputs
        ]
    grad_outputs = list(_as_tuple(grad_outputs))
    count = len(inputs)

    def first_derivatives(*args: Any) -> tuple:
        ins, upstream = list(args[:count]), list(args[count:])
        outs = _outputs(fn, ins)
        wrt = [x for x in ins if isinstance(x, tensor_class) and x.requires_grad]
        grads = autograd_grad(outs, wrt, grad_outputs=upstream, create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else tensor_class._make(np.zeros(x.shape, like=x.array), False, None)
            for g, x in zip(grads, wrt)
        )

    return gradcheck(first_derivatives, inputs + grad_outputs, eps, atol, rtol, raise_exception)
