"""Gradient clipping and weight penalties: `clip_grad_norm_`, `clip_grad_value_`, `l1_penalty`, `l2_penalty`.

Penalties follow the lectures' regularized objective ``L(theta) + lambda * R(theta)`` with
``R(theta) = sum_j |theta_j|`` (L1) or ``R(theta) = sum_j theta_j^2`` (L2, no factor 1/2), summed over
every tensor passed in (the lectures regularize all weights and biases; pass only the weights to leave
biases alone). Since ``d/dtheta lambda * sum theta^2 = 2*lambda*theta`` while SGD's ``weight_decay=wd``
adds ``wd*theta`` to the gradient, ``loss + lam * l2_penalty(params)`` takes the same steps as
``weight_decay=2*lam`` on ``loss`` with SGD (with or without momentum), and likewise with Adam, RMSprop
and Adagrad, whose ``weight_decay`` is also added to the gradient; not with AdamW, whose decay is
decoupled from the gradient (it shrinks theta directly and is not rescaled by Adam's denominator).
"""

from __future__ import annotations

import math
import types
import warnings
from collections.abc import Iterable

import numpy as np

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.nn.utils import rnn
from deepgrad.tensor import Tensor, cat

__all__ = [
    "clip_grad_norm_",
    "clip_grad_value_",
    "l1_penalty",
    "l2_penalty",
    "parameters_to_vector",
    "rnn",
    "vector_to_parameters",
]

TensorOrTensors = Tensor | Iterable[Tensor]


def _tensor_list(parameters: TensorOrTensors, name: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    is_generator = isinstance(parameters, types.GeneratorType)
    try:
        tensors = list(parameters)
    except TypeError:
        raise TypeError(
            f"{name}: expected a Tensor or an iterable of Tensors, got {type(parameters).__name__}"
        ) from None
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}: element {i} is a {type(t).__name__}, not a deepgrad Tensor")
    if is_generator and not tensors:
        warnings.warn(f"{name}: `parameters` is an empty generator (already consumed?)", stacklevel=3)
    return tensors


def _vector_norm(array: np.ndarray, norm_type: float) -> np.ndarray:
    """||array||_p over all elements, in the array's dtype (p = inf: max |x|, -inf: min |x|, 0: count of x != 0)."""
    flat = array.reshape(-1)
    if norm_type == 2.0:
        return np.sqrt(np.dot(flat, flat))
    if norm_type == 1.0:
        return np.abs(flat).sum()
    if norm_type == math.inf:
        return np.abs(flat).max(initial=0)
    if norm_type == -math.inf:
        return np.abs(flat).min(initial=math.inf)
    if norm_type == 0.0:
        return np.asarray(np.count_nonzero(flat), dtype=array.dtype)
    return (np.abs(flat) ** norm_type).sum() ** (1.0 / norm_type)


@no_grad()
def clip_grad_norm_(
    parameters: TensorOrTensors, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """Scale all gradients by min(1, max_norm / (||g||_p + 1e-6)), ||g||_p over all of them; return ||g||_p.

    The total norm is the p-norm of the per-tensor p-norms, i.e. of all gradients concatenated. Tensors
    without a gradient are skipped. Returns the norm before clipping as a 0-d Tensor.

    >>> import deepgrad
    >>> from deepgrad.nn.utils import clip_grad_norm_
    >>> w = deepgrad.zeros(2, requires_grad=True); w.grad = deepgrad.tensor([3.0, 4.0])
    >>> clip_grad_norm_([w], max_norm=1.0)
    tensor(5.)
    >>> w.grad
    tensor([0.6, 0.8])
    """
    tensors = _tensor_list(parameters, "clip_grad_norm_")
    max_norm, norm_type = float(max_norm), float(norm_type)
    grads = [t.grad.array for t in tensors if t.grad is not None]
    if not grads:
        return Tensor(0.0)
    norms = [_vector_norm(g, norm_type) for g in grads]
    dtype = np.result_type(*grads)
    total = _vector_norm(np.array(norms, dtype=dtype), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(total)}, so they "
            "cannot be clipped; set error_if_nonfinite=False to scale them by it anyway"
        )
    coefficient = max_norm / (float(total) + 1e-6)
    if not coefficient < 1.0 and not math.isnan(coefficient):
        return Tensor(total, dtype=dtype)  # clamped to 1: multiplying would change nothing
    for g in grads:
        np.multiply(g, coefficient, out=g)
    return Tensor(total, dtype=dtype)


@no_grad()
def clip_grad_value_(parameters: TensorOrTensors, clip_value: float) -> None:
    """Clamp every gradient elementwise to [-clip_value, clip_value], in place.

    >>> import deepgrad
    >>> from deepgrad.nn.utils import clip_grad_value_
    >>> w = deepgrad.zeros(3, requires_grad=True); w.grad = deepgrad.tensor([-5.0, 0.5, 2.0])
    >>> clip_grad_value_([w], 1.0); w.grad
    tensor([-1. ,  0.5,  1. ])
    """
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_: clip_value must be >= 0, got {clip_value}")
    for t in _tensor_list(parameters, "clip_grad_value_"):
        if t.grad is not None:
            np.clip(t.grad.array, -clip_value, clip_value, out=t.grad.array)


def _penalty(parameters: TensorOrTensors, name: str, term: str) -> Tensor:
    tensors = _tensor_list(parameters, name)
    if not tensors:
        raise ValueError(f"{name}: got no tensors to penalize (an exhausted parameters() generator?)")
    total = None
    for t in tensors:
        value = t.abs().sum() if term == "abs" else (t * t).sum()
        total = value if total is None else total + value
    return total


def l1_penalty(parameters: TensorOrTensors) -> Tensor:
    """R(theta) = sum_j |theta_j| over all given tensors, differentiable (gradient sign(theta)).

    Use as ``loss + lam * l1_penalty(model.parameters())``.

    >>> import deepgrad
    >>> from deepgrad.nn.utils import l1_penalty
    >>> l1_penalty([deepgrad.tensor([1.0, -2.0]), deepgrad.tensor([[3.0]])])
    tensor(6.)
    """
    return _penalty(parameters, "l1_penalty", "abs")


def l2_penalty(parameters: TensorOrTensors) -> Tensor:
    """R(theta) = sum_j theta_j^2 over all given tensors (no 1/2), differentiable (gradient 2*theta).

    ``loss + lam * l2_penalty(params)`` with SGD equals ``SGD(weight_decay=2*lam)`` on ``loss``.

    >>> import deepgrad
    >>> from deepgrad.nn.utils import l2_penalty
    >>> l2_penalty([deepgrad.tensor([1.0, -2.0]), deepgrad.tensor([[3.0]])])
    tensor(14.)
    """
    return _penalty(parameters, "l2_penalty", "square")


def parameters_to_vector(parameters: TensorOrTensors) -> Tensor:
    """The parameters flattened and joined into one vector (in the graph, as PyTorch's)."""
    tensors = _tensor_list(parameters, "parameters_to_vector")
    return cat([t.reshape(-1) for t in tensors]) if tensors else Tensor(np.zeros(0, dtype=np.float32))


def vector_to_parameters(vec: Tensor, parameters: TensorOrTensors) -> None:
    """Copy consecutive slices of ``vec`` into the parameters' data (outside the graph)."""
    tensors = _tensor_list(parameters, "vector_to_parameters")
    total = sum(t.numel() for t in tensors)
    if vec.ndim != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: expected a vector of {total} values, got shape {tuple(vec.shape)}")
    start = 0
    with no_grad():
        for t in tensors:
            t.copy_(vec[start : start + t.numel()].reshape(t.shape))
            start += t.numel()
