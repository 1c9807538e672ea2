"""LeNet-5 (LeCun et al., 1998) for 28x28 single-channel images such as MNIST, in its common modern form."""

from __future__ import annotations

from deepgrad.nn.activation import ReLU, Tanh
from deepgrad.nn.layers import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential

__all__ = ["LeNet5"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}
_POOLS = {"max": MaxPool2d, "avg": AvgPool2d}


class LeNet5(Sequential):
    """conv 6@5x5 (padding 2) -> act -> pool 2 -> conv 16@5x5 -> act -> pool 2 -> 400 -> 120 -> 84 -> classes.

    Shapes for a (N, 1, 28, 28) batch: (N, 6, 28, 28) -> (N, 6, 14, 14) -> (N, 16, 10, 10) -> (N, 16, 5, 5)
    -> flattened (N, 400) -> (N, 120) -> (N, 84) -> (N, num_classes) logits (pair with ``CrossEntropyLoss``).
    The padding of 2 on the first convolution stands in for the original's 32x32 input (MNIST digits
    padded by 2 pixels), so the rest of the network has the paper's sizes; 61,706 parameters for 10 classes.

    Activation and pooling: ReLU and 2x2 max pooling by default, the choice of today's reimplementations,
    which trains faster and to a slightly lower error than the paper's scaled tanh with trainable average
    ("subsampling") layers. ``activation="tanh", pool="avg"`` gives the closer-to-1998 variant (plain tanh and
    parameter-free 2x2 average pooling; the paper's sparse C3 connection table and RBF output layer are not
    reproduced: every C3 map sees all six S2 maps, and the output is a linear layer).

    State dict keys: LeNet5 *is* a ``Sequential`` numbered in order, so its keys
    (``0.*`` conv1, ``3.*`` conv2, ``7.*``, ``9.*``, ``11.*`` the linear layers) equal those of::

        torch.nn.Sequential(
            torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
            torch.nn.Flatten(),
            torch.nn.Linear(400, 120), torch.nn.ReLU(),
            torch.nn.Linear(120, 84), torch.nn.ReLU(),
            torch.nn.Linear(84, num_classes),
        )

    (with ``torch.nn.Tanh()`` / ``torch.nn.AvgPool2d(2)`` for the other variants), and its weights load there.

    >>> from deepgrad import nn
    >>> from deepgrad.models import LeNet5
    >>> model = LeNet5()
    >>> nn.summary(model, (1, 1, 28, 28)).total_params
    61706
    >>> [key for key in model.state_dict() if key.endswith("weight")]
    ['0.weight', '3.weight', '7.weight', '9.weight', '11.weight']
    """

    def __init__(self, num_classes: int = 10, activation: str = "relu", pool: str = "max") -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"LeNet5: num_classes must be a positive integer, got {num_classes!r}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {', '.join(_ACTIVATIONS)}; got {activation!r}")
        if pool not in _POOLS:
            raise ValueError(f"LeNet5: pool must be one of {', '.join(_POOLS)}; got {pool!r}")
        act, pool_layer = _ACTIVATIONS[activation], _POOLS[pool]
        layers: list[Module] = [
            Conv2d(1, 6, 5, padding=2),
            act(),
            pool_layer(2),
            Conv2d(6, 16, 5),
            act(),
            pool_layer(2),
            Flatten(),
            Linear(16 * 5 * 5, 120),
            act(),
            Linear(120, 84),
            act(),
            Linear(84, num_classes),
        ]
        super().__init__(*layers)
        self.num_classes = num_classes
        self.activation = activation
        self.pool = pool
