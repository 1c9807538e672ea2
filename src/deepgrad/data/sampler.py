"""`DistributedSampler`: each rank's share of a dataset's indices, PyTorch's semantics (padding included)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from deepgrad.distributed import process_group as pg


class DistributedSampler:
    """The indices rank ``rank`` of ``num_replicas`` reads in one epoch: every ``num_replicas``-th index,
    starting at ``rank``, of the (shuffled) index list.

    With ``shuffle`` the order is a permutation drawn from ``seed + epoch`` (call `set_epoch` at every
    epoch: every rank draws the same permutation, so the shards stay disjoint). Unless ``drop_last``, the
    list is padded with its own first indices to a multiple of ``num_replicas``, so every rank gets
    ``ceil(n / num_replicas)`` samples and takes the same number of steps; with ``drop_last`` the tail
    is dropped instead. ``num_replicas`` and ``rank`` default to the process group's.

    >>> sampler = DistributedSampler(range(10), num_replicas=3, rank=1, shuffle=False)
    >>> list(sampler), len(sampler)
    ([1, 4, 7, 0], 4)
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        group_rank, group_size = pg.rank_and_size()
        num_replicas = group_size if num_replicas is None else num_replicas
        rank = group_rank if rank is None else rank
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"DistributedSampler: {name} must be an int, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be at least 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"DistributedSampler: rank must be in 0..{num_replicas - 1}, got {rank}")
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"DistributedSampler: the dataset needs __len__; got {type(dataset).__name__}")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch's permutation (the same ``epoch`` on every rank gives the same permutation)."""
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        """This rank's indices for the current epoch, as an int64 array."""
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.drop_last:
            order = order[: self.total_size]
        elif self.total_size > n and n > 0:
            order = np.concatenate([order, np.resize(order, self.total_size - n)])
        return order[self.rank : self.total_size : self.num_replicas].astype(np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def __repr__(self) -> str:
        return (
            f"DistributedSampler({len(self.dataset)} samples, num_replicas={self.num_replicas}, rank={self.rank}, "
            f"shuffle={self.shuffle}, seed={self.seed}, drop_last={self.drop_last})"
        )
