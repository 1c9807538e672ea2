"""Tensor construction, dtypes, attributes and factories."""

import numpy as np
import pytest

import deepgrad as dg


def test_dtype_defaults():
    assert dg.tensor(1.5).dtype == dg.float32
    assert dg.tensor([1, 2]).dtype == dg.int64
    assert dg.tensor([True, False]).dtype == dg.bool_
    assert dg.tensor(np.zeros(3)).dtype == dg.float64  # NumPy arrays keep their dtype, as in PyTorch
    assert dg.tensor(np.float64(1.0)).dtype == dg.float64 and dg.tensor([0.5, 1.5]).dtype == dg.float32
    assert dg.tensor(np.zeros(3), dtype=dg.float64).dtype == dg.float64
    assert dg.tensor(np.zeros(3, dtype=np.uint8)).dtype == dg.uint8
    assert dg.from_numpy(np.zeros(3)).dtype == dg.float64


def test_scalars_keep_tensor_dtype():
    x = dg.ones(3)
    assert (x * 2.5).dtype == dg.float32
    assert (2.5 - x).dtype == dg.float32
    assert (x / 3).dtype == dg.float32
    assert (np.float64(2.0) * x).dtype == dg.float32
    i = dg.tensor([1, 2])
    assert (i * 2).dtype == dg.int64
    assert (i * 0.5).dtype == dg.float32
    assert (i / i).dtype == dg.float32


def test_attributes():
    x = dg.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size() == (2, 3) and x.size(1) == 3 and x.size(-1) == 3
    assert x.numel() == 6 and len(x) == 2 and x.is_leaf and x.requires_grad
    assert x.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert x[1, 2].item() == 6.0
    assert x.detach().numpy().shape == (2, 3)
    c = x.clone()
    assert c.requires_grad and not c.is_leaf and not np.shares_memory(c.array, x.array)
    y = dg.ones(2)
    assert y.requires_grad_() is y and y.requires_grad


def test_repr():
    assert repr(dg.tensor([1.0, 2.5])) == "tensor([1. , 2.5])"
    assert repr(dg.tensor(2.0, requires_grad=True)) == "tensor(2., requires_grad=True)"
    assert "grad_fn=<MulBackward0>" in repr(dg.tensor(2.0, requires_grad=True) * 2)
    assert "dtype=float64" in repr(dg.tensor(1.0, dtype=dg.float64))
    assert repr(dg.tensor([1, 2])) == "tensor([1, 2])"


def test_factories():
    assert dg.zeros(2, 3).shape == (2, 3) and dg.zeros((2, 3)).array.sum() == 0
    assert dg.ones(4).array.sum() == 4
    assert dg.full((2,), 7).dtype == dg.int64 and dg.full((2,), 7.0).dtype == dg.float32
    assert dg.zeros_like(dg.ones(2, dtype=dg.float64)).dtype == dg.float64
    assert dg.ones_like(dg.zeros(3)).array.tolist() == [1, 1, 1]
    assert dg.arange(5).tolist() == [0, 1, 2, 3, 4] and dg.arange(5).dtype == dg.int64
    assert dg.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert dg.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    np.testing.assert_array_equal(dg.eye(3).array, np.eye(3))
    assert dg.rand(3, 4).shape == (3, 4) and 0 <= dg.rand(100).array.min() and dg.rand(100).array.max() < 1
    assert dg.randn(2, 3, requires_grad=True).requires_grad
    r = dg.randint(0, 10, (1000,))
    assert r.dtype == dg.int64 and r.array.min() >= 0 and r.array.max() <= 9
    assert dg.randint(5, (3,)).shape == (3,)
    assert sorted(dg.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="high"):
        dg.randint(5, 5, (2,))


def test_manual_seed_makes_draws_reproducible():
    dg.manual_seed(123)
    a = (dg.rand(5).array, dg.randn(5).array, dg.randint(0, 100, (5,)).array)
    dg.manual_seed(123)
    b = (dg.rand(5).array, dg.randn(5).array, dg.randint(0, 100, (5,)).array)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    dg.manual_seed(124)
    assert not np.array_equal(dg.rand(5).array, a[0])


def test_comparisons_have_no_gradient():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for result in (x == 2, x != 2, x < 2, x <= 2, x > 2, x >= 2):
        assert result.dtype == dg.bool_ and not result.requires_grad
    assert (x > 1.5).tolist() == [False, True, True]
    assert (x == dg.tensor([1.0, 0.0, 3.0])).tolist() == [True, False, True]


def test_argmax_argmin_and_max_with_dim():
    x = dg.tensor([[1.0, 5.0, 3.0], [7.0, 2.0, 0.0]])
    assert x.argmax().item() == 3 and x.argmin().item() == 5
    assert x.argmax(1).tolist() == [1, 0] and x.argmin(0, keepdim=True).tolist() == [[0, 1, 1]]
    values, indices = x.max(1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.min(dim=0).values.tolist() == [1.0, 2.0, 0.0]


def test_max_ties_split_gradient_like_pytorch():
    x = dg.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5]


def test_softmax_and_logsumexp_are_stable():
    x = dg.tensor([[1000.0, 0.0, -1000.0]], requires_grad=True)
    s = x.softmax(-1)
    assert np.isfinite(s.array).all() and s.array[0, 0] == pytest.approx(1.0)
    ls = x.log_softmax(-1)
    assert np.isfinite(ls.array[0, :2]).all()
    lse = x.logsumexp(-1)
    assert lse.item() == pytest.approx(1000.0)
    lse.backward()
    assert np.isfinite(x.grad.array).all()


def test_indexing_gradients_accumulate_repeated_indices():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[dg.tensor([0, 0, 2])].sum().backward()
    assert x.grad.tolist() == [2.0, 0.0, 1.0]
    y = dg.tensor([[1.0, -2.0], [3.0, -4.0]], requires_grad=True)
    y[y > 0].sum().backward()
    assert y.grad.tolist() == [[1.0, 0.0], [1.0, 0.0]]


def test_split_chunk_unbind_shapes():
    x = dg.arange(10).float().reshape(5, 2)
    assert [p.shape for p in x.split(2)] == [(2, 2), (2, 2), (1, 2)]
    assert [p.shape for p in x.split([1, 4])] == [(1, 2), (4, 2)]
    assert [p.shape for p in x.chunk(2)] == [(3, 2), (2, 2)]
    assert len(x.unbind(1)) == 2
    with pytest.raises(ValueError, match="add up to 4"):
        x.split([1, 3])


def test_views_and_shapes():
    x = dg.arange(24).reshape(2, 3, 4)
    assert x.view(6, -1).shape == (6, 4)
    assert x.transpose(0, 2).shape == (4, 3, 2) and x.permute(1, 2, 0).shape == (3, 4, 2)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.unsqueeze(0).shape == (1, 2, 3, 4) and x.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert dg.ones(1, 3, 1).squeeze().shape == (3,) and dg.ones(1, 3, 1).squeeze(0).shape == (3, 1)
    assert dg.ones(3, 1).expand(3, 4).shape == (3, 4) and dg.ones(3, 1).expand(-1, 4).shape == (3, 4)
    assert dg.ones(2, 3).T.shape == (3, 2) and dg.ones(2, 3, 4).mT.shape == (2, 4, 3)


def test_iteration_and_conversion():
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]])
    rows = list(x)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    assert float(dg.tensor(2.5)) == 2.5 and int(dg.tensor(3)) == 3
    assert x.double().dtype == dg.float64 and x.long().dtype == dg.int64 and x.to(dg.float64).dtype == dg.float64
    assert x.to("cpu") is x


def test_cast_is_differentiable():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == dg.float64
    y.sum().backward()
    assert x.grad.dtype == dg.float32 and x.grad.tolist() == [3.0, 3.0]


def test_zero_dim_operand_takes_the_dtype_of_the_other_operand():
    x = dg.ones(3)
    assert (x * dg.tensor(2.0, dtype=dg.float64)).dtype == dg.float32
    assert (dg.tensor(2.0, dtype=dg.float64) + x).dtype == dg.float32
    assert (dg.ones(3, dtype=dg.float64) * dg.tensor(2.0)).dtype == dg.float64
    assert (dg.tensor(1.0) * dg.tensor(2.0, dtype=dg.float64)).dtype == dg.float64  # both 0-d: NumPy's rule
    w = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    (x * w).sum().backward()
    assert w.grad.dtype == dg.float64 and w.grad.item() == 3.0


def test_floor_divide_remainder_and_rounding_match_pytorch():
    torch = pytest.importorskip("torch")
    a0, b0 = np.array([-7.5, -3.0, 2.5, 7.0]), np.array([2.0, -2.0, 0.75, -3.0])
    a = dg.tensor(a0, dtype=dg.float64, requires_grad=True)
    b = dg.tensor(b0, dtype=dg.float64, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    np.testing.assert_array_equal((a // b).array, (ta // tb).detach().numpy())
    np.testing.assert_array_equal((a % b).array, (ta % tb).detach().numpy())
    (a % b).sum().backward()
    torch.remainder(ta, tb).sum().backward()
    np.testing.assert_array_equal(a.grad.array, ta.grad.numpy())
    np.testing.assert_array_equal(b.grad.array, tb.grad.numpy())
    assert (dg.tensor([7, -7]) % 3).tolist() == [1, 2] and (dg.tensor([7, -7]) // 2).tolist() == [3, -4]
    assert (7.5 % dg.tensor([2.0])).tolist() == [1.5]
    v = dg.tensor([-1.5, -0.5, 0.5, 1.5, 2.5])
    assert v.floor().tolist() == [-2, -1, 0, 1, 2] and v.ceil().tolist() == [-1, -0, 1, 2, 3]
    assert v.round().tolist() == torch.tensor(v.array).round().tolist() and v.trunc().tolist() == [-1, -0, 0, 1, 2]


def test_split_of_an_empty_dimension_gives_one_empty_piece():
    pieces = dg.zeros(0, 3).split(2)
    assert len(pieces) == 1 and pieces[0].shape == (0, 3)


def test_hooks_may_change_a_broadcast_gradient_in_place():
    x = dg.ones(2, 3, requires_grad=True)
    y = x * 1.0

    def double_in_place(g):
        g.array *= 2
        return g

    y.register_hook(double_in_place)
    y.sum().backward()
    assert x.grad.tolist() == [[2.0] * 3] * 2


def test_data_is_a_tensor_sharing_memory_as_in_pytorch():
    p = dg.tensor([1.0, 2.0], requires_grad=True)
    p.grad = dg.tensor([0.5, 0.5])
    d = p.data
    assert isinstance(d, dg.Tensor) and not d.requires_grad and d.grad_fn is None
    p.data -= 2.0 * p.grad  # the classic manual SGD step
    assert p.tolist() == [0.0, 1.0] and p.requires_grad
    p.data.zero_()
    assert p.tolist() == [0.0, 0.0]
    assert p.data.norm().item() == 0.0
    p.data = dg.tensor([3.0, 4.0])
    assert p.tolist() == [3.0, 4.0] and p.requires_grad


def test_np_array_of_tensor_is_a_copy_and_asarray_shares():
    t = dg.tensor([1.0, 2.0])
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
    t = dg.ones(2)
    assert call(t) is t
    assert call(t).dtype == np.float32


def test_tensor_to_device_and_dtype_together():
    t = dg.ones(2, requires_grad=True)
    assert t.to("cpu", dg.float64).dtype == np.float64
    assert t.to(device="cpu", dtype=dg.float64).dtype == np.float64
    assert t.to(dg.zeros(1, dtype=dg.float64)).dtype == np.float64
    with pytest.raises(ValueError, match="CPU only"):
        t.to("cuda")
    with pytest.raises(TypeError, match="unexpected keyword"):
        t.to(dg.float64, bogus=1)


def test_repeated_list_index_inside_tuple_accumulates_gradient():
    x = dg.ones(3, 2, requires_grad=True)
    x[[0, 0], :].sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[2, 2], [0, 0], [0, 0]])
    y = dg.ones(3, 2, requires_grad=True)
    y[:, [1, 1]].sum().backward()
    np.testing.assert_array_equal(y.grad.array, [[0, 2], [0, 2], [0, 2]])


def test_empty_list_index():
    assert dg.ones(3)[[]].shape == (0,)
    assert dg.ones(3, 2)[[], :].shape == (0, 2)


@pytest.mark.parametrize("p", [2, 3])
def test_norm_gradient_at_zero_is_zero_not_nan(p):
    torch = pytest.importorskip("torch")
    data = np.array([[0.0, 0.0], [3.0, -4.0]])
    x = dg.tensor(data, dtype=dg.float64, requires_grad=True)
    x.norm(p, dim=1).sum().backward()
    xt = torch.tensor(data, requires_grad=True)
    xt.norm(p, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy())
    z = dg.zeros(3, requires_grad=True)
    z.norm().backward()
    np.testing.assert_array_equal(z.grad.array, [0, 0, 0])


def test_norm_p0_counts_nonzeros():
    assert dg.tensor([[0.0, 1.0, -2.0], [0.0, 0.0, 0.0]]).norm(0, dim=1).tolist() == [2.0, 0.0]


@pytest.mark.parametrize("name", ["max", "min"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_send_tied_gradient_to_the_returned_index(name, keepdim):
    torch = pytest.importorskip("torch")
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    upstream = np.array([0.5, -1.5, 2.0])
    x = dg.tensor(data, dtype=dg.float64, requires_grad=True)
    values, indices = getattr(x, name)(1, keepdim)
    values.backward(dg.tensor(upstream.reshape(values.shape), dtype=dg.float64))
    xt = torch.tensor(data, requires_grad=True)
    values_t, indices_t = getattr(xt, name)(1, keepdim)
    values_t.backward(torch.tensor(upstream.reshape(values_t.shape)))
    np.testing.assert_array_equal(indices.array, indices_t.numpy())
    np.testing.assert_allclose(values.array, values_t.detach().numpy())
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy())


def test_max_dim_of_0d_tensor():
    values, indices = dg.tensor(2.0).max(0)
    assert values.item() == 2.0 and indices.item() == 0


INPLACE_UPDATES = {
    "iadd": lambda buf, w: buf.__iadd__(w),
    "add_ alpha": lambda buf, w: buf.add_(w, alpha=2),
    "sub_ alpha": lambda buf, w: buf.sub_(w * w, alpha=0.5),
    "mul_": lambda buf, w: buf.mul_(w),
    "div_": lambda buf, w: buf.__itruediv__(w + 3),
    "copy_": lambda buf, w: buf.copy_(w),
    "copy_ broadcast": lambda buf, w: buf.copy_(w[1]),
    "fill_ tensor": lambda buf, w: buf.fill_(w[0]),
    "setitem": lambda buf, w: buf.__setitem__(0, w[0] * 3),
    "setitem slice": lambda buf, w: buf.__setitem__(slice(0, 2), w * w),
    "setitem fancy": lambda buf, w: buf.__setitem__(np.array([1, 0]), w * w),
}


@pytest.mark.parametrize("update", INPLACE_UPDATES.values(), ids=INPLACE_UPDATES.keys())
def test_inplace_update_with_a_value_that_requires_grad_is_recorded_as_torch(update):
    """A buffer that needs no gradient, updated in place with values that do, joins the graph: the gradient
    reaches the values (as PyTorch's in-place ops and CopySlices send it)."""
    torch = pytest.importorskip("torch")
    results = []
    for module in (dg, torch):
        buf = module.tensor([0.5, -1.0], dtype=module.float64)
        w = module.tensor([2.0, 3.0], dtype=module.float64, requires_grad=True)
        update(buf, w)
        assert buf.requires_grad
        (buf * buf * module.tensor([1.0, 10.0], dtype=module.float64)).sum().backward()
        results.append((np.asarray(buf.detach()), np.asarray(w.grad)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


@pytest.mark.parametrize("update", INPLACE_UPDATES.values(), ids=INPLACE_UPDATES.keys())
def test_inplace_update_outside_the_graph_records_nothing(update):
    buf, w = dg.zeros(2), dg.ones(2, requires_grad=True)
    with dg.no_grad():  # as optimizers and init do it
        update(buf, w)
    assert not buf.requires_grad and buf.grad_fn is None and buf._version >= 1


def test_inplace_update_of_a_graph_tensor_keeps_earlier_uses_on_the_old_value():
    """y = x * 3 reads x before x += 1: its gradient still reaches x's old creator (the node's parents were
    taken when it was recorded), and z = x * x sees the new x; the values and gradients match PyTorch's."""
    torch = pytest.importorskip("torch")
    grads = []
    for module in (dg, torch):
        w = module.tensor([1.0, -2.0, 3.0], dtype=module.float64, requires_grad=True)
        x = w * 2
        y = x * 3
        x += 1
        x.mul_(w)  # mul_ by a tensor that requires grad: its node keeps x's value before the update
        x.relu_()
        z = x * x
        assert repr(x.grad_fn).startswith("<ReluBackward0")
        (y.sum() + z.sum()).backward()
        grads.append(np.asarray(w.grad))
    np.testing.assert_allclose(grads[0], grads[1], rtol=1e-12)


def test_inplace_update_of_a_value_a_node_saved_is_caught_at_backward():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    y = w.exp()
    y.add_(1)  # exp's backward reads its output
    with pytest.raises(RuntimeError, match=r"the output of <ExpBackward0>.*is at version 1, expected version 0"):
        y.sum().backward()
    x = w * 1
    z = x * w  # reads x for w's gradient
    x.mul_(2)
    with pytest.raises(RuntimeError, match=r"modified by an in-place operation: input 0 of <MulBackward0>"):
        z.sum().backward()


def test_inplace_update_refusals_name_the_reason():
    leaf = dg.ones(2, requires_grad=True)
    with pytest.raises(
        RuntimeError, match=r"add_: in-place update of a leaf tensor that requires grad \(shape \(2,\)\)"
    ):
        leaf.add_(1)
    with pytest.raises(RuntimeError, match=r"mul_: in-place update of a view \(shape \(\)\) of a leaf tensor that"):
        leaf[0].mul_(2)
    expanded = (leaf * 1).expand(3, 2)
    with pytest.raises(RuntimeError, match=r"add_: in-place update of an expanded tensor \(shape \(3, 2\)\)"):
        expanded.add_(1)
    buf = dg.zeros(3)
    with pytest.raises(IndexError, match=r"selects some positions .* more than once"):
        buf[np.array([0, 0])] = leaf
    assert buf.grad_fn is None and buf._version == 0 and not buf.requires_grad  # left as it was


VIEW_PROGRAMS = {
    # x[i] += y: Python's getitem, iadd on the view, setitem
    "index iadd": lambda m, w: _updated(m, w, lambda x: x.__setitem__(slice(1, None), _iadd(x[1:], w[:2] * 10))),
    # a view taken before the owner's update, used after it
    "view before owner update": lambda m, w: _view_then_owner(m, w),
    # an update through a transposed view of a matrix, then the matrix used
    "permuted view update": lambda m, w: _permuted(m, w),
    # a view of a view: the update reaches the owner
    "view of a view": lambda m, w: _nested(m, w),
    # an RNN-style buffer: each step reads the previous row (a view) and writes the next
    "rows of a buffer": lambda m, w: _rows(m, w),
}


def _iadd(view, value):
    view += value
    return view


def _updated(module, w, update):
    x = w * 1
    update(x)
    return (x * x * w).sum()


def _view_then_owner(module, w):
    x = w * 1
    column = x.reshape(3, 1)
    x.mul_(w)
    return (column * column).sum() + x.sum()


def _permuted(module, w):
    m = (w.reshape(3, 1) * w.reshape(1, 3)) * 1
    m.permute(1, 0)[0].mul_(w)  # column 0 of m, in place
    return (m * m).sum()


def _nested(module, w):
    m = w.reshape(1, 3) * module.ones(2, 1, dtype=module.float64)
    m[1][1:].add_(w[:2])
    return (m * m * 3).sum()


def _rows(module, w):
    buffer = module.zeros(4, 3, dtype=module.float64)
    buffer[0] = w
    for t in range(1, 4):
        previous = buffer[t - 1]
        buffer[t] = (previous + w).tanh() * 2 + previous  # (previous * w would save a view the next row changes)
    return (buffer * buffer).sum()


@pytest.mark.parametrize("program", VIEW_PROGRAMS.values(), ids=VIEW_PROGRAMS.keys())
def test_inplace_updates_through_views_match_torch(program):
    """In-place updates of views and of tensors with views, in the graph: PyTorch rewrites the owner's history
    (CopySlices) and takes the other views again; the values and gradients are the same here."""
    torch = pytest.importorskip("torch")
    results = []
    for module in (dg, torch):
        w = module.tensor([0.5, -1.5, 2.0], dtype=module.float64, requires_grad=True)
        loss = program(module, w)
        loss.backward()
        results.append((float(loss.item()), np.asarray(w.grad)))
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


def test_where_and_clamp_promote_like_pytorch():
    condition = dg.tensor([True, False])
    assert dg.where(condition, dg.tensor([1, 2]), dg.tensor([1.0, 2.0])).dtype == np.float32
    assert dg.tensor([0, 1, 2]).clamp(min=0.5).dtype == np.float32
    assert dg.tensor([0, 1, 2]).clamp(min=1).dtype == np.int64


def test_log1p_is_exact_near_zero():
    # (1 + x).log() rounds 1 + x first: 1.0000000827e-10 at x = 1e-10
    x = dg.tensor([1e-10, -1e-12, 3.0], dtype=dg.float64, requires_grad=True)
    y = x.log1p()
    np.testing.assert_allclose(y.array, np.log1p(x.array), rtol=1e-15, atol=0)
    assert y.array[0] == pytest.approx(1e-10 - 0.5e-20, rel=1e-15)  # x - x^2/2
    assert (1 + x).log().array[0] == pytest.approx(1.0000000827e-10, rel=1e-9)  # the composite was 8e-9 off
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, 1 / (1 + x.array), rtol=1e-15)
    assert dg.log1p(dg.tensor([1e-7])).dtype == dg.float32


def test_log1p_second_derivative_records_through_dispatch():
    x = dg.tensor(0.5, dtype=dg.float64, requires_grad=True)
    (dx,) = dg.autograd.grad(np.log1p(x * 1.0), x, create_graph=True)
    (d2x,) = dg.autograd.grad(dx, x)
    assert d2x.item() == pytest.approx(-1 / 1.5**2, rel=1e-14)


def test_numpy_functions_on_tensors_are_recorded():
    x = dg.tensor([[1.0, -2.0], [3.0, 0.5]], dtype=dg.float64, requires_grad=True)
    out = np.concatenate([np.where(np.array([[True], [False]]), 2.0, x), np.subtract(1.0, x)], axis=0)
    assert isinstance(out, dg.Tensor) and out.shape == (4, 2)
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[-1.0, -1.0], [0.0, 0.0]])


def test_step_functions_send_zero_gradients_as_torch():
    """sign, floor, ceil, round: in the graph (PyTorch records them, with gradient 0), constants outside it."""
    x = dg.tensor([-1.5, 0.5, 2.5], requires_grad=True)
    for name, expected in [("sign", [-1, 1, 1]), ("floor", [-2, 0, 2]), ("ceil", [-1, 1, 3]), ("round", [-2, 0, 2])]:
        out = getattr(x, name)()
        assert out.requires_grad and out.tolist() == expected
        assert repr(out.grad_fn) == f"<{name.capitalize()}Backward0>"
        x.grad = None
        (out * 3).sum().backward()
        assert x.grad.tolist() == [0.0, 0.0, 0.0]
        with dg.no_grad():
            assert not getattr(x, name)().requires_grad


def test_gradient_through_one_element_of_a_vector():
    """NumPy's operators on 0-d arrays return scalars; the engine turns the gradients back into 0-d arrays
    (this backward used to fail in GetItem's scatter)."""
    w = dg.tensor([2.0, 3.0], dtype=dg.float64, requires_grad=True)
    y = w[0] * 3
    (y * y).backward()
    np.testing.assert_array_equal(w.grad.array, [36.0, 0.0])


def test_second_derivative_through_in_place_updates_matches_torch():
    torch = pytest.importorskip("torch")
    results = []
    for module in (dg, torch):
        w = module.tensor([0.5, -1.5, 2.0], dtype=module.float64, requires_grad=True)
        x = w * w
        x.mul_(w)
        x[1:] += w[:2] ** 2
        (grad,) = module.autograd.grad((x * x).sum(), w, create_graph=True)
        grad.sum().backward()
        results.append((np.asarray(grad.detach()), np.asarray(w.grad)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-12)


IN_PLACE_FORMS = {
    "exp_": lambda x, w, m: x.exp_(),
    "log_": lambda x, w, m: x.log_(),
    "sqrt_": lambda x, w, m: x.sqrt_(),
    "rsqrt_": lambda x, w, m: x.rsqrt_(),
    "neg_": lambda x, w, m: x.neg_(),
    "abs_": lambda x, w, m: x.abs_(),
    "sigmoid_": lambda x, w, m: x.sigmoid_(),
    "tanh_": lambda x, w, m: x.tanh_(),
    "sin_": lambda x, w, m: x.sin_(),
    "cos_": lambda x, w, m: x.cos_(),
    "reciprocal_": lambda x, w, m: x.reciprocal_(),
    "square_": lambda x, w, m: x.square_(),
    "log1p_": lambda x, w, m: x.log1p_(),
    "erf_": lambda x, w, m: x.erf_(),
    "pow_ number": lambda x, w, m: x.pow_(3),
    "pow_ tensor": lambda x, w, m: x.pow_(w),
    "ipow": lambda x, w, m: x.__ipow__(2),
    "clamp_min_": lambda x, w, m: x.clamp_min_(1.2),
    "clamp_max_": lambda x, w, m: x.clamp_max_(1.2),
    "clip_": lambda x, w, m: x.clip_(0.8, 1.6),
    "masked_fill_": lambda x, w, m: x.masked_fill_(m.tensor([True, False, True]), -1.0),
    "lerp_ number": lambda x, w, m: x.lerp_(w * w, 0.25),
    "lerp_ tensor": lambda x, w, m: x.lerp_(w * w, w / 4),
    "addcmul_": lambda x, w, m: x.addcmul_(w, w + 1, value=0.5),
    "addcdiv_": lambda x, w, m: x.addcdiv_(w, w + 1, value=-2),
    "floor_": lambda x, w, m: x.floor_(),
    "ceil_": lambda x, w, m: x.ceil_(),
    "trunc_": lambda x, w, m: x.trunc_(),
    "round_": lambda x, w, m: x.round_(),
    "sign_": lambda x, w, m: x.sign_(),
}


@pytest.mark.parametrize("update", IN_PLACE_FORMS.values(), ids=IN_PLACE_FORMS.keys())
def test_in_place_forms_of_the_math_methods_match_torch(update):
    """x.<op>_(...) is x.<op>(...) written into x: the same values and gradients as PyTorch's, in the graph
    (x a result, arguments that require grad) and outside it (the same values, no graph)."""
    torch = pytest.importorskip("torch")
    results = []
    for module in (dg, torch):
        w = module.tensor([0.6, 1.3, 2.1], dtype=module.float64, requires_grad=True)
        x = w * 1.5
        assert update(x, w, module) is x and x._version >= 1
        (x * module.tensor([1.0, -2.0, 3.0], dtype=module.float64)).sum().backward()
        with module.no_grad():
            y = module.tensor([0.6, 1.3, 2.1], dtype=module.float64) * 1.5
            update(y, w, module)
        results.append((np.asarray(x.detach()), np.asarray(w.grad), np.asarray(y)))
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)
    assert y.grad_fn is None and not y.requires_grad


def test_in_place_form_of_a_float_result_into_an_integer_tensor_is_refused():
    counts = dg.tensor([1, 4, 9])
    with pytest.raises(TypeError, match=r"sqrt_: the result \(float\d+\) cannot be written into this int64 tensor"):
        counts.sqrt_()
    assert counts.tolist() == [1, 4, 9]


def test_module_functions_lerp_addcmul_addcdiv_clamp_min_max():
    torch = pytest.importorskip("torch")
    a, b, c = (np.array(v) for v in ([1.0, -2.0, 3.0], [0.5, 4.0, -1.0], [2.0, 3.0, 4.0]))
    for name, args, kwargs in [
        ("lerp", (a, b, 0.3), {}),
        ("addcmul", (a, b, c), {"value": 0.5}),
        ("addcdiv", (a, b, c), {"value": -2.0}),
        ("clamp_min", (a, 0.0), {}),
        ("clamp_max", (a, 0.0), {}),
    ]:
        ours = getattr(dg, name)(
            *[dg.tensor(v, dtype=dg.float64) if isinstance(v, np.ndarray) else v for v in args], **kwargs
        )
        theirs = getattr(torch, name)(*[torch.tensor(v) if isinstance(v, np.ndarray) else v for v in args], **kwargs)
        np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-12, err_msg=name)


def test_sort_argsort_topk_median_indices_match_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[3.0, -1.0, 2.0, 2.0, 0.5], [1.0, 4.0, -2.0, 0.0, 4.0]])
    x, xt = dg.tensor(data), torch.tensor(data)
    for ours, theirs in [
        (x.sort(1, stable=True), xt.sort(dim=1, stable=True)),
        (x.sort(0, descending=True), xt.sort(0, descending=True)),
    ]:
        np.testing.assert_array_equal(ours.values.array, theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.array, theirs.indices.numpy())
    np.testing.assert_array_equal(x.argsort(1, stable=True).array, xt.argsort(dim=1, stable=True).numpy())
    np.testing.assert_array_equal(dg.argsort(x, 0).array, torch.argsort(xt, dim=0, stable=True).numpy())
    distinct = dg.tensor([[0.3, 2.0, -1.0, 5.0], [7.0, 1.0, 0.0, -3.0]])
    theirs = torch.tensor(distinct.array).topk(2)
    ours = distinct.topk(2)
    np.testing.assert_array_equal(ours.indices.array, theirs.indices.numpy())
    assert ours.indices.dtype == dg.int64 and ours.values.shape == (2, 2)
    median = distinct.median(1)
    np.testing.assert_array_equal(median.indices.array, torch.tensor(distinct.array).median(1).indices.numpy())
    with pytest.raises(IndexError, match=r"topk: k = 5 is out of range for dimension -1 of size 4 \(shape \(2, 4\)\)"):
        distinct.topk(5)


def test_utilities_match_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[0.0, 1.5, -2.0], [np.inf, 0.0, np.nan]])
    x, xt = dg.tensor(data), torch.tensor(data)
    np.testing.assert_array_equal(x.nonzero().array, xt.nonzero().numpy())
    for ours, theirs in zip(x.nonzero(as_tuple=True), xt.nonzero(as_tuple=True)):
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    for name in ["isnan", "isinf", "isfinite"]:
        np.testing.assert_array_equal(getattr(dg, name)(x).array, getattr(torch, name)(xt).numpy())
    assert dg.any(dg.tensor([0, 1])).item() and not dg.all(dg.tensor([0, 1])).item()
    assert dg.allclose(dg.tensor([1.0, 2.0]), dg.tensor([1.0, 2.0 + 1e-9])) and dg.equal(x[0], x[0].clone())
    a, b = dg.tensor([1.0, 2.0]), dg.tensor([3.0, 4.0])
    assert dg.hstack([a, b]).tolist() == [1.0, 2.0, 3.0, 4.0]
    assert dg.vstack([a, b]).tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert dg.hstack([a.reshape(2, 1), b.reshape(2, 1)]).shape == (2, 2)
    for indexing in ("ij", "xy"):
        ours = dg.meshgrid(dg.tensor([1, 2, 3]), dg.tensor([4, 5]), indexing=indexing)
        theirs = torch.meshgrid(torch.tensor([1, 2, 3]), torch.tensor([4, 5]), indexing=indexing)
        for o, t in zip(ours, theirs):
            np.testing.assert_array_equal(o.array, t.numpy())
    y = dg.tensor(np.arange(12.0).reshape(3, 4))
    yt = torch.tensor(np.arange(12.0).reshape(3, 4))
    for ours, theirs in zip(dg.std_mean(y, 1), torch.std_mean(yt, 1)):
        np.testing.assert_allclose(ours.array, theirs.numpy())
    for ours, theirs in zip(dg.var_mean(y, 0, keepdim=True), torch.var_mean(yt, 0, keepdim=True)):
        np.testing.assert_allclose(ours.array, theirs.numpy())
    assert y.stride() == yt.stride() and y.T.stride() == yt.T.stride() and y.stride(1) == 1
    assert y.is_contiguous() and not y.T.is_contiguous() and not yt.T.is_contiguous()
    assert y.element_size() == yt.element_size() == 8 and y.nelement() == 12 and y.get_device() == -1
    assert y.swapaxes(0, 1).shape == (4, 3) and dg.t(y).shape == (4, 3)
    with dg.inference_mode():
        assert not (dg.ones(2, requires_grad=True) * 2).requires_grad

    @dg.inference_mode()
    def predict(v):
        return v * 2

    assert not predict(dg.ones(2, requires_grad=True)).requires_grad


def test_einsum_errors_name_the_subscripts():
    a = dg.ones(2, 3)
    with pytest.raises(ValueError, match=r"einsum: 'ij,jk->ik' has subscripts for 2 operands, 1 were given"):
        dg.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match=r"einsum: operand 0 has 2 dimensions, subscripts 'ijk'"):
        dg.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"einsum: 'i' repeats within operand 0 \('ii'\), a diagonal"):
        dg.einsum("ii->i", dg.ones(3, 3))
    assert dg.einsum("ij,jk", [a, dg.ones(3, 4)]).shape == (2, 4)  # operands as one list, implicit output


def test_unique_bincount_count_nonzero_logspace_match_torch():
    torch = pytest.importorskip("torch")
    data = np.array([[3, 1, 3], [0, 1, 7]])
    x, xt = dg.tensor(data), torch.tensor(data)
    for ours, theirs in zip(
        x.unique(return_inverse=True, return_counts=True), xt.unique(return_inverse=True, return_counts=True)
    ):
        np.testing.assert_array_equal(ours.array, theirs.numpy())
    np.testing.assert_array_equal(dg.unique(x, dim=0).array, torch.unique(xt, dim=0).numpy())
    np.testing.assert_array_equal(dg.unique(x).array, torch.unique(xt).numpy())
    counts = dg.tensor([1, 4, 1, 0])
    np.testing.assert_array_equal(dg.bincount(counts).array, torch.bincount(torch.tensor([1, 4, 1, 0])).numpy())
    weights = np.array([0.5, 1.0, 2.0, 0.25])
    np.testing.assert_allclose(
        dg.bincount(counts, dg.tensor(weights), minlength=7).array,
        torch.bincount(torch.tensor([1, 4, 1, 0]), torch.tensor(weights), minlength=7).numpy(),
    )
    with pytest.raises(ValueError, match=r"bincount: expected a 1-D tensor of non-negative integers"):
        dg.bincount(dg.tensor([1, -1]))
    np.testing.assert_array_equal(dg.count_nonzero(x, 1).array, torch.count_nonzero(xt, 1).numpy())
    assert dg.count_nonzero(x).item() == 5
    np.testing.assert_allclose(dg.logspace(0, 3, 4, base=2).array, torch.logspace(0, 3, 4, base=2).numpy())


def test_random_draws_follow_the_seed_and_their_distributions():
    dg.manual_seed(3)
    first = (dg.bernoulli(dg.full((4000,), 0.3)), dg.multinomial(dg.tensor([1.0, 3.0]), 4000, replacement=True))
    dg.manual_seed(3)
    again = (dg.bernoulli(dg.full((4000,), 0.3)), dg.multinomial(dg.tensor([1.0, 3.0]), 4000, replacement=True))
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a.array, b.array)
    assert first[0].dtype == dg.float32 and abs(first[0].mean().item() - 0.3) < 0.03
    assert first[1].dtype == dg.int64 and abs(first[1].float().mean().item() - 0.75) < 0.03
    picks = dg.multinomial(dg.tensor([[0.0, 1.0, 1.0, 1.0]]), 3)  # without replacement: each once
    assert sorted(picks[0].tolist()) == [1, 2, 3]
    with pytest.raises(RuntimeError, match=r"multinomial: row 0 has 3 categories with non-zero weight, 4 samples"):
        dg.multinomial(dg.tensor([0.0, 1.0, 1.0, 1.0]), 4)
    drawn = dg.normal(dg.full((20000,), 2.0), dg.full((20000,), 0.5))
    assert abs(drawn.mean().item() - 2.0) < 0.02 and abs(drawn.std().item() - 0.5) < 0.02
    assert dg.normal(0.0, 1.0, (2, 3)).shape == (2, 3)
    filled = dg.empty(10000)
    assert abs(filled.exponential_(4.0).mean().item() - 0.25) < 0.02
    assert set(filled.random_(3).tolist()) == {0.0, 1.0, 2.0}
    assert set(filled.random_(5, 7).tolist()) == {5.0, 6.0}
    assert abs(filled.bernoulli_(0.8).mean().item() - 0.8) < 0.02 and filled._version == 4
    assert dg.randint_like(dg.zeros(3, dtype=dg.int64), 2, 4).dtype == dg.int64
