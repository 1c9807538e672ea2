"""deepgrad.blas: direct gemm calls on strided views, against NumPy's matmul."""

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
