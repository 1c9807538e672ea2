"""Data-parallel training over MPI ranks: `DistributedDataParallel` and `SyncBatchNorm`."""

from __future__ import annotations

from deepgrad.nn.parallel.distributed import DistributedDataParallel
from deepgrad.nn.parallel.sync_batchnorm import SyncBatchNorm

__all__ = ["DistributedDataParallel", "SyncBatchNorm"]
