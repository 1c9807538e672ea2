"""Every op in the op table: gradcheck (float64), double-backward check, and PyTorch as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from op_specs import SPECS, draw

import deepgrad as dg
from deepgrad import compiled
from deepgrad.autograd import gradcheck, gradgradcheck

CASES = [(spec, shapes) for spec in SPECS for shapes in spec.shapes]
IDS = [f"{spec.name}-{'x'.join(map(str, shapes))}" for spec, shapes in CASES]


def make_inputs(spec, shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [draw(shape, spec.domain, rng) for shape in shapes]


def as_tensors(arrays, spec):
    return [dg.tensor(a, dtype=dg.float64, requires_grad=i not in spec.nondiff) for i, a in enumerate(arrays)]


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_gradcheck(spec, shapes):
    assert gradcheck(spec.ours, as_tensors(make_inputs(spec, shapes), spec))


# the ops with compiled kernels (deepgrad.compiled), checked again on their NumPy route
NUMPY_ROUTE_CASES = [(spec, shapes) for spec, shapes in CASES if spec.name.startswith(("conv2d", "batch_norm"))]


@pytest.mark.parametrize(
    "spec,shapes", NUMPY_ROUTE_CASES, ids=[f"{s.name}-{'x'.join(map(str, sh))}" for s, sh in NUMPY_ROUTE_CASES]
)
def test_gradcheck_and_pytorch_on_the_numpy_route(spec, shapes):
    with compiled.disabled():
        test_gradcheck(spec, shapes)
        test_matches_pytorch(spec, shapes)


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_gradgradcheck(spec):
    assert gradgradcheck(spec.ours, as_tensors(make_inputs(spec, spec.shapes[0], seed=1), spec))


@pytest.mark.parametrize("spec,shapes", CASES, ids=IDS)
def test_matches_pytorch(spec, shapes):
    torch = pytest.importorskip("torch")
    arrays = make_inputs(spec, shapes, seed=2)
    ours = as_tensors(arrays, spec)
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=i not in spec.nondiff) for i, a in enumerate(arrays)]
    out = spec.ours(*ours)
    expected = spec.theirs(torch, *theirs)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = np.random.default_rng(3).standard_normal(out.shape)
    out.backward(dg.tensor(upstream, dtype=dg.float64))
    expected.backward(torch.tensor(upstream))
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if i in spec.nondiff:
            continue
        assert a.grad is not None, f"input {i} got no gradient"
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.array, b.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=f"input {i}")


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_float32_stays_float32(spec):
    arrays = make_inputs(spec, spec.shapes[0], seed=4)
    inputs = [dg.tensor(a, dtype=dg.float32, requires_grad=i not in spec.nondiff) for i, a in enumerate(arrays)]
    out = spec.ours(*inputs)
    assert out.dtype == dg.float32
    out.backward(dg.ones_like(out))
    for i, x in enumerate(inputs):
        if i not in spec.nondiff:
            assert x.grad.dtype == dg.float32


POW_AT_ZERO = [(0.0, 0.0), (0.0, 2.0), (0.0, 1.0), (0.0, 0.5), (0.0, -1.0), (2.0, 0.0), (0.0, 3.0), (-2.0, 3.0)]


@pytest.mark.parametrize("a,b", POW_AT_ZERO)
def test_pow_gradients_at_zero_match_pytorch(a, b):
    """x**0 at 0, d/dy x**y at (0, 2), x**y at (0, 0): PyTorch's limits (0), not nan or -inf."""
    torch = pytest.importorskip("torch")
    x, y = (dg.tensor(v, dtype=dg.float64, requires_grad=True) for v in (a, b))
    tx, ty = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (a, b))
    with np.errstate(divide="ignore"):
        z = x**y
    z.backward()
    (tx**ty).backward()
    np.testing.assert_array_equal([x.grad.item(), y.grad.item()], [tx.grad.item(), ty.grad.item()])


@pytest.mark.parametrize("make", [lambda x: x**0, lambda x: x**x, lambda x: x ** dg.tensor(0.0, dtype=dg.float64)])
def test_pow_of_zero_gradient_is_zero_as_in_pytorch(make):
    x = dg.tensor(0.0, dtype=dg.float64, requires_grad=True)
    make(x).backward()
    assert x.grad.item() == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_on_both_routes_keeps_nan_and_signed_zero_as_pytorch(kernel_route, dtype):
    # large enough for the compiled kernel (elementwise.COMPILED_MIN_SIZE), and a non-contiguous view that
    # takes NumPy's route on either
    specials = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf, 2.5, -2.5], dtype=dtype)
    x = np.tile(specials, 3000).reshape(50, 420)
    grad = np.arange(1, x.size + 1, dtype=dtype).reshape(x.shape)
    expected_out = np.tile(np.array([np.nan, 0.0, 0.0, np.inf, 0.0, 2.5, 0.0], dtype=dtype), 3000).reshape(x.shape)
    expected_grad = grad * np.tile(np.array([1, 0, 0, 1, 0, 1, 0], dtype=dtype), 3000).reshape(x.shape)
    for source, upstream, out_expected, grad_expected in [
        (x, grad, expected_out, expected_grad),
        (x.T, grad.T, expected_out.T, expected_grad.T),
    ]:
        for in_place in (False, True):  # relu_ writes over its input with a kernel of its own
            t = dg.tensor(source, requires_grad=True)
            out = (t * 1).relu_() if in_place else dg.relu(t)
            out.backward(dg.tensor(upstream))
            np.testing.assert_array_equal(out.detach().numpy(), out_expected)
            assert not np.signbit(out.detach().numpy()).any()  # max(-0.0, 0) is +0.0, as PyTorch's relu gives
            np.testing.assert_array_equal(t.grad.numpy(), grad_expected)
            assert out.dtype == t.grad.dtype == (dg.float32 if dtype == np.float32 else dg.float64)
    torch = pytest.importorskip("torch")
    tx = torch.from_numpy(x).requires_grad_()
    torch.relu(tx).backward(torch.from_numpy(grad))
    np.testing.assert_array_equal(tx.grad.numpy(), expected_grad)
    np.testing.assert_array_equal(torch.relu(torch.from_numpy(x)).numpy(), expected_out)
