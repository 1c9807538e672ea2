"""Neural-network building blocks with PyTorch's names: ``Module``, layers, activations, losses,
``functional`` (as ``F``), ``init`` and ``summary``.

>>> import deepgrad
>>> from deepgrad import nn
>>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> loss = nn.CrossEntropyLoss()(model(deepgrad.randn(5, 4)), deepgrad.tensor([0, 1, 2, 0, 1]))
>>> loss.backward()
>>> model[0].weight.grad.shape
(8, 4)
"""

from __future__ import annotations

from deepgrad.nn import functional, init, parallel, utils
from deepgrad.nn.activation import (
    CELU,
    ELU,
    GELU,
    GLU,
    SELU,
    Hardshrink,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    PReLU,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softshrink,
    Softsign,
    Tanh,
    Tanhshrink,
    Threshold,
)
from deepgrad.nn.convolution import Conv1d, ConvTranspose2d
from deepgrad.nn.layers import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    Dropout,
    Flatten,
    Identity,
    Linear,
    MaxPool2d,
)
from deepgrad.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
    SmoothL1Loss,
)
from deepgrad.nn.module import Module, ModuleDict, ModuleList, Parameter, RemovableHandle, Sequential
from deepgrad.nn.normalization import Dropout2d, GroupNorm, LayerNorm, LocalResponseNorm
from deepgrad.nn.parallel import SyncBatchNorm
from deepgrad.nn.pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d, MaxPool1d
from deepgrad.nn.shape import (
    ConstantPad2d,
    CosineSimilarity,
    PairwiseDistance,
    PixelShuffle,
    PixelUnshuffle,
    Unflatten,
    ZeroPad2d,
)
from deepgrad.nn.sparse import Embedding
from deepgrad.nn.summary import ModelSummary, summary

__all__ = [
    "ConstantPad2d",
    "CosineSimilarity",
    "Embedding",
    "GroupNorm",
    "HuberLoss",
    "LayerNorm",
    "PairwiseDistance",
    "PixelShuffle",
    "PixelUnshuffle",
    "SmoothL1Loss",
    "Unflatten",
    "ZeroPad2d",
    "CELU",
    "GLU",
    "SELU",
    "Hardshrink",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "LogSigmoid",
    "Mish",
    "PReLU",
    "ReLU6",
    "Softmin",
    "Softshrink",
    "Softsign",
    "Tanhshrink",
    "Threshold",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AvgPool1d",
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "Conv1d",
    "Conv2d",
    "ConvTranspose2d",
    "CrossEntropyLoss",
    "Dropout",
    "Dropout2d",
    "ELU",
    "Flatten",
    "GELU",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LocalResponseNorm",
    "LogSoftmax",
    "MSELoss",
    "MaxPool1d",
    "MaxPool2d",
    "ModelSummary",
    "Module",
    "ModuleDict",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "ReLU",
    "RemovableHandle",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "Softmax",
    "Softplus",
    "SyncBatchNorm",
    "Tanh",
    "functional",
    "init",
    "parallel",
    "summary",
    "utils",
]
