"""Reference architectures built from ``deepgrad.nn``: the lectures' MLP and LeNet-5, a compact CNN, and
torchvision's AlexNet, VGG, GoogLeNet and ResNet (same constructors, modules and ``state_dict`` keys)."""

from __future__ import annotations

from deepgrad.models.alexnet import AlexNet, alexnet
from deepgrad.models.cnn import SmallCNN, cnn
from deepgrad.models.googlenet import GoogLeNet, GoogLeNetOutputs, googlenet
from deepgrad.models.lenet import LeNet5
from deepgrad.models.mlp import MLP
from deepgrad.models.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet34, resnet50, resnet101, resnet152
from deepgrad.models.vgg import VGG, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19, vgg19_bn
from deepgrad.models.weights import *  # noqa: F403  (torchvision's ResNet18_Weights, ...: names only)
from deepgrad.models.weights import __all__ as _weight_names

__all__ = [
    "MLP",
    "VGG",
    "AlexNet",
    "BasicBlock",
    "Bottleneck",
    "GoogLeNet",
    "GoogLeNetOutputs",
    "LeNet5",
    "ResNet",
    "SmallCNN",
    "alexnet",
    "cnn",
    "googlenet",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
    *_weight_names,
]
