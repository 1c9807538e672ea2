"""Layers: `Linear`, `Identity`, `Flatten`, `Dropout`, `Conv2d`, `MaxPool2d`, `AvgPool2d`, `BatchNorm1d`,
`BatchNorm2d` (PyTorch's arguments, defaults and initialisation)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.nn import _checks as checks
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.module import Module, Parameter
from deepgrad.ops import linalg
from deepgrad.tensor import Tensor

__all__ = [
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv2d",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "MaxPool2d",
]


def float_dtype(dtype: Any) -> np.dtype:
    dtype = backend.DEFAULT_FLOAT if dtype is None else backend.to_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"layer parameters must be floating point, got dtype {dtype}")
    return dtype


def check_device(device: Any, owner: str) -> None:
    if device is not None and str(device) not in ("cpu", "cpu:0"):
        raise ValueError(f"{owner}: deepgrad runs on the CPU only, got device={device!r}")


def positive_int(value: Any, name: str, owner: str, allow_zero: bool = True) -> int:
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
        check_device(device, "Linear")
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        dtype = float_dtype(dtype)
        self.weight = Parameter(np.zeros((self.out_features, self.in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for b."""
        reset_weight_and_bias(self.weight, self.bias, self.in_features)

    def forward(self, input: Tensor) -> Tensor:
        input = checks.as_input(input, "Linear")
        if input.shape[-1:] != (self.in_features,):
            raise ValueError(
                f"Linear(in_features={self.in_features}, out_features={self.out_features}): input of shape "
                f"{tuple(input.shape)} has {input.shape[-1] if input.ndim else 'no'} features in its last dimension, "
                f"expected {self.in_features} (weight shape {self.weight.shape})"
            )
        # the layer made its weight and bias with the right shapes: only the dtype is left to check, once
        checks.check_same_dtype(type(self).__name__, input, self.weight)
        if self.bias is None:
            return linalg.Linear.apply(input, self.weight)
        return linalg.Linear.apply(input, self.weight, self.bias)

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


def reset_weight_and_bias(weight: Parameter, bias: Parameter | None, fan_in: int) -> None:
    """PyTorch's default for Linear and Conv2d: kaiming_uniform_(a=sqrt(5)) for the weight, i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the same range for the bias."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        init.uniform_(bias, -bound, bound)


def conv_channels(in_channels: Any, out_channels: Any, groups: Any, owner: str) -> tuple[int, int, int]:
    in_channels = positive_int(in_channels, "in_channels", owner, allow_zero=False)
    out_channels = positive_int(out_channels, "out_channels", owner, allow_zero=False)
    groups = positive_int(groups, "groups", owner, allow_zero=False)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{owner}: in_channels ({in_channels}) and out_channels ({out_channels}) must both be divisible by "
            f"groups ({groups})"
        )
    return in_channels, out_channels, groups


class Conv2d(Module):
    """2-D convolution (cross-correlation, as in every framework) of (N, C_in, H, W) input:
    y[n, o] = b[o] + sum_c W[o, c] * x[n, c], with W of shape (C_out, C_in/groups, k_h, k_w).

    ``groups`` splits the channels into independent convolutions (``groups = C_in`` is depthwise);
    ``padding`` is an int, a pair, 'valid' or 'same'; ``padding_mode`` is 'zeros', 'reflect', 'replicate' or
    'circular'. Initialised as PyTorch: W ~ kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    with fan_in = C_in/groups k_h k_w, and b from the same range.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> conv = nn.Conv2d(1, 6, 5, padding=2)
    >>> conv(deepgrad.zeros(8, 1, 28, 28)).shape
    (8, 6, 28, 28)
    >>> conv
    Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_device(device, "Conv2d")
        self.in_channels, self.out_channels, self.groups = conv_channels(in_channels, out_channels, groups, "Conv2d")
        self.kernel_size = checks.int_pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = checks.int_pair(stride, "stride", "Conv2d", 1)
        self.dilation = checks.int_pair(dilation, "dilation", "Conv2d", 1)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv2d: padding must be an int, a pair, 'valid' or 'same'; got {padding!r}")
            if padding == "same" and self.stride != (1, 1):
                raise ValueError(f"Conv2d: padding='same' is not supported for strided convolutions (stride={stride})")
            self.padding: tuple[int, int] | str = padding
        else:
            self.padding = checks.int_pair(padding, "padding", "Conv2d", 0)
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(
                f"Conv2d: padding_mode must be 'zeros', 'reflect', 'replicate' or 'circular', got {padding_mode!r}"
            )
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype)
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.zeros(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for b."""
        reset_weight_and_bias(self.weight, self.bias, self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1])

    def _explicit_padding(self) -> tuple[int, int, int, int]:
        """(left, right, top, bottom), F.pad's order, for the non-zero padding modes."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":  # the extra row/column of an even kernel goes to the bottom/right
            total_h = self.dilation[0] * (self.kernel_size[0] - 1)
            total_w = self.dilation[1] * (self.kernel_size[1] - 1)
            return (total_w // 2, total_w - total_w // 2, total_h // 2, total_h - total_h // 2)
        pad_h, pad_w = self.padding
        return (pad_w, pad_w, pad_h, pad_h)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim in (3, 4) and input.shape[-3] != self.in_channels:
            raise ValueError(
                f"Conv2d({self.in_channels}, {self.out_channels}): input of shape {tuple(input.shape)} has "
                f"{input.shape[-3]} channels, expected {self.in_channels} (weight shape {self.weight.shape})"
            )
        if self.padding_mode != "zeros":
            # PyTorch's order: pad with the mode first, then convolve without padding
            padded = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            return F.conv2d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class MaxPool2d(Module):
    """Maximum over each k_h x k_w window of (N, C, H, W) input; the gradient goes to each window's maximum.
    ``stride`` defaults to ``kernel_size`` (non-overlapping windows); see ``F.max_pool2d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.MaxPool2d(2)(deepgrad.zeros(8, 6, 28, 28)).shape
    (8, 6, 14, 14)
    >>> nn.MaxPool2d(2)
    MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        dilation: int | tuple[int, int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        checks.int_pair(kernel_size, "kernel_size", "MaxPool2d", 1)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class AvgPool2d(Module):
    """Mean over each k_h x k_w window of (N, C, H, W) input (zero padding counted by default, as PyTorch's
    ``count_include_pad=True``). ``stride`` defaults to ``kernel_size``; see ``F.avg_pool2d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.AvgPool2d(2)(deepgrad.ones(1, 1, 4, 4)).tolist()
    [[[[1.0, 1.0], [1.0, 1.0]]]]
    >>> nn.AvgPool2d(2)
    AvgPool2d(kernel_size=2, stride=2, padding=0)
    """

    def __init__(
        self,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] | None = None,
        padding: int | tuple[int, int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override: int | None = None,
    ) -> None:
        super().__init__()
        checks.int_pair(kernel_size, "kernel_size", "AvgPool2d", 1)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad,
            divisor_override=self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _BatchNorm(Module):
    """Shared by ``BatchNorm1d`` and ``BatchNorm2d``: parameters, running statistics and the forward pass.
    Subclasses name the input ranks they accept (``_input_dims``) and how to describe them."""

    _input_dims: tuple[int, ...] = ()
    _input_description = ""

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
        check_device(device, type(self).__name__)
        self.num_features = positive_int(num_features, "num_features", type(self).__name__, allow_zero=False)
        if eps <= 0:
            raise ValueError(f"{type(self).__name__}: eps must be positive, got {eps}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{type(self).__name__}: momentum must be in [0, 1] or None, got {momentum}")
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = float_dtype(dtype)
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
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.weight is not None:
            init.ones_(self.weight)
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in self._input_dims:
            raise ValueError(
                f"{type(self).__name__}: expected {self._input_description} input (got {input.ndim}D input of shape "
                f"{input.shape})"
            )
        if input.shape[1] != self.num_features:
            raise ValueError(
                f"{type(self).__name__}({self.num_features}): input of shape {tuple(input.shape)} has "
                f"{input.shape[1]} channels (axis 1), expected {self.num_features}"
            )
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.array += 1
            if self.momentum is None:  # cumulative moving average over all batches so far
                factor = 1.0 / int(self.num_batches_tracked.array)
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


class BatchNorm1d(_BatchNorm):
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

    _input_dims = (2, 3)
    _input_description = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of images (N, C, H, W): y = (x - mean) / sqrt(var + eps) * weight + bias per channel C,
    the statistics taken over N, H and W (every pixel of every image in the batch is one sample of its
    channel). Arguments, running statistics and modes as ``BatchNorm1d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> bn = nn.BatchNorm2d(3)
    >>> bn(deepgrad.randn(4, 3, 5, 5)).shape
    (4, 3, 5, 5)
    >>> bn
    BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _input_dims = (4,)
    _input_description = "4D"
