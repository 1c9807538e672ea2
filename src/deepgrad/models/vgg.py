"""VGG (Simonyan and Zisserman, 2014) as torchvision builds it: ``vgg11`` ... ``vgg19`` and the ``_bn`` variants
with batch normalisation after every convolution; the same modules, ``state_dict`` keys and logits."""

from __future__ import annotations

from typing import Any

from deepgrad.models.common import no_pretrained_weights, positive_int, probability
from deepgrad.nn import init
from deepgrad.nn.activation import ReLU
from deepgrad.nn.layers import BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential
from deepgrad.nn.pooling import AdaptiveAvgPool2d
from deepgrad.tensor import Tensor

__all__ = ["VGG", "make_layers", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn"]

# output channels of each 3x3 convolution, "M" a 2x2 max-pool: configurations A, B, D, E of the paper
CONFIGS: dict[str, list[int | str]] = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_layers(
    config: list[int | str], batch_norm: bool = False, in_channels: int = 3, ceil_mode: bool = False
) -> Sequential:
    """The convolutional part: 3x3 convolutions (padding 1) with ReLU (and BatchNorm2d before it), and 2x2
    max-pools, numbered in one Sequential as torchvision's (``features.0.weight``, ...). ``ceil_mode`` keeps
    odd sizes from shrinking to nothing (28 -> 14 -> 7 -> 4 -> 2 -> 1 for MNIST)."""
    layers: list[Module] = []
    channels = in_channels
    for value in config:
        if value == "M":
            layers.append(MaxPool2d(2, 2, ceil_mode=ceil_mode))
            continue
        layers.append(Conv2d(channels, int(value), 3, padding=1))
        if batch_norm:
            layers.append(BatchNorm2d(int(value)))
        layers.append(ReLU(inplace=True))
        channels = int(value)
    return Sequential(*layers)


class VGG(Module):
    """``features`` (see `make_layers`), adaptive average pooling to 7x7, then 25088 -> 4096 -> 4096 -> classes
    with ReLU and dropout. Initialised as torchvision: convolutions kaiming_normal_(fan_out, relu) with zero
    bias, batch norm weight 1 and bias 0, linear layers N(0, 0.01) with zero bias. VGG-16: 138,357,544
    parameters for 1000 classes.

    ``small_input=True`` (deepgrad's addition, for 28x28 and 32x32 images, with the features built with
    ``ceil_mode=True``): pooling to 1x1 and a small classifier 512 -> 512 -> classes.

    >>> import deepgrad
    >>> from deepgrad.models import vgg11_bn
    >>> vgg11_bn(num_classes=10, small_input=True).eval()(deepgrad.zeros(1, 3, 32, 32)).shape
    (1, 10)
    """

    def __init__(
        self,
        features: Module,
        num_classes: int = 1000,
        init_weights: bool = True,
        dropout: float = 0.5,
        *,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        positive_int(num_classes, "num_classes", "VGG")
        dropout = probability(dropout, "dropout", "VGG")
        self.features = features
        pooled, hidden = (1, 512) if small_input else (7, 4096)
        self.avgpool = AdaptiveAvgPool2d((pooled, pooled))
        self.classifier = Sequential(
            Linear(512 * pooled * pooled, hidden),
            ReLU(True),
            Dropout(p=dropout),
            Linear(hidden, hidden),
            ReLU(True),
            Dropout(p=dropout),
            Linear(hidden, num_classes),
        )
        if init_weights:
            for module in self.modules():
                if isinstance(module, Conv2d):
                    init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                    if module.bias is not None:
                        init.zeros_(module.bias)
                elif isinstance(module, BatchNorm2d):
                    init.ones_(module.weight)
                    init.zeros_(module.bias)
                elif isinstance(module, Linear):
                    init.normal_(module.weight, 0.0, 0.01)
                    init.zeros_(module.bias)

    def forward(self, x: Tensor) -> Tensor:
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def _vgg(name: str, config: str, batch_norm: bool, weights: Any, kwargs: dict[str, Any]) -> VGG:
    no_pretrained_weights(weights, name)
    in_channels = kwargs.pop("in_channels", 3)
    small_input = bool(kwargs.get("small_input", False))
    features = make_layers(CONFIGS[config], batch_norm, positive_int(in_channels, "in_channels", name), small_input)
    return VGG(features, **kwargs)


def vgg11(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 (configuration A, 8 convolutions): 132,863,336 parameters for 1000 classes."""
    return _vgg("vgg11", "A", False, weights, kwargs)


def vgg11_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 with batch normalisation: 132,868,840 parameters for 1000 classes."""
    return _vgg("vgg11_bn", "A", True, weights, kwargs)


def vgg13(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-13 (configuration B, 10 convolutions): 133,047,848 parameters for 1000 classes."""
    return _vgg("vgg13", "B", False, weights, kwargs)


def vgg13_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-13 with batch normalisation: 133,053,736 parameters for 1000 classes."""
    return _vgg("vgg13_bn", "B", True, weights, kwargs)


def vgg16(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 (configuration D, 13 convolutions): 138,357,544 parameters for 1000 classes."""
    return _vgg("vgg16", "D", False, weights, kwargs)


def vgg16_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 with batch normalisation: 138,365,992 parameters for 1000 classes."""
    return _vgg("vgg16_bn", "D", True, weights, kwargs)


def vgg19(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-19 (configuration E, 16 convolutions): 143,667,240 parameters for 1000 classes."""
    return _vgg("vgg19", "E", False, weights, kwargs)


def vgg19_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-19 with batch normalisation: 143,678,248 parameters for 1000 classes."""
    return _vgg("vgg19_bn", "E", True, weights, kwargs)
