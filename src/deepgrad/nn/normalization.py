"""`LocalResponseNorm` (AlexNet's normalisation across channels), `LayerNorm`, `GroupNorm` and `Dropout2d`
(channel dropout), with PyTorch's arguments and reprs; the computations are composites in
``deepgrad.nn.functional``."""

from __future__ import annotations

from typing import Any

from deepgrad.creation import ones, zeros
from deepgrad.nn import functional as F
from deepgrad.nn.layers import Dropout
from deepgrad.nn.module import Module, Parameter
from deepgrad.tensor import Tensor

__all__ = ["Dropout1d", "Dropout2d", "GroupNorm", "LayerNorm", "LocalResponseNorm"]


class LayerNorm(Module):
    """Each sample normalised over its last dimensions ``normalized_shape`` (Ba et al., 2016), then a learned
    elementwise scale and shift (``elementwise_affine``; ``bias=False``: no shift)."""

    def __init__(
        self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        self.normalized_shape, self.eps, self.elementwise_affine = shape, eps, elementwise_affine
        self.weight = Parameter(ones(shape, dtype=dtype, device=device)) if elementwise_affine else None
        self.bias = Parameter(zeros(shape, dtype=dtype, device=device)) if elementwise_affine and bias else None

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, "
            f"bias={self.bias is not None}"
        )


class GroupNorm(Module):
    """The channels in ``num_groups`` groups, each normalised per sample (Wu and He, 2018), then a learned
    scale and shift per channel (``affine``)."""

    def __init__(
        self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, bias: bool = True,
        device: Any = None, dtype: Any = None,
    ) -> None:  # fmt: skip
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: {num_groups} groups do not divide {num_channels} channels")
        self.num_groups, self.num_channels, self.eps, self.affine = num_groups, num_channels, eps, affine
        self.weight = Parameter(ones((num_channels,), dtype=dtype, device=device)) if affine else None
        self.bias = Parameter(zeros((num_channels,), dtype=dtype, device=device)) if affine and bias else None

    def forward(self, input: Tensor) -> Tensor:
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        groups = f"{self.num_groups}, {self.num_channels}"
        return f"{groups}, eps={self.eps}, affine={self.affine}, bias={self.bias is not None}"


class LocalResponseNorm(Module):
    """y_c = x_c / (k + alpha / size * sum of x_{c'}^2 over the ``size`` neighbouring channels)^beta, for
    (N, C, *) input (Krizhevsky et al., 2012). See ``F.local_response_norm``.

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.LocalResponseNorm(5)(deepgrad.zeros(2, 8, 3, 3)).shape
    (2, 8, 3, 3)
    >>> nn.LocalResponseNorm(5)
    LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=1.0)
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"LocalResponseNorm: size must be a positive integer, got {size!r}")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input: Tensor) -> Tensor:
        return F.local_response_norm(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class Dropout2d(Dropout):
    """Channel dropout for (N, C, H, W) input: in training each whole channel is zeroed with probability p
    and the others scaled by 1/(1-p); in eval mode, the identity. ``inplace=True`` writes into the input where
    no graph is recorded for it (see ``nn.functional.dropout``).

    >>> import deepgrad
    >>> from deepgrad import nn
    >>> nn.Dropout2d(0.2).eval()(deepgrad.ones(1, 2, 2, 2)).sum().item()
    8.0
    >>> nn.Dropout2d(0.2)
    Dropout2d(p=0.2, inplace=False)
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout1d(Dropout):
    """Channel dropout for (N, C, L) input: in training each whole channel is zeroed with probability p and the
    others scaled by 1/(1-p); see ``F.dropout1d``."""

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)
