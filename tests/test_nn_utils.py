"""Gradient clipping against torch.nn.utils, and the L1/L2 penalties of the regularized objective."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad
import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.nn.utils import clip_grad_norm_, clip_grad_value_, l1_penalty, l2_penalty

SHAPES = [(3, 4), (5,), (2, 3, 2), ()]


def _torch():
    return pytest.importorskip("torch")


def _pairs(torch, seed=0, scale=1.0, without_grad=(1,)):
    """deepgrad and torch float64 tensors with the same values and gradients (no gradient for ``without_grad``)."""
    rng = np.random.default_rng(seed)
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        value, grad = rng.standard_normal(shape), scale * rng.standard_normal(shape)
        p = deepgrad.tensor(value, dtype=deepgrad.float64, requires_grad=True)
        q = torch.tensor(value, requires_grad=True)
        if i not in without_grad:
            p.grad = deepgrad.tensor(grad, dtype=deepgrad.float64)
            q.grad = torch.tensor(grad)
        ours.append(p)
        theirs.append(q)
    return ours, theirs


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = _torch()
    ours, theirs = _pairs(torch)
    arrays = [p.grad.array for p in ours if p.grad is not None]
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    reference = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type, foreach=False)
    assert isinstance(total, deepgrad.Tensor) and total.shape == ()
    assert total.item() == pytest.approx(reference.item(), rel=1e-12)
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.array, q.grad.numpy(), rtol=1e-12, atol=1e-15)
    assert all(p.grad.array is a for p, a in zip([p for p in ours if p.grad is not None], arrays))  # in place


def test_clip_grad_norm_clips_to_max_norm_and_keeps_float32():
    w = deepgrad.zeros(100, requires_grad=True)
    w.grad = deepgrad.full((100,), 2.0)
    total = clip_grad_norm_(w, max_norm=1.0)  # a single tensor is accepted
    assert total.item() == pytest.approx(20.0) and total.dtype == np.float32
    assert w.grad.dtype == np.float32
    assert float(np.linalg.norm(w.grad.array)) == pytest.approx(1.0, rel=1e-5)


def test_clip_grad_norm_without_gradients_returns_zero():
    assert clip_grad_norm_([deepgrad.zeros(2, requires_grad=True)], 1.0).item() == 0.0


def test_clip_grad_norm_nonfinite():
    w = deepgrad.zeros(2, requires_grad=True)
    w.grad = deepgrad.tensor([1.0, float("nan")])
    with pytest.raises(RuntimeError, match="total norm of order 2.0 of the gradients is nan"):
        clip_grad_norm_([w], 1.0, error_if_nonfinite=True)
    assert math.isnan(clip_grad_norm_([w], 1.0).item())


@pytest.mark.parametrize("clip_value", [0.1, 0.7, 5.0])
def test_clip_grad_value_matches_torch(clip_value):
    torch = _torch()
    ours, theirs = _pairs(torch, seed=1, scale=2.0)
    clip_grad_value_(ours, clip_value)
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=False)
    for p, q in zip(ours, theirs):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad.array, q.grad.numpy())


def test_clipping_rejects_bad_input():
    with pytest.raises(TypeError, match="element 1 is a ndarray"):
        clip_grad_norm_([deepgrad.zeros(1), np.zeros(1)], 1.0)
    with pytest.raises(TypeError, match="expected a Tensor or an iterable of Tensors, got float"):
        clip_grad_value_(1.0, 1.0)
    with pytest.raises(ValueError, match="clip_value must be >= 0"):
        clip_grad_value_([deepgrad.zeros(1)], -1.0)
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


# ---------------------------------------------------------------------- penalties


def test_penalty_values_and_gradients():
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(3, 2), (4,), ()]]
    params = [deepgrad.tensor(a, dtype=deepgrad.float64, requires_grad=True) for a in arrays]
    l1 = l1_penalty(params)
    l2 = l2_penalty(iter(params))
    assert l1.item() == pytest.approx(sum(np.abs(a).sum() for a in arrays), rel=1e-12)
    assert l2.item() == pytest.approx(sum((a**2).sum() for a in arrays), rel=1e-12)
    (0.3 * l1 + 0.7 * l2).backward()
    for p, a in zip(params, arrays):
        np.testing.assert_allclose(p.grad.array, 0.3 * np.sign(a) + 0.7 * 2 * a, rtol=1e-12)


def test_penalties_match_torch_expressions():
    torch = _torch()
    rng = np.random.default_rng(3)
    a = rng.standard_normal((4, 3))
    assert l2_penalty(deepgrad.tensor(a, dtype=deepgrad.float64)).item() == pytest.approx(
        torch.tensor(a).pow(2).sum().item(), rel=1e-12
    )
    assert l1_penalty(deepgrad.tensor(a, dtype=deepgrad.float64)).item() == pytest.approx(
        torch.tensor(a).abs().sum().item(), rel=1e-12
    )


def _regression(seed=4):
    rng = np.random.default_rng(seed)
    x = deepgrad.tensor(rng.standard_normal((16, 3)), dtype=deepgrad.float64)
    y = deepgrad.tensor(rng.standard_normal((16, 2)), dtype=deepgrad.float64)
    w0, b0 = rng.standard_normal((3, 2)), rng.standard_normal(2)
    return x, y, w0, b0


def _params(w0, b0):
    return [
        deepgrad.tensor(w0, dtype=deepgrad.float64, requires_grad=True),
        deepgrad.tensor(b0, dtype=deepgrad.float64, requires_grad=True),
    ]


@pytest.mark.parametrize(
    "name,kwargs",
    [("SGD", {"lr": 0.05}), ("SGD", {"lr": 0.05, "momentum": 0.9}), ("Adam", {"lr": 0.01}), ("RMSprop", {"lr": 0.01})],
)
def test_l2_penalty_equals_weight_decay_twice_lambda(name, kwargs):
    """L + lam * sum theta^2 takes the steps of weight_decay=2*lam on L (the documented convention)."""
    x, y, w0, b0 = _regression()
    lam = 0.05
    penalized, decayed = _params(w0, b0), _params(w0, b0)
    opt_penalized = getattr(optim, name)(penalized, **kwargs)
    opt_decayed = getattr(optim, name)(decayed, weight_decay=2 * lam, **kwargs)
    for _ in range(10):
        for params, opt, extra in ((penalized, opt_penalized, lam), (decayed, opt_decayed, 0.0)):
            opt.zero_grad()
            w, b = params
            loss = ((x @ w + b - y) ** 2).mean()
            if extra:
                loss = loss + extra * l2_penalty(params)
            loss.backward()
            opt.step()
    for p, q in zip(penalized, decayed):
        np.testing.assert_allclose(p.array, q.array, rtol=1e-10, atol=1e-12)
    assert not np.allclose(penalized[0].array, w0)


def test_l2_penalty_is_not_adamw_decay():
    x, y, w0, b0 = _regression()
    penalized, decayed = _params(w0, b0), _params(w0, b0)
    opt_penalized = optim.AdamW(penalized, lr=0.01, weight_decay=0.0)
    opt_decayed = optim.AdamW(decayed, lr=0.01, weight_decay=0.1)
    for params, opt, lam in ((penalized, opt_penalized, 0.05), (decayed, opt_decayed, 0.0)):
        for _ in range(5):
            opt.zero_grad()
            w, b = params
            loss = ((x @ w + b - y) ** 2).mean() + lam * l2_penalty(params)
            loss.backward()
            opt.step()
    assert not np.allclose(penalized[0].array, decayed[0].array, rtol=1e-6)


def test_l1_penalty_gives_the_subgradient_step():
    x, y, w0, b0 = _regression(seed=5)
    lam, lr = 0.1, 0.05
    params = _params(w0, b0)
    w, b = params
    loss = ((x @ w + b - y) ** 2).mean()
    data_grad = [g.array.copy() for g in deepgrad.autograd.grad(loss, params)]
    opt = optim.SGD(params, lr=lr)
    (((x @ w + b - y) ** 2).mean() + lam * l1_penalty([w])).backward()  # the weights only, not the bias
    opt.step()
    np.testing.assert_allclose(w.array, w0 - lr * (data_grad[0] + lam * np.sign(w0)), rtol=1e-12)
    np.testing.assert_allclose(b.array, b0 - lr * data_grad[1], rtol=1e-12)


def test_penalties_reject_bad_input():
    with pytest.raises(ValueError, match="no tensors to penalize"):
        l2_penalty([])
    with pytest.raises(TypeError, match="element 0 is a list"):
        l1_penalty([[1.0, 2.0]])


def test_pad_sequence_and_parameter_vectors_match_torch():
    torch = pytest.importorskip("torch")
    from deepgrad.nn.utils.rnn import pack_padded_sequence, pad_sequence, unpad_sequence

    arrays = [np.arange(3.0), np.arange(5.0) * 2, np.arange(1.0) - 4]
    for kwargs in [{}, {"batch_first": True, "padding_value": -1.0}, {"padding_side": "left"}]:
        ours = pad_sequence([dg.tensor(a) for a in arrays], **kwargs)
        theirs = torch.nn.utils.rnn.pad_sequence([torch.tensor(a) for a in arrays], **kwargs)
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    pieces = [dg.tensor(a, requires_grad=True) for a in arrays]
    padded = pad_sequence(pieces, batch_first=True)
    (padded * padded).sum().backward()
    np.testing.assert_array_equal(pieces[1].grad.array, 2 * arrays[1])
    back = unpad_sequence(padded, [3, 5, 1], batch_first=True)
    assert [b.tolist() for b in back] == [a.tolist() for a in arrays]
    with pytest.raises(NotImplementedError, match="packed sequences are not supported"):
        pack_padded_sequence(padded, [3, 5, 1])
    with pytest.raises(ValueError, match=r"pad_sequence: sequence 1 has shape \(2, 3\)"):
        pad_sequence([dg.zeros(2, 2), dg.zeros(2, 3)])
    model = nn.Linear(3, 2)
    vector = nn.utils.parameters_to_vector(model.parameters())
    theirs = torch.nn.Linear(3, 2)
    theirs.load_state_dict({k: torch.tensor(v.array) for k, v in model.state_dict().items()})
    np.testing.assert_array_equal(
        vector.array, torch.nn.utils.parameters_to_vector(theirs.parameters()).detach().numpy()
    )
    nn.utils.vector_to_parameters(dg.arange(8.0), model.parameters())
    assert model.weight.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and model.bias.tolist() == [6.0, 7.0]
    with pytest.raises(ValueError, match="expected a vector of 8 values"):
        nn.utils.vector_to_parameters(dg.zeros(7), model.parameters())
