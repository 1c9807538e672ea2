"""`ShardedLoader`: one rank's share of every batch that a one-process `DataLoader` would give.

``DataLoader(dataset, batch_size=B, shuffle=True, seed=s)`` in one process and ``ShardedLoader(dataset,
B, shuffle=True, seed=s)`` on each of N ranks draw the same permutation every epoch (the same generator,
seeded alike), and the N ranks' batches of step k together are the one process's batch k: rank r reads
the global positions r, r + N, r + 2N, ... (`DistributedSampler`'s striding). With DDP averaging the
ranks' mean-loss gradients, the N ranks then take the one process's steps, so a run does not depend on
how many ranks trained it, and its `state_dict` is the one-process loader's (checkpoints move between
the two).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from deepgrad.data.dataloader import DataLoader
from deepgrad.distributed import process_group as pg

_STATE_VERSION = 1  # the format of DataLoader.state_dict, which this loader shares


class ShardedLoader:
    """Batches of ``batch_size // num_replicas`` samples: rank ``rank``'s share of each global batch.

    ``batch_size`` is the global batch and must be a multiple of ``num_replicas``. With ``pad`` (for
    training) the index list is padded with its own first indices to a multiple of ``num_replicas``, as
    `DistributedSampler` does, so that every rank takes the same number of steps (the padding repeats a
    few samples when the data set does not split evenly); without it (for evaluation, where ranks do not
    communicate per batch) the shards differ by at most one sample and no sample is counted twice.
    ``num_replicas`` and ``rank`` default to the process group's.

    >>> from deepgrad.data import TensorDataset
    >>> data = TensorDataset(np.zeros((10, 1)), np.arange(10))
    >>> [y.tolist() for _, y in ShardedLoader(data, 4, num_replicas=2, rank=1)]
    [[1, 3], [5, 7], [9]]
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        pad: bool = True,
        num_replicas: int | None = None,
        rank: int | None = None,
    ) -> None:
        group_rank, group_size = pg.rank_and_size()
        self.num_replicas = group_size if num_replicas is None else int(num_replicas)
        self.rank = group_rank if rank is None else int(rank)
        if self.num_replicas < 1 or not 0 <= self.rank < self.num_replicas:
            raise ValueError(f"ShardedLoader: rank must be in 0..{self.num_replicas - 1}, got {self.rank}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"ShardedLoader: batch_size must be a positive int, got {batch_size!r}")
        if batch_size % self.num_replicas:
            raise ValueError(
                f"ShardedLoader: the global batch_size {batch_size} does not split over {self.num_replicas} ranks "
                f"(give a multiple of {self.num_replicas})"
            )
        if not hasattr(dataset, "__len__"):
            raise TypeError(f"ShardedLoader: the dataset needs __len__; got {type(dataset).__name__}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.local_batch_size = self.batch_size // self.num_replicas
        self.shuffle, self.seed, self.pad = bool(shuffle), int(seed), bool(pad)
        self._rng = np.random.default_rng(self.seed) if self.shuffle else None  # as DataLoader(seed=seed)
        self._epoch = 0
        self._in_epoch = False

    def shard(self, order: np.ndarray) -> np.ndarray:
        """This rank's indices of the epoch's global ``order``: positions rank, rank + N, ... (padded)."""
        n, replicas = len(order), self.num_replicas
        if self.pad and n % replicas and n > 0:
            total = math.ceil(n / replicas) * replicas
            order = np.concatenate([order, np.resize(order, total - n)])
        return order[self.rank :: replicas]

    def _shard_length(self) -> int:
        n, replicas = len(self.dataset), self.num_replicas
        if self.pad:
            return math.ceil(n / replicas)
        return len(range(self.rank, n, replicas))

    def __len__(self) -> int:
        """Steps per epoch on this rank (the same on every rank with ``pad``)."""
        return -(-self._shard_length() // self.local_batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = self._rng.permutation(n) if self._rng is not None else np.arange(n)
        self._epoch += 1
        mine = self.shard(order).astype(np.int64)
        return self._batches(DataLoader(self.dataset, self.local_batch_size, sampler=mine))

    def _batches(self, loader: DataLoader) -> Iterator[Any]:
        self._in_epoch = True
        try:
            yield from loader
        finally:
            self._in_epoch = False

    def state_dict(self) -> dict[str, Any]:
        """Where the next epoch's permutation comes from, in `DataLoader.state_dict`'s format (between epochs)."""
        if self._in_epoch:
            raise RuntimeError("ShardedLoader.state_dict: taken between epochs only (checkpoints at epoch ends)")
        return {
            "version": _STATE_VERSION,
            "epoch": self._epoch,
            "batch": 0,
            "rng_state": None if self._rng is None else self._rng.bit_generator.state,
            "shuffle": self.shuffle,
            "num_samples": len(self.dataset),
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a `state_dict` of this loader or of the one-process `DataLoader` it shards."""
        missing = {"epoch", "batch", "rng_state"} - set(state)
        if missing:
            raise ValueError(f"ShardedLoader.load_state_dict: missing keys {sorted(missing)}")
        for key, mine in (("shuffle", self.shuffle), ("num_samples", len(self.dataset))):
            if key in state and state[key] != mine:
                raise ValueError(
                    f"ShardedLoader.load_state_dict: saved {key}={state[key]!r}, but this loader has {mine!r}"
                )
        if int(state["batch"]) != 0:
            raise ValueError("ShardedLoader.load_state_dict: the state was saved in the middle of an epoch")
        if self._rng is not None:
            if state["rng_state"] is None:
                raise ValueError("ShardedLoader.load_state_dict: the state has no generator state for shuffling")
            self._rng.bit_generator.state = dict(state["rng_state"])
        self._epoch = int(state["epoch"])

    @property
    def epoch(self) -> int:
        """Number of epochs started so far."""
        return self._epoch

    def __repr__(self) -> str:
        return (
            f"ShardedLoader({len(self.dataset)} samples, batch_size={self.batch_size} over {self.num_replicas} "
            f"ranks, rank={self.rank}, shuffle={self.shuffle}, seed={self.seed}, pad={self.pad})"
        )
