"""Shared helpers for the nn tests: run the same computation in deepgrad and PyTorch (float64) and compare
forward values and the gradients of a fixed random upstream gradient."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import deepgrad as dg


def as_ours(array: np.ndarray, requires_grad: bool = False) -> dg.Tensor:
    if array.dtype.kind == "f":
        return dg.tensor(array, dtype=dg.float64, requires_grad=requires_grad)
    return dg.tensor(array)


def compare_with_torch(
    ours: Callable[..., Any],
    theirs: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    grad_of: Sequence[int] = (0,),
    seed: int = 0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> tuple[dg.Tensor, Any]:
    """Call ``ours(*deepgrad_tensors)`` and ``theirs(*torch_tensors)``; check values and the gradients of the
    inputs listed in ``grad_of`` after backpropagating the same random upstream gradient."""
    import torch

    ours_in = [as_ours(a, i in grad_of) for i, a in enumerate(arrays)]
    theirs_in = [torch.tensor(a, requires_grad=i in grad_of) for i, a in enumerate(arrays)]
    out = ours(*ours_in)
    expected = theirs(*theirs_in)
    assert out.shape == tuple(expected.shape), (out.shape, tuple(expected.shape))
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=rtol, atol=atol, err_msg="forward")
    upstream = np.random.default_rng(seed + 1000).standard_normal(out.shape)
    out.backward(dg.tensor(upstream, dtype=dg.float64))
    expected.backward(torch.tensor(upstream))
    for i in grad_of:
        assert ours_in[i].grad is not None, f"input {i} got no gradient"
        np.testing.assert_allclose(
            ours_in[i].grad.array, theirs_in[i].grad.numpy(), rtol=rtol, atol=atol, err_msg=f"gradient of input {i}"
        )
    return out, expected
