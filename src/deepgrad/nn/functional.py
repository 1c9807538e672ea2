"""Functional forms of the layers, activations and losses (``deepgrad.nn.functional``, imported as ``F``).

These are composites of the primitive ops and get their gradients from them; the few fused primitives
(``linear``, ``relu``, ``cross_entropy`` with class indices, the binary cross-entropies, ``softplus``) are
there for speed or numerical stability, as ``deepgrad.ops.nn`` explains. Names, arguments and defaults
follow ``torch.nn.functional``; the arguments PyTorch has deprecated (``size_average``, ``reduce``) are
accepted with a DeprecationWarning naming the ``reduction`` they mean, and everything after the first few
arguments is keyword-only, so a positional call written for the old signature fails loudly instead of
binding to the wrong parameter. The argument checks live in
``deepgrad.nn._checks`` (shared with the layers), so these functions read as their formulas.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad import backend, composites
from deepgrad.autograd.function import label
from deepgrad.autograd.grad_mode import GRAD_MODE, no_grad
from deepgrad.nn._checks import (
    REDUCTIONS,
    as_input,
    check_linear,
    check_pair,
    check_reduction,
    class_targets,
    class_weights,
    conv2d_geometry,
    image_input,
    int_single,
    pool1d_geometry,
    pool_geometry,
    signal_input,
)
from deepgrad.nn._checks import int_pair as int_pair  # re-exported: layers and older callers use F.int_pair
from deepgrad.ops import conv as conv_ops
from deepgrad.ops import linalg
from deepgrad.ops import loss as loss_ops
from deepgrad.ops import nn as nn_ops
from deepgrad.tensor import Tensor, where
from deepgrad.tensor import cat as cat_tensors
from deepgrad.tensor import pad as constant_pad

__all__ = [
    "adaptive_avg_pool2d",
    "adaptive_max_pool2d",
    "avg_pool1d",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "conv1d",
    "conv2d",
    "conv_transpose2d",
    "cross_entropy",
    "dropout",
    "dropout2d",
    "elu",
    "elu_",
    "gelu",
    "kl_div",
    "l1_loss",
    "leaky_relu",
    "leaky_relu_",
    "linear",
    "local_response_norm",
    "log_softmax",
    "max_pool1d",
    "max_pool2d",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "pad",
    "relu",
    "relu_",
    "sigmoid",
    "silu",
    "softmax",
    "softplus",
    "tanh",
]


def legacy_reduction(size_average: bool | None, reduce: bool | None, name: str) -> str | None:
    """The ``reduction`` that PyTorch's deprecated ``size_average``/``reduce`` pair means (None if neither is
    given): reduce=False -> 'none', else size_average=False -> 'sum', else 'mean'; warns with the modern form."""
    if size_average is None and reduce is None:
        return None
    average = True if size_average is None else bool(size_average)
    reduction = "none" if reduce is False else "mean" if average else "sum"
    warnings.warn(
        f"{name}: size_average and reduce are deprecated; use reduction={reduction!r} instead",
        DeprecationWarning,
        stacklevel=3,
    )
    return reduction


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


# ---------------------------------------------------------------------------------------------------
# layers


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b for x of shape (*, in_features), W of shape (out_features, in_features); one fused op.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.linear(deepgrad.ones(2, 3), deepgrad.ones(4, 3), deepgrad.zeros(4)).tolist()
    [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
    """
    input = as_input(input, "linear")
    check_linear(input, weight, bias)
    if bias is None:
        return linalg.Linear.apply(input, weight)
    return linalg.Linear.apply(input, weight, bias)


def _in_place_where_safe(input: Tensor, inplace: bool, name: str, compute: Callable[[Tensor], Tensor]) -> Tensor:
    """PyTorch's ``inplace=True``: ``compute(input)`` written into ``input``, which is returned, wherever no graph
    is recorded for ``input`` (grad mode off, or ``input`` needs no gradient); while one is, and without
    ``inplace``, a new tensor, ``input`` left as it was.

    Why not in the graph, as PyTorch does (and as ``relu`` and the in-place methods do, ``Tensor._rebase``): these
    ops compute into new memory, so an update recorded in place would add a copy of the result into ``input`` to
    every such layer, for no memory saved (ReLU's op writes over its input itself). Where it is written in place,
    the version counter counts the change: a node that saved ``input`` for its backward then refuses to run on
    the new values, as PyTorch's does."""
    if inplace and not (GRAD_MODE.enabled and input.requires_grad):
        return input._overwrite(name, compute)
    return compute(input)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Inverted dropout: in training, zero each element with probability p and scale the rest by 1/(1-p);
    outside training, the identity. ``inplace=True`` writes the result into ``input`` where no graph is recorded
    for it (see ``_in_place_where_safe``); else the result is a new tensor.

    Why this equals the lectures' rule "keep every unit at test time and multiply its activation by
    (1 - p)": both make the activation a unit passes on at test time equal to its expected value during
    training. The lectures leave training alone (E[mask * a] = (1 - p) a) and scale down at test time;
    inverted dropout scales up in training (E[mask * a / (1 - p)] = a) and leaves test time alone. The two
    networks differ only by the constant factor 1/(1-p) on those activations, which the next layer's weights
    absorb: a network trained with inverted dropout has weights 1/(1-p) times smaller on those inputs than
    one trained the lectures' way, and computes the same function at test time. Scaling in training
    keeps evaluation free of any dropout bookkeeping.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> x = deepgrad.ones(1000)
    >>> y = F.dropout(x, 0.5)
    >>> sorted(set(y.tolist()))
    [0.0, 2.0]
    >>> F.dropout(x, 0.5, training=False) is x
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    input = as_input(input, "dropout")
    if not training or p == 0.0:
        return input
    dtype = input.dtype
    if dtype.kind != "f":
        raise TypeError(f"dropout: expected a floating-point input, got {dtype} (shape {input.shape})")
    return _drop(input, p, input.shape, inplace, "dropout")


def _drop(input: Tensor, p: float, mask_shape: tuple[int, ...], inplace: bool, name: str) -> Tensor:
    """x * keep / (1 - p), ``keep`` one Bernoulli(1 - p) draw per element of ``mask_shape`` (broadcast over the
    input), drawn by the input's array library; zeros for p = 1. ``inplace``: see ``_in_place_where_safe``."""
    dtype = input.dtype
    if p == 1.0:
        return _in_place_where_safe(input, inplace, name, lambda x: x * dtype.type(0))
    draw_dtype = dtype if dtype in (backend.float32, backend.float64) else backend.float32
    keep = backend.random(mask_shape, draw_dtype, like=input.array) >= p
    scale = keep.astype(dtype)
    scale *= 1.0 / (1.0 - p)
    return _in_place_where_safe(input, inplace, name, lambda x: x * scale)


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias per channel (axis 1), over the batch and all later axes
    (length for (N, C, L), height and width for images (N, C, H, W)).

    In training the batch's mean and biased variance are used, and the running statistics (if given) are
    updated in place: ``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* batch
    variance, as PyTorch. Otherwise the running statistics are used.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> x = deepgrad.tensor([[1.0], [3.0]])
    >>> F.batch_norm(x, None, None, training=True).tolist()
    [[-0.9999949932098389], [0.9999949932098389]]
    """
    input = as_input(input, "batch_norm")
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, *) (e.g. (N, C, H, W)), got shape {input.shape}")
    channels = input.shape[1]
    for name, value in (
        ("running_mean", running_mean),
        ("running_var", running_var),
        ("weight", weight),
        ("bias", bias),
    ):
        if value is not None and value.shape != (channels,):
            raise ValueError(
                f"batch_norm: input of shape {input.shape} has {channels} channels (axis 1), but {name} has "
                f"shape {value.shape}; expected ({channels},)"
            )
    axes = (0,) + tuple(range(2, input.ndim))
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if training:
        count = input.numel() // channels if channels else 0
        if count <= 1:
            raise ValueError(
                f"batch_norm: expected more than 1 value per channel when training, got input of shape {input.shape}"
            )
        if weight is not None and bias is not None:  # the affine case as one fused node (ops.nn.BatchNorm)
            stats: list = []
            out = nn_ops.BatchNorm.apply(input, weight, bias, eps=eps, stats_out=stats)
            mean_array, var_array = stats
            weight = bias = None  # already applied
        else:
            out, mean, var = composites.batch_normalize(input, axes, eps)
            mean_array, var_array = mean.array, var.array
        if running_mean is not None or running_var is not None:
            with no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(mean_array.reshape(channels), alpha=momentum)
                if running_var is not None:
                    unbiased = var_array.reshape(channels) * (count / (count - 1))
                    running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed when training=False")
        out = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps).sqrt()
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


def conv2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] | str = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> Tensor:
    """2-D cross-correlation, one fused op (im2col + BLAS):
    y[n, o, h, w] = b[o] + sum_{c, i, j} W[o, c, i, j] x_pad[n, g(o) C/groups + c, s_h h + d_h i, s_w w + d_w j].

    ``input`` is (N, C, H, W) or unbatched (C, H, W); ``weight`` is (C_out, C/groups, k_h, k_w); ``padding``
    is zeros on both sides (an int or (h, w)), or 'valid' (none) or 'same' (output as large as the input,
    stride 1 only; the extra row/column of an even kernel goes to the bottom/right, as PyTorch).

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.conv2d(deepgrad.ones(1, 1, 3, 3), deepgrad.ones(1, 1, 2, 2)).tolist()
    [[[[4.0, 4.0], [4.0, 4.0]]]]
    """
    input, unbatched = image_input(input, "conv2d")
    weight = as_input(weight, "conv2d", "weight")
    stride, pads, dilation = conv2d_geometry(input, weight, bias, stride, padding, dilation, groups)
    args = (input, weight) if bias is None else (input, weight, bias)
    out = conv_ops.Conv2d.apply(*args, stride=stride, padding=pads, dilation=dilation, groups=int(groups))
    return out.squeeze(0) if unbatched else out


def max_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """y[n, c, h, w] = max of the k_h x k_w window at (s_h h, s_w w) of x padded with -inf; the gradient goes to
    each window's (first) maximum, as PyTorch. ``stride`` defaults to ``kernel_size``; ``return_indices`` also
    returns the flat index of each maximum in its (H, W) plane (int64).

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.max_pool2d(deepgrad.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[5.0, 7.0], [13.0, 15.0]]]]
    """
    input, unbatched = image_input(input, "max_pool2d")
    kernel, stride, dilation, _, pads, out_size = pool_geometry(
        "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode
    )
    holder: list[np.ndarray] | None = [] if return_indices else None
    out = conv_ops.MaxPool2d.apply(
        input, kernel=kernel, stride=stride, padding=pads, dilation=dilation, out_size=out_size, indices_out=holder
    )
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    indices = Tensor._make(holder[0].astype(backend.int64, copy=False), False, None)
    return out, (indices.squeeze(0) if unbatched else indices)


def avg_pool2d(
    input: Tensor,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> Tensor:
    """y[n, c, h, w] = (sum of the k_h x k_w window at (s_h h, s_w w) of the zero-padded x) / divisor, where the
    divisor is k_h k_w (``count_include_pad``, the default), the number of input elements in the window
    (``count_include_pad=False``), or ``divisor_override``. ``stride`` defaults to ``kernel_size``.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.avg_pool2d(deepgrad.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
    [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    input, unbatched = image_input(input, "avg_pool2d")
    kernel, stride, _, pad, pads, out_size = pool_geometry(
        "avg_pool2d", input, kernel_size, stride, padding, 1, ceil_mode
    )
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)):
            raise ValueError(f"avg_pool2d: divisor_override must be a non-zero integer, got {divisor_override!r}")
        if divisor_override == 0:
            raise ValueError("avg_pool2d: divisor_override must be non-zero")
        divisor: Any = int(divisor_override)
    else:
        divisor = conv_ops.avg_pool_divisor(
            input.shape[2:], kernel, stride, (pad[0], pad[0], pad[1], pad[1]), out_size, count_include_pad, input.array
        )
    out = conv_ops.AvgPool2d.apply(
        input, kernel=kernel, stride=stride, padding=pads, out_size=out_size, divisor=divisor
    )
    return out.squeeze(0) if unbatched else out


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last dimensions: ``pad = (left, right)`` for the last one, then ``(top, bottom)`` for the one
    before, and so on. Modes: 'constant' (with ``value``, default 0; negative amounts crop), 'reflect'
    (mirror without repeating the edge), 'replicate' (repeat the edge), 'circular' (wrap around).

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.pad(deepgrad.tensor([1.0, 2.0, 3.0]), (2, 1), mode="reflect").tolist()
    [3.0, 2.0, 1.0, 2.0, 3.0, 2.0]
    """
    input = as_input(input, "pad")
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(
            f"pad: needs an even number of amounts, at most 2 per dimension; got {pad} for shape {input.shape}"
        )
    if mode == "constant":
        crop = [slice(None)] * input.ndim
        for i in range(len(pad) // 2):
            dim = input.ndim - 1 - i
            before, after = pad[2 * i], pad[2 * i + 1]
            crop[dim] = slice(max(-before, 0), input.shape[dim] - max(-after, 0))
        if any(p < 0 for p in pad):
            input = input[tuple(crop)]
        return constant_pad(input, [max(p, 0) for p in pad], 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect', 'replicate' or 'circular'; got {mode!r}")
    if value:
        raise ValueError(f"pad: a fill value only makes sense with mode='constant', not {mode!r}")
    out = input
    for i in range(len(pad) // 2):
        dim = input.ndim - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        size = input.shape[dim]
        if before < 0 or after < 0:
            raise ValueError(f"pad: negative amounts {pad} are only supported with mode='constant'")
        if before == after == 0:
            continue
        positions = np.arange(-before, size + after, like=input.array)
        if mode == "replicate":
            index = np.clip(positions, 0, size - 1)
        elif mode == "circular":
            if before > size or after > size:
                raise ValueError(f"pad: circular padding {pad} wraps more than once around dimension {dim} ({size})")
            index = positions % size
        else:
            if before >= size or after >= size:
                raise ValueError(
                    f"pad: reflect padding {(before, after)} must be smaller than dimension {dim} of {input.shape}"
                )
            index = np.abs(positions)
            index = np.where(index > size - 1, 2 * (size - 1) - index, index)
        out = out[(slice(None),) * dim + (index,)]
    return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer class indices of shape (*) -> int64 one-hot rows of shape (*, num_classes).

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.one_hot(deepgrad.tensor([0, 2]), 3).tolist()
    [[1, 0, 0], [0, 0, 1]]
    """
    tensor = as_input(tensor, "one_hot")
    if tensor.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected integer class indices, got {tensor.dtype}")
    data = tensor.array
    if num_classes == -1:
        num_classes = int(data.max()) + 1 if data.size else 0
    if data.size and (data.min() < 0 or data.max() >= num_classes):
        raise IndexError(
            f"one_hot: class values must be in [0, {num_classes}), got min {data.min()} and max {data.max()}"
        )
    return Tensor._make((data[..., None] == np.arange(num_classes, like=data)).astype(backend.int64), False, None)


# ---------------------------------------------------------------------------------------------------
# activations


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0); backward from a saved mask. ``inplace=True``: written over ``input`` (``Tensor.relu_``), in the
    graph too, as PyTorch does: no new memory, and the version counter tells a node that saved ``input``.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> x = deepgrad.tensor([-1.0, 2.0])
    >>> F.relu(x, inplace=True) is x, x.tolist()
    (True, [0.0, 2.0])
    """
    if inplace:
        return as_input(input, "relu").relu_()
    return as_input(input, "relu").relu()


def relu_(input: Tensor) -> Tensor:
    """max(x, 0) written into ``input`` (refused for a tensor recorded in the graph, as every in-place update)."""
    return as_input(input, "relu_").relu_()


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, negative_slope * x otherwise (``inplace``: as ``relu``'s)."""
    return _in_place_where_safe(
        as_input(input, "leaky_relu"), inplace, "leaky_relu", lambda x: x.leaky_relu(negative_slope)
    )


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """leaky_relu written into ``input`` (refused for a tensor recorded in the graph)."""
    return as_input(input, "leaky_relu_")._overwrite("leaky_relu_", lambda x: x.leaky_relu(negative_slope))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, alpha * (exp(x) - 1) otherwise (``inplace``: as ``relu``'s)."""
    return _in_place_where_safe(as_input(input, "elu"), inplace, "elu", lambda x: x.elu(alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """elu written into ``input`` (refused for a tensor recorded in the graph)."""
    return as_input(input, "elu_")._overwrite("elu_", lambda x: x.elu(alpha))


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) = x/2 (1 + erf(x / sqrt(2))); with approximate='tanh':
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> round(F.gelu(deepgrad.tensor(1.0)).item(), 4)
    0.8413
    """
    return label(composites.gelu(as_input(input, "gelu"), approximate), "GeluBackward0")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x) (also called swish; ``inplace``: as ``relu``'s)."""

    def compute(x: Tensor) -> Tensor:
        return label(composites.silu(x), "SiluBackward0")

    return _in_place_where_safe(as_input(input, "silu"), inplace, "silu", compute)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return as_input(input, "sigmoid").sigmoid()


def tanh(input: Tensor) -> Tensor:
    """(e^x - e^-x) / (e^x + e^-x)."""
    return as_input(input, "tanh").tanh()


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta x)) / beta, and x where beta x > threshold (one stable fused op)."""
    return nn_ops.Softplus.apply(as_input(input, "softplus"), beta=beta, threshold=threshold)


# More of PyTorch's activations, as composites of the primitives (their gradients come for free; each one's
# kinks take the gradient PyTorch gives there, checked in tests/test_nn_layers.py).


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> Tensor:
    """x clamped to [min_val, max_val]."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return _in_place_where_safe(as_input(input, "hardtanh"), inplace, "hardtanh", lambda x: x.clamp(min_val, max_val))


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)"""
    return hardtanh(input, 0.0, 6.0, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6: 0 below -3, 1 above 3, linear between."""
    return _in_place_where_safe(
        as_input(input, "hardsigmoid"), inplace, "hardsigmoid", lambda x: (x + 3).clamp(0.0, 6.0) / 6
    )


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6 (MobileNetV3's swish)."""
    return _in_place_where_safe(as_input(input, "hardswish"), inplace, "hardswish", lambda x: x * hardsigmoid(x))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))"""
    return _in_place_where_safe(as_input(input, "mish"), inplace, "mish", lambda x: x * softplus(x).tanh())


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalising constants (Klambauer et al., 2017)."""
    return _in_place_where_safe(
        as_input(input, "selu"), inplace, "selu", lambda x: composites.elu(x, SELU_ALPHA) * SELU_SCALE
    )


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))"""
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0")
    return _in_place_where_safe(
        as_input(input, "celu"), inplace, "celu", lambda x: composites.elu(x / alpha, 1.0) * alpha
    )


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), finite for any x."""
    return -softplus(-as_input(input, "logsigmoid"))


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|)"""
    x = as_input(input, "softsign")
    return x / (x.abs() + 1)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)"""
    x = as_input(input, "tanhshrink")
    return x - x.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    x = as_input(input, "softshrink")
    if lambd < 0:
        raise ValueError(f"softshrink: lambd must be non-negative, got {lambd}")
    return x - x.clamp(-lambd, lambd)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0."""
    x = as_input(input, "hardshrink")
    return x.where(np.abs(x.array) > lambd, x * 0)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    return _in_place_where_safe(
        as_input(input, "threshold"), inplace, "threshold", lambda x: x.where(x.array > threshold, x * 0 + value)
    )


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b), a and b the two halves of ``input`` along ``dim``."""
    x = as_input(input, "glu")
    axis = _softmax_dim("glu", x.ndim, dim)
    if x.shape[axis] % 2:
        raise ValueError(f"glu: dimension {dim} of the input (shape {x.shape}) must have an even size")
    a, b = x.chunk(2, axis)
    return a * b.sigmoid()


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x; ``weight`` has one value, or one per channel (dimension 1)."""
    x = as_input(input, "prelu")
    if weight.numel() != 1 and (x.ndim < 2 or weight.numel() != x.shape[1]):
        raise ValueError(
            f"prelu: weight of {weight.numel()} values for an input of shape {x.shape}: give 1 or one per channel"
        )
    slope = weight.reshape(()) if weight.numel() == 1 else weight.reshape(-1, *([1] * (x.ndim - 2)))
    return x.where(x.array > 0, x * slope)


def softmin(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """softmax(-x) along ``dim``."""
    return softmax(-as_input(input, "softmin"), dim, dtype)


def layer_norm(
    input: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None, bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:  # fmt: skip
    """(x - mean) / sqrt(var + eps) over the last ``len(normalized_shape)`` dimensions (biased variance), then
    ``* weight + bias`` elementwise over those dimensions."""
    x = as_input(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(x.shape[x.ndim - len(shape) :]) != shape:
        raise ValueError(f"layer_norm: normalized_shape {shape} is not the end of the input's shape {x.shape}")
    out, _, _ = composites.batch_normalize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    if weight is not None:
        out = out * weight
    return out + bias if bias is not None else out


def group_norm(
    input: Tensor, num_groups: int, weight: Tensor | None = None, bias: Tensor | None = None, eps: float = 1e-5
) -> Tensor:
    """Each sample's channels in ``num_groups`` groups, each group normalised over its channels and positions
    (biased variance), then ``* weight + bias`` per channel."""
    x = as_input(input, "group_norm")
    if x.ndim < 2 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: {num_groups} groups do not divide the channels of an input of shape {x.shape}")
    grouped = x.reshape(x.shape[0], num_groups, -1)
    out, _, _ = composites.batch_normalize(grouped, (2,), eps)
    out = out.reshape(x.shape)
    per_channel = (1, -1) + (1,) * (x.ndim - 2)
    if weight is not None:
        out = out * weight.reshape(per_channel)
    return out + bias.reshape(per_channel) if bias is not None else out


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None) -> Tensor:
    """The rows of ``weight`` at the integer indices ``input`` (any shape): (*input.shape, embedding_dim). The
    row ``padding_idx`` gets no gradient, as PyTorch's."""
    indices = input.array if isinstance(input, Tensor) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype} (shape {indices.shape})")
    if indices.size and (indices.min() < 0 or indices.max() >= weight.shape[0]):
        raise IndexError(
            f"embedding: index {int(indices.max() if indices.max() >= weight.shape[0] else indices.min())} is "
            f"out of range for {weight.shape[0]} embeddings"
        )
    out = weight[indices]
    if padding_idx is None:
        return label(out, "EmbeddingBackward0")
    padding = (indices == padding_idx)[..., None]
    return label(out.where(~padding, out.detach()), "EmbeddingBackward0")


def smooth_l1_loss(input: Tensor, target: Tensor, reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    difference = as_input(input, "smooth_l1_loss") - _float_target(target, input)
    size = difference.abs()
    if beta == 0:  # the quadratic part vanishes: the L1 loss
        return _reduce(size, reduction)
    linear = size - 0.5 * beta
    return _reduce(linear.where(size.array >= beta, difference * difference * (0.5 / beta)), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0) -> Tensor:
    """0.5 d^2 where |d| <= delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    difference = as_input(input, "huber_loss") - _float_target(target, input)
    size = difference.abs()
    quadratic = difference * difference * 0.5
    return _reduce(quadratic.where(size.array <= delta, (size - 0.5 * delta) * delta), reduction)


def margin_ranking_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """max(0, -y (x1 - x2) + margin): x1 should rank above x2 where y = 1, below where y = -1."""
    a, b = as_input(input1, "margin_ranking_loss"), as_input(input2, "margin_ranking_loss")
    return _reduce(
        (-_float_target(as_input(target, "margin_ranking_loss"), a) * (a - b) + margin).clamp_min(0.0), reduction
    )


def triplet_margin_loss(
    anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6,
    swap: bool = False, reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """max(d(a, p) - d(a, n) + margin, 0), d the pairwise p-norm distance (``swap``: d(a, n) replaced by
    d(p, n) where that is smaller)."""
    to_positive = pairwise_distance(anchor, positive, p, eps)
    to_negative = pairwise_distance(anchor, negative, p, eps)
    if swap:
        to_negative = to_negative.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((to_positive - to_negative + margin).clamp_min(0.0), reduction)


def cosine_embedding_loss(
    input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1 (cos along the feature axis,
    with PyTorch's 1e-12 added to each squared norm)."""
    a, b = as_input(input1, "cosine_embedding_loss"), as_input(input2, "cosine_embedding_loss")
    axis = 1 if a.ndim == 2 else 0
    cosine = (a * b).sum(axis) / (((a * a).sum(axis) + 1e-12) * ((b * b).sum(axis) + 1e-12)).sqrt()
    labels = as_input(target, "cosine_embedding_loss").array
    zero = cosine * 0
    loss = (1 - cosine).where(labels == 1, zero) + (cosine - margin).clamp_min(0.0).where(labels == -1, zero)
    return _reduce(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """log(1 + exp(-y x)) for labels y = +-1 (computed as softplus, finite for any x)."""
    x = as_input(input, "soft_margin_loss")
    return _reduce(softplus(-_float_target(as_input(target, "soft_margin_loss"), x) * x), reduction)


def poisson_nll_loss(
    input: Tensor, target: Tensor, log_input: bool = True, full: bool = False, eps: float = 1e-8,
    reduction: str = "mean",
) -> Tensor:  # fmt: skip
    """The Poisson negative log-likelihood of ``target`` counts: exp(x) - y x for log rates (``log_input``),
    else x - y log(x + eps); ``full`` adds Stirling's y log y - y + log(2 pi y) / 2 where y > 1."""
    x = as_input(input, "poisson_nll_loss")
    y = _float_target(as_input(target, "poisson_nll_loss"), x)
    loss = x.exp() - y * x if log_input else x - y * (x + eps).log()
    if full:
        counts = y.array
        safe = np.where(counts > 1, counts, 1.0)
        stirling = safe * np.log(safe) - safe + 0.5 * np.log(2 * np.pi * safe)
        loss = loss + Tensor._make(np.where(counts > 1, stirling, 0.0).astype(counts.dtype), False, None)
    return _reduce(loss, reduction)


def gaussian_nll_loss(
    input: Tensor, target: Tensor, var: Any, full: bool = False, eps: float = 1e-6, reduction: str = "mean"
) -> Tensor:
    """(log var + (x - y)^2 / var) / 2 (+ log(2 pi) / 2 with ``full``), the variance clamped at ``eps`` for
    stability without changing its gradient (as PyTorch's); ``var`` of the input's shape, or one fewer
    dimension / a last dimension of 1 (one variance per sample)."""
    x = as_input(input, "gaussian_nll_loss")
    variance = (
        var if isinstance(var, Tensor) else Tensor._make(np.full(x.shape[:-1] + (1,), var, dtype=x.dtype), False, None)
    )
    if variance.shape != x.shape:
        if tuple(variance.shape) == x.shape[:-1]:
            variance = variance.unsqueeze(-1)
        elif not (variance.shape[:-1] == x.shape[:-1] and variance.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var of shape {variance.shape} for input of shape {x.shape}")
    if np.any(variance.array < 0):
        raise ValueError("gaussian_nll_loss: var has negative entries")
    clamped = variance + Tensor._make(np.maximum(variance.array, eps) - variance.array, False, None)
    loss = 0.5 * (clamped.log() + (x - _float_target(as_input(target, "gaussian_nll_loss"), x)) ** 2 / clamped)
    if full:
        loss = loss + 0.5 * float(np.log(2 * np.pi))
    return _reduce(loss, reduction)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """x / max(||x||_p, eps) along ``dim``."""
    x = as_input(input, "normalize")
    return x / x.norm(p, dim, keepdim=True).clamp_min(eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """x1 . x2 / sqrt(max(||x1||^2 ||x2||^2, eps^2)) along ``dim`` (inputs broadcast)."""
    a, b = as_input(x1, "cosine_similarity"), as_input(x2, "cosine_similarity")
    squares = ((a * a).sum(dim) * (b * b).sum(dim)).clamp_min(eps * eps)
    return (a * b).sum(dim) / squares.sqrt()


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dimension."""
    a, b = as_input(x1, "pairwise_distance"), as_input(x2, "pairwise_distance")
    return (a - b + eps).norm(p, -1, keepdim=keepdim)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C r^2, H, W) -> (*, C, H r, W r): each group of r^2 channels becomes an r x r block of pixels."""
    x, r = as_input(input, "pixel_shuffle"), upscale_factor
    *batch, channels, height, width = x.shape
    if x.ndim < 3 or channels % (r * r):
        raise ValueError(
            f"pixel_shuffle: {channels} channels of an input of shape {x.shape} are not divisible by {r * r}"
        )
    n = len(batch)
    blocks = x.reshape(*batch, channels // (r * r), r, r, height, width)
    order = (*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return blocks.permute(*order).reshape(*batch, channels // (r * r), height * r, width * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of ``pixel_shuffle``."""
    x, r = as_input(input, "pixel_unshuffle"), downscale_factor
    *batch, channels, height, width = x.shape
    if x.ndim < 3 or height % r or width % r:
        raise ValueError(f"pixel_unshuffle: the input's height and width (shape {x.shape}) are not divisible by {r}")
    n = len(batch)
    blocks = x.reshape(*batch, channels, height // r, r, width // r, r)
    order = (*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return blocks.permute(*order).reshape(*batch, channels * r * r, height // r, width // r)


def scaled_dot_product_attention(
    query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None = None, dropout_p: float = 0.0,
    is_causal: bool = False, scale: float | None = None,
) -> Tensor:  # fmt: skip
    """softmax(q k^T * scale + mask) v over the last two dimensions (scale 1/sqrt(d) by default); a boolean
    ``attn_mask`` keeps the True positions, a float one is added; ``is_causal``: each query sees the keys up
    to its own position."""
    q, k, v = (as_input(t, "scaled_dot_product_attention") for t in (query, key, value))
    scale = 1.0 / float(np.sqrt(q.shape[-1])) if scale is None else scale
    scores = q.matmul(k.transpose(-2, -1)) * scale
    length, source = scores.shape[-2:]
    if is_causal:
        if attn_mask is not None:
            raise ValueError("scaled_dot_product_attention: give attn_mask or is_causal, not both")
        rows = np.arange(length, like=scores.array).reshape(-1, 1)
        attn_mask = np.arange(source, like=scores.array).reshape(1, -1) <= rows  # each query: keys up to its own
    if attn_mask is not None:
        mask = attn_mask.array if isinstance(attn_mask, Tensor) else attn_mask
        if mask.dtype == np.bool_:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = scores.softmax(-1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p)
    return weights.matmul(v)


INTERPOLATE_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "area")


def interpolate(
    input: Tensor, size: Any = None, scale_factor: Any = None, mode: str = "nearest", align_corners: bool | None = None,
) -> Tensor:  # fmt: skip
    """Resize the spatial dimensions of (N, C, L) or (N, C, H, W) input to ``size``, or by ``scale_factor``:
    ``nearest`` (source index floor(dst / scale), PyTorch's), ``nearest-exact`` (floor((dst + 0.5) / scale)),
    ``linear`` / ``bilinear`` (two-point interpolation per axis; ``align_corners`` maps the corner pixels'
    centres onto each other), ``area`` (adaptive average pooling). Built from indexing and products, so it
    is differentiable (gradients are scatter-adds of the weights)."""
    x = as_input(input, "interpolate")
    spatial = x.ndim - 2
    if spatial not in (1, 2):
        raise ValueError(f"interpolate: expected (N, C, L) or (N, C, H, W) input, got shape {x.shape}")
    if mode not in INTERPOLATE_MODES:
        raise ValueError(f"interpolate: mode {mode!r} is not supported; choose one of {', '.join(INTERPOLATE_MODES)}")
    if align_corners is not None and mode not in ("linear", "bilinear"):
        raise ValueError(f"interpolate: align_corners only applies to linear and bilinear modes, not {mode!r}")
    if (mode == "linear") != (spatial == 1) and mode in ("linear", "bilinear"):
        raise ValueError(f"interpolate: mode {mode!r} needs {'3' if mode == 'linear' else '4'}-D input, got {x.shape}")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: give exactly one of size and scale_factor")
    in_sizes = x.shape[2:]
    if size is not None:
        out_sizes = (size,) * spatial if isinstance(size, int) else tuple(size)
        scales = [None] * spatial
    else:
        factors = (scale_factor,) * spatial if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
        out_sizes = tuple(int(np.floor(n * f)) for n, f in zip(in_sizes, factors))
        scales = [1.0 / f for f in factors]
    if len(out_sizes) != spatial or min(out_sizes) < 1:
        raise ValueError(f"interpolate: output size {out_sizes} for an input of shape {x.shape}")
    if mode == "area":
        if spatial == 1:
            return adaptive_avg_pool2d(x.unsqueeze(2), (1, out_sizes[0])).squeeze(2)
        return adaptive_avg_pool2d(x, out_sizes)
    out = x
    for axis, (n_in, n_out, scale) in enumerate(zip(in_sizes, out_sizes, scales)):
        out = _resize_axis(out, 2 + axis, n_in, n_out, scale, mode, bool(align_corners))
    return out


def _resize_axis(x: Tensor, axis: int, n_in: int, n_out: int, scale: float | None, mode: str, corners: bool) -> Tensor:
    """``x`` resized along one axis (PyTorch's source-index rules; ``scale`` = 1 / scale_factor when given)."""
    before = (slice(None),) * axis
    destination = np.arange(n_out, dtype=np.float64)
    ratio = scale if scale is not None else n_in / n_out
    if mode in ("nearest", "nearest-exact"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        source = np.minimum(np.floor((destination + offset) * ratio), n_in - 1).astype(np.int64)
        return x[before + (source,)]
    if corners:
        source = destination * ((n_in - 1) / (n_out - 1)) if n_out > 1 else np.zeros(n_out)
    else:
        source = np.maximum((destination + 0.5) * ratio - 0.5, 0.0)
    low = np.minimum(np.floor(source), n_in - 1).astype(np.int64)
    high = np.minimum(low + 1, n_in - 1)
    shape = (-1,) + (1,) * (x.ndim - axis - 1)
    upper = Tensor._make(np.asarray((source - low).reshape(shape), dtype=x.dtype, like=x.array), False, None)
    return x[before + (low,)] * (1 - upper) + x[before + (high,)] * upper


def _softmax_dim(name: str, ndim: int, dim: int | None) -> int:
    if dim is not None:
        return dim
    # PyTorch's legacy rule for a missing dim, with its warning: 0 for 0-, 1- and 3-d input, else 1
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """exp(x_i) / sum_j exp(x_j) along ``dim``.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.softmax(deepgrad.tensor([0.0, 0.0]), dim=0).tolist()
    [0.5, 0.5]
    """
    input = as_input(input, "softmax")
    if dtype is not None:
        input = input.to(dtype)
    return input.softmax(_softmax_dim("softmax", input.ndim, dim))


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """x_i - log sum_j exp(x_j) along ``dim`` (stable)."""
    input = as_input(input, "log_softmax")
    if dtype is not None:
        input = input.to(dtype)
    return input.log_softmax(_softmax_dim("log_softmax", input.ndim, dim))


# ---------------------------------------------------------------------------------------------------
# losses


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits ``input`` (N, C) or (N, C, d1, ...), unbatched (C,) too.

    Class-index targets (integers, shape (N, d1, ...)): loss_i = -w[t_i] log softmax(x_i)[t_i], one fused
    op whose backward is (softmax - onehot) * grad; 'mean' divides by the sum of the counted targets'
    weights; targets equal to ``ignore_index`` are skipped. Probability targets (floats, the input's shape):
    loss_i = -sum_c w_c y_ic log softmax(x_i)_c, 'mean' divides by N. ``label_smoothing`` eps mixes the
    targets with the uniform distribution: (1 - eps) y + eps / C.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> logits = deepgrad.tensor([[1000.0, 0.0], [0.0, 1000.0]])
    >>> F.cross_entropy(logits, deepgrad.tensor([0, 0])).item()
    500.0
    """
    reduction = legacy_reduction(size_average, reduce, "cross_entropy") or reduction
    check_reduction(reduction, "cross_entropy")
    input = as_input(input, "cross_entropy")
    target = as_input(target, "cross_entropy", "target")
    if input.dtype.kind != "f":
        raise TypeError(f"cross_entropy: input (logits) must be floating point, got {input.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
    if target.dtype.kind == "f" and target.shape == input.shape:
        return _cross_entropy_probabilities(input, target, weight, reduction, label_smoothing)
    batched, target_data, unbatched = class_targets("cross_entropy", input, target, ignore_index)
    class_weight = class_weights("cross_entropy", weight, batched.shape[1], input)
    loss = nn_ops.CrossEntropy.apply(
        batched,
        target=target_data,
        weight=class_weight,
        ignore_index=ignore_index,
        reduction=reduction,
        label_smoothing=float(label_smoothing),
    )
    if unbatched and reduction == "none":
        return loss.reshape(())
    return loss


def _cross_entropy_probabilities(
    input: Tensor, target: Tensor, weight: Tensor | None, reduction: str, label_smoothing: float
) -> Tensor:
    class_dim = 0 if input.ndim == 1 else 1
    classes = input.shape[class_dim]
    target = _float_target(target, input)  # a float64 target must not turn a float32 loss into float64
    if label_smoothing:
        target = target * (1 - label_smoothing) + label_smoothing / classes
    terms = input.log_softmax(class_dim) * target
    class_weight = class_weights("cross_entropy", weight, classes, input)
    if class_weight is not None:
        terms = terms * class_weight.reshape((classes,) + (1,) * (input.ndim - class_dim - 1))
    return _reduce(-terms.sum(class_dim), reduction)


def nll_loss(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    ignore_index: int = -100,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` (N, C, ...): loss_i = -w[t_i] input[i, t_i];
    'mean' divides by the sum of the counted targets' weights. ``cross_entropy = nll_loss(log_softmax(x))``."""
    reduction = legacy_reduction(size_average, reduce, "nll_loss") or reduction
    check_reduction(reduction, "nll_loss")
    input = as_input(input, "nll_loss")
    target = as_input(target, "nll_loss", "target")
    batched, target_data, unbatched = class_targets("nll_loss", input, target, ignore_index)
    class_weight = class_weights("nll_loss", weight, batched.shape[1], input)
    loss = loss_ops.NllLoss.apply(
        batched, target=target_data, weight=class_weight, ignore_index=ignore_index, reduction=reduction
    )
    if unbatched and reduction == "none":
        return loss.reshape(())
    return loss


def mse_loss(
    input: Tensor,
    target: Tensor,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """(x - y)^2, averaged ('mean'), summed ('sum') or elementwise ('none').

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.mse_loss(deepgrad.tensor([1.0, 2.0]), deepgrad.tensor([1.0, 4.0])).item()
    2.0
    """
    reduction = legacy_reduction(size_average, reduce, "mse_loss") or reduction
    check_reduction(reduction, "mse_loss")
    input, target = as_input(input, "mse_loss"), as_input(target, "mse_loss", "target")
    check_pair("mse_loss", input, target)
    diff = input - target
    return label(_reduce(diff * diff, reduction), "MseLossBackward0")


def l1_loss(
    input: Tensor,
    target: Tensor,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """|x - y|, averaged, summed or elementwise (gradient sign(x - y), 0 where equal)."""
    reduction = legacy_reduction(size_average, reduce, "l1_loss") or reduction
    check_reduction(reduction, "l1_loss")
    input, target = as_input(input, "l1_loss"), as_input(target, "l1_loss", "target")
    check_pair("l1_loss", input, target)
    return _reduce((input - target).abs(), reduction)


def _float_target(target: Tensor, input: Tensor) -> Tensor:
    # 0/1 labels often arrive as integers or booleans; the losses need them in the input's float dtype
    return target if target.dtype == input.dtype else target.to(input.dtype)


def binary_cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """-w (y log x + (1 - y) log(1 - x)) for probabilities x in [0, 1] (each log clamped at -100, as PyTorch).

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.binary_cross_entropy(deepgrad.tensor([0.0, 1.0]), deepgrad.tensor([1.0, 1.0])).item()
    50.0
    """
    reduction = legacy_reduction(size_average, reduce, "binary_cross_entropy") or reduction
    check_reduction(reduction, "binary_cross_entropy")
    input = as_input(input, "binary_cross_entropy")
    target = _float_target(as_input(target, "binary_cross_entropy", "target"), input)
    check_pair("binary_cross_entropy", input, target, same_shape=True)
    data = input.array
    if data.size and not (data.min() >= 0 and data.max() <= 1):  # also catches NaN
        raise ValueError(
            f"binary_cross_entropy: all elements of input should be between 0 and 1 (probabilities), got values "
            f"in [{data.min()}, {data.max()}]; for logits use binary_cross_entropy_with_logits"
        )
    loss = nn_ops.BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * as_input(weight, "binary_cross_entropy", "weight")
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Tensor | None = None,
) -> Tensor:
    """Binary cross-entropy of sigmoid(x) computed from the logits x, stably:
    loss = -w [p y log sigmoid(x) + (1 - y) log(1 - sigmoid(x))] = w [(1 - y) x + (1 + (p - 1) y) softplus(-x)],
    with ``pos_weight`` p (broadcast over the last dimension) weighting the positive class.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.binary_cross_entropy_with_logits(deepgrad.tensor([-1000.0]), deepgrad.tensor([1.0])).item()
    1000.0
    """
    reduction = legacy_reduction(size_average, reduce, "binary_cross_entropy_with_logits") or reduction
    check_reduction(reduction, "binary_cross_entropy_with_logits")
    input = as_input(input, "binary_cross_entropy_with_logits")
    target = _float_target(as_input(target, "binary_cross_entropy_with_logits", "target"), input)
    check_pair("binary_cross_entropy_with_logits", input, target, same_shape=True)
    if pos_weight is None:
        loss = nn_ops.BinaryCrossEntropyWithLogits.apply(input, target)
    else:
        pos_weight = as_input(pos_weight, "binary_cross_entropy_with_logits", "pos_weight")
        try:
            np.broadcast_shapes(pos_weight.shape, input.shape)
        except ValueError:
            raise ValueError(
                f"binary_cross_entropy_with_logits: pos_weight of shape {pos_weight.shape} does not broadcast "
                f"against input of shape {input.shape} (one weight per class: the last dimension)"
            ) from None
        loss = nn_ops.BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * as_input(weight, "binary_cross_entropy_with_logits", "weight")
    return _reduce(loss, reduction)


def kl_div(
    input: Tensor,
    target: Tensor,
    *,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback-Leibler divergence with ``input`` as log-probabilities: y (log y - x) elementwise
    (0 where y = 0), or e^y (y - x) when ``log_target``. 'batchmean' divides the sum by the batch size,
    which is the true KL divergence per sample; 'mean' divides by the number of elements.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> p = deepgrad.tensor([[0.5, 0.5]])
    >>> F.kl_div(p.log(), p, reduction="batchmean").item()
    0.0
    """
    reduction = legacy_reduction(size_average, reduce, "kl_div") or reduction
    check_reduction(reduction, "kl_div", REDUCTIONS + ("batchmean",))
    input, target = as_input(input, "kl_div"), as_input(target, "kl_div", "target")
    check_pair("kl_div", input, target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target.array != 0
        safe = where(positive, target, 1.0)
        loss = where(positive, target * safe.log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    if reduction == "mean":
        warnings.warn(
            "kl_div: reduction='mean' divides the total loss by both the batch size and the support size; "
            "'batchmean' divides only by the batch size and gives the KL divergence.",
            stacklevel=2,
        )
    return _reduce(loss, reduction)


# ---------------------------------------------------------------------------------------------------
# composites for the CNN architectures (issue 12): no derivative code of their own. Each is written with
# conv2d, the pooling primitives, slicing, padding and reductions, so its gradient (and its gradient's
# gradient) comes from theirs, and a faster conv2d or pooling kernel speeds these up too.


def adaptive_output_size(output_size: Any, input_size: tuple[int, int], name: str) -> tuple[int, int]:
    """An adaptive pooling target: an int, or a pair whose entries are ints >= 1 or None (keep that size)."""
    pair = (output_size, output_size) if not isinstance(output_size, (tuple, list)) else tuple(output_size)
    if len(pair) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair (h, w), got {output_size!r}")
    sizes = []
    for value, size in zip(pair, input_size):
        value = size if value is None else value
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name}: output_size entries must be positive integers or None, got {output_size!r}")
        sizes.append(int(value))
    return sizes[0], sizes[1]


def _adaptive_bins(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows along one axis: bin i covers [floor(i size / out), ceil((i + 1) size / out))."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


def _adaptive_reduce(input: Tensor, out_size: tuple[int, int], reduce: str) -> Tensor:
    """Pool (N, C, H, W) over PyTorch's adaptive bins, one axis at a time: a rectangle's mean (or max) is
    the mean (max) over its rows of the mean (max) over its columns, so H_out + W_out slices suffice."""
    out = input
    for axis in (2, 3):
        bins = _adaptive_bins(input.shape[axis], out_size[axis - 2])
        if len(bins) == out.shape[axis]:  # output as large as the input: every bin is one element
            continue
        parts = []
        for start, end in bins:
            index = [slice(None)] * 4
            index[axis] = slice(start, end)
            window = out[tuple(index)]
            parts.append(window.mean(axis, keepdim=True) if reduce == "mean" else window.amax(axis, keepdim=True))
        out = parts[0] if len(parts) == 1 else cat_tensors(parts, axis)
    return out


def adaptive_avg_pool2d(input: Tensor, output_size: int | tuple[int | None, int | None]) -> Tensor:
    """y[n, c, i, j] = mean of x[n, c] over rows floor(i H / H_out) .. ceil((i + 1) H / H_out) - 1 and the same
    columns rule: output (N, C, H_out, W_out) whatever the input size. An exact division is average pooling
    with kernel = stride = H / H_out; otherwise the windows (which may overlap) are pooled axis by axis.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.adaptive_avg_pool2d(deepgrad.arange(16.0).reshape(1, 1, 4, 4), 1).tolist()
    [[[[7.5]]]]
    """
    input, unbatched = image_input(input, "adaptive_avg_pool2d")
    height, width = input.shape[2:]
    out_size = adaptive_output_size(output_size, (height, width), "adaptive_avg_pool2d")
    if out_size == (1, 1):
        out = input.mean((2, 3), keepdim=True)
    elif height % out_size[0] == 0 and width % out_size[1] == 0:
        kernel = (height // out_size[0], width // out_size[1])
        out = input if kernel == (1, 1) else avg_pool2d(input, kernel, kernel)
    else:
        out = _adaptive_reduce(input, out_size, "mean")
    return out.squeeze(0) if unbatched else out


def _adaptive_max_indices(data: np.ndarray, out_size: tuple[int, int]) -> np.ndarray:
    """The flat (H, W) index of each adaptive window's first maximum, int64, as PyTorch's ``return_indices``."""
    batch, channels, height, width = data.shape
    indices = np.empty((batch, channels, *out_size), dtype=np.int64)
    for i, (top, bottom) in enumerate(_adaptive_bins(height, out_size[0])):
        for j, (left, right) in enumerate(_adaptive_bins(width, out_size[1])):
            window = data[:, :, top:bottom, left:right].reshape(batch, channels, -1)
            row, col = np.divmod(np.argmax(window, axis=-1), right - left)
            indices[:, :, i, j] = (top + row) * width + left + col
    return indices


def adaptive_max_pool2d(
    input: Tensor, output_size: int | tuple[int | None, int | None], return_indices: bool = False
) -> Tensor | tuple[Tensor, Tensor]:
    """y[n, c, i, j] = max of x[n, c] over the adaptive window (i, j) (rows floor(i H / H_out) .. ceil((i + 1) H /
    H_out) - 1, columns alike); ``return_indices`` also gives each maximum's flat index in its (H, W) plane.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.adaptive_max_pool2d(deepgrad.arange(16.0).reshape(1, 1, 4, 4), (1, 2)).tolist()
    [[[[13.0, 15.0]]]]
    """
    input, unbatched = image_input(input, "adaptive_max_pool2d")
    height, width = input.shape[2:]
    out_size = adaptive_output_size(output_size, (height, width), "adaptive_max_pool2d")
    if height % out_size[0] == 0 and width % out_size[1] == 0:
        kernel = (height // out_size[0], width // out_size[1])
        out = max_pool2d(input, kernel, kernel)
    else:
        out = _adaptive_reduce(input, out_size, "max")
    if unbatched:
        out = out.squeeze(0)
    if not return_indices:
        return out
    indices = Tensor._make(_adaptive_max_indices(input.array, out_size), False, None)
    return out, (indices.squeeze(0) if unbatched else indices)


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> Tensor:
    """AlexNet's normalisation across channels: y_c = x_c / (k + alpha / size * sum_{c'} x_{c'}^2)^beta, the sum
    over the ``size`` channels c - size // 2 .. c + (size - 1) // 2 (zeros beyond the edges), for (N, C, *) input.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.local_response_norm(deepgrad.ones(1, 3, 1, 1), 2, alpha=1.0, beta=1.0, k=0.0).flatten().tolist()
    [2.0, 1.0, 1.0]
    """
    input = as_input(input, "local_response_norm")
    if input.ndim < 3:
        raise ValueError(
            f"local_response_norm: expected input (N, C, *) of 3 or more dimensions, got shape {input.shape}"
        )
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"local_response_norm: size must be a positive integer, got {size!r}")
    channels = input.shape[1]
    squares = input * input
    padding = [0, 0] * (input.ndim - 2) + [size // 2, (size - 1) // 2]  # F.pad's order: last dimension first
    padded = pad(squares, padding)
    total = padded[:, 0:channels]
    for offset in range(1, size):
        total = total + padded[:, offset : offset + channels]
    return input / (total * (alpha / size) + k) ** beta


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout for (N, C, L) or (C, L) input: each whole channel zeroed with probability p in training,
    the others scaled by 1/(1-p); outside training, the identity."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    input = as_input(input, "dropout1d")
    if input.ndim not in (2, 3):
        raise ValueError(f"dropout1d: expected a 3-D input (N, C, L) or 2-D (C, L), got shape {input.shape}")
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"dropout1d: expected a floating-point input, got {input.dtype} (shape {input.shape})")
    return _drop(input, p, (*input.shape[:-1], 1), inplace, "dropout1d")


def adaptive_avg_pool1d(input: Tensor, output_size: int) -> Tensor:
    """Average over PyTorch's adaptive windows along the last dimension of (N, C, L) or (C, L) input."""
    x = as_input(input, "adaptive_avg_pool1d")
    return adaptive_avg_pool2d(x.unsqueeze(-2), (1, _single(output_size, "adaptive_avg_pool1d"))).squeeze(-2)


def adaptive_max_pool1d(input: Tensor, output_size: int, return_indices: bool = False) -> Any:
    """Maximum over PyTorch's adaptive windows along the last dimension (``return_indices``: their positions)."""
    x = as_input(input, "adaptive_max_pool1d")
    out = adaptive_max_pool2d(x.unsqueeze(-2), (1, _single(output_size, "adaptive_max_pool1d")), return_indices)
    if return_indices:
        return out[0].squeeze(-2), out[1].squeeze(-2)
    return out.squeeze(-2)


def _single(size: Any, name: str) -> int:
    value = size[0] if isinstance(size, (tuple, list)) and len(size) == 1 else size
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: output_size must be a positive integer, got {size!r}")
    return value


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Channel dropout: in training, zero each whole channel x[n, c] with probability p and scale the others by
    1/(1-p) (one draw per sample and channel, for (N, C, H, W) input); outside training, the identity.
    A 3-D input is read as (N, C, L), as PyTorch does with a warning. ``inplace``: as ``dropout``'s.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> y = F.dropout2d(deepgrad.ones(2, 8, 3, 3), 0.5)
    >>> all(len(set(y[n, c].flatten().tolist())) == 1 for n in range(2) for c in range(8))
    True
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    input = as_input(input, "dropout2d")
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected a 4-D input (N, C, H, W) (or 3-D), got shape {input.shape}")
    if input.ndim == 3:
        warnings.warn(
            "dropout2d: received a 3-D input; it is read as (N, C, L) and whole channels of length L are dropped "
            "(use dropout1d for that, or add the batch dimension for one (C, H, W) image)",
            stacklevel=2,
        )
    if not training or p == 0.0:
        return input
    if input.dtype.kind != "f":
        raise TypeError(f"dropout2d: expected a floating-point input, got {input.dtype} (shape {input.shape})")
    return _drop(input, p, input.shape[:2] + (1,) * (input.ndim - 2), inplace, "dropout2d")


def _zero_insert(input: Tensor, stride: tuple[int, int]) -> Tensor:
    """(N, C, H, W) -> (N, C, (H - 1) s_h + 1, (W - 1) s_w + 1) with s_h - 1 (s_w - 1) zero rows (columns) between
    the input's: each value gets a block of zeros after it (pad of a unit axis), the blocks are merged into the
    rows (reshape), and the zeros after the last row and column are cut off."""
    batch, channels, height, width = input.shape
    s_h, s_w = stride
    if stride == (1, 1):
        return input
    spread = pad(input.reshape(batch, channels, height, 1, width, 1), (0, s_w - 1, 0, 0, 0, s_h - 1))
    spread = spread.reshape(batch, channels, height * s_h, width * s_w)
    return spread[:, :, : (height - 1) * s_h + 1, : (width - 1) * s_w + 1]


def conv_transpose2d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> Tensor:
    """The adjoint of conv2d ("deconvolution"): y[n, o, s h + d i - p, s w + d j - p] += W[c, o, i, j] x[n, c, h, w].

    ``weight`` is (C_in, C_out/groups, k_h, k_w); the output is (N, C_out, H_out, W_out) with
    H_out = (H - 1) s - 2 p + d (k - 1) + output_padding + 1. Computed as a stride-1 conv2d of the input with
    s - 1 zeros inserted between its pixels and d (k - 1) - p zeros around it (output_padding more at the
    bottom/right), with the kernel flipped and its in/out axes swapped within each group.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.conv_transpose2d(deepgrad.ones(1, 1, 2, 2), deepgrad.ones(1, 1, 2, 2)).tolist()
    [[[[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]]]
    """
    input, unbatched = image_input(input, "conv_transpose2d")
    weight = as_input(weight, "conv_transpose2d", "weight")
    if weight.ndim != 4:
        raise ValueError(
            f"conv_transpose2d: weight must be 4-D (in_channels, out_channels/groups, kH, kW), got shape {weight.shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv_transpose2d: groups must be a positive integer, got {groups!r}")
    in_channels, group_out, kernel_h, kernel_w = weight.shape
    if in_channels != input.shape[1] or in_channels % groups:
        raise ValueError(
            f"conv_transpose2d: input of shape {input.shape} has {input.shape[1]} channels (axis 1), but weight of "
            f"shape {weight.shape} expects {in_channels} (weight.shape[0]), divisible by groups={groups}"
        )
    stride = int_pair(stride, "stride", "conv_transpose2d", 1)
    padding_pair = int_pair(padding, "padding", "conv_transpose2d", 0)
    extra = int_pair(output_padding, "output_padding", "conv_transpose2d", 0)
    dilation = int_pair(dilation, "dilation", "conv_transpose2d", 1)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(
            f"conv_transpose2d: output_padding {extra} must be smaller than either stride {stride} or dilation "
            f"{dilation}"
        )
    spread = _zero_insert(input, stride)
    borders = [dilation[a] * (k - 1) - padding_pair[a] for a, k in enumerate((kernel_h, kernel_w))]
    # F.pad's order (left, right, top, bottom); a negative amount crops (padding larger than the kernel)
    framed = pad(spread, (borders[1], borders[1] + extra[1], borders[0], borders[0] + extra[0]))
    if framed.shape[2] < dilation[0] * (kernel_h - 1) + 1 or framed.shape[3] < dilation[1] * (kernel_w - 1) + 1:
        raise ValueError(
            f"conv_transpose2d: padding {padding_pair} leaves no output for input of shape {input.shape} and kernel "
            f"{(kernel_h, kernel_w)} (stride {stride}, dilation {dilation})"
        )
    # (C_in, C_out/g, kh, kw) -> (C_out, C_in/g, kh, kw): swap the channel axes within each group, flip the kernel
    grouped = weight.reshape(groups, in_channels // groups, group_out, kernel_h, kernel_w).transpose(1, 2)
    kernel = grouped.reshape(groups * group_out, in_channels // groups, kernel_h, kernel_w)[:, :, ::-1, ::-1]
    out = conv2d(framed, kernel, bias, 1, 0, dilation, groups)
    return out.squeeze(0) if unbatched else out


def conv1d(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int] = 1,
    padding: int | tuple[int] | str = 0,
    dilation: int | tuple[int] = 1,
    groups: int = 1,
) -> Tensor:
    """1-D cross-correlation: y[n, o, l] = b[o] + sum_{c, i} W[o, c, i] x_pad[n, g(o) C/groups + c, s l + d i], for
    (N, C, L) or unbatched (C, L) input and weight (C_out, C/groups, k): conv2d with a unit height.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.conv1d(deepgrad.ones(1, 1, 4), deepgrad.ones(1, 1, 2)).tolist()
    [[[2.0, 2.0, 2.0]]]
    """
    input, unbatched = signal_input(input, "conv1d")
    weight = as_input(weight, "conv1d", "weight")
    if weight.ndim != 3:
        raise ValueError(f"conv1d: weight must be 3-D (out_channels, in_channels/groups, k), got shape {weight.shape}")
    stride_1 = int_single(stride, "stride", "conv1d", 1)
    dilation_1 = int_single(dilation, "dilation", "conv1d", 1)
    padding_2: Any
    if isinstance(padding, str):
        padding_2 = padding
        if padding == "same" and stride_1 != 1:
            raise ValueError(f"conv1d: padding='same' is not supported for strided convolutions (stride={stride})")
    else:
        padding_2 = (0, int_single(padding, "padding", "conv1d", 0))
    out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, (1, stride_1), padding_2, (1, dilation_1), groups)
    out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out


def max_pool1d(
    input: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    dilation: int | tuple[int] = 1,
    ceil_mode: bool = False,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """y[n, c, l] = max of x[n, c, s l + d i - p] over i < k (padding -inf): max_pool2d with a unit height.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.max_pool1d(deepgrad.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[3.0, 2.0]]]
    """
    input, unbatched = signal_input(input, "max_pool1d")
    kernel, step, pad_1 = pool1d_geometry(kernel_size, stride, padding, "max_pool1d")
    dilation_1 = int_single(dilation, "dilation", "max_pool1d", 1)
    result = max_pool2d(
        input.unsqueeze(2), (1, kernel), (1, step), (0, pad_1), (1, dilation_1), ceil_mode, return_indices
    )
    out, indices = result if return_indices else (result, None)
    out = out.squeeze(2)
    out = out.squeeze(0) if unbatched else out
    if indices is None:
        return out
    indices = indices.squeeze(2)
    return out, (indices.squeeze(0) if unbatched else indices)


def avg_pool1d(
    input: Tensor,
    kernel_size: int | tuple[int],
    stride: int | tuple[int] | None = None,
    padding: int | tuple[int] = 0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> Tensor:
    """y[n, c, l] = mean of x_pad[n, c, s l .. s l + k - 1] (zero padding, counted unless ``count_include_pad`` is
    False): avg_pool2d with a unit height.

    >>> import deepgrad
    >>> import deepgrad.nn.functional as F
    >>> F.avg_pool1d(deepgrad.tensor([[[1.0, 3.0, 2.0, 0.0]]]), 2).tolist()
    [[[2.0, 1.0]]]
    """
    input, unbatched = signal_input(input, "avg_pool1d")
    kernel, step, pad_1 = pool1d_geometry(kernel_size, stride, padding, "avg_pool1d")
    out = avg_pool2d(input.unsqueeze(2), (1, kernel), (1, step), (0, pad_1), ceil_mode, count_include_pad)
    out = out.squeeze(2)
    return out.squeeze(0) if unbatched else out
