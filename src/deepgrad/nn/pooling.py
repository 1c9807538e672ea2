"""Pooling layers beyond the 2-d ones: `AdaptiveAvgPool2d`, `AdaptiveMaxPool2d` (a fixed output size for any
input size, as the classifiers of AlexNet, VGG, GoogLeNet and ResNet need), `MaxPool1d` and `AvgPool1d`.
PyTorch's arguments, defaults and reprs; the computations are composites in ``deepgrad.nn.functional``."""

from __future__ import annotations

from typing import Any

from deepgrad.nn import functional as F
from deepgrad.nn.module import Module
from deepgrad.tensor import Tensor

__all__ = ["AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AvgPool1d", "MaxPool1d"]


class AdaptiveAvgPool2d(Module):
    """Average over PyTorch's adaptive windows, so the output is (N, C, *output_size) for any input size;
    ``output_size`` is an int or a pair (None keeps that input size). See ``F.adaptive_avg_pool2d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.AdaptiveAvgPool2d((6, 6))(deepgrad.zeros(2, 3, 13, 13)).shape
    (2, 3, 6, 6)
    >>> nn.AdaptiveAvgPool2d(1)
    AdaptiveAvgPool2d(output_size=1)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None]) -> None:
        super().__init__()
        F.adaptive_output_size(output_size, (1, 1), "AdaptiveAvgPool2d")  # checks the values; None is allowed
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool2d(Module):
    """Maximum over PyTorch's adaptive windows (output (N, C, *output_size) for any input size);
    ``return_indices`` also returns each maximum's flat index in its (H, W) plane. See ``F.adaptive_max_pool2d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.AdaptiveMaxPool2d(2)(deepgrad.zeros(1, 3, 5, 7)).shape
    (1, 3, 2, 2)
    """

    def __init__(self, output_size: int | tuple[int | None, int | None], return_indices: bool = False) -> None:
        super().__init__()
        F.adaptive_output_size(output_size, (1, 1), "AdaptiveMaxPool2d")
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool1d(Module):
    """Maximum over each window of length ``kernel_size`` of (N, C, L) input; ``stride`` defaults to
    ``kernel_size``. See ``F.max_pool1d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.MaxPool1d(3, stride=2)(deepgrad.zeros(4, 2, 11)).shape
    (4, 2, 5)
    >>> nn.MaxPool1d(3, stride=2)
    MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    def __init__(
        self,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] | None = None,
        padding: int | tuple[int] = 0,
        dilation: int | tuple[int] = 1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        F.int_single(kernel_size, "kernel_size", "MaxPool1d", 1)
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return F.max_pool1d(
            input, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode, self.return_indices
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


def _single(value: Any) -> tuple[int]:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)  # type: ignore[return-value]


class AvgPool1d(Module):
    """Mean over each window of length ``kernel_size`` of (N, C, L) input (zero padding counted unless
    ``count_include_pad=False``); ``stride`` defaults to ``kernel_size``. See ``F.avg_pool1d``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.AvgPool1d(2)(deepgrad.ones(1, 1, 4)).tolist()
    [[[1.0, 1.0]]]
    >>> nn.AvgPool1d(3, stride=2)
    AvgPool1d(kernel_size=(3,), stride=(2,), padding=(0,))
    """

    def __init__(
        self,
        kernel_size: int | tuple[int],
        stride: int | tuple[int] | None = None,
        padding: int | tuple[int] = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__()
        F.int_single(kernel_size, "kernel_size", "AvgPool1d", 1)
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(Module):
    """Average over PyTorch's adaptive windows along the last dimension: (N, C, output_size) for any length."""

    def __init__(self, output_size: int) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(AdaptiveAvgPool1d):
    """Maximum over PyTorch's adaptive windows along the last dimension (``return_indices``: their positions)."""

    def __init__(self, output_size: int, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Any:
        return F.adaptive_max_pool1d(input, self.output_size, self.return_indices)
