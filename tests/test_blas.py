"""deepgrad.blas: direct gemm calls on strided views, against NumPy's matmul."""

import os
import subprocess
import sys

import numpy as np
import pytest

from deepgrad import blas

pytestmark = pytest.mark.skipif(not blas.available("float32"), reason="no direct BLAS calls in this process")


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_on_windows_of_one_buffer_with_and_without_accumulating(dtype):
    r = rng(1)
    buffer = r.standard_normal((5, 40)).astype(dtype)
    a = r.standard_normal((3, 5)).astype(dtype)
    out = np.full((3, 30), 7.0, dtype)
    blas.matmul(a, buffer[:, 4:34], out)  # rows 40 apart, 30 long
    np.testing.assert_allclose(out, a @ buffer[:, 4:34], rtol=1e-5)
    blas.matmul(a, buffer[:, 9:39], out, accumulate=True)
    np.testing.assert_allclose(out, a @ buffer[:, 4:34] + a @ buffer[:, 9:39], rtol=1e-5)


@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
def test_matmul_reads_transposed_views_without_copying_them(transpose_a, transpose_b):
    r = rng(2)
    a = r.standard_normal((6, 4)) if not transpose_a else r.standard_normal((4, 6)).T
    b = r.standard_normal((4, 9))[:, 1:8] if not transpose_b else r.standard_normal((8, 4))[1:].T
    out = np.empty((6, 7))
    blas.matmul(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_matmul_into_a_column_major_out_computes_the_transposed_product():
    r = rng(3)
    a, b = r.standard_normal((5, 3)), r.standard_normal((3, 4))
    out = np.empty((4, 5)).T  # columns contiguous
    blas.matmul(a, b, out)
    np.testing.assert_allclose(out, a @ b, rtol=1e-12)


def test_matmul_with_empty_dimensions():
    out = np.full((2, 3), 5.0)
    blas.matmul(np.empty((2, 0)), np.empty((0, 3)), out, accumulate=True)
    np.testing.assert_array_equal(out, 5.0)
    blas.matmul(np.empty((2, 0)), np.empty((0, 3)), out)
    np.testing.assert_array_equal(out, 0.0)
    blas.matmul(np.empty((0, 4)), np.empty((4, 3)), np.empty((0, 3)))


def test_matmul_errors_name_the_shapes_dtypes_and_strides():
    a, b = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(4, 3\) do not give out's \(2, 4\)"):
        blas.matmul(a, b.T.copy(), np.empty((2, 4)))
    with pytest.raises(TypeError, match="float64, float32 and out float64"):
        blas.matmul(a, b.astype(np.float32), np.empty((2, 4)))
    with pytest.raises(TypeError, match="int64"):
        blas.matmul(a.astype(np.int64), b.astype(np.int64), np.empty((2, 4), np.int64))
    with pytest.raises(ValueError, match="neither contiguous rows nor contiguous columns"):
        blas.matmul(np.ones((4, 6))[::2, ::2], b, np.empty((2, 4)))
    with pytest.raises(ValueError, match="share no memory"):
        square = np.ones((3, 3))
        blas.matmul(square, square, square)
    with pytest.raises(ValueError, match="takes matrices"):
        blas.matmul(np.ones(3), b, np.empty(4))


def test_disabled_switches_the_calls_off_and_back():
    assert blas.enabled() and blas.available(np.float64)
    with blas.disabled():
        assert not blas.available(np.float32)
        with pytest.raises(TypeError, match="blas.available"):
            blas.matmul(np.ones((1, 1)), np.ones((1, 1)), np.empty((1, 1)))
    assert blas.available(np.float32)
    assert blas.library() is not None and "blas" in blas.library().lower()


def test_the_environment_variable_switches_the_calls_off_for_the_process():
    import os
    import subprocess
    import sys

    code = "from deepgrad import blas; print(blas.enabled(), blas.available('float32'))"
    env = {**os.environ, "DEEPGRAD_DIRECT_BLAS": "0"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


# A threaded product, then the process sleeps: how much CPU time its other threads (OpenBLAS's workers) use
# in the pauses. Three rounds of a 1000x1000 product and a 0.3 s pause.
SPIN = """
import os, time
{setup}
import numpy as np
def other_threads_cpu():
    ticks = 0
    for task in os.listdir("/proc/self/task"):
        if int(task) != os.getpid():
            with open(f"/proc/self/task/{{task}}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")
a = np.ones((1000, 1000), np.float32)
assert (a @ a)[0, 0] == 1000
spent = 0.0
for _ in range(3):
    a @ a
    before = other_threads_cpu()
    time.sleep(0.3)
    spent += other_threads_cpu() - before
print(spent)
"""


def _spin_seconds(setup: str, **env: str) -> float:
    environment = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_THREAD_TIMEOUT", "OMP_NUM_THREADS")}
    environment.update(OPENBLAS_NUM_THREADS="2", **env)
    result = subprocess.run(
        [sys.executable, "-c", SPIN.format(setup=setup)], capture_output=True, text=True, env=environment, check=True
    )
    return float(result.stdout)


def _openblas_pthreads() -> bool:
    from threadpoolctl import threadpool_info

    return any(i["internal_api"] == "openblas" and i["threading_layer"] == "pthreads" for i in threadpool_info())


spin_test = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _openblas_pthreads(), reason="OpenBLAS's pthreads build on Linux"
)


@spin_test
def test_importing_deepgrad_puts_openblas_workers_to_sleep_soon_after_a_product():
    # OpenBLAS's own setting: its workers spin about 0.1 s after each product (3 pauses: ~0.2-0.3 s of CPU)
    assert _spin_seconds("import numpy", DEEPGRAD_BLAS_SPIN_TUNING="0") > 0.12
    assert _spin_seconds("import deepgrad") < 0.05  # deepgrad imported first
    assert _spin_seconds("import numpy; import deepgrad") < 0.05  # or after NumPy: the workers are restarted


@spin_test
def test_an_explicit_openblas_thread_timeout_is_left_alone(monkeypatch):
    assert _spin_seconds("import deepgrad", OPENBLAS_THREAD_TIMEOUT="28") > 0.12
    monkeypatch.setenv("OPENBLAS_THREAD_TIMEOUT", "28")
    assert not blas.shorten_thread_spin()


@spin_test
def test_shortening_the_spin_keeps_products_right_and_the_environment_clean():
    r = rng(7)
    a, b = r.standard_normal((300, 400)).astype(np.float32), r.standard_normal((400, 500)).astype(np.float32)
    expected = a @ b
    assert blas.shorten_thread_spin(18)
    assert "OPENBLAS_THREAD_TIMEOUT" not in os.environ
    np.testing.assert_array_equal(a @ b, expected)
    assert blas.shorten_thread_spin()  # back to deepgrad's setting


@pytest.mark.parametrize("exponent", [3, 31, 2.5, True])
def test_spin_exponent_outside_openblas_range_is_refused(exponent):
    with pytest.raises(ValueError, match=r"exponent.*4.*30"):
        blas.shorten_thread_spin(exponent)
