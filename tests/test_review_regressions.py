"""Regressions for bugs found in the core/library code review: each test failed before its fix."""

from __future__ import annotations

import numpy as np
import pytest

import deepgrad
from deepgrad import nn
from deepgrad.autograd import Function


def test_np_array_of_tensor_is_a_copy_and_asarray_shares():
    t = deepgrad.tensor([1.0, 2.0])
    copied = np.array(t)
    copied[0] = 99.0
    assert t.array[0] == 1.0
    assert np.asarray(t) is t.array
    assert np.array(t, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(
    "call",
    [
        lambda t: t.to(device="cpu"),
        lambda t: t.to("cpu"),
        lambda t: t.to(),
    ],
)
def test_tensor_to_device_only_keeps_dtype(call):
    t = deepgrad.ones(2)
    assert call(t) is t
    assert call(t).dtype == np.float32


def test_tensor_to_device_and_dtype_together():
    t = deepgrad.ones(2, requires_grad=True)
    assert t.to("cpu", deepgrad.float64).dtype == np.float64
    assert t.to(device="cpu", dtype=deepgrad.float64).dtype == np.float64
    assert t.to(deepgrad.zeros(1, dtype=deepgrad.float64)).dtype == np.float64
    with pytest.raises(ValueError, match="CPU only"):
        t.to("cuda")
    with pytest.raises(TypeError, match="unexpected keyword"):
        t.to(deepgrad.float64, bogus=1)


def test_module_to_device_and_dtype():
    layer = nn.Linear(2, 3)
    assert layer.to(device="cpu").weight.dtype == np.float32
    assert layer.to("cpu", deepgrad.float64).weight.dtype == np.float64
    assert layer.to(dtype=deepgrad.float32).weight.dtype == np.float32


def test_repeated_list_index_inside_tuple_accumulates_gradient():
    x = deepgrad.ones(3, 2, requires_grad=True)
    x[[0, 0], :].sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[2, 2], [0, 0], [0, 0]])
    y = deepgrad.ones(3, 2, requires_grad=True)
    y[:, [1, 1]].sum().backward()
    np.testing.assert_array_equal(y.grad.array, [[0, 2], [0, 2], [0, 2]])


def test_empty_list_index():
    assert deepgrad.ones(3)[[]].shape == (0,)
    assert deepgrad.ones(3, 2)[[], :].shape == (0, 2)


@pytest.mark.parametrize("p", [2, 3])
def test_norm_gradient_at_zero_is_zero_not_nan(p):
    torch = pytest.importorskip("torch")
    data = np.array([[0.0, 0.0], [3.0, -4.0]])
    x = deepgrad.tensor(data, dtype=deepgrad.float64, requires_grad=True)
    x.norm(p, dim=1).sum().backward()
    xt = torch.tensor(data, requires_grad=True)
    xt.norm(p, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy())
    z = deepgrad.zeros(3, requires_grad=True)
    z.norm().backward()
    np.testing.assert_array_equal(z.grad.array, [0, 0, 0])


def test_norm_p0_counts_nonzeros():
    assert deepgrad.tensor([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]]).norm(0, dim=1).tolist() == [2.0, 0.0]


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_send_tied_gradient_to_the_returned_index(name, keepdim):
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    upstream = np.array([0.5, -1.5, 2.0])
    x = deepgrad.tensor(data, dtype=deepgrad.float64, requires_grad=True)
    values, indices = getattr(x, name)(1, keepdim)
    values.backward(deepgrad.tensor(upstream.reshape(values.shape), dtype=deepgrad.float64))
    xt = torch.tensor(data, requires_grad=True)
    values_t, indices_t = getattr(xt, name)(1, keepdim)
    values_t.backward(torch.tensor(upstream.reshape(values_t.shape)))
    np.testing.assert_array_equal(indices.array, indices_t.numpy())
    np.testing.assert_allclose(values.array, values_t.detach().numpy())
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy())


def test_max_dim_of_0d_tensor():
    values, indices = deepgrad.tensor(2.0).max(0)
    assert values.item() == 2.0 and indices.item() == 0


@pytest.mark.parametrize(
    "update",
    [
        lambda buf, w: buf.__iadd__(w),
        lambda buf, w: buf.add_(w, alpha=2),
        lambda buf, w: buf.mul_(w),
        lambda buf, w: buf.copy_(w),
        lambda buf, w: buf.__setitem__(0, w[0]),
    ],
)
def test_inplace_update_with_a_value_that_requires_grad_raises(update):
    buf = deepgrad.zeros(2)
    w = deepgrad.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad, but in-place updates are not recorded"):
        update(buf, w)
    with deepgrad.no_grad():  # outside the graph the update is fine (as optimizers and init do it)
        update(buf, w)


def test_leaf_hook_applies_in_autograd_grad():
    x = deepgrad.tensor(2.0, requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (g,) = deepgrad.autograd.grad(x * x, x)
    assert g.item() == 40.0


def test_create_graph_leaf_gradient_is_writable():
    w = deepgrad.ones(2, 3, requires_grad=True)
    w.sum().backward(create_graph=True)  # the gradient is a broadcast of the (scalar) upstream one
    assert w.grad.array.flags.writeable
    nn.utils.clip_grad_norm_([w], 0.1)
    np.testing.assert_allclose(np.linalg.norm(w.grad.array), 0.1, rtol=1e-4)


def test_wrongly_shaped_user_gradient_raises():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return deepgrad.ones(5)

    x = deepgrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"<BadBackward> returned a gradient of shape \(5,\) for an input of shape"):
        Bad.apply(x).sum().backward()
    assert x.grad is None


def test_gather_index_rank_checked():
    with pytest.raises(ValueError, match="gather: index must be an integer tensor with as many dimensions"):
        deepgrad.ones(3, 4).gather(1, deepgrad.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="gather"):
        deepgrad.ones(3, 4).gather(1, deepgrad.tensor([[0.0]]))


def test_where_and_clamp_promote_like_pytorch():
    condition = deepgrad.tensor([True, False])
    assert deepgrad.where(condition, deepgrad.tensor([1, 2]), deepgrad.tensor([1.0, 2.0])).dtype == np.float32
    assert deepgrad.tensor([0, 1, 2]).clamp(min=0.5).dtype == np.float32
    assert deepgrad.tensor([0, 1, 2]).clamp(min=1).dtype == np.int64
