"""`DistributedDataParallel`: the same model on every rank, gradients averaged over ranks during backward.

The lectures' observation makes data parallelism exact: the gradient of the global batch's mean loss is
the mean over ranks of each rank's mean-loss gradient (equal shards), so after the average every rank
takes the same optimizer step and the replicas stay identical.

How the average overlaps backward: the parameters are packed, in reverse registration order (roughly
the order backward produces their gradients; after the first backward, as PyTorch, in the order the
gradients actually became ready), into flat buckets of at most ``bucket_cap_mb``. During
forward each parameter enters the graph through a *tap*, an identity node whose output hook runs as
soon as every use of the parameter has sent its gradient, i.e. when the parameter's gradient is final.
The hook copies it into its bucket; when a bucket's last gradient arrives its non-blocking all-reduce
(``Iallreduce``) starts, while backward carries on below. At the end of backward (the first leaf hook
the engine runs) the remaining all-reduces are waited for and every ``param.grad`` receives its average.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from deepgrad.autograd.function import Function
from deepgrad.autograd.grad_mode import is_grad_enabled
from deepgrad.distributed import process_group as pg
from deepgrad.nn.module import Module
from deepgrad.tensor import Tensor

_MB = 1024 * 1024
_FIRST_BUCKET_MB = 1.0  # as PyTorch: a small first bucket starts communicating early in backward


class _GradTap(Function):
    """y = param (the same array); the gradient arriving at y is the parameter's final gradient.

    Backward hands nothing to the parameter itself: DDP writes the averaged gradient into ``.grad``.
    The second input is DDP's end-of-backward sentinel, which receives a zero."""

    uses_inputs = False

    def forward(self, param: np.ndarray, sentinel: np.ndarray) -> np.ndarray:
        return param

    def backward(self, grad: Any, result: Any, param: Any, sentinel: Any) -> tuple:
        return None, np.zeros((), dtype=np.float64)


class _Bucket:
    """One flat buffer holding several parameters' gradients, all-reduced in one message."""

    def __init__(self, indices: list[int], params: list[Tensor]) -> None:
        self.indices = indices
        self.offsets: list[int] = []
        total = 0
        for i in indices:
            self.offsets.append(total)
            total += params[i].array.size
        self.flat = np.empty(total, dtype=params[indices[0]].dtype)
        self.pending = len(indices)
        self.request: Any = None

    @property
    def nbytes(self) -> int:
        return self.flat.nbytes


def _assign_buckets(params: list[Tensor], order: list[int], cap_bytes: int, first_cap_bytes: int) -> list[list[int]]:
    """Parameter indices grouped into buckets in ``order``, one dtype per bucket; a bucket is closed before
    a parameter that would take it past its cap."""
    buckets: list[list[int]] = []
    current: list[int] = []
    size = 0
    for i in order:
        nbytes = params[i].array.nbytes
        cap = first_cap_bytes if not buckets else cap_bytes
        if current and (size + nbytes > cap or params[current[0]].dtype != params[i].dtype):
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size += nbytes
    if current:
        buckets.append(current)
    return buckets


def _model_description(module: Module) -> list[list[Any]]:
    entries = [["parameter", n, list(p.shape), str(p.dtype)] for n, p in module.named_parameters()]
    entries += [["buffer", n, list(b.shape), str(b.dtype)] for n, b in module.named_buffers()]
    return entries


def _first_difference(mine: list, reference: list, rank: int) -> str | None:
    for position, (a, b) in enumerate(zip(mine, reference)):
        if a[:2] != b[:2]:
            return f"entry {position} is {a[0]} {a[1]!r} on rank {rank} but {b[0]} {b[1]!r} on rank 0"
        if a[2] != b[2]:
            return f"{a[0]} {a[1]!r} has shape {tuple(a[2])} on rank {rank} but {tuple(b[2])} on rank 0"
        if a[3] != b[3]:
            return f"{a[0]} {a[1]!r} has dtype {a[3]} on rank {rank} but {b[3]} on rank 0"
    if len(mine) != len(reference):
        return f"rank {rank} has {len(mine)} parameters and buffers, rank 0 has {len(reference)}"
    return None


def _check_same_model(module: Module) -> None:
    """Every rank must have built the same model: compare names, shapes and dtypes with rank 0's."""
    descriptions = pg.all_gather_object(_model_description(module))
    for rank, description in enumerate(descriptions[1:], start=1):
        difference = _first_difference(description, descriptions[0], rank)
        if difference is not None:
            raise ValueError(f"DistributedDataParallel: the ranks built different models: {difference}")


class DistributedDataParallel(Module):
    """Wrap ``module`` so that ``loss.backward()`` leaves in every ``param.grad`` the mean over ranks.

    At construction rank 0's parameters and buffers are broadcast to every rank, after checking that all
    ranks built the same model. ``bucket_cap_mb`` caps the size of one all-reduce message (the first
    bucket is capped at 1 MB so communication starts early). ``broadcast_buffers`` re-sends rank 0's
    buffers (BatchNorm statistics) before each training forward. ``find_unused_parameters=True`` walks the
    graph after forward so that parameters the output does not depend on do not hold their bucket back;
    a parameter no rank used keeps its ``.grad``. Inside ``no_sync()`` gradients only accumulate locally;
    the next synchronised backward averages the accumulated sum. ``state_dict`` keys start with
    ``module.`` as PyTorch's.

    >>> import deepgrad.distributed as dist
    >>> from deepgrad import nn
    >>> dist.init_process_group("mpi")  # doctest: +SKIP
    >>> model = nn.parallel.DistributedDataParallel(nn.Linear(4, 2))  # doctest: +SKIP
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = 25,
        find_unused_parameters: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: expected a deepgrad nn.Module, got {type(module).__name__}")
        if not pg.is_initialized():
            raise RuntimeError(
                "DistributedDataParallel: the process group is not initialised; call "
                "deepgrad.distributed.init_process_group() first"
            )
        cap = 25.0 if bucket_cap_mb is None else float(bucket_cap_mb)
        if not cap > 0:
            raise ValueError(f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_cap_mb = cap
        _check_same_model(module)
        self._sync_module_states()
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._build_buckets(list(reversed(range(len(self._params)))))
        self._ready_order: list[int] | None = []  # the first backward's order; None once buckets are rebuilt
        self._slots = self._parameter_slots()
        self._sentinel = Tensor(np.zeros((), dtype=np.float64), requires_grad=True)
        self._sentinel.register_hook(self._end_of_backward)
        for p in self._params:  # a gradient reaching a parameter directly (a penalty) lands after the average
            p.register_hook(self._end_of_backward)
        self._require_sync = True
        self._in_flight = False
        self._ready = np.zeros(len(self._params), dtype=bool)
        self._used = np.zeros(len(self._params), dtype=np.int64)
        self._next_launch = 0
        self._hooks_fired = 0
        #: per backward: (bucket index, parameter hooks fired when its all-reduce started), in launch order
        self.bucket_launches: list[tuple[int, int]] = []
        #: seconds spent waiting for all-reduces at the end of the last backward (communication not hidden)
        self.last_wait_seconds = 0.0

    def _build_buckets(self, order: list[int]) -> None:
        cap_bytes = max(1, int(self.bucket_cap_mb * _MB))
        groups = _assign_buckets(self._params, order, cap_bytes, min(cap_bytes, int(_FIRST_BUCKET_MB * _MB)))
        self._buckets = [_Bucket(indices, self._params) for indices in groups]
        self._where: dict[int, tuple[_Bucket, int]] = {}
        for bucket in self._buckets:
            for i, offset in zip(bucket.indices, bucket.offsets):
                self._where[i] = (bucket, offset)

    def _rebuild_buckets(self) -> None:
        """After the first backward, as PyTorch: buckets follow the order in which gradients became ready
        (rank 0's order, so that every rank packs the same buckets)."""
        order = np.array(self._ready_order, dtype=np.int64)
        self._ready_order = None
        if len(order) == len(self._params):
            pg.broadcast(Tensor._make(order, False, None), 0)
            self._build_buckets(order.tolist())

    @property
    def bucket_sizes(self) -> list[int]:
        """Bytes of each bucket, in all-reduce order."""
        return [bucket.nbytes for bucket in self._buckets]

    def _sync_module_states(self) -> None:
        for _, tensor in list(self.module.named_parameters()) + list(self.module.named_buffers()):
            pg.broadcast(tensor, 0)

    def _parameter_slots(self) -> list[tuple[Module, str, int]]:
        index = {id(p): i for i, p in enumerate(self._params)}
        slots = []
        for owner in self.module.modules():
            for name, p in owner._parameters.items():
                if p is not None and id(p) in index:
                    slots.append((owner, name, index[id(p)]))
        return slots

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Forward and backward inside accumulate gradients locally, without communication."""
        previous, self._require_sync = self._require_sync, False
        try:
            yield
        finally:
            self._require_sync = previous

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        if self._in_flight:
            self._abandon_step()
        if self.training and self.broadcast_buffers and pg.rank_and_size()[1] > 1:
            for _, buffer in self.module.named_buffers():
                pg.broadcast(buffer, 0)
        if not (self._require_sync and is_grad_enabled() and self._params):
            return self.module(*args, **kwargs)
        self._start_step()
        taps = [_GradTap.apply(p, self._sentinel) for p in self._params]
        for i, tap in enumerate(taps):
            tap.register_hook(self._grad_ready_hook(i))
        saved = [(owner, name, owner._parameters[name]) for owner, name, _ in self._slots]
        try:
            for owner, name, i in self._slots:
                owner._parameters[name] = taps[i]
            out = self.module(*args, **kwargs)
        finally:
            for owner, name, param in saved:
                owner._parameters[name] = param
        if self.find_unused_parameters:
            self._mark_unused(out, {id(tap.grad_fn): i for i, tap in enumerate(taps)})
        return out

    def _abandon_step(self) -> None:
        """A forward whose backward never reached the parameters (evaluation with grad on, a loss that does not
        depend on them) is forgotten; a backward that stopped half-way cannot be, the ranks may disagree."""
        if self._hooks_fired:
            raise RuntimeError(
                "DistributedDataParallel: the previous backward stopped before every gradient was reduced "
                f"({self._hooks_fired} of {len(self._params)} parameters); the ranks can no longer agree"
            )
        for bucket in self._buckets:
            if bucket.request is not None:  # launched for unused parameters right after forward
                bucket.request.Wait()
        self._in_flight = False

    def _start_step(self) -> None:
        self._in_flight = True
        self._ready[:] = False
        self._used[:] = 0
        for bucket in self._buckets:
            bucket.pending = len(bucket.indices)
            bucket.request = None
        self._next_launch = 0
        self._hooks_fired = 0
        self.bucket_launches = []

    def _grad_ready_hook(self, index: int) -> Any:
        def hook(grad: Tensor) -> None:
            self._hooks_fired += 1
            self._used[index] = 1
            self._fill(index, grad.array)
            return None

        return hook

    def _fill(self, index: int, grad: np.ndarray | None) -> None:
        """Put parameter ``index``'s gradient (plus what ``.grad`` already accumulated) into its bucket."""
        if self._ready[index]:
            return
        bucket, offset = self._where[index]
        param = self._params[index]
        slot = bucket.flat[offset : offset + param.array.size].reshape(param.shape)
        previous = param.grad
        if grad is None:
            slot[...] = 0 if previous is None else previous.array
        elif previous is None:
            slot[...] = grad
        else:
            np.add(grad, previous.array, out=slot)
        self._ready[index] = True
        if self._ready_order is not None:
            self._ready_order.append(index)
        bucket.pending -= 1
        self._launch_ready_buckets()

    def _launch_ready_buckets(self) -> None:
        # every rank must start its collectives in the same order: buckets go strictly in index order
        comm, mpi = pg._GROUP.comm, pg._GROUP.mpi
        while self._next_launch < len(self._buckets) and self._buckets[self._next_launch].pending == 0:
            bucket = self._buckets[self._next_launch]
            bucket.request = comm.Iallreduce(mpi.IN_PLACE, bucket.flat, op=mpi.SUM)
            self.bucket_launches.append((self._next_launch, self._hooks_fired))
            self._next_launch += 1
        for bucket in self._buckets[: self._next_launch]:
            if bucket.request is not None:
                bucket.request.Test()  # MPI progresses a non-blocking collective only when called

    def _mark_unused(self, out: Any, tap_nodes: dict[int, int]) -> None:
        """Parameters the output does not depend on are ready now (their gradient is zero on this rank)."""
        reached = np.zeros(len(self._params), dtype=bool)
        stack = [t.grad_fn for t in _tensors_in(out) if t.grad_fn is not None]
        seen: set[int] = set()
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            if id(fn) in tap_nodes:
                reached[tap_nodes[id(fn)]] = True
                continue
            stack.extend(parent for parent in (fn.parents if fn.inputs is not None else ()) if parent is not None)
        for i in np.flatnonzero(~reached):
            self._fill(int(i), None)

    def _end_of_backward(self, grad: Any) -> None:
        """Wait for the all-reduces and write the averaged gradients (runs once per synchronised backward)."""
        if not self._in_flight:
            return None
        self._in_flight = False
        missing = [self._param_names[i] for i in np.flatnonzero(~self._ready)]
        for i in np.flatnonzero(~self._ready):  # keep the ranks' collectives matched before complaining
            self._fill(int(i), None)
        started = time.perf_counter()
        for bucket in self._buckets:
            bucket.request.Wait()
        self.last_wait_seconds = time.perf_counter() - started
        used = pg.all_reduce_array(self._used) if self.find_unused_parameters else None
        scale = 1.0 / pg.get_world_size()
        for bucket in self._buckets:
            for i, offset in zip(bucket.indices, bucket.offsets):
                if used is not None and used[i] == 0:
                    continue  # no rank used it: leave .grad as it was
                param = self._params[i]
                reduced = bucket.flat[offset : offset + param.array.size].reshape(param.shape)
                if param.grad is None:
                    param.grad = Tensor._make(reduced * scale, False, None)
                else:
                    np.multiply(reduced, scale, out=param.grad.array)
        if self._ready_order is not None:
            self._rebuild_buckets()
        if missing and not self.find_unused_parameters:
            raise RuntimeError(
                f"DistributedDataParallel: parameters {missing} received no gradient in this backward; "
                "pass find_unused_parameters=True to DistributedDataParallel"
            )
        return None


def _tensors_in(value: Any) -> list[Tensor]:
    if isinstance(value, Tensor):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [t for item in value for t in _tensors_in(item)]
    return []
