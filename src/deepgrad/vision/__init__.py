"""torchvision's counterpart: ``import deepgrad.vision as torchvision`` ports the usual image code.

- `transforms`: ToTensor, Normalize, Compose, Lambda, RandomCrop, RandomHorizontalFlip, Resize, ...
  (and `transforms.functional`), with torchvision's arguments and semantics;
- `datasets`: MNIST, FashionMNIST, CIFAR10 with torchvision's signatures, over deepgrad's readers;
- `utils`: make_grid, save_image;
- `io`: read_image, decode_image (Pillow);
- `models`: `deepgrad.models`.

>>> import numpy as np
>>> import deepgrad.vision as torchvision
>>> torchvision.transforms.ToTensor()(np.zeros((32, 32, 3), np.uint8)).shape
(3, 32, 32)
"""

from __future__ import annotations

from deepgrad.vision import datasets, io, models, transforms, utils

__all__ = ["datasets", "io", "models", "transforms", "utils"]
