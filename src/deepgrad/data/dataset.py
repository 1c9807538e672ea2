"""Datasets: the map-style `Dataset` protocol, `TensorDataset`, `Subset` and `random_split`.

A dataset answers ``len(ds)`` and ``ds[i]``. Datasets held in memory as arrays (TensorDataset, MNIST,
the toy sets, and subsets of those) also answer ``ds.gather(indices)``: every field of many samples at
once, one vectorised NumPy index per array. `DataLoader` uses it to build a batch without a Python loop
over samples, which is what keeps data loading out of the way of a small model's training step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.tensor import Tensor


class Dataset:
    """A map-style dataset: subclasses define ``__len__`` and ``__getitem__(i)`` returning one sample.

    In-memory datasets also set ``supports_gather = True`` and define ``gather(indices)``.

    >>> class Squares(Dataset):
    ...     def __len__(self): return 4
    ...     def __getitem__(self, i): return i * i
    >>> [Squares()[i] for i in range(4)]
    [0, 1, 4, 9]
    """

    #: True when `gather` returns whole batches with one fancy index per array (see `DataLoader`).
    supports_gather: bool = False

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define __len__")

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """All fields of the samples at ``indices`` (a 1-D int64 array), one array per field, batch first."""
        raise NotImplementedError(f"{type(self).__name__} has no vectorised gather; index it sample by sample")


def _as_array(value: Any, position: int) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, np.ndarray):
        # Same dtype rule as deepgrad.tensor(): float64 arrays become float32, the framework's default.
        return value.astype(backend.DEFAULT_FLOAT) if value.dtype == np.float64 else value
    raise TypeError(f"TensorDataset: argument {position} is a {type(value).__name__}; expected a Tensor or ndarray")


class TensorDataset(Dataset):
    """Samples are rows of equally long tensors: ``ds[i] = (t0[i], t1[i], ...)``.

    Tensors keep their dtype; float64 NumPy arrays become float32 as in `deepgrad.tensor`.

    >>> import numpy as np
    >>> ds = TensorDataset(np.zeros((5, 2), np.float32), np.arange(5))
    >>> len(ds), ds[3][1].item()
    (5, 3)
    """

    supports_gather = True

    def __init__(self, *tensors: Tensor | np.ndarray) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        arrays = tuple(_as_array(t, i) for i, t in enumerate(tensors))
        for i, array in enumerate(arrays):
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a scalar; every tensor needs a first (sample) dim")
        sizes = [a.shape[0] for a in arrays]
        if len(set(sizes)) > 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"TensorDataset: tensors differ in their first dimension (sample count): {shapes}")
        self.arrays = arrays
        self.tensors = tuple(Tensor._make(a, False, None) for a in arrays)

    def __len__(self) -> int:
        return self.arrays[0].shape[0]

    def __getitem__(self, index: int) -> tuple[Tensor, ...]:
        index = _check_index(index, len(self), type(self).__name__)
        # A copy per sample, so in-place changes to a sample never reach the dataset.
        return tuple(Tensor._make(np.array(a[index]), False, None) for a in self.arrays)

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """``(t0[indices], t1[indices], ...)``: one fancy index per array (always a fresh copy)."""
        return tuple(a[indices] for a in self.arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``Subset(ds, idx)[i] = ds[idx[i]]``.

    >>> import numpy as np
    >>> sub = Subset(TensorDataset(np.arange(10)), [7, 2])
    >>> len(sub), sub[0][0].item()
    (2, 7)
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray) -> None:
        idx = np.asarray(indices)
        if idx.size == 0:
            idx = idx.astype(np.int64)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise TypeError(f"Subset: indices must be a 1-D sequence of ints, got shape {idx.shape} dtype {idx.dtype}")
        n = len(dataset)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            bad = idx[(idx < -n) | (idx >= n)][0]
            raise IndexError(f"Subset: index {bad} is out of range for a dataset of {n} samples")
        self.dataset = dataset
        self.indices = np.where(idx < 0, idx + n, idx).astype(np.int64)

    @property
    def supports_gather(self) -> bool:  # type: ignore[override]
        return bool(getattr(self.dataset, "supports_gather", False))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        index = _check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[index])]

    def gather(self, indices: np.ndarray) -> tuple[np.ndarray, ...]:
        """The parent's gather at the composed indices: still one fancy index per array."""
        return self.dataset.gather(self.indices[indices])


def _check_index(index: Any, n: int, owner: str) -> int:
    if isinstance(index, Tensor):
        index = index.item()
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{owner} indices must be integers, got {type(index).__name__}")
    if not -n <= index < n:
        raise IndexError(f"{owner}: index {index} is out of range for {n} samples")
    return int(index) % n


def _split_lengths(lengths: Sequence[float], n: int) -> list[int]:
    """Counts for `random_split`: ints summing to n, or fractions summing to 1 (remainder dealt round-robin)."""
    values = list(lengths)
    if not values:
        raise ValueError("random_split: lengths is empty")
    if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
        if any(v < 0 for v in values):
            raise ValueError(f"random_split: lengths must be non-negative, got {values}")
        if sum(values) != n:
            raise ValueError(f"random_split: lengths {values} sum to {sum(values)}, but the dataset has {n} samples")
        return [int(v) for v in values]
    if any(isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) for v in values):
        raise TypeError(f"random_split: lengths must be ints or fractions, got {values}")
    if any(not 0 <= v <= 1 for v in values) or not math.isclose(sum(values), 1.0, abs_tol=1e-6):
        raise ValueError(f"random_split: fractions must lie in [0, 1] and sum to 1, got {values} (sum {sum(values)})")
    # As PyTorch: floor each share, then give the samples left over one each to the first splits.
    counts = [math.floor(n * v) for v in values]
    for i in range(n - sum(counts)):
        counts[i % len(counts)] += 1
    return counts


def random_split(dataset: Any, lengths: Sequence[float], seed: int | None = None) -> list[Subset]:
    """Split into non-overlapping random subsets of the given sizes (counts, or fractions summing to 1).

    The permutation comes from ``numpy.random.default_rng(seed)``, or from `deepgrad.backend.generator()`
    when ``seed`` is None (so `deepgrad.manual_seed` makes it reproducible).

    >>> import numpy as np
    >>> train, val = random_split(TensorDataset(np.arange(10)), [0.8, 0.2], seed=0)
    >>> len(train), len(val)
    (8, 2)
    """
    n = len(dataset)
    counts = _split_lengths(lengths, n)
    rng = backend.generator() if seed is None else np.random.default_rng(seed)
    permutation = rng.permutation(n)
    offsets = np.cumsum([0, *counts])
    return [Subset(dataset, permutation[offsets[i] : offsets[i + 1]]) for i in range(len(counts))]
