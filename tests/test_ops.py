"""Every op in the op table: gradcheck (float64), double-backward check, and PyTorch as the oracle."""

from __future__ import annotations

import numpy as np
import pytest
from op_specs import SPECS, draw

import deepgrad as dg
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
