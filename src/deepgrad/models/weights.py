"""torchvision's weight enums (``ResNet18_Weights.DEFAULT``, ...), so ported imports work.

deepgrad downloads no pretrained weights (torchvision's are pickled files from a hub): passing one of these
to a builder is the error of `common.no_pretrained_weights`, which says how to load a state dict instead.
"""

from __future__ import annotations

import enum


class WeightsEnum(enum.Enum):
    """A named pretrained weight set that deepgrad knows by name only."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"

    __str__ = __repr__


def _weights(
    name: str, versions: tuple[str, ...] = ("IMAGENET1K_V1",), default: str | None = None
) -> type[WeightsEnum]:
    """The enum of one architecture's weight sets; DEFAULT (the newest unless ``default`` says) is an alias."""
    members = [(version, f"{name}.{version}") for version in versions]
    members.append(("DEFAULT", f"{name}.{default or versions[-1]}"))  # same value: Enum makes it an alias
    return WeightsEnum(name, members)


AlexNet_Weights = _weights("AlexNet_Weights")
VGG11_Weights = _weights("VGG11_Weights")
VGG11_BN_Weights = _weights("VGG11_BN_Weights")
VGG13_Weights = _weights("VGG13_Weights")
VGG13_BN_Weights = _weights("VGG13_BN_Weights")
VGG16_Weights = _weights("VGG16_Weights", ("IMAGENET1K_V1", "IMAGENET1K_FEATURES"), default="IMAGENET1K_V1")
VGG16_BN_Weights = _weights("VGG16_BN_Weights")
VGG19_Weights = _weights("VGG19_Weights")
VGG19_BN_Weights = _weights("VGG19_BN_Weights")
GoogLeNet_Weights = _weights("GoogLeNet_Weights")
ResNet18_Weights = _weights("ResNet18_Weights")
ResNet34_Weights = _weights("ResNet34_Weights")
ResNet50_Weights = _weights("ResNet50_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2"))
ResNet101_Weights = _weights("ResNet101_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2"))
ResNet152_Weights = _weights("ResNet152_Weights", ("IMAGENET1K_V1", "IMAGENET1K_V2"))

__all__ = [
    "AlexNet_Weights",
    "GoogLeNet_Weights",
    "ResNet18_Weights",
    "ResNet34_Weights",
    "ResNet50_Weights",
    "ResNet101_Weights",
    "ResNet152_Weights",
    "VGG11_BN_Weights",
    "VGG11_Weights",
    "VGG13_BN_Weights",
    "VGG13_Weights",
    "VGG16_BN_Weights",
    "VGG16_Weights",
    "VGG19_BN_Weights",
    "VGG19_Weights",
    "WeightsEnum",
]
