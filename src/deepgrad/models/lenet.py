"""LeNet-5 (LeCun et al., 1998) in its common modern form, for 28x28 (MNIST) or 32x32 (CIFAR-10) images."""

from __future__ import annotations

from deepgrad.models.common import positive_int
from deepgrad.nn.activation import ReLU, Tanh
from deepgrad.nn.layers import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential

__all__ = ["LeNet5"]

_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh}
_POOLS = {"max": MaxPool2d, "avg": AvgPool2d}
# input side -> padding of the first convolution: either way its output is 28x28, as the paper's C1 on 32x32
_PADDING = {28: 2, 32: 0}


class LeNet5(Sequential):
    """conv 6@5x5 (padding 2 or 0) -> act -> pool 2 -> conv 16@5x5 -> act -> pool 2 -> 400 -> 120 -> 84 -> classes.

    Shapes for a (N, C, S, S) batch, ``C = in_channels``, ``S = image_size``: (N, 6, 28, 28) -> (N, 6, 14, 14)
    -> (N, 16, 10, 10) -> (N, 16, 5, 5) -> flattened (N, 400) -> (N, 120) -> (N, 84) -> (N, num_classes) logits
    (pair with ``CrossEntropyLoss``). ``image_size=28`` (MNIST) pads the first convolution by 2, standing in for
    the original's 32x32 input (digits padded by 2 pixels); ``image_size=32`` (CIFAR-10) is the paper's input
    and needs no padding. Either way the rest of the network has the paper's sizes. Parameters, 10 classes:
    61,706 for 1x28x28; ``150 * C + 61,556`` in general (62,006 for 3x32x32).

    Activation and pooling: ReLU and 2x2 max pooling by default, the choice of today's reimplementations,
    which trains faster and to a slightly lower error than the paper's scaled tanh with trainable average
    ("subsampling") layers. ``activation="tanh", pool="avg"`` gives the closer-to-1998 variant (plain tanh and
    parameter-free 2x2 average pooling; the paper's sparse C3 connection table and RBF output layer are not
    reproduced: every C3 map sees all six S2 maps, and the output is a linear layer).

    State dict keys: LeNet5 *is* a ``Sequential`` numbered in order, so its keys
    (``0.*`` conv1, ``3.*`` conv2, ``7.*``, ``9.*``, ``11.*`` the linear layers) equal those of::

        torch.nn.Sequential(
            torch.nn.Conv2d(in_channels, 6, 5, padding=2 if image_size == 28 else 0),
            torch.nn.ReLU(), torch.nn.MaxPool2d(2),
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
    >>> nn.summary(LeNet5(in_channels=3, image_size=32), (1, 3, 32, 32)).total_params
    62006
    """

    def __init__(
        self,
        num_classes: int = 10,
        activation: str = "relu",
        pool: str = "max",
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        positive_int(num_classes, "num_classes", "LeNet5")
        positive_int(in_channels, "in_channels", "LeNet5")
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size not in _PADDING:
            raise ValueError(
                f"LeNet5: image_size must be 28 (MNIST-like, padded by 2) or 32 (CIFAR-like, no padding), "
                f"the side of square inputs; got {image_size!r}"
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(f"LeNet5: activation must be one of {', '.join(_ACTIVATIONS)}; got {activation!r}")
        if pool not in _POOLS:
            raise ValueError(f"LeNet5: pool must be one of {', '.join(_POOLS)}; got {pool!r}")
        act, pool_layer = _ACTIVATIONS[activation], _POOLS[pool]
        layers: list[Module] = [
            Conv2d(in_channels, 6, 5, padding=_PADDING[image_size]),
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
        self.in_channels = in_channels
        self.image_size = image_size
