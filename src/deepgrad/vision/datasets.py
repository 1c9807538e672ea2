"""Data sets with torchvision's signatures, over deepgrad's validated readers.

``MNIST(root, train=True, transform=None, target_transform=None, download=False)`` and the same for
FashionMNIST and CIFAR10. Items are ``(transform(image), target_transform(target))`` where ``image`` is
what torchvision hands to the transform, as a NumPy array instead of a PIL image: uint8 H x W for the
MNIST sets, uint8 H x W x 3 for CIFAR-10 (`transforms.ToTensor` turns either into float32 C x H x W in
[0, 1]). ``.data``, ``.targets``, ``.classes`` and ``.class_to_idx`` are torchvision's: for MNIST a
uint8 Tensor (N, 28, 28) and an int64 Tensor; for CIFAR-10 a uint8 ndarray (N, 32, 32, 3) and a list.

Where files are looked for: the readers' own layouts (``root/mnist``, ``root``, and torchvision's
``root/MNIST/raw``; for CIFAR-10 see `deepgrad.data.cifar`).

>>> import deepgrad.vision as torchvision  # doctest: +SKIP
>>> to_tensor = torchvision.transforms.ToTensor()  # doctest: +SKIP
>>> train = torchvision.datasets.MNIST("data", train=True, transform=to_tensor)  # doctest: +SKIP
>>> image, label = train[0]  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from deepgrad import data
from deepgrad.data.cifar import CLASSES as CIFAR10_CLASSES
from deepgrad.data.dataset import Dataset, _check_index
from deepgrad.tensor import Tensor


class VisionDataset(Dataset):
    """Common part: root, transforms, length, indexing and torchvision's ``repr``."""

    classes: list[str] = []
    data: Any
    targets: Any

    def __init__(
        self,
        root: str | os.PathLike | None,
        train: bool,
        transform: Callable[[Any], Any] | None,
        target_transform: Callable[[int], Any] | None,
    ) -> None:
        self.root = root
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.classes)}

    def __len__(self) -> int:
        return len(self.data)

    def _sample(self, index: int) -> tuple[np.ndarray, int]:
        raise NotImplementedError

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        index = _check_index(index, len(self), type(self).__name__)
        image, target = self._sample(index)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __repr__(self) -> str:
        lines = [
            f"Dataset {type(self).__name__}",
            f"    Number of datapoints: {len(self)}",
            f"    Root location: {self.root}",
            f"    Split: {'Train' if self.train else 'Test'}",
        ]
        if self.transform is not None:
            lines.append(f"    Transform: {self.transform!r}".replace("\n", "\n    "))
        if self.target_transform is not None:
            lines.append(f"    Target transform: {self.target_transform!r}")
        return "\n".join(lines)


class MNIST(VisionDataset):
    """torchvision.datasets.MNIST over `deepgrad.data.MNIST`: items (transform(uint8 28 x 28 array), int)."""

    reader: type[data.MNIST] = data.MNIST
    classes = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike | None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, train, transform, target_transform)
        reader = self.reader(root, train=train, download=download)
        n, _, rows, cols = reader.images.shape
        # The reader keeps x / 255 as float32; x = rint(255 * (x / 255)) recovers the stored bytes exactly.
        pixels = np.rint(reader.images.reshape(n, rows, cols) * 255.0).astype(np.uint8)
        self.data = Tensor._make(pixels, False, None)
        self.targets = Tensor._make(reader.labels, False, None)
        self.files = (reader.images_file, reader.labels_file)

    def _sample(self, index: int) -> tuple[np.ndarray, int]:
        return self.data.array[index].copy(), int(self.targets.array[index])


class FashionMNIST(MNIST):
    """torchvision.datasets.FashionMNIST over `deepgrad.data.FashionMNIST`."""

    reader = data.FashionMNIST
    classes = list(data.FashionMNIST.classes)


class CIFAR10(VisionDataset):
    """torchvision.datasets.CIFAR10 over `deepgrad.data.CIFAR10` (the binary version; never unpickles).

    Items are (transform(uint8 32 x 32 x 3 array), int); ``.data`` is uint8 (N, 32, 32, 3), ``.targets`` a list.
    """

    classes = list(CIFAR10_CLASSES)

    def __init__(
        self,
        root: str | os.PathLike | None,
        train: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, train, transform, target_transform)
        reader = data.CIFAR10(root, train=train, download=download)
        self.data = np.ascontiguousarray(reader.images.transpose(0, 2, 3, 1))  # N x H x W x C, as torchvision
        self.targets = reader.labels.tolist()
        self.source = reader.source

    def _sample(self, index: int) -> tuple[np.ndarray, int]:
        return self.data[index].copy(), self.targets[index]


__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "VisionDataset"]
