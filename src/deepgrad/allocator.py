"""Keep freed memory for the next training step: glibc's malloc settings, made once at import.

A training step allocates its activations, im2col matrices and gradients (megabytes each), holds them
until backward, frees them, and asks for the same sizes again in the next step. glibc's malloc serves blocks
above its mmap threshold with fresh pages from the kernel and returns freed memory at the top of the heap to
the kernel once more than its trim threshold is free. Both thresholds adapt as the process runs, so the same
program ends up in one of two states. In the bad state every step faults its pages in again, and the kernel
zeroes each page. Measured on a LeNet-5 step at batch 64, 2 threads: about 2,000 page faults and 18-23 ms
per step in that state, against 0.05 faults and 11-12 ms with the thresholds fixed. This is the 13-30 ms
"bimodal" LeNet timing across processes that earlier benchmark notes recorded.

So ``tune()`` (run when deepgrad is imported) fixes both thresholds, which also turns glibc's adaptation
off:
- ``M_MMAP_THRESHOLD`` is 256 MiB: smaller blocks come from the heap and are reused;
- ``M_TRIM_THRESHOLD`` is 512 MiB: up to that much freed memory stays with the process.

The process's peak memory is unchanged; what changes is that memory freed after a step is kept for the next
one rather than handed back, as PyTorch's and other frameworks' caching allocators do. Set
``DEEPGRAD_MALLOC_TUNING=0`` to leave malloc alone. On platforms without glibc nothing happens.
"""

from __future__ import annotations

import ctypes
import sys

from deepgrad._switches import switched_off

__all__ = ["tune", "MMAP_THRESHOLD_BYTES", "TRIM_THRESHOLD_BYTES"]

MMAP_THRESHOLD_BYTES = 256 * 2**20
TRIM_THRESHOLD_BYTES = 512 * 2**20
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers (malloc.h)


def tune() -> bool:
    """Fix glibc's mmap and trim thresholds (see the module docstring); True when they were set."""
    if switched_off("DEEPGRAD_MALLOC_TUNING"):
        return False
    if not sys.platform.startswith("linux"):
        return False
    try:
        # the C library already loaded into the process (no ctypes.util.find_library: it runs ldconfig in a
        # subprocess, 17 ms on every import)
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
