"""`Conv1d` and `ConvTranspose2d` with PyTorch's arguments, initialisation and reprs. Both compute with
``F.conv2d`` (``F.conv1d``: a unit height; ``F.conv_transpose2d``: a zero-inserted, padded input and the
flipped kernel), so they share its speed and its exact, twice-differentiable gradients."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad.nn import functional as F
from deepgrad.nn.layers import check_device, conv_channels, float_dtype, reset_weight_and_bias
from deepgrad.nn.module import Module, Parameter
from deepgrad.tensor import Tensor

__all__ = ["Conv1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv1d(Module):
    """1-D convolution (cross-correlation) of (N, C_in, L) input: y[n, o] = b[o] + sum_c W[o, c] * x[n, c], with W
    of shape (C_out, C_in/groups, k). ``padding`` is an int, 'valid' or 'same'; ``padding_mode`` 'zeros',
    'reflect', 'replicate' or 'circular'. Initialised as PyTorch: kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in/groups k, and the bias from the same range.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> conv = nn.Conv1d(4, 8, 3, padding=1)
    >>> conv(deepgrad.zeros(2, 4, 10)).shape
    (2, 8, 10)
    >>> conv
    Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=(1,))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] = 1,
        padding: int | tuple[int] | str = 0,
        dilation: int | tuple[int] = 1,
        groups: int = 1,
        bias: bool = True,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_device(device, "Conv1d")
        self.in_channels, self.out_channels, self.groups = conv_channels(in_channels, out_channels, groups, "Conv1d")
        self.kernel_size = (F.int_single(kernel_size, "kernel_size", "Conv1d", 1),)
        self.stride = (F.int_single(stride, "stride", "Conv1d", 1),)
        self.dilation = (F.int_single(dilation, "dilation", "Conv1d", 1),)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Conv1d: padding must be an int, 'valid' or 'same'; got {padding!r}")
            if padding == "same" and self.stride != (1,):
                raise ValueError(f"Conv1d: padding='same' is not supported for strided convolutions (stride={stride})")
            self.padding: tuple[int] | str = padding
        else:
            self.padding = (F.int_single(padding, "padding", "Conv1d", 0),)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"Conv1d: padding_mode must be one of {', '.join(_PADDING_MODES)}, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype)
        self.weight = Parameter(
            np.zeros((self.out_channels, self.in_channels // self.groups, *self.kernel_size), dtype)
        )
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for b."""
        reset_weight_and_bias(self.weight, self.bias, self.weight.shape[1] * self.kernel_size[0])

    def _explicit_padding(self) -> tuple[int, int]:
        if self.padding == "valid":
            return (0, 0)
        if self.padding == "same":
            total = self.dilation[0] * (self.kernel_size[0] - 1)
            return (total // 2, total - total // 2)
        return (self.padding[0], self.padding[0])

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim in (2, 3) and input.shape[-2] != self.in_channels:
            raise ValueError(
                f"Conv1d({self.in_channels}, {self.out_channels}): input of shape {tuple(input.shape)} has "
                f"{input.shape[-2]} channels, expected {self.in_channels} (weight shape {self.weight.shape})"
            )
        if self.padding_mode != "zeros":
            padded = F.pad(input, self._explicit_padding(), mode=self.padding_mode)
            return F.conv1d(padded, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,):
            text += f", padding={self.padding}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        return text


class ConvTranspose2d(Module):
    """Transposed 2-D convolution (the adjoint of Conv2d, "deconvolution"), for upsampling: each input pixel
    adds W[c] (scaled) into a k_h x k_w patch of the output, patches s apart. W has shape (C_in, C_out/groups,
    k_h, k_w); H_out = (H - 1) s - 2 p + d (k - 1) + output_padding + 1, and ``forward(x, output_size)`` picks
    the output_padding that gives ``output_size``. Initialised as PyTorch (kaiming_uniform_(a=sqrt(5)) with
    fan_in = C_out/groups k_h k_w, the bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in))).

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> up = nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1)
    >>> up(deepgrad.zeros(2, 8, 7, 7)).shape
    (2, 4, 14, 14)
    >>> up
    ConvTranspose2d(8, 4, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), output_padding=(1, 1))
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 0,
        output_padding: int | tuple[int, int] = 0,
        groups: int = 1,
        bias: bool = True,
        dilation: int | tuple[int, int] = 1,
        padding_mode: str = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        check_device(device, "ConvTranspose2d")
        owner = "ConvTranspose2d"
        self.in_channels, self.out_channels, self.groups = conv_channels(in_channels, out_channels, groups, owner)
        self.kernel_size = F.int_pair(kernel_size, "kernel_size", owner, 1)
        self.stride = F.int_pair(stride, "stride", owner, 1)
        self.padding = F.int_pair(padding, "padding", owner, 0)
        self.output_padding = F.int_pair(output_padding, "output_padding", owner, 0)
        self.dilation = F.int_pair(dilation, "dilation", owner, 1)
        if padding_mode != "zeros":
            raise ValueError(f"ConvTranspose2d: only padding_mode='zeros' is supported, got {padding_mode!r}")
        self.padding_mode = padding_mode
        dtype = float_dtype(dtype)
        shape = (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        self.weight = Parameter(np.zeros(shape, dtype=dtype))
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights: kaiming_uniform_(a=sqrt(5)) for W, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for b."""
        reset_weight_and_bias(self.weight, self.bias, self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1])

    def _output_padding(self, input: Tensor, output_size: Sequence[int] | None) -> tuple[int, int]:
        """The output_padding that makes the output ``output_size`` ((H, W), or with N and C in front)."""
        if output_size is None:
            return self.output_padding
        size = tuple(int(s) for s in output_size)[-2:]
        extra = []
        for axis in range(2):
            smallest = (
                (input.shape[-2 + axis] - 1) * self.stride[axis]
                - 2 * self.padding[axis]
                + self.dilation[axis] * (self.kernel_size[axis] - 1)
                + 1
            )
            largest = smallest + max(self.stride[axis], self.dilation[axis]) - 1
            if len(size) != 2 or not smallest <= size[axis] <= largest:
                raise ValueError(
                    f"ConvTranspose2d: requested output_size {tuple(output_size)} is not reachable from input of shape "
                    f"{tuple(input.shape)}: each of (H, W) must lie between the smallest and largest possible sizes"
                )
            extra.append(size[axis] - smallest)
        return extra[0], extra[1]

    def forward(self, input: Tensor, output_size: Sequence[int] | None = None) -> Tensor:
        if input.ndim in (3, 4) and input.shape[-3] != self.in_channels:
            raise ValueError(
                f"ConvTranspose2d({self.in_channels}, {self.out_channels}): input of shape {tuple(input.shape)} has "
                f"{input.shape[-3]} channels, expected {self.in_channels} (weight shape {self.weight.shape})"
            )
        return F.conv_transpose2d(
            input,
            self.weight,
            self.bias,
            self.stride,
            self.padding,
            self._output_padding(input, output_size),
            self.groups,
            self.dilation,
        )

    def extra_repr(self) -> str:
        text = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
