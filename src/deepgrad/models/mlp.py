"""The multilayer perceptron of the lectures: affine layers with a nonlinearity between them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from deepgrad.nn.activation import ELU, GELU, LeakyReLU, ReLU, Sigmoid, SiLU, Tanh
from deepgrad.nn.layers import Dropout, Identity, Linear
from deepgrad.nn.module import Module, Sequential

__all__ = ["ACTIVATIONS", "MLP"]

ACTIVATIONS: dict[str, Callable[[], Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "gelu": GELU,
    "silu": SiLU,
    "identity": Identity,
}


class MLP(Sequential):
    """in_features -> hidden_sizes[0] -> ... -> out_features, each hidden layer Linear, activation and
    (when ``dropout > 0``) Dropout; the output layer is a plain Linear (logits: pair it with
    ``CrossEntropyLoss``). With no hidden layers it is the linear model, softmax regression under
    cross-entropy.

    Layout and state_dict keys: an MLP *is* a ``Sequential`` whose children are numbered in order, so
    ``MLP(784, [512, 256], 10)`` has exactly the keys of
    ``torch.nn.Sequential(Linear(784, 512), ReLU(), Linear(512, 256), ReLU(), Linear(256, 10))``:
    ``0.weight, 0.bias, 2.weight, 2.bias, 4.weight, 4.bias``. With dropout each hidden block is
    Linear, activation, Dropout (keys ``0.*, 3.*, 6.*``), as in the equivalent torch Sequential.

    ``activation`` is one of relu, tanh, sigmoid, leaky_relu, elu, gelu, silu, identity, or a callable
    that returns a new activation Module (e.g. ``lambda: nn.LeakyReLU(0.2)``).

    >>> from deepgrad.models import MLP
    >>> model = MLP(784, [512, 256], 10)
    >>> list(model.state_dict())
    ['0.weight', '0.bias', '2.weight', '2.bias', '4.weight', '4.bias']
    >>> MLP(2, [], 3)
    MLP(
      (0): Linear(in_features=2, out_features=3, bias=True)
    )
    """

    def __init__(
        self,
        in_features: int,
        hidden_sizes: Sequence[int] | int,
        out_features: int,
        activation: str | Callable[[], Module] = "relu",
        dropout: float = 0.0,
    ) -> None:
        if isinstance(hidden_sizes, int):
            hidden_sizes = [hidden_sizes]
        hidden_sizes = list(hidden_sizes)
        for size in [in_features, *hidden_sizes, out_features]:
            if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
                raise ValueError(
                    f"MLP: layer sizes must be positive integers, got in_features={in_features!r}, "
                    f"hidden_sizes={hidden_sizes!r}, out_features={out_features!r}"
                )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        make_activation = _activation_factory(activation)
        layers: list[Module] = []
        width = in_features
        for size in hidden_sizes:
            layers.append(Linear(width, size))
            layers.append(make_activation())
            if dropout > 0:
                layers.append(Dropout(dropout))
            width = size
        layers.append(Linear(width, out_features))
        super().__init__(*layers)
        self.in_features = in_features
        self.hidden_sizes = hidden_sizes
        self.out_features = out_features


def _activation_factory(activation: Any) -> Callable[[], Module]:
    if isinstance(activation, str):
        key = activation.lower().replace("-", "_")
        if key not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
        return ACTIVATIONS[key]
    if callable(activation):

        def make() -> Module:
            module = activation()
            if not isinstance(module, Module):
                raise TypeError(f"MLP: activation() must return a Module, got {type(module).__name__}")
            return module

        return make
    raise TypeError(f"MLP: activation must be a name or a callable returning a Module, got {type(activation).__name__}")
