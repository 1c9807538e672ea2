"""Compiled loops: the few kernels that NumPy's whole-array calls cannot make fast, compiled with numba.

Max pooling and batch norm are loops over windows and channels. Written as NumPy calls they become one pass
over memory per kernel offset or per arithmetic step, each pass at a few nanoseconds per element on strided
data; the same loop compiled runs in one pass with every value in a register (measured: max pooling 3x3
stride 2 and batch norm at ResNet sizes 3x and 2x faster than their NumPy formulations). numba is an
optional extra (``pip install deepgrad[fast]``, included in ``all``): without it, or with the environment
variable ``DEEPGRAD_COMPILED=0``, every op runs its NumPy formulation, which gives the same values.

A kernel is an ordinary Python function over NumPy arrays and numbers (the subset numba compiles: loops,
arithmetic, indexing), decorated with ``@kernel``. Nothing is imported or compiled until the first call:
importing deepgrad stays cheap and never touches numba. Compiled code is cached on disk (numba's
``cache=True``), so only the first process after a change pays the compilation (one to three seconds per
kernel and dtype); later processes pay about a second once, to import numba and load the first kernel.
Kernels release the GIL (``nogil``): the ops run them over blocks of the batch on ``deepgrad.threads``, and
the blocks then really run on all cores.
A Ctrl-C while numba loads or compiles takes effect when that ends (see ``_HeldInterrupts``).

>>> import numpy as np
>>> @kernel
... def total(values):
...     s = 0.0
...     for v in values:
...         s += v
...     return s
>>> float(total(np.arange(4.0)))
6.0
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from deepgrad._switches import switched_off

__all__ = ["kernel", "enabled", "set_enabled", "disabled", "usable", "usable_flat"]


class _State:
    def __init__(self) -> None:
        self.wanted = not switched_off("DEEPGRAD_COMPILED")
        self.numba: Any = None  # the module, once imported
        self.numba_missing = False


_state = _State()


def _numba():
    """numba, imported on first use, or None when it is not installed."""
    if _state.numba is None and not _state.numba_missing:
        _held_interrupts.hold()  # llvmlite calls back into Python while it loads, too (see below)
        try:
            import numba
        except ImportError:
            _state.numba_missing = True
        else:
            _state.numba = numba
            _hold_interrupts_while_compiling()
        finally:
            _held_interrupts.release()
    return _state.numba


class _HeldInterrupts:
    """Between ``hold()`` and ``release()`` on the main thread a SIGINT is only recorded; ``release()``
    restores the handler that was in place and runs it if one came (the default handler raises
    ``KeyboardInterrupt`` there). Holds nest; on other threads, and where the handler is not a Python
    function (SIG_IGN, SIG_DFL, a handler installed from C), they do nothing.

    Why: LLVM calls back into Python while numba loads and compiles. A ``KeyboardInterrupt`` raised in such
    a callback cannot propagate: Python prints "Exception ignored on calling ctypes callback function", the
    interrupt is lost, and the half-finished compilation later fails with "no compiled object yet" (seen in
    CI: Ctrl-C about 0.5 s into a ``deepgrad train`` with a cold cache). Held, the interrupt still stops the
    program, when the compilation ends (a few tenths of a second later), and the kernel stays usable."""

    def __init__(self) -> None:
        self.depth = 0
        self.handler: Any = None
        self.held: tuple[int, Any] | None = None

    def hold(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signal handlers run (and can be set) on the main thread only
        self.depth += 1
        if self.depth == 1:
            handler = signal.getsignal(signal.SIGINT)
            if callable(handler):
                self.handler, self.held = handler, None
                signal.signal(signal.SIGINT, self._record)

    def _record(self, signum: int, frame: Any) -> None:
        self.held = (signum, frame)

    def release(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        self.depth -= 1
        if self.depth == 0 and self.handler is not None:
            handler, held, self.handler, self.held = self.handler, self.held, None, None
            signal.signal(signal.SIGINT, handler)
            if held is not None:
                handler(*held)


_held_interrupts = _HeldInterrupts()


def _hold_interrupts_while_compiling() -> None:
    """Hold SIGINT (``_HeldInterrupts``) from the moment numba takes its compiler lock (to compile a kernel
    or load it from the cache) until it releases it; the lock is re-entrant, and the holds nest with it."""
    try:
        from numba.core import event
    except ImportError:  # an older numba without compiler events: nothing to hook into
        return

    class Holder(event.Listener):
        def on_start(self, _: Any) -> None:
            _held_interrupts.hold()

        def on_end(self, _: Any) -> None:
            _held_interrupts.release()

    event.register("numba:compiler_lock", Holder())


def enabled() -> bool:
    """True when kernels run compiled: numba is installed and neither ``set_enabled(False)`` nor
    ``DEEPGRAD_COMPILED=0`` switched them off."""
    return _state.wanted and _numba() is not None


def set_enabled(flag: bool) -> None:
    """Run the compiled kernels (``True``, when numba is installed) or the NumPy formulations (``False``)."""
    _state.wanted = bool(flag)


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within the block, every op takes its NumPy route (for comparisons and tests)."""
    previous = _state.wanted
    _state.wanted = False
    try:
        yield
    finally:
        _state.wanted = previous


# the dtypes the kernels are compiled for (float16 has no arithmetic in numba; it takes the NumPy route)
_DTYPES = frozenset(np.dtype(name) for name in ("float32", "float64", "uint8", "int32", "int64"))


def usable(*arrays: Any) -> bool:
    """True when the compiled kernels can take these arrays: compilation is on and each is a NumPy array of
    float32, float64 or an index dtype (another backend's arrays, CuPy's say, take the NumPy-protocol route)."""
    return enabled() and all(type(array) is np.ndarray and array.dtype in _DTYPES for array in arrays)


def usable_flat(*arrays: Any, min_size: int) -> bool:
    """``usable(*arrays)``, and the arrays are C-contiguous, of one shape and at least ``min_size`` elements:
    a kernel may walk them as flat arrays, and the call's few microseconds are worth it."""
    first = arrays[0]
    return (
        usable(*arrays)
        and first.size >= min_size
        and all(array.shape == first.shape and array.flags.c_contiguous for array in arrays)
    )


class _Kernel:
    """A loop compiled with numba on its first call (``nogil``, cached on disk, bounds unchecked)."""

    def __init__(
        self, loop: Callable[..., Any], constants: dict[str, Any] | None = None, reorder: bool = False
    ) -> None:
        self.loop = loop
        self.constants = constants or {}
        self.reorder = reorder
        self.variants: dict[tuple, _Kernel] = {}
        self.compiled: Callable[..., Any] | None = None
        self.__doc__, self.__name__ = loop.__doc__, loop.__name__
        self.__module__, self.__qualname__ = loop.__module__, loop.__qualname__

    def variant(self, **constants: Any) -> _Kernel:
        """The same loop compiled with some of its module's global constants set otherwise (numba folds
        globals as constants, so a switch in the loop costs nothing at run time)."""
        key = tuple(sorted(constants.items()))
        if key not in self.variants:
            self.variants[key] = _Kernel(self.loop, {**self.constants, **constants}, self.reorder)
        return self.variants[key]

    def dispatcher(self) -> Callable[..., Any]:
        """The compiled function (numba's dispatcher), compiled now if need be."""
        if self.compiled is None:
            numba = _numba()
            if numba is None:
                raise RuntimeError(
                    f"the compiled kernel {self.__name__} needs numba: pip install 'deepgrad[fast]' "
                    "(the ops check deepgrad.compiled.usable() and take their NumPy route without it)"
                )
            # a kernel may call other kernels of its module: numba sees their dispatchers in its globals
            namespace = {**self.loop.__globals__, **self.constants}
            for name in self.loop.__code__.co_names:
                if isinstance(namespace.get(name), _Kernel):
                    namespace[name] = namespace[name].dispatcher()
            loop = types.FunctionType(
                self.loop.__code__, namespace, self.loop.__name__, self.loop.__defaults__, self.loop.__closure__
            )
            # the variants are told apart by name in numba's on-disk cache
            suffix = "".join(f"__{name}_{value}" for name, value in sorted(self.constants.items()))
            loop.__qualname__ = self.loop.__qualname__ + suffix
            # reorder: sums may be reassociated (vectorised into partial sums) and a * b + c fused; NaN and
            # inf keep their meaning
            fastmath = {"reassoc", "contract"} if self.reorder else False
            cache = os.path.isfile(loop.__code__.co_filename)  # (not a loop typed at a prompt or in a doctest)
            # error_model="numpy": a division by zero gives inf or NaN, as the NumPy routes do, instead of
            # numba's default Python semantics, whose test before every division keeps a loop from
            # vectorising (measured: Adam's update over 1.2M float32 values 3.5 ms with it, 0.58 ms without)
            self.compiled = numba.njit(
                nogil=True, cache=cache, boundscheck=False, fastmath=fastmath, error_model="numpy"
            )(loop)
        return self.compiled

    def __call__(self, *args: Any) -> Any:
        return (self.compiled or self.dispatcher())(*args)


def kernel(loop: Callable[..., Any] | None = None, *, reorder: bool = False) -> Any:
    """Decorator: ``loop`` runs compiled by numba (see the module docstring). ``@kernel(reorder=True)``: the
    loop's sums may be computed in another order (partial sums in vector registers: a reduction then runs
    several times faster, and rounds differently, like any pairwise sum)."""
    if loop is None:
        return lambda function: _Kernel(function, reorder=reorder)
    return _Kernel(loop, reorder=reorder)
