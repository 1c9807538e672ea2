"""A compact convolutional network for 28x28 digits: the one PyTorch's MNIST example trains to 99%+."""

from __future__ import annotations

from deepgrad.models.common import positive_int, probability
from deepgrad.nn.activation import ReLU
from deepgrad.nn.layers import BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential

__all__ = ["SmallCNN", "cnn"]


class SmallCNN(Sequential):
    """conv 32@3x3 -> ReLU -> conv 64@3x3 -> ReLU -> 2x2 max-pool -> dropout -> FC 128 -> ReLU -> dropout -> classes.

    Shapes for (N, 1, 28, 28): (N, 32, 26, 26) -> (N, 64, 24, 24) -> (N, 64, 12, 12) -> (N, 9216) -> (N, 128)
    -> (N, num_classes); 1,199,882 parameters for 10 classes. A Sequential numbered in order, so its
    ``state_dict`` keys (``0.*``, ``2.*``, ``7.*``, ``10.*``) equal those of the same ``torch.nn.Sequential``.

    ``batch_norm=True`` puts a ``BatchNorm2d`` after each convolution (before its ReLU) and drops the
    convolutions' biases, which the normalisation would cancel: 1,199,978 parameters for 10 classes, keys
    ``0.*``, ``1.*`` (batch norm), ``3.*``, ``4.*``, ``9.*``, ``12.*``. ``deepgrad train --model cnn`` uses it:
    in its 3 epochs the plain net underfits, and the normalised one trains further in the same steps
    (issue 12's figures in ``benchmarks/README.md``).

    >>> import deepgrad
    >>> from deepgrad.models import cnn
    >>> cnn()(deepgrad.zeros(2, 1, 28, 28)).shape
    (2, 10)
    """

    def __init__(
        self,
        num_classes: int = 10,
        in_channels: int = 1,
        image_size: int = 28,
        dropout: tuple[float, float] = (0.25, 0.5),
        batch_norm: bool = False,
    ) -> None:
        positive_int(num_classes, "num_classes", "SmallCNN")
        positive_int(in_channels, "in_channels", "SmallCNN")
        if positive_int(image_size, "image_size", "SmallCNN") < 6:
            raise ValueError(f"SmallCNN: image_size must be at least 6, got {image_size}")
        first, second = (probability(p, "dropout", "SmallCNN") for p in dropout)
        if not isinstance(batch_norm, bool):
            raise TypeError(f"SmallCNN: batch_norm must be True or False, got {batch_norm!r}")
        side = (image_size - 4) // 2
        layers: list[Module] = [
            *_convolution(in_channels, 32, batch_norm),
            ReLU(),
            *_convolution(32, 64, batch_norm),
            ReLU(),
            MaxPool2d(2),
            Dropout(first),
            Flatten(),
            Linear(64 * side * side, 128),
            ReLU(),
            Dropout(second),
            Linear(128, num_classes),
        ]
        super().__init__(*layers)
        self.num_classes = num_classes


def _convolution(in_channels: int, out_channels: int, batch_norm: bool) -> list[Module]:
    """A 3x3 convolution, followed by batch norm (and then without a bias) when ``batch_norm``."""
    if not batch_norm:
        return [Conv2d(in_channels, out_channels, 3)]
    return [Conv2d(in_channels, out_channels, 3, bias=False), BatchNorm2d(out_channels)]


def cnn(num_classes: int = 10, in_channels: int = 1, image_size: int = 28, batch_norm: bool = False) -> SmallCNN:
    """The compact CNN (`SmallCNN`) for ``image_size`` x ``image_size`` images with ``in_channels`` channels."""
    return SmallCNN(num_classes, in_channels, image_size, batch_norm=batch_norm)
