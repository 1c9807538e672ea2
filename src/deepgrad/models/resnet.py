"""ResNet (He, Zhang, Ren and Sun, 2015) as torchvision builds it: ``resnet18/34`` (basic blocks) and
``resnet50/101/152`` (bottleneck blocks), with torchvision's constructor arguments, modules, ``state_dict``
keys and logits. ``small_input=True`` is the usual set-up for 28x28 / 32x32 images (CIFAR): a 3x3 stride-1
stem and no max-pool, so the four stages see 32, 16, 8 and 4 pixels instead of a 1x1 map."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deepgrad.models.common import no_pretrained_weights, positive_int
from deepgrad.nn import init
from deepgrad.nn.activation import ReLU
from deepgrad.nn.layers import BatchNorm2d, Conv2d, Identity, Linear, MaxPool2d
from deepgrad.nn.module import Module, Sequential
from deepgrad.nn.pooling import AdaptiveAvgPool2d
from deepgrad.tensor import Tensor

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1, dilation: int = 1) -> Conv2d:
    """3x3 convolution without bias (batch norm follows), padding = dilation keeps the size at stride 1."""
    return Conv2d(in_planes, out_planes, 3, stride, dilation, dilation, groups, bias=False)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> Conv2d:
    """1x1 convolution without bias: changes the channel count (and with stride 2, halves the size)."""
    return Conv2d(in_planes, out_planes, 1, stride, bias=False)


class BasicBlock(Module):
    """y = relu(x' + bn2(conv2(relu(bn1(conv1(x)))))), two 3x3 convolutions; x' = downsample(x) when the
    shape changes, else x. The identity path is what lets the gradient reach early layers undiminished."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[[int], Module] | None = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or BatchNorm2d
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = norm_layer(planes)
        self.relu = ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(Module):
    """y = relu(x' + bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))))): 1x1 (reduce to ``width``), 3x3 (with the
    stride, as torchvision's "ResNet v1.5"), 1x1 (expand to 4 planes); x' = downsample(x) when the shape changes."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Callable[[int], Module] | None = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = conv1x1(inplanes, width)
        self.bn1 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn2 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ResNet(Module):
    """Stem (7x7 stride-2 convolution, batch norm, ReLU, 3x3 stride-2 max-pool), four stages of blocks with
    64, 128, 256, 512 planes (stages 2-4 halve the size), global average pooling, one linear layer.
    Initialised as torchvision: convolutions kaiming_normal_(fan_out, relu), batch norm weight 1 and bias 0
    (``zero_init_residual``: the last batch norm of each block 0, so each block starts as the identity).
    ResNet-18: 11,689,512 parameters for 1000 classes; ResNet-50: 25,557,032.

    ``in_channels`` and ``small_input`` are deepgrad's additions (defaults: torchvision's network).

    >>> import deepgrad
    >>> from deepgrad.models import resnet18
    >>> resnet18(num_classes=10, in_channels=1, small_input=True).eval()(deepgrad.zeros(1, 1, 28, 28)).shape
    (1, 10)
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        layers: list[int],
        num_classes: int = 1000,
        zero_init_residual: bool = False,
        groups: int = 1,
        width_per_group: int = 64,
        replace_stride_with_dilation: list[bool] | None = None,
        norm_layer: Callable[[int], Module] | None = None,
        *,
        in_channels: int = 3,
        small_input: bool = False,
    ) -> None:
        super().__init__()
        positive_int(num_classes, "num_classes", "ResNet")
        positive_int(in_channels, "in_channels", "ResNet")
        self._norm_layer = norm_layer or BatchNorm2d
        self.inplanes = 64
        self.dilation = 1
        replace_stride_with_dilation = replace_stride_with_dilation or [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError(
                f"replace_stride_with_dilation should be None or a 3-element tuple, got {replace_stride_with_dilation}"
            )
        self.groups = groups
        self.base_width = width_per_group
        if small_input:
            self.conv1 = Conv2d(in_channels, self.inplanes, 3, 1, 1, bias=False)
        else:
            self.conv1 = Conv2d(in_channels, self.inplanes, 7, 2, 3, bias=False)
        self.bn1 = self._norm_layer(self.inplanes)
        self.relu = ReLU(inplace=True)
        self.maxpool: Module = Identity() if small_input else MaxPool2d(3, 2, 1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], 2, replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], 2, replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], 2, replace_stride_with_dilation[2])
        self.avgpool = AdaptiveAvgPool2d((1, 1))
        self.fc = Linear(512 * block.expansion, num_classes)
        self._initialise(zero_init_residual)

    def _initialise(self, zero_init_residual: bool) -> None:
        for module in self.modules():
            if isinstance(module, Conv2d):
                init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, BatchNorm2d):
                init.ones_(module.weight)
                init.zeros_(module.bias)
        if zero_init_residual:
            for module in self.modules():
                if isinstance(module, Bottleneck):
                    init.zeros_(module.bn3.weight)
                elif isinstance(module, BasicBlock):
                    init.zeros_(module.bn2.weight)

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        blocks: int,
        stride: int = 1,
        dilate: bool = False,
    ) -> Sequential:
        """One stage: the first block changes the size (stride) and width (a 1x1 downsample on its identity
        path); the others keep both. ``dilate`` trades the stride for dilation (torchvision's option)."""
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = Sequential(
                conv1x1(self.inplanes, planes * block.expansion, stride), self._norm_layer(planes * block.expansion)
            )
        layers: list[Module] = [
            block(
                self.inplanes,
                planes,
                stride,
                downsample,
                self.groups,
                self.base_width,
                previous_dilation,
                self._norm_layer,
            )
        ]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(
                block(
                    self.inplanes,
                    planes,
                    groups=self.groups,
                    base_width=self.base_width,
                    dilation=self.dilation,
                    norm_layer=self._norm_layer,
                )
            )
        return Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))


def _resnet(name: str, block: Any, layers: list[int], weights: Any, kwargs: dict[str, Any]) -> ResNet:
    no_pretrained_weights(weights, name)
    return ResNet(block, layers, **kwargs)


def resnet18(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-18: basic blocks [2, 2, 2, 2]; 11,689,512 parameters for 1000 classes."""
    return _resnet("resnet18", BasicBlock, [2, 2, 2, 2], weights, kwargs)


def resnet34(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-34: basic blocks [3, 4, 6, 3]; 21,797,672 parameters for 1000 classes."""
    return _resnet("resnet34", BasicBlock, [3, 4, 6, 3], weights, kwargs)


def resnet50(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-50: bottleneck blocks [3, 4, 6, 3]; 25,557,032 parameters for 1000 classes."""
    return _resnet("resnet50", Bottleneck, [3, 4, 6, 3], weights, kwargs)


def resnet101(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-101: bottleneck blocks [3, 4, 23, 3]; 44,549,160 parameters for 1000 classes."""
    return _resnet("resnet101", Bottleneck, [3, 4, 23, 3], weights, kwargs)


def resnet152(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> ResNet:
    """ResNet-152: bottleneck blocks [3, 8, 36, 3]; 60,192,808 parameters for 1000 classes."""
    return _resnet("resnet152", Bottleneck, [3, 8, 36, 3], weights, kwargs)
