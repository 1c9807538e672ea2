"""Activation modules: thin wrappers around ``deepgrad.nn.functional`` (PyTorch's names and reprs).

``inplace=True`` is accepted wherever PyTorch accepts it: the result is written into the input where no graph
is recorded for it (inference, ``no_grad``), and is a new tensor while one is (``F._in_place_where_safe`` says
why).
"""

from __future__ import annotations

from typing import Any

from deepgrad.creation import full
from deepgrad.nn import functional as F
from deepgrad.nn.module import Module, Parameter
from deepgrad.tensor import Tensor

__all__ = [
    "CELU",
    "ELU",
    "GELU",
    "GLU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LeakyReLU",
    "LogSigmoid",
    "LogSoftmax",
    "Mish",
    "PReLU",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softmin",
    "Softplus",
    "Softshrink",
    "Softsign",
    "Tanh",
    "Tanhshrink",
    "Threshold",
]


class ReLU(Module):
    """max(x, 0)"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, self.inplace) if self.inplace else input.relu()

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope, self.inplace)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace else "")


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.elu(input, self.alpha, self.inplace)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + (", inplace=True" if self.inplace else "")


class Sigmoid(Module):
    """1 / (1 + exp(-x))"""

    def forward(self, input: Tensor) -> Tensor:
        return input.sigmoid()


class Tanh(Module):
    """tanh(x)"""

    def forward(self, input: Tensor) -> Tensor:
        return input.tanh()


class GELU(Module):
    """x * Phi(x) (exact, with erf), or its tanh approximation with ``approximate='tanh'``."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x)"""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.silu(input, self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Softplus(Module):
    """log(1 + exp(beta x)) / beta (x itself where beta x > threshold)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return F.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """exp(x_i) / sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """x_i - log sum_j exp(x_j) along ``dim``."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class _Elementwise(Module):
    """An activation that is one ``F`` function of the input, with PyTorch's repr (its keyword settings)."""

    function: str = ""

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        self.settings = settings

    def forward(self, input: Tensor) -> Tensor:
        return getattr(F, self.function)(input, **self.settings)

    def extra_repr(self) -> str:
        shown = {name: value for name, value in self.settings.items() if name != "inplace"}
        text = ", ".join(f"{name}={value}" for name, value in shown.items())
        if self.settings.get("inplace"):
            text += (", " if text else "") + "inplace=True"
        return text


class _InPlaceOnly(_Elementwise):
    """An activation whose only setting is PyTorch's ``inplace``."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(inplace=inplace)


class Hardtanh(_Elementwise):
    """x clamped to [min_val, max_val]."""

    function = "hardtanh"

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(min_val=float(min_val), max_val=float(max_val), inplace=inplace)


class ReLU6(_InPlaceOnly):
    """min(max(x, 0), 6)"""

    function = "relu6"


class Hardsigmoid(_InPlaceOnly):
    """relu6(x + 3) / 6"""

    function = "hardsigmoid"


class Hardswish(_InPlaceOnly):
    """x * relu6(x + 3) / 6"""

    function = "hardswish"


class Mish(_InPlaceOnly):
    """x * tanh(softplus(x))"""

    function = "mish"


class SELU(_InPlaceOnly):
    """scale * elu(x, alpha), the self-normalising constants"""

    function = "selu"


class CELU(_Elementwise):
    """max(0, x) + min(0, alpha (exp(x / alpha) - 1))"""

    function = "celu"

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(alpha=alpha, inplace=inplace)


class LogSigmoid(_Elementwise):
    """log(sigmoid(x))"""

    function = "logsigmoid"


class Softsign(_Elementwise):
    """x / (1 + |x|)"""

    function = "softsign"


class Tanhshrink(_Elementwise):
    """x - tanh(x)"""

    function = "tanhshrink"


class Softshrink(_Elementwise):
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""

    function = "softshrink"

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__(lambd=lambd)

    def extra_repr(self) -> str:
        return str(self.settings["lambd"])


class Hardshrink(Softshrink):
    """x where |x| > lambd, else 0."""

    function = "hardshrink"


class Threshold(_Elementwise):
    """x where x > threshold, else value."""

    function = "threshold"

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__(threshold=threshold, value=value, inplace=inplace)


class GLU(_Elementwise):
    """a * sigmoid(b), the halves of the input along ``dim``."""

    function = "glu"

    def __init__(self, dim: int = -1) -> None:
        super().__init__(dim=dim)


class Softmin(_Elementwise):
    """softmax(-x) along ``dim``."""

    function = "softmin"

    def __init__(self, dim: int | None = None) -> None:
        super().__init__(dim=dim)


class PReLU(Module):
    """x where x > 0, else a * x, with a learned: one slope, or one per channel (``num_parameters``)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.num_parameters = num_parameters
        self.weight = Parameter(full((num_parameters,), init, dtype=dtype, device=device))

    def forward(self, input: Tensor) -> Tensor:
        return F.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"
