"""GoogLeNet / Inception v1 (Szegedy et al., 2014) as torchvision builds it (``torchvision.models.googlenet``):
the same modules, ``state_dict`` keys and logits, ``aux_logits`` and ``transform_input`` as there."""

from __future__ import annotations

from typing import Any, NamedTuple

from deepgrad.models.common import no_pretrained_weights, positive_int, probability
from deepgrad.nn import functional as F
from deepgrad.nn import init
from deepgrad.nn.layers import BatchNorm2d, Conv2d, Dropout, Identity, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential
from deepgrad.nn.pooling import AdaptiveAvgPool2d
from deepgrad.tensor import Tensor, cat

__all__ = ["BasicConv2d", "GoogLeNet", "GoogLeNetOutputs", "Inception", "InceptionAux", "googlenet"]


class GoogLeNetOutputs(NamedTuple):
    """What GoogLeNet returns in training with ``aux_logits``: the main logits and the two auxiliary heads'."""

    logits: Tensor
    aux_logits2: Tensor | None
    aux_logits1: Tensor | None


class BasicConv2d(Module):
    """relu(batch_norm(conv(x))), the convolution without bias, batch norm with eps 0.001 (torchvision's)."""

    def __init__(self, in_channels: int, out_channels: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = Conv2d(in_channels, out_channels, bias=False, **kwargs)
        self.bn = BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(self.bn(self.conv(x)))


class Inception(Module):
    """Four branches side by side, concatenated along the channels: 1x1; 1x1 -> 3x3; 1x1 -> 3x3 (the paper's
    5x5; torchvision uses 3x3 and so do we, so its weights load); 3x3 max-pool -> 1x1. The 1x1 reductions
    keep the wide layers cheap."""

    def __init__(
        self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int, ch5x5: int, pool_proj: int
    ) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(in_channels, ch1x1, kernel_size=1)
        self.branch2 = Sequential(
            BasicConv2d(in_channels, ch3x3red, kernel_size=1), BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1)
        )
        self.branch3 = Sequential(
            BasicConv2d(in_channels, ch5x5red, kernel_size=1), BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1)
        )
        self.branch4 = Sequential(
            MaxPool2d(kernel_size=3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(in_channels, pool_proj, kernel_size=1),
        )

    def forward(self, x: Tensor) -> Tensor:
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class InceptionAux(Module):
    """An auxiliary classifier on an intermediate map (training only): 4x4 adaptive average pool, 1x1 conv to
    128 channels, 2048 -> 1024 (ReLU, dropout) -> classes."""

    def __init__(self, in_channels: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(in_channels, 128, kernel_size=1)
        self.fc1 = Linear(2048, 1024)
        self.fc2 = Linear(1024, num_classes)
        self.dropout = Dropout(p=dropout)

    def forward(self, x: Tensor) -> Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, (4, 4))).flatten(1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


# ImageNet statistics: transform_input maps inputs normalised with them to the (x - 0.5) / 0.5 the
# original weights were trained on
_MEAN, _STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class GoogLeNet(Module):
    """Stem (7x7/2 conv, max-pool, 1x1 and 3x3 convs, max-pool), nine Inception modules (3a-b, 4a-e, 5a-b)
    with max-pools between the groups, global average pooling, dropout, 1024 -> classes. 6,624,904
    parameters for 1000 classes without the auxiliary heads (``aux_logits=False``), 13,004,888 with them.

    In training with ``aux_logits`` the forward returns `GoogLeNetOutputs` (logits, aux_logits2, aux_logits1);
    otherwise the logits. ``init_weights`` (torchvision's default: True) draws weights from N(0, 0.01)
    truncated to [-2, 2]. ``in_channels`` and ``small_input`` (3x3 stride-1 stem without the first max-pool,
    for 28x28 / 32x32 images) are deepgrad's additions.

    >>> import deepgrad
    >>> from deepgrad.models import googlenet
    >>> googlenet(num_classes=10, aux_logits=False).eval()(deepgrad.zeros(1, 3, 32, 32)).shape
    (1, 10)
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool | None = None,
        blocks: Any = None,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
        *,
        in_channels: int = 3,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        positive_int(num_classes, "num_classes", "GoogLeNet")
        positive_int(in_channels, "in_channels", "GoogLeNet")
        if blocks is not None:
            raise ValueError("GoogLeNet: custom blocks are not supported; leave blocks=None")
        if transform_input and in_channels != 3:
            raise ValueError(f"GoogLeNet: transform_input needs 3 input channels, got in_channels={in_channels}")
        self.aux_logits = aux_logits
        self.transform_input = transform_input
        if small_input:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=3, stride=1, padding=1)
            self.maxpool1: Module = Identity()
        else:
            self.conv1 = BasicConv2d(in_channels, 64, kernel_size=7, stride=2, padding=3)
            self.maxpool1 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
        self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
        self.maxpool3 = MaxPool2d(3, stride=2, ceil_mode=True)
        self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
        self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
        self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
        self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
        self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
        self.maxpool4 = MaxPool2d(2, stride=2, ceil_mode=True)
        self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
        self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
        if aux_logits:
            self.aux1: Module | None = InceptionAux(
                512, num_classes, dropout=probability(dropout_aux, "dropout_aux", "GoogLeNet")
            )
            self.aux2: Module | None = InceptionAux(528, num_classes, dropout=dropout_aux)
        else:
            self.aux1 = None
            self.aux2 = None
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.dropout = Dropout(p=probability(dropout, "dropout", "GoogLeNet"))
        self.fc = Linear(1024, num_classes)
        if init_weights is None or init_weights:
            for module in self.modules():
                if isinstance(module, (Conv2d, Linear)):
                    init.trunc_normal_(module.weight, mean=0.0, std=0.01, a=-2, b=2)
                elif isinstance(module, BatchNorm2d):
                    init.ones_(module.weight)
                    init.zeros_(module.bias)

    def _transform_input(self, x: Tensor) -> Tensor:
        if not self.transform_input:
            return x
        channels = [x[:, c : c + 1] * (_STD[c] / 0.5) + (_MEAN[c] - 0.5) / 0.5 for c in range(3)]
        return cat(channels, 1)

    def forward(self, x: Tensor) -> Tensor | GoogLeNetOutputs:
        x = self._transform_input(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        heads = self.training and self.aux_logits
        aux1 = self.aux1(x) if heads and self.aux1 is not None else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if heads and self.aux2 is not None else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        logits = self.fc(self.dropout(self.avgpool(x).flatten(1)))
        return GoogLeNetOutputs(logits, aux2, aux1) if heads else logits


def googlenet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> GoogLeNet:
    """``torchvision.models.googlenet``: GoogLeNet(**kwargs), freshly initialised (aux_logits=True by default)."""
    no_pretrained_weights(weights, "googlenet")
    return GoogLeNet(**kwargs)
