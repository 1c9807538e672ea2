"""Property tests: for any pair of broadcastable shapes, gradients come back summed to each input's shape."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import deepgrad as dg
from deepgrad.autograd.engine import sum_to

OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@settings(max_examples=60, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=3),
    op=st.sampled_from(sorted(OPS)),
)
def test_binary_op_gradients_match_pytorch_for_any_broadcast(shapes, op):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    (shape_a, shape_b), out_shape = shapes.input_shapes, shapes.result_shape
    a0 = rng.uniform(0.5, 2.0, shape_a)
    b0 = rng.uniform(0.5, 2.0, shape_b)
    upstream = rng.standard_normal(out_shape)
    a, b = dg.tensor(a0, dtype=dg.float64, requires_grad=True), dg.tensor(b0, dtype=dg.float64, requires_grad=True)
    OPS[op](a, b).backward(dg.tensor(upstream, dtype=dg.float64))
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    OPS[op](ta, tb).backward(torch.tensor(upstream))
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    np.testing.assert_allclose(a.grad.array, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad.array, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=4, max_side=4))
def test_sum_to_undoes_broadcast_to(shapes):
    (small,), big = shapes.input_shapes, shapes.result_shape
    x = np.random.default_rng(1).standard_normal(small)
    copies = int(np.prod(big)) // max(int(np.prod(small)), 1) if np.prod(small) else 0
    summed = sum_to(np.broadcast_to(x, big), small)
    assert summed.shape == small
    np.testing.assert_allclose(summed, x * copies, rtol=1e-12)
