"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) as torchvision builds it (``torchvision.models.alexnet``):
the same modules, ``state_dict`` keys and logits, so torchvision's weights load with ``strict=True``."""

from __future__ import annotations

from typing import Any

from deepgrad.models.common import no_pretrained_weights, positive_int, probability
from deepgrad.nn.activation import ReLU
from deepgrad.nn.layers import Conv2d, Dropout, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential
from deepgrad.nn.pooling import AdaptiveAvgPool2d
from deepgrad.tensor import Tensor

__all__ = ["AlexNet", "alexnet"]


class AlexNet(Module):
    """Five convolutions (11x11 stride 4, 5x5, three 3x3; ReLU; three 3x3 stride-2 max-pools), adaptive average
    pooling to 6x6, then dropout, 9216 -> 4096 -> 4096 -> classes. 61,100,840 parameters for 1000 classes.
    Torchvision's one-GPU variant (64-192-384-256-256 channels, no local response normalisation).

    ``in_channels`` and ``small_input`` are deepgrad's additions (defaults: torchvision's network). With
    ``small_input=True`` (28x28 or 32x32 images) the first convolution is 5x5 with stride 1, the pooled map
    is 2x2 and the classifier 1024 -> 1024 -> classes.

    >>> import deepgrad
    >>> from deepgrad.models import alexnet
    >>> alexnet(num_classes=10)(deepgrad.zeros(1, 3, 64, 64)).shape
    (1, 10)
    """

    def __init__(
        self, num_classes: int = 1000, dropout: float = 0.5, *, in_channels: int = 3, small_input: bool = False
    ) -> None:
        super().__init__()
        positive_int(num_classes, "num_classes", "AlexNet")
        positive_int(in_channels, "in_channels", "AlexNet")
        dropout = probability(dropout, "dropout", "AlexNet")
        stem = Conv2d(in_channels, 64, 5, 1, 2) if small_input else Conv2d(in_channels, 64, 11, 4, 2)
        self.features = Sequential(
            stem,
            ReLU(inplace=True),
            MaxPool2d(3, 2),
            Conv2d(64, 192, 5, padding=2),
            ReLU(inplace=True),
            MaxPool2d(3, 2),
            Conv2d(192, 384, 3, padding=1),
            ReLU(inplace=True),
            Conv2d(384, 256, 3, padding=1),
            ReLU(inplace=True),
            Conv2d(256, 256, 3, padding=1),
            ReLU(inplace=True),
            MaxPool2d(3, 2),
        )
        pooled, hidden = (2, 1024) if small_input else (6, 4096)
        self.avgpool = AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = Sequential(
            Dropout(p=dropout),
            Linear(256 * pooled * pooled, hidden),
            ReLU(inplace=True),
            Dropout(p=dropout),
            Linear(hidden, hidden),
            ReLU(inplace=True),
            Linear(hidden, num_classes),
        )

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def alexnet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """``torchvision.models.alexnet``: AlexNet(**kwargs) (``num_classes``, ``dropout``), freshly initialised."""
    no_pretrained_weights(weights, "alexnet")
    return AlexNet(**kwargs)
