"""The process group on MPI (mpi4py): who am I, how many are we, and the collectives, with PyTorch's names.

Every rank runs the same program; ``mpiexec -n N python train.py`` starts N of them. Collectives work in
place on the tensor's array (``Tensor.array``): after ``all_reduce(t)`` every rank holds the same sum.
A program started without ``mpiexec`` is a world of one, where every collective leaves the data as is.

This module sits low in the house: it needs only NumPy, ``Tensor`` and (imported when the group is
initialised) mpi4py, so ``nn.parallel``, ``nn.SyncBatchNorm``, ``data.DistributedSampler`` and ``train``
can all ask it for the rank without an import cycle.
"""

from __future__ import annotations

import enum
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad.tensor import Tensor

_INSTALL_HINT = 'deepgrad.distributed needs mpi4py and an MPI library: pip install "deepgrad[distributed]"'
# how long a failing rank waits, after writing its one-line error, before it aborts the job (see `abort`)
ABORT_GRACE_SECONDS = 0.5
_DTYPES = (np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int64))


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce`` combine the ranks' values (AVG is SUM divided by the world size)."""

    SUM = "sum"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class _Group:
    """The one process group: the MPI communicator and what we know about it."""

    comm: Any = None
    mpi: Any = None
    rank = 0
    size = 1
    previous_excepthook: Any = None
    stopping = False  # `agree` found a failure: every rank is leaving on its own, nobody waits


_GROUP = _Group()


def _import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    return MPI


def init_process_group(backend: str = "mpi", **kwargs: Any) -> None:
    """Join the job's process group: rank and world size come from the MPI environment (``mpiexec``).

    Without ``mpiexec`` the world has one process. With more than one rank, an uncaught exception on any
    rank prints one line naming the rank and aborts the whole job (``MPI.COMM_WORLD.Abort``), so no rank
    waits forever in a collective for a partner that died.

    >>> import deepgrad.distributed as dist
    >>> dist.init_process_group("mpi")  # doctest: +SKIP
    >>> dist.get_rank(), dist.get_world_size()  # doctest: +SKIP
    (0, 1)
    """
    if backend != "mpi":
        raise ValueError(f"init_process_group: deepgrad runs on MPI only; backend must be 'mpi', got {backend!r}")
    unknown = set(kwargs) - {"init_method", "world_size", "rank", "timeout"}
    if unknown:
        raise TypeError(f"init_process_group: unexpected arguments {sorted(unknown)}")
    if _GROUP.comm is not None:
        raise RuntimeError("init_process_group: the process group is already initialised")
    mpi = _import_mpi()
    comm = mpi.COMM_WORLD
    for key, actual in (("world_size", comm.Get_size()), ("rank", comm.Get_rank())):
        wanted = kwargs.get(key)
        if wanted is not None and wanted != -1 and wanted != actual:
            raise ValueError(f"init_process_group: {key}={wanted}, but the MPI environment says {actual}")
    _GROUP.mpi, _GROUP.comm = mpi, comm
    _GROUP.rank, _GROUP.size = comm.Get_rank(), comm.Get_size()
    if _GROUP.size > 1:
        _GROUP.previous_excepthook = sys.excepthook
        sys.excepthook = _abort_on_exception


def _abort_on_exception(kind: type, error: BaseException, traceback: Any) -> None:
    """One line naming the rank, then end every rank: a dead partner must never leave the others hanging."""
    message = f"deepgrad.distributed: rank {_GROUP.rank} of {_GROUP.size} failed: {kind.__name__}: {error}"
    sys.stderr.write(message + "\n")  # one write: the ranks' lines must not interleave
    abort(1)


def destroy_process_group() -> None:
    """Leave the process group (MPI itself is finalised when the interpreter exits)."""
    _require("destroy_process_group")
    if _GROUP.previous_excepthook is not None:
        sys.excepthook = _GROUP.previous_excepthook
    _GROUP.comm = _GROUP.mpi = _GROUP.previous_excepthook = None
    _GROUP.rank, _GROUP.size = 0, 1
    _GROUP.stopping = False


def is_available() -> bool:
    """True when mpi4py can be imported (the ``distributed`` extra is installed)."""
    try:
        _import_mpi()
    except ImportError:
        return False
    return True


def is_initialized() -> bool:
    """True between `init_process_group` and `destroy_process_group`."""
    return _GROUP.comm is not None


def _require(name: str) -> Any:
    if _GROUP.comm is None:
        raise RuntimeError(
            f"{name}: the process group is not initialised; call deepgrad.distributed.init_process_group()"
        )
    return _GROUP.comm


def get_rank() -> int:
    """This process's number, 0 .. world size - 1."""
    _require("get_rank")
    return _GROUP.rank


def get_world_size() -> int:
    """The number of processes in the job."""
    _require("get_world_size")
    return _GROUP.size


def rank_and_size() -> tuple[int, int]:
    """(rank, world size), or (0, 1) when no process group is initialised (for code that runs either way)."""
    return (_GROUP.rank, _GROUP.size) if _GROUP.comm is not None else (0, 1)


def barrier() -> None:
    """Wait until every rank has arrived here."""
    _require("barrier").Barrier()


class Work:
    """A collective in flight (``async_op=True``); ``wait()`` blocks until its result is in the tensor."""

    def __init__(self, request: Any, finish: Any = None) -> None:
        self._request = request
        self._finish = finish
        self._done = request is None

    def wait(self) -> bool:
        if not self._done:
            self._request.Wait()
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def is_completed(self) -> bool:
        if not self._done and self._request.Test():
            self.wait()
        return self._done


def _buffer(tensor: Tensor, name: str) -> np.ndarray:
    """The tensor's array, checked: MPI reads and writes it in place, so it must be contiguous."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name}: expected a deepgrad Tensor, got {type(tensor).__name__}")
    array = tensor.array
    if array.dtype not in _DTYPES:
        raise TypeError(f"{name}: supports float32, float64 and int64 tensors, got dtype {array.dtype}")
    if not array.flags.c_contiguous or not array.flags.writeable:
        raise ValueError(f"{name}: the tensor of shape {tensor.shape} must be contiguous and writeable")
    return array


def _mpi_op(op: ReduceOp, name: str) -> Any:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be a ReduceOp (SUM, AVG, MAX, MIN), got {op!r}")
    mpi = _GROUP.mpi
    return {ReduceOp.SUM: mpi.SUM, ReduceOp.AVG: mpi.SUM, ReduceOp.MAX: mpi.MAX, ReduceOp.MIN: mpi.MIN}[op]


def _averager(array: np.ndarray, op: ReduceOp, name: str) -> Any:
    if op is not ReduceOp.AVG:
        return None
    if array.dtype.kind != "f":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got dtype {array.dtype}")
    size = _GROUP.size

    def finish() -> None:
        np.divide(array, size, out=array)

    return finish


def all_reduce(tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False) -> Work | None:
    """In place on every rank: tensor = op over ranks of tensor (SUM, AVG = SUM / world size, MAX, MIN).

    With ``async_op=True`` the reduction runs in the background (MPI ``Iallreduce``) and the returned
    `Work`'s ``wait()`` finishes it; the tensor must not be touched until then.
    """
    comm = _require("all_reduce")
    array = _buffer(tensor, "all_reduce")
    mpi_op, finish = _mpi_op(op, "all_reduce"), _averager(array, op, "all_reduce")
    if async_op:
        return Work(comm.Iallreduce(_GROUP.mpi.IN_PLACE, array, op=mpi_op), finish)
    comm.Allreduce(_GROUP.mpi.IN_PLACE, array, op=mpi_op)
    if finish is not None:
        finish()
    return None


def reduce(
    tensor: Tensor, dst: int, op: ReduceOp = ReduceOp.SUM, group: Any = None, async_op: bool = False
) -> Work | None:
    """In place on rank ``dst`` only: tensor = op over ranks of tensor; the other ranks' tensors are unchanged."""
    comm = _require("reduce")
    _check_rank(dst, "reduce", "dst")
    array = _buffer(tensor, "reduce")
    mpi_op = _mpi_op(op, "reduce")
    finish = _averager(array, op, "reduce") if _GROUP.rank == dst else None
    if _GROUP.rank == dst:
        args: tuple = (_GROUP.mpi.IN_PLACE, array)
    else:
        args = (array, None)
    if async_op:
        return Work(comm.Ireduce(*args, op=mpi_op, root=dst), finish)
    comm.Reduce(*args, op=mpi_op, root=dst)
    if finish is not None:
        finish()
    return None


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False) -> Work | None:
    """In place on every rank: tensor = rank ``src``'s tensor."""
    comm = _require("broadcast")
    _check_rank(src, "broadcast", "src")
    array = _buffer(tensor, "broadcast")
    if async_op:
        return Work(comm.Ibcast(array, root=src))
    comm.Bcast(array, root=src)
    return None


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, group: Any = None, async_op: bool = False) -> Work | None:
    """tensor_list[r] = rank r's ``tensor``, on every rank (``tensor_list`` holds world-size tensors of its shape)."""
    comm = _require("all_gather")
    array = _buffer(tensor, "all_gather")
    if len(tensor_list) != _GROUP.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors, the world has {_GROUP.size} ranks")
    targets = [_buffer(t, "all_gather") for t in tensor_list]
    for position, target in enumerate(targets):
        if target.shape != array.shape or target.dtype != array.dtype:
            raise ValueError(
                f"all_gather: tensor_list[{position}] has shape {target.shape} and dtype {target.dtype}, "
                f"the tensor has shape {array.shape} and dtype {array.dtype}"
            )
    gathered = np.empty((_GROUP.size, *array.shape), dtype=array.dtype)

    def finish() -> None:
        for target, row in zip(targets, gathered):
            target[...] = row

    if async_op:
        return Work(comm.Iallgather(array, gathered), finish)
    comm.Allgather(array, gathered)
    finish()
    return None


def _check_rank(rank: Any, name: str, what: str) -> None:
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 0 <= rank < _GROUP.size:
        raise ValueError(f"{name}: {what} must be a rank in 0..{_GROUP.size - 1}, got {rank!r}")


def all_reduce_array(array: np.ndarray, op: ReduceOp = ReduceOp.SUM) -> np.ndarray:
    """The reduction over ranks of a NumPy array, as a new array (the identity outside a process group)."""
    if _GROUP.comm is None or _GROUP.size == 1:
        return np.array(array, copy=True)
    out = np.ascontiguousarray(array).copy()
    _GROUP.comm.Allreduce(_GROUP.mpi.IN_PLACE, out, op=_mpi_op(op, "all_reduce"))
    if op is ReduceOp.AVG:
        out = out / _GROUP.size
    return out


def all_gather_object(obj: Any) -> list[Any]:
    """Every rank's ``obj`` (small, JSON-like values: names, shapes, dtypes), in rank order. No pickle: the
    value travels as JSON text."""
    import json

    comm = _require("all_gather_object")
    text = json.dumps(obj).encode()
    sizes = np.zeros(_GROUP.size, dtype=np.int64)
    comm.Allgather(np.array([len(text)], dtype=np.int64), sizes)
    buffer = np.zeros(int(sizes.sum()), dtype=np.uint8)
    comm.Allgatherv(np.frombuffer(text, dtype=np.uint8), [buffer, sizes.tolist()])
    out, start = [], 0
    for size in sizes.tolist():
        out.append(json.loads(buffer[start : start + size].tobytes().decode()))
        start += size
    return out


# ---------------------------------------------------------------------------------------------- faults


class PeerFailure(RuntimeError):
    """Another rank failed (and reports it itself): raised by `agree` on the ranks that did not fail."""

    def __init__(self, rank: int, message: str) -> None:
        self.rank = rank
        super().__init__(f"rank {rank} failed: {message}")


def agree(failure: BaseException | None) -> None:
    """A collective after work that can fail on some ranks only (reading files, checking settings): every
    rank says whether it failed. When none did, this returns; otherwise the lowest failing rank raises its
    own ``failure`` and every other rank raises `PeerFailure` naming it, so the job ends with one report
    and no rank left waiting in a collective (`is_stopping` is then True everywhere).
    """
    _require("agree")
    outcome = None if failure is None else f"{type(failure).__name__}: {failure}"
    outcomes = all_gather_object(outcome) if _GROUP.size > 1 else [outcome]
    failed = [rank for rank, text in enumerate(outcomes) if text is not None]
    if not failed:
        return
    _GROUP.stopping = True
    if failure is not None and _GROUP.rank == failed[0]:
        raise failure
    raise PeerFailure(failed[0], outcomes[failed[0]])


def is_stopping() -> bool:
    """True once `agree` found a failure: every rank is ending by itself, no collective will follow."""
    return _GROUP.stopping


def abort(status: int = 1) -> None:
    """End every rank of the job now with exit status ``status`` (MPI_Abort): the way out of a failure that
    the other ranks cannot know about, as they may be waiting for this rank in a collective."""
    comm = _require("abort")
    sys.stderr.flush()
    sys.stdout.flush()
    # a moment for mpiexec to forward what the rank wrote last: MPI_Abort tears the job down at once, and
    # output still in the pipe to mpiexec's proxy is lost (fresh-clone CI runs got the right exit status
    # with an empty stderr, once on a failing rank's exception and once on the CLI's internal-error line)
    time.sleep(ABORT_GRACE_SECONDS)
    comm.Abort(int(status))
