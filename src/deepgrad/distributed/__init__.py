"""Data-parallel training on MPI (mpi4py), with ``torch.distributed``'s names.

Start N processes with ``mpiexec -n N python train.py``; each calls `init_process_group`, wraps its model
in `DistributedDataParallel` and reads its shard of the data through a `DistributedSampler`::

    import deepgrad.distributed as dist
    dist.init_process_group("mpi")
    model = dist.DistributedDataParallel(model)
    loader = DataLoader(dataset, batch_size=64, sampler=dist.DistributedSampler(dataset))

Needs the ``distributed`` extra (``pip install "deepgrad[distributed]"``: mpi4py and MPICH's ``mpiexec``);
without it, importing this package works and `init_process_group` says what to install.
"""

from __future__ import annotations

from typing import Any

from deepgrad.distributed.functions import all_reduce_sum
from deepgrad.distributed.process_group import (
    PeerFailure,
    ReduceOp,
    Work,
    abort,
    agree,
    all_gather,
    all_reduce,
    barrier,
    broadcast,
    destroy_process_group,
    get_rank,
    get_world_size,
    init_process_group,
    is_available,
    is_initialized,
    is_stopping,
    reduce,
)

# These live with their families (nn, data), which use the process group above; loading them on first
# use keeps `import deepgrad.distributed` free of nn and data, so no import cycle can form.
_LAZY = {
    "DistributedDataParallel": "deepgrad.nn.parallel",
    "SyncBatchNorm": "deepgrad.nn.parallel",
    "DistributedSampler": "deepgrad.data.sampler",
    "ShardedLoader": "deepgrad.distributed.sharding",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'deepgrad.distributed' has no attribute {name!r}")


__all__ = [
    "DistributedDataParallel",
    "DistributedSampler",
    "PeerFailure",
    "ReduceOp",
    "ShardedLoader",
    "SyncBatchNorm",
    "Work",
    "abort",
    "agree",
    "all_gather",
    "all_reduce",
    "all_reduce_sum",
    "barrier",
    "broadcast",
    "destroy_process_group",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_stopping",
    "reduce",
]
