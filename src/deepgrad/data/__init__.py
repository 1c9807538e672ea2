"""Data: datasets, the batching `DataLoader`, MNIST / Fashion-MNIST / CIFAR-10 readers, batch augmentation, toy sets.

>>> from deepgrad.data import DataLoader, TensorDataset, make_moons
>>> X, y = make_moons(100, seed=0)
>>> xb, yb = next(iter(DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=0)))
>>> xb.shape, yb.dtype
((32, 2), dtype('int64'))
"""

from __future__ import annotations

from deepgrad.data import transforms
from deepgrad.data.cifar import CIFAR10, parse_cifar_batch, read_cifar_batch
from deepgrad.data.dataloader import DataLoader, default_collate
from deepgrad.data.dataset import Dataset, Subset, TensorDataset, random_split
from deepgrad.data.mnist import (
    MNIST,
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    FashionMNIST,
    default_data_dir,
    parse_idx,
    read_idx,
)
from deepgrad.data.sampler import DistributedSampler
from deepgrad.data.toy import TOY_DATASETS, make_circles, make_moons, make_sine, make_spirals, make_xor

__all__ = [
    "CIFAR10",
    "MNIST",
    "TOY_DATASETS",
    "DataLoader",
    "Dataset",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DistributedSampler",
    "DownloadError",
    "FashionMNIST",
    "Subset",
    "TensorDataset",
    "default_collate",
    "default_data_dir",
    "make_circles",
    "make_moons",
    "make_sine",
    "make_spirals",
    "make_xor",
    "parse_cifar_batch",
    "parse_idx",
    "random_split",
    "read_cifar_batch",
    "read_idx",
    "transforms",
]
