"""deepgrad.compiled: the switch, what the kernels take, and the NumPy route when numba is absent."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import compiled


def test_disabled_switches_the_ops_to_numpy_and_back():
    pytest.importorskip("numba")
    assert compiled.enabled()
    with compiled.disabled():
        assert not compiled.enabled()
        assert not compiled.usable(np.zeros(3, np.float32))
    assert compiled.enabled()


def test_usable_only_for_numpy_arrays_of_compiled_dtypes():
    pytest.importorskip("numba")
    assert compiled.usable(np.zeros(2, np.float32), np.zeros(2, np.float64), np.zeros(2, np.uint8))
    assert not compiled.usable(np.zeros(2, np.float16))  # numba has no float16 arithmetic
    assert not compiled.usable(np.zeros(2, np.complex64))
    assert not compiled.usable([1.0, 2.0])  # not an array: the NumPy-protocol route


def test_usable_flat_wants_contiguous_arrays_of_one_shape_and_enough_elements():
    pytest.importorskip("numba")
    a, b = np.zeros((4, 8), np.float32), np.zeros((4, 8), np.float64)
    assert compiled.usable_flat(a, b, min_size=32)
    assert not compiled.usable_flat(a, b, min_size=33)  # too small to be worth a call
    assert not compiled.usable_flat(a, a.T.copy(), min_size=1)  # another shape
    assert not compiled.usable_flat(a.T, min_size=1)  # not C-contiguous
    assert not compiled.usable_flat(a, np.zeros((4, 8), np.float16), min_size=1)
    with compiled.disabled():
        assert not compiled.usable_flat(a, min_size=1)


def test_environment_variable_turns_compilation_off():
    code = "import deepgrad.compiled as c; print(c.enabled())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={"DEEPGRAD_COMPILED": "0", "PATH": ""}
    )
    assert result.stdout.strip() == "False", result.stderr


def test_without_numba_the_ops_take_the_numpy_route(monkeypatch):
    """numba missing: enabled() is False, the pooling and batch-norm ops give the same values on their NumPy
    route, and calling a kernel directly says what to install."""
    x = np.random.default_rng(0).standard_normal((2, 3, 6, 6))
    expected = F.max_pool2d(dg.tensor(x), 3, 2, 1).array
    monkeypatch.setattr(compiled._state, "numba", None)
    monkeypatch.setattr(compiled._state, "numba_missing", True)
    assert not compiled.enabled()
    np.testing.assert_array_equal(F.max_pool2d(dg.tensor(x), 3, 2, 1).array, expected)

    @compiled.kernel
    def double(values):
        return values * 2

    with pytest.raises(RuntimeError, match=r"pip install 'deepgrad\[fast\]'"):
        double(np.ones(2))


def test_a_kernel_calls_another_and_a_variant_folds_its_constant():
    pytest.importorskip("numba")
    from deepgrad.ops import kernels

    offsets = kernels.window_offsets(2, 3, 1, 2, 10)  # i d_h W + j d_w
    np.testing.assert_array_equal(offsets, [0, 2, 4, 10, 12, 14])
    planes = np.array([[[1.0, np.nan], [3.0, 2.0]]])
    best, argmax = np.empty((1, 1, 1)), np.empty((1, 1, 1), np.uint8)
    nans = kernels.max_pool_planes(planes, best, argmax, 2, 2, 2, 2, 0, 0, 1, 1)
    assert nans == 1 and best[0, 0, 0] == 3.0  # the fast build ignores the NaN and counts it
    kernels.max_pool_planes.variant(NAN_WINS=True)(planes, best, argmax, 2, 2, 2, 2, 0, 0, 1, 1)
    assert np.isnan(best[0, 0, 0]) and argmax[0, 0, 0] == 1  # the NaN build lets it win


def _compile_with(kernel_loop, argument, during_compilation):
    """Call a fresh kernel of ``kernel_loop`` once, running ``during_compilation`` as soon as numba has taken
    its compiler lock (after deepgrad's own listener, which numba notifies first)."""
    from numba.core import event

    compiled._numba()  # deepgrad's listener is registered when numba is first imported

    class Poke(event.Listener):
        def on_start(self, _):
            during_compilation()

        def on_end(self, _):
            pass

    poke = Poke()
    with event.install_listener("numba:compiler_lock", poke):
        return compiled.kernel(kernel_loop)(argument)


class _Interrupted(Exception):
    pass


def _raise_interrupted(signum, frame):
    raise _Interrupted


def test_ctrl_c_while_a_kernel_compiles_is_raised_when_the_compilation_ends(monkeypatch):
    """A SIGINT inside numba's compilation is held (LLVM's callbacks cannot raise it: it would be lost and the
    compilation left broken) and the handler runs once the compiler lock is released; the kernel works."""
    pytest.importorskip("numba")
    import signal

    def triple(values):
        return values * 3

    previous = signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        held_during = []

        def ctrl_c():
            if not held_during:
                signal.raise_signal(signal.SIGINT)
                held_during.append(signal.getsignal(signal.SIGINT))

        with pytest.raises(_Interrupted):
            _compile_with(triple, np.arange(3.0), ctrl_c)
        assert held_during and held_during[0] is not _raise_interrupted  # deepgrad's holding handler was in place
        assert signal.getsignal(signal.SIGINT) is _raise_interrupted  # and the program's handler is back
        np.testing.assert_array_equal(_compile_with(triple, np.arange(3.0), lambda: None), [0.0, 3.0, 6.0])
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_kernel_first_called_on_another_thread_leaves_the_signal_handlers_alone():
    """Only the main thread may set signal handlers: a compilation on a worker thread does not try."""
    pytest.importorskip("numba")
    import signal
    import threading

    def quadruple(values):
        return values * 4

    before = signal.getsignal(signal.SIGINT)
    seen, results = [], []

    def work():
        results.append(_compile_with(quadruple, np.arange(2.0), lambda: seen.append(signal.getsignal(signal.SIGINT))))

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    np.testing.assert_array_equal(results[0], [0.0, 4.0])
    assert seen and set(seen) == {before} and signal.getsignal(signal.SIGINT) is before


def test_held_interrupts_nest_and_run_the_programs_handler_once_at_the_outermost_release():
    """Holds nest (numba's compiler lock is re-entrant): a SIGINT in the inner hold runs the program's handler
    once, when the outer hold ends; a hold with no SIGINT leaves the handler as it was."""
    import signal

    holder = compiled._HeldInterrupts()
    previous = signal.signal(signal.SIGINT, _raise_interrupted)
    try:
        holder.hold()
        holder.release()
        assert signal.getsignal(signal.SIGINT) is _raise_interrupted
        holder.hold()
        holder.hold()
        signal.raise_signal(signal.SIGINT)
        holder.release()  # still held
        assert holder.held is not None and signal.getsignal(signal.SIGINT) is not _raise_interrupted
        with pytest.raises(_Interrupted):
            holder.release()
        assert signal.getsignal(signal.SIGINT) is _raise_interrupted and holder.depth == 0
    finally:
        signal.signal(signal.SIGINT, previous)
