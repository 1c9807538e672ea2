"""Layers: `Linear`, `Identity`, `Flatten`, `Dropout`, `BatchNorm1d` (PyTorch's arguments, defaults and
initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module, Parameter
from deepgrad.tensor import Tensor

__all__ = ["BatchNorm1d", "Dropout", "Flatten", "Identity", "Linear"]


def _float_dtype(dtype: Any) -> np.dtype:
    dtype = backend.DEFAULT_FLOAT if dtype is None else backend.to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"layer parameters must be floating point, got dtype {dtype}")
    return dtype


def _check_device(device: Any, owner: str) -> None:
    if device is not None and str(device) not in ("cpu", "cpu:0"):
        raise ValueError(f"{owner}: deepgrad runs on the CPU only, got device={device!r}")


def _positive_int(value: Any, name: str, owner: str, allow_zero: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < (0 if allow_zero else 1):
        raise ValueError(
            f"{owner}: {name} must be a {'non-negative' if allow_zero else 'positive'} integer, got {value!r}"
        )
    return int(value)


class Identity(Module):
    """y = x (a placeholder; accepts and ignores any constructor arguments, as PyTorch's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class Linear(Module):
    """y = x W^T + b, for x of shape (*, in_features); W has shape (out_features, in_features).

    Initialised as PyTorch: W ~ U(-1/sqrt(in_features), 1/sqrt(in_features)) (kaiming_uniform_ with
    a = sqrt(5)) and b from the same range.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> layer = nn.Linear(3, 2)
    >>> layer(deepgrad.zeros(5, 3)).shape
    (5, 2)
    >>> layer
    Linear(in_features=3, out_features=2, bias=True)
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device: Any = None, dtype: Any = None
    ) -> None:
        super().__init__()
        _check_device(device, "Linear")
        self.in_features = _positive_int(in_features, "in_features", "Linear")
        self.out_features = _positive_int(out_features, "out_features", "Linear")
        dtype = _float_dtype(dtype)
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for b."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if input.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): input of shape "
                f"{tuple(input.shape)} has {input.shape[-1] if input.ndim else 'no'} features in its last dimension, "
                f"expected {self.in_features} (weight shape {self.weight.shape})"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Flatten(Module):
    """Merge dimensions start_dim..end_dim into one; by default everything but the batch dimension.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.Flatten()(deepgrad.zeros(8, 1, 28, 28)).shape
    (8, 784)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Inverted dropout: in training, each element is zeroed with probability p and the survivors are
    scaled by 1/(1-p); in eval mode, the identity. See ``deepgrad.nn.functional.dropout`` for why this is
    the same as the lectures' "keep all units and multiply by (1-p) at test time".

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> layer = nn.Dropout(0.5).eval()
    >>> layer(deepgrad.ones(3)).tolist()
    [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p!r}")
        self.p = float(p)
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class BatchNorm1d(Module):
    """Batch normalisation over (N, C) or (N, C, L) input: y = (x - mean) / sqrt(var + eps) * weight + bias
    per channel C.

    Training: mean and (biased) variance of the batch, over N (and L); the running statistics are updated
    as ``running = (1 - momentum) * running + momentum * batch`` using the unbiased variance, or as a
    cumulative average when ``momentum=None``. Eval: the running statistics. With
    ``track_running_stats=False`` batch statistics are used in both modes. ``affine=False`` drops weight
    (initially 1) and bias (initially 0); ``bias=False`` only the bias.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> bn = nn.BatchNorm1d(3)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    """

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float | None = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        device: Any = None,
        dtype: Any = None,
        *,
        bias: bool = True,
    ) -> None:
        super().__init__()
        _check_device(device, "BatchNorm1d")
        self.num_features = _positive_int(num_features, "num_features", "BatchNorm1d", allow_zero=False)
        if eps <= 0:
            raise ValueError(f"BatchNorm1d: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"BatchNorm1d: momentum must be in [0, 1] or None, got {momentum}")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = _float_dtype(dtype)
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            if bias:
                self.bias = Parameter(np.zeros(num_features, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._make(np.zeros(num_features, dtype=dtype), False, None))
            self.register_buffer("running_var", Tensor._make(np.ones(num_features, dtype=dtype), False, None))
            self.register_buffer("num_batches_tracked", Tensor._make(np.zeros((), dtype=backend.int64), False, None))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {input.ndim}D input of shape {input.shape})")
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}): input of shape {tuple(input.shape)} has {input.shape[1]} channels "
                f"(axis 1), expected {self.num_features}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.data += 1
            if self.momentum is None:  # cumulative moving average over all batches so far
                factor = 1.0 / int(self.num_batches_tracked.data)
        use_batch_stats = self.training or self.running_mean is None
        # in training, the running statistics are only updated when they are tracked
        update = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if update else None,
            self.running_var if update else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )

    def extra_repr(self) -> str:
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self.bias is not None}, track_running_stats={self.track_running_stats}"
        )
