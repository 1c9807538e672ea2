"""`DataLoader`: mini-batches of a dataset as Tensors, shuffled reproducibly, with a resumable RNG state.

Two ways to build a batch:
- in-memory datasets (``supports_gather``: TensorDataset, MNIST, the toy sets, Subsets of those) hand
  over the whole batch with one fancy index per array, so a batch of 128 MNIST images costs one
  NumPy gather, not 128 ``__getitem__`` calls;
- any other dataset is read sample by sample and the samples are joined by ``collate_fn``
  (`default_collate` stacks them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.tensor import Tensor

_STATE_VERSION = 1


def default_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into one batch, field by field (batch dimension first).

    Tensors keep their dtype; NumPy arrays and Python numbers follow `deepgrad.tensor`'s rules
    (float -> float32, int -> int64). Tuples/lists collate per position, dicts per key.

    >>> import deepgrad
    >>> x, y = default_collate([(deepgrad.zeros(3), 1), (deepgrad.ones(3), 0)])
    >>> x.shape, y.tolist()
    ((2, 3), [1, 0])
    """
    if len(samples) == 0:
        raise ValueError("default_collate: no samples to collate")
    first = samples[0]
    if isinstance(first, Tensor):
        return Tensor._make(_stack([s.array if isinstance(s, Tensor) else s for s in samples]), False, None)
    if isinstance(first, (np.ndarray, np.number, np.bool_, int, float, bool)):
        return Tensor(_stack([np.asarray(s.array if isinstance(s, Tensor) else s) for s in samples]))
    if isinstance(first, Mapping):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        sizes = {len(s) for s in samples}
        if len(sizes) != 1:
            raise ValueError(f"default_collate: samples have different numbers of fields: {sorted(sizes)}")
        return tuple(default_collate([s[i] for s in samples]) for i in range(len(first)))
    raise TypeError(
        f"default_collate: cannot batch samples of type {type(first).__name__}; "
        "return Tensors, arrays, numbers, tuples or dicts from __getitem__, or pass collate_fn"
    )


def _stack(arrays: list[Any]) -> np.ndarray:
    try:
        return np.stack(arrays)
    except ValueError:
        shapes = sorted({str(np.shape(a)) for a in arrays})
        raise ValueError(f"default_collate: samples have different shapes {', '.join(shapes)}; cannot stack") from None


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples, as Tensors.

    Each epoch (each ``iter(loader)``) visits every sample once: in order, or with ``shuffle=True`` in a
    fresh random order drawn from the loader's own generator, seeded by ``seed`` or, when ``seed`` is
    None, by a number drawn from `deepgrad.backend.generator()` (so `deepgrad.manual_seed` fixes it).
    ``drop_last`` drops a final batch smaller than ``batch_size``. A ``sampler`` (e.g.
    `DistributedSampler`: this rank's shard) gives each epoch's indices instead, in its order.
    ``len(loader)`` is the number of batches per epoch. `state_dict`/`load_state_dict` save and restore
    the shuffling state (also in the middle of an epoch), so a resumed run sees exactly the batches an
    uninterrupted run would have seen.

    >>> import numpy as np
    >>> from deepgrad.data import TensorDataset
    >>> loader = DataLoader(TensorDataset(np.arange(10.0).reshape(5, 2), np.arange(5)), batch_size=2)
    >>> [y.tolist() for x, y in loader], len(loader)
    ([[0, 1], [2, 3], [4]], 3)
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int = 1,
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int | None = None,
        collate_fn: Callable[[list[Any]], Any] | None = None,
        sampler: Iterable[int] | None = None,
    ) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be a positive int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be a positive int, got {batch_size}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"DataLoader: seed must be an int or None, got {seed!r}")
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise TypeError(f"DataLoader: a dataset needs __len__ and __getitem__; got {type(dataset).__name__}")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True exclude each other (the sampler decides the order)")
        if sampler is not None and not hasattr(sampler, "__len__"):
            raise TypeError(f"DataLoader: a sampler needs __iter__ and __len__; got {type(sampler).__name__}")
        self.sampler = sampler
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = None if seed is None else int(seed)
        self.collate_fn = collate_fn
        # A custom collate_fn sees the samples, so it disables the vectorised path.
        self._vectorised = collate_fn is None and bool(getattr(dataset, "supports_gather", False))
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self._rng: np.random.Generator | None = None
        if self.shuffle:
            # Without a seed, take one from the global generator once, here: the loader's shuffles then
            # depend only on manual_seed, and its state can be saved apart from the global state.
            start = self.seed if self.seed is not None else int(backend.generator().integers(2**63))
            self._rng = np.random.default_rng(start)
        self._epoch = 0  # epochs started
        # The epoch in progress: the generator state before its permutation was drawn, and batches given.
        self._epoch_rng_state: dict | None = None
        self._batches_done: int | None = None
        self._active: object | None = None  # token of the iterator whose progress is tracked
        self._resume_at = 0  # batches to skip in the next epoch (set by load_state_dict)

    def __len__(self) -> int:
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        epoch_rng_state = None if self._rng is None else self._rng.bit_generator.state
        if self.sampler is not None:
            order = np.fromiter(self.sampler, dtype=np.int64, count=len(self.sampler))
        else:
            order = self._rng.permutation(n) if self._rng is not None else np.arange(n)
        start, self._resume_at = self._resume_at, 0
        self._epoch += 1
        token = object()
        self._active, self._epoch_rng_state, self._batches_done = token, epoch_rng_state, start
        return self._batches(order, start, token)

    def _batches(self, order: np.ndarray, start: int, token: object) -> Iterator[Any]:
        size, count = self.batch_size, len(self)
        for b in range(start, count):
            idx = order[b * size : (b + 1) * size]
            if self._vectorised:
                batch = tuple(Tensor._make(a, False, None) for a in self.dataset.gather(idx))
            else:
                batch = self.collate_fn([self.dataset[int(i)] for i in idx])
            if self._active is token:
                self._batches_done = b + 1
            yield batch
        if self._active is token:
            self._active = self._epoch_rng_state = self._batches_done = None

    def state_dict(self) -> dict[str, Any]:
        """Where the next batch comes from: epoch count, shuffling generator state, position in the epoch.

        Plain Python values (JSON-serialisable). Taken between epochs, the next epoch after
        `load_state_dict` draws the same permutation; taken mid-epoch, iteration resumes at the next batch.
        """
        in_epoch = self._active is not None and self._batches_done is not None and self._batches_done < len(self)
        if in_epoch:
            rng_state, epoch, batch = self._epoch_rng_state, self._epoch - 1, self._batches_done
        else:
            rng_state = None if self._rng is None else self._rng.bit_generator.state
            epoch, batch = self._epoch, self._resume_at
        return {
            "version": _STATE_VERSION,
            "epoch": epoch,
            "batch": batch,
            "rng_state": rng_state,
            "shuffle": self.shuffle,
            "num_samples": len(self.dataset),
            "batch_size": self.batch_size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a `state_dict`: the next ``iter(loader)`` continues where the saved loader would have."""
        missing = {"epoch", "batch", "rng_state"} - set(state)
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: missing keys {sorted(missing)}")
        if state.get("version", _STATE_VERSION) != _STATE_VERSION:
            raise ValueError(f"DataLoader.load_state_dict: unknown state version {state['version']}")
        for key, mine in (("shuffle", self.shuffle), ("num_samples", len(self.dataset))):
            if key in state and state[key] != mine:
                raise ValueError(
                    f"DataLoader.load_state_dict: saved {key}={state[key]!r}, but this loader has {mine!r}"
                )
        if "batch_size" in state and state["batch_size"] != self.batch_size and state["batch"]:
            raise ValueError(
                f"DataLoader.load_state_dict: saved mid-epoch with batch_size={state['batch_size']}, "
                f"but this loader has batch_size={self.batch_size}"
            )
        batch = int(state["batch"])
        if not 0 <= batch <= len(self):
            raise ValueError(f"DataLoader.load_state_dict: batch {batch} is outside 0..{len(self)}")
        if self._rng is not None:
            if state["rng_state"] is None:
                raise ValueError("DataLoader.load_state_dict: the state has no generator state for shuffling")
            self._rng.bit_generator.state = dict(state["rng_state"])
        self._epoch = int(state["epoch"])
        self._resume_at = batch
        self._active = self._epoch_rng_state = self._batches_done = None

    @property
    def epoch(self) -> int:
        """Number of epochs started so far (``iter`` calls)."""
        return self._epoch

    def __repr__(self) -> str:
        return (
            f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, seed={self.seed})"
        )
