"""What a training run does differently on N ranks (``TrainConfig(distributed=True)``, ``deepgrad train
--distributed`` under ``mpiexec -n N``); `deepgrad.train.runner` calls these.

- Each rank reads its share of every global batch (`deepgrad.distributed.ShardedLoader`): the global
  batches are those of the one-process run with the same seed, so N ranks take its steps.
- The model is wrapped in `DistributedDataParallel`: gradients are averaged over the ranks in backward.
- Random draws during training (dropout) come from a stream per rank and epoch, derived from the seed:
  the ranks' masks differ, and a run (also a resumed one) is reproducible.
- Set-up failures (a setting, a file missing on one host) are agreed on before the first collective
  (`deepgrad.distributed.agree`), so every rank stops and one reports.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.distributed import process_group as pg
from deepgrad.errors import ConfigError
from deepgrad.train.callbacks import Callback


def join() -> tuple[int, int]:
    """(rank, world size) of the process group, joining it first if needed (without ``mpiexec``: (0, 1))."""
    if not pg.is_initialized():
        pg.init_process_group("mpi")
    return pg.get_rank(), pg.get_world_size()


def check_global_batch(batch_size: int | None, world_size: int) -> None:
    """The global batch must split equally: every rank's mean-loss gradient then weighs the same."""
    if batch_size is not None and batch_size % world_size:
        raise ConfigError(
            f"`batch_size={batch_size}` is the global batch and must split equally over the {world_size} ranks: "
            f"give a multiple of {world_size}"
        )


def rank_seed(seed: int, rank: int, epoch: int) -> int:
    """The seed of rank ``rank``'s random stream in epoch ``epoch`` (NumPy's SeedSequence of the three)."""
    return int(np.random.SeedSequence([seed, rank, epoch]).generate_state(1, np.uint64)[0])


class RankStreams(Callback):
    """Reseed the global generator at the start of every epoch from (seed, rank, epoch): different dropout
    masks on every rank, and a resumed run draws what the uninterrupted one drew (the stream depends on
    the epoch, not on a generator state saved by rank 0)."""

    def __init__(self, seed: int, rank: int) -> None:
        self.seed, self.rank = seed, rank

    def on_train_begin(self, state: Any) -> None:
        backend.manual_seed(rank_seed(self.seed, self.rank, state.epoch))

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        backend.manual_seed(rank_seed(self.seed, self.rank, state.epoch + 1))


def wrap(model: Any) -> Any:
    """``model`` in `DistributedDataParallel` (rank 0's parameters and buffers broadcast to every rank)."""
    from deepgrad.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model)
