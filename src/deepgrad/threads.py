"""Intra-op threads: ``set_num_threads`` / ``get_num_threads`` as PyTorch's, and the parallel loop the kernels use.

NumPy's elementwise functions run on one core, but they release the GIL on large arrays; the kernels that
are not a matrix product (pooling, batch norm, depthwise convolution, im2col copies) therefore cut their
work into blocks of the batch and run the blocks on a small pool of threads. Measured on this project's
2-core machine, a block loop in cache on 2 threads takes about half the time of one thread.

``set_num_threads(n)`` sets that pool's size and, when ``threadpoolctl`` is installed, the BLAS library's
thread count too (as PyTorch's setting covers its matrix products). The default is the number of cores the
process may run on, or ``OMP_NUM_THREADS`` when that is set, as PyTorch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["get_num_threads", "set_num_threads", "parallel_for", "batch_blocks"]

# Work per block for ``batch_blocks``: small enough that a block's temporaries stay in a core's L2 cache.
BLOCK_BYTES = 256 * 2**10
# Below this much data a kernel runs as one block on the calling thread. Measured on 2 cores (pooling and
# batch norm, forward + backward): 2 threads gain 1.2-1.5x from 2 MB up, and lose up to 1.5x below 1 MB, where
# the blocks' Python statements contend for the GIL and a single pass over an array in cache is cheaper.
PARALLEL_MIN_BYTES = 2 * 2**20


def _default_threads() -> int:
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, os.cpu_count() or 1)


class _Pool:
    def __init__(self) -> None:
        self.threads = _default_threads()
        self.executor: ThreadPoolExecutor | None = None
        self.lock = threading.Lock()
        self.local = threading.local()  # .busy: this thread is running a block (no nested pools)

    def get_executor(self) -> ThreadPoolExecutor:
        with self.lock:
            if self.executor is None:
                self.executor = ThreadPoolExecutor(self.threads - 1, thread_name_prefix="deepgrad")
            return self.executor

    def resize(self, threads: int) -> None:
        with self.lock:
            old, self.executor, self.threads = self.executor, None, threads
        if old is not None:
            old.shutdown(wait=True)


_pool = _Pool()


def get_num_threads() -> int:
    """The number of threads deepgrad's kernels use (PyTorch's ``torch.get_num_threads``)."""
    return _pool.threads


def set_num_threads(threads: int) -> None:
    """Use ``threads`` threads in the kernels and, with ``threadpoolctl`` installed, in the BLAS library."""
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads: expected a positive integer, got {threads!r}")
    _pool.resize(threads)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(threads, user_api="blas")


def parallel_for(work: Callable[[Any], None], blocks: Sequence[Any]) -> None:
    """``work(block)`` for every block, spread over the threads (the caller's thread takes a share).

    The blocks must write disjoint parts of the output. An exception in any block is raised here. Inside a
    block, a nested ``parallel_for`` runs serially.
    """
    if _pool.threads == 1 or len(blocks) < 2 or getattr(_pool.local, "busy", False):
        for block in blocks:
            work(block)
        return
    share = -(-len(blocks) // _pool.threads)  # the caller's thread takes the first share of blocks

    def run(part: Sequence[Any]) -> None:
        _pool.local.busy = True
        try:
            for block in part:
                work(block)
        finally:
            _pool.local.busy = False

    executor = _pool.get_executor()
    parts = [blocks[start : start + share] for start in range(share, len(blocks), share)]
    futures = [executor.submit(run, part) for part in parts]
    try:
        run(blocks[:share])
    finally:
        for future in futures:
            future.result()


# The same threshold for a compiled kernel (``deepgrad.compiled``): one call per block, which holds no GIL.
# Measured on 2 cores, max pooling 2x2 at 64x6x28x28 (1.2 MB), forward + backward: 0.87-1.5 ms as one block,
# 0.68-0.87 ms in blocks from 256 KiB.
COMPILED_PARALLEL_MIN_BYTES = 256 * 2**10


def batch_blocks(batch: int, item_bytes: int, block_bytes: int = BLOCK_BYTES, compiled: bool = False) -> list[slice]:
    """Slices of a batch axis of ``batch`` items of ``item_bytes`` each, about ``block_bytes`` per slice (at
    least one item, and at least one slice per thread when the batch allows); one slice for less than
    ``PARALLEL_MIN_BYTES`` in all (``COMPILED_PARALLEL_MIN_BYTES`` for the blocks of a ``compiled`` kernel)."""
    if batch * item_bytes < (COMPILED_PARALLEL_MIN_BYTES if compiled else PARALLEL_MIN_BYTES):
        return [slice(0, batch)]
    step = max(1, block_bytes // max(1, item_bytes))
    step = min(step, max(1, -(-batch // _pool.threads)))
    return [slice(start, min(start + step, batch)) for start in range(0, batch, step)]
