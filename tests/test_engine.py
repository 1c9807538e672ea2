"""The backward engine: accumulation, graph shapes, retain/create graph, hooks, modes, in-place checks."""

import sys

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.autograd import grad


def test_reused_value_sums_gradients():
    a = dg.tensor(3.0, requires_grad=True)
    b = a + a
    b.backward()
    assert a.grad.item() == 2.0
    c = dg.tensor([1.0, 2.0], requires_grad=True)
    (c * c * c).sum().backward()
    np.testing.assert_allclose(c.grad.array, [3.0, 12.0])


def test_diamond():
    x = dg.tensor(2.0, requires_grad=True)
    left = x * 3
    right = x.exp()
    out = left * right  # d/dx (3x e^x) = 3 e^x + 3x e^x
    out.backward()
    assert x.grad.item() == pytest.approx(3 * np.exp(2) + 6 * np.exp(2), rel=1e-6)


def test_deep_chain_has_no_recursion_limit():
    depth = 10_000
    assert depth > sys.getrecursionlimit()
    x = dg.tensor(1.0, dtype=dg.float64, requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001**depth, rel=1e-9)
    del y  # freeing a 10,000-deep graph must not overflow the C stack either


def test_grad_accumulates_across_backward_calls_and_zeroing():
    w = dg.tensor([1.0, -2.0], requires_grad=True)
    (w * 3).sum().backward()
    (w * 3).sum().backward()
    np.testing.assert_allclose(w.grad.array, [6.0, 6.0])
    w.grad = None
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.array, [2.0, -4.0])


def test_leaf_grads_never_alias():
    a = dg.tensor([1.0, 2.0], requires_grad=True)
    b = dg.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()
    assert not np.shares_memory(a.grad.array, b.grad.array)
    c = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    d = dg.tensor([1.0, 1.0, 1.0, 1.0], requires_grad=True)
    (c.reshape(4) + d).sum().backward()
    assert not np.shares_memory(c.grad.array, d.grad.array)
    c.grad.array *= 10  # in-place change of one .grad leaves the other alone
    np.testing.assert_allclose(d.grad.array, 1.0)


def test_broadcasting_gradients_are_summed_to_input_shape():
    a = dg.randn(4, 1, 3, requires_grad=True)
    b = dg.randn(2, 1, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.shape == (4, 1, 3) and b.grad.shape == (2, 1)
    np.testing.assert_allclose(a.grad.array, np.broadcast_to(b.array.sum(), (4, 1, 3)), rtol=1e-6)
    np.testing.assert_allclose(b.grad.array, np.full((2, 1), a.array.sum()), rtol=1e-5)


def test_no_grad_and_enable_grad():
    x = dg.tensor(1.0, requires_grad=True)
    with dg.no_grad():
        y = x * 2
        assert not dg.is_grad_enabled()
        with dg.enable_grad():
            z = x * 2
    assert dg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert z.requires_grad

    @dg.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad

    @dg.enable_grad()
    def recorded(t):
        return t * 2

    with dg.no_grad():
        assert recorded(x).requires_grad
        assert not dg.is_grad_enabled()
    with dg.set_grad_enabled(False):
        assert not (x * 1).requires_grad


def test_requires_grad_propagation_and_leaves():
    a = dg.tensor(1.0, requires_grad=True)
    b = dg.tensor(2.0)
    c = a * b
    assert c.requires_grad and not c.is_leaf and a.is_leaf and b.is_leaf
    assert not (b * b).requires_grad
    d = c.detach()
    assert d.is_leaf and not d.requires_grad and np.shares_memory(d.array, c.array)


def test_second_backward_without_retain_graph_explains_what_to_do():
    x = dg.tensor(2.0, requires_grad=True)
    y = x.exp() * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_second_backward():
    x = dg.tensor(2.0, requires_grad=True)
    y = x.exp() * x
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert x.grad.item() == pytest.approx(2 * first)


def test_graph_values_are_freed_after_backward():
    x = dg.randn(3, requires_grad=True)
    y = (x * 2).exp()
    node = y.grad_fn
    y.sum().backward()
    assert node.inputs is None


def test_hooks_see_and_replace_gradients():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    seen = []
    y.register_hook(lambda g: seen.append(g.array.copy()))
    remove = x.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    np.testing.assert_allclose(seen[0], [6.0, 12.0])  # d(y^2)/dy = 2y
    np.testing.assert_allclose(x.grad.array, [180.0, 360.0])  # 2y * 3, times 10 by the hook
    remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 3.0])


def test_retain_grad_on_intermediate():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.retain_grad()
    z = (y * 2).sum()
    z.backward()
    np.testing.assert_allclose(y.grad.array, [2.0, 2.0])
    assert z.grad is None  # not retained


def test_double_backward_of_cube():
    x = dg.tensor(3.0, dtype=dg.float64, requires_grad=True)
    (dx,) = grad(x**3, x, create_graph=True)
    assert dx.item() == pytest.approx(27.0)
    (d2x,) = grad(dx, x, create_graph=True)
    assert d2x.item() == pytest.approx(18.0)
    (d3x,) = grad(d2x, x)
    assert d3x.item() == pytest.approx(6.0)


def test_backward_create_graph_then_backward_through_grad():
    x = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    y = x**3
    y.backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.grad = None
    first.backward()
    assert x.grad.item() == pytest.approx(12.0)


def test_hessian_vector_product_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    w0, v0 = rng.standard_normal(5), rng.standard_normal(5)
    a0 = rng.standard_normal((5, 5))

    def loss_dg(w):
        return ((dg.tensor(a0, dtype=dg.float64) @ w).tanh() ** 2).sum() + (w.exp() * w).sum()

    def loss_torch(w):
        return ((torch.tensor(a0) @ w).tanh() ** 2).sum() + (w.exp() * w).sum()

    w = dg.tensor(w0, dtype=dg.float64, requires_grad=True)
    (g,) = grad(loss_dg(w), w, create_graph=True)
    (hv,) = grad((g * dg.tensor(v0, dtype=dg.float64)).sum(), w)

    wt = torch.tensor(w0, requires_grad=True)
    (gt,) = torch.autograd.grad(loss_torch(wt), wt, create_graph=True)
    (hvt,) = torch.autograd.grad((gt * torch.tensor(v0)).sum(), wt)
    np.testing.assert_allclose(hv.array, hvt.numpy(), rtol=1e-10, atol=1e-12)


def test_autograd_grad_leaves_dot_grad_untouched_and_handles_unused():
    x = dg.tensor(1.0, requires_grad=True)
    unused = dg.tensor(1.0, requires_grad=True)
    (gx,) = grad(x * 5, x)
    assert gx.item() == 5.0 and x.grad is None
    with pytest.raises(RuntimeError, match="allow_unused"):
        grad(x * 5, [x, unused])
    gx, gu = grad(x * 5, [x, unused], allow_unused=True)
    assert gu is None


def test_grad_with_respect_to_intermediate():
    x = dg.tensor(2.0, requires_grad=True)
    h = x * x
    y = h * 3
    (gh,) = grad(y, h)
    assert gh.item() == 3.0


def test_inplace_update_of_leaf_under_no_grad_works_and_is_rejected_otherwise():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    with dg.no_grad():
        w.sub_(dg.tensor([0.5, 0.5]))
        w -= 0.5
    np.testing.assert_allclose(w.array, [0.0, 1.0])
    with pytest.raises(RuntimeError, match="no_grad"):
        w.add_(1.0)


def test_inplace_change_of_saved_value_is_detected_and_names_the_op():
    w = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    with dg.no_grad():
        w.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"MulBackward.*version 1, expected version 0"):
        y.backward()


def test_custom_function_pytorch_style():
    class Cube(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return grad_output * 3 * x**2

    x = dg.tensor([1.0, 2.0], dtype=dg.float64, requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn is not None and "Cube" in repr(y.grad_fn)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, [3.0, 12.0])
    assert dg.autograd.gradcheck(Cube.apply, (dg.randn(3, dtype=dg.float64, requires_grad=True),))
    # second derivatives flow through the user's backward
    x2 = dg.tensor(2.0, dtype=dg.float64, requires_grad=True)
    (g,) = grad(Cube.apply(x2), x2, create_graph=True)
    (h,) = grad(g, x2)
    assert h.item() == pytest.approx(12.0)


def test_custom_function_with_non_tensor_argument():
    class Scale(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x, factor):
            ctx.factor = factor
            return x * factor

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.factor, None

    x = dg.tensor([1.0, 2.0], requires_grad=True)
    Scale.apply(x, 4.0).sum().backward()
    np.testing.assert_allclose(x.grad.array, [4.0, 4.0])


def test_multiple_roots_backward():
    x = dg.tensor(2.0, requires_grad=True)
    dg.autograd.backward([x * 2, x * x], [dg.tensor(1.0), dg.tensor(1.0)])
    assert x.grad.item() == 6.0


def test_inplace_change_of_an_input_that_backward_does_not_read_is_fine():
    x = dg.tensor([1.0, 2.0])
    w = dg.tensor([3.0, 4.0], requires_grad=True)
    y = (x + w).sum()  # add's backward needs no input values (as in PyTorch)
    with dg.no_grad():
        x.add_(1.0)
    y.backward()
    assert w.grad.tolist() == [1.0, 1.0]


def test_inplace_change_of_a_saved_output_is_detected():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # exp's backward reads its output
    s = y.sum()
    with dg.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match=r"the output of <ExpBackward0>.*version 1, expected version 0"):
        s.backward()


def test_inplace_change_through_a_detached_alias_is_detected():
    x = dg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with dg.no_grad():
        x.detach().mul_(0.0)  # same memory as x
    with pytest.raises(RuntimeError, match=r"input 0 of <MulBackward0>"):
        y.backward()


def test_views_share_the_version_counter_with_their_source():
    x = dg.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (x * x).sum()
    with dg.no_grad():
        x.view(4)[0] = 10.0  # changes x's memory through a view
    with pytest.raises(RuntimeError, match=r"input 0 of <MulBackward0>"):
        y.backward()

    a = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = a * 1.0
    c = b.reshape(3, 1)  # a view of b's memory
    d = (c * c).sum()  # mul's backward reads c
    with dg.no_grad():
        b.mul_(2.0)  # b changed: c (same memory) is stale
    assert c._version == b._version == 1
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        d.backward()


def test_copies_do_not_share_the_version_counter():
    x = dg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = (x[[0, 2]] * 2).sum()  # advanced indexing copies
    picked = x.detach()[[0, 1]]
    with dg.no_grad():
        picked.mul_(5.0)
    assert x._version == 0
    y.backward()
    assert x.grad.tolist() == [2.0, 0.0, 2.0]


def test_leaf_hook_applies_in_autograd_grad():
    x = dg.tensor(2.0, requires_grad=True)
    x.register_hook(lambda g: g * 10)
    (g,) = dg.autograd.grad(x * x, x)
    assert g.item() == 40.0


def test_create_graph_leaf_gradient_is_writable():
    w = dg.ones(2, 3, requires_grad=True)
    w.sum().backward(create_graph=True)  # the gradient is a broadcast of the (scalar) upstream one
    assert w.grad.array.flags.writeable
    dg.nn.utils.clip_grad_norm_([w], 0.1)
    np.testing.assert_allclose(np.linalg.norm(w.grad.array), 0.1, rtol=1e-4)


def test_wrongly_shaped_user_gradient_raises():
    class Bad(dg.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return dg.ones(5)

    x = dg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"<BadBackward> returned a gradient of shape \(5,\) for an input of shape"):
        Bad.apply(x).sum().backward()
    assert x.grad is None


# ---------------------------------------------------------------------------------------------------
# Sinks: where a backward pass delivers its gradients


def test_a_custom_sink_sees_every_watched_step_and_every_leaf_total():
    from deepgrad.autograd import engine

    class Recorder(engine.GradientSink):
        watched = engine.TraceSink.watched  # every node

        def __init__(self):
            self.steps, self.leaves = [], {}

        def step(self, fn, out, grad, input_grads):
            self.steps.append((fn.name(), np.array(grad), len(input_grads)))

        def leaf(self, leaf, grad):
            self.leaves[leaf.name] = np.array(grad)

        def result(self):
            return "done"

    a = dg.tensor([1.0, 2.0], requires_grad=True)
    a.name = "a"
    b = a * a + a  # a used three times: its total is 2a + 1
    root = b.sum()
    sink = Recorder()
    assert engine.run_backward([root], [np.ones((), np.float32)], False, False, sink) == "done"
    assert [name for name, _, _ in sink.steps] == ["sum", "add", "mul"]
    np.testing.assert_allclose(sink.steps[1][1], [1.0, 1.0])
    np.testing.assert_allclose(sink.leaves["a"], [3.0, 5.0])
    assert a.grad is None  # this sink keeps what it receives: no .grad changes


def test_capture_sink_returns_gradients_of_chosen_inputs_only():
    from deepgrad.autograd import engine

    x = dg.tensor([1.0, -2.0], requires_grad=True)
    w = dg.tensor([3.0, 4.0], requires_grad=True)
    h = x * w
    out = (h * h).sum()
    sink = engine.CaptureGrad([x, h])
    captured = engine.run_backward([out], [np.ones((), np.float32)], True, False, sink)
    np.testing.assert_allclose(captured[id(h)], 2 * np.array([3.0, -8.0]))  # d(h^2)/dh = 2h
    np.testing.assert_allclose(captured[id(x)], 2 * np.array([3.0, -8.0]) * [3.0, 4.0])
    assert id(w) not in captured and x.grad is None and w.grad is None


def test_trace_sink_observer_gets_the_gradients_summed_to_each_input():
    from deepgrad.autograd import engine

    a = dg.tensor([[1.0, 2.0, 3.0]], requires_grad=True)  # (1, 3), broadcast against (2, 1)
    b = dg.tensor([[2.0], [5.0]], requires_grad=True)
    out = (a * b).sum()
    seen = []
    sink = engine.TraceSink(lambda fn, output, upstream, sent: seen.append((fn.name(), sent)))
    engine.run_backward([out], [np.ones((), np.float32)], False, False, sink)
    name, (to_a, to_b) = seen[1]
    assert name == "mul" and to_a.shape == (1, 3) and to_b.shape == (2, 1)
    np.testing.assert_allclose(to_a, [[7.0, 7.0, 7.0]])
    np.testing.assert_allclose(to_b, [[6.0], [6.0]])
    np.testing.assert_allclose(a.grad.array, to_a)  # and .grad accumulates as with backward()
    np.testing.assert_allclose(b.grad.array, to_b)


def test_grad_of_a_zero_dim_input_is_an_array_not_a_numpy_scalar():
    x = dg.tensor(3.0, requires_grad=True)
    (g,) = grad(x * x, x)
    assert type(g.array) is np.ndarray and g.array.shape == () and g.item() == 6.0


# ---------------------------------------------------------------------------------------------------
# The backend seam: an array type that follows NumPy's protocols flows through backward unconverted


class ProtocolArray:
    """A minimal NumPy-protocol array that is not a numpy.ndarray. ``conversions`` counts every implicit
    conversion to numpy.ndarray (``__array__``); the engine must make none."""

    conversions = 0
    __slots__ = ("values",)

    def __init__(self, values):
        self.values = values

    def __array__(self, dtype=None, copy=None):
        ProtocolArray.conversions += 1
        return np.asarray(self.values, dtype=dtype)

    shape = property(lambda self: self.values.shape)
    dtype = property(lambda self: self.values.dtype)
    ndim = property(lambda self: self.values.ndim)
    size = property(lambda self: self.values.size)

    @staticmethod
    def wrap(result):
        if isinstance(result, (np.ndarray, np.generic)):
            return ProtocolArray(np.asarray(result))
        return tuple(ProtocolArray.wrap(r) for r in result) if isinstance(result, tuple) else result

    @staticmethod
    def unwrap(value):
        if isinstance(value, ProtocolArray):
            return value.values
        if isinstance(value, (list, tuple)):
            return type(value)(ProtocolArray.unwrap(v) for v in value)
        return value

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        kwargs = {k: self.unwrap(v) for k, v in kwargs.items()}
        return self.wrap(getattr(ufunc, method)(*self.unwrap(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        return self.wrap(func(*self.unwrap(args), **{k: self.unwrap(v) for k, v in kwargs.items()}))

    def __getitem__(self, index):
        return self.wrap(self.values[self.unwrap(index)])

    def __setitem__(self, index, value):
        self.values[self.unwrap(index)] = self.unwrap(value)

    def astype(self, dtype, copy=True):
        return ProtocolArray(self.values.astype(dtype, copy=copy))

    def copy(self):
        return ProtocolArray(self.values.copy())

    def reshape(self, *shape):
        return ProtocolArray(self.values.reshape(*shape))

    def sum(self, *args, **kwargs):
        return np.sum(self, *args, **kwargs)

    def __bool__(self):
        return bool(self.values)

    def __float__(self):
        return float(self.values)

    def __int__(self):
        return int(self.values)

    def __len__(self):
        return len(self.values)

    def __add__(self, other):
        return np.add(self, other)

    def __radd__(self, other):
        return np.add(other, self)

    def __sub__(self, other):
        return np.subtract(self, other)

    def __rsub__(self, other):
        return np.subtract(other, self)

    def __mul__(self, other):
        return np.multiply(self, other)

    def __rmul__(self, other):
        return np.multiply(other, self)

    def __truediv__(self, other):
        return np.divide(self, other)

    def __pow__(self, other):
        return np.power(self, other)

    def __neg__(self):
        return np.negative(self)

    def __gt__(self, other):
        return np.greater(self, other)


@pytest.fixture
def protocol_array(monkeypatch):
    """Register ProtocolArray as an array type for one test; yields a maker of leaf Tensors holding one."""
    from deepgrad import backend

    monkeypatch.setattr(backend, "ARRAY_TYPES", backend.ARRAY_TYPES + (ProtocolArray,))
    ProtocolArray.conversions = 0

    def leaf(values, dtype=np.float64):
        return dg.Tensor._make(ProtocolArray(np.array(values, dtype=dtype)), True, None)

    yield leaf
    assert ProtocolArray.conversions == 0, "an array was converted to numpy.ndarray"


def _values(t):
    assert type(t.array) is ProtocolArray, f"got a {type(t.array).__name__}"
    return t.array.values


def test_protocol_array_backward_with_broadcasting_and_reuse(protocol_array):
    x = protocol_array([[1.0, 2.0, 3.0]])
    w = protocol_array([[0.5], [-1.0]])
    ((x * w).exp() * x).sum().backward()
    xs, ws = np.array([[1.0, 2.0, 3.0]]), np.array([[0.5], [-1.0]])
    e = np.exp(xs * ws)
    np.testing.assert_allclose(_values(x.grad), (e * ws * xs + e).sum(0, keepdims=True))
    np.testing.assert_allclose(_values(w.grad), (e * xs * xs).sum(1, keepdims=True))


def test_protocol_array_hooks_retain_grad_and_gradient_argument(protocol_array):
    x = protocol_array([1.0, 2.0, 3.0])
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 2)
    x.register_hook(lambda g: g + 1)
    (y * y).backward(gradient=ProtocolArray(np.ones(3)))
    np.testing.assert_allclose(_values(y.grad), 2 * 2 * np.array([3.0, 6.0, 9.0]))
    np.testing.assert_allclose(_values(x.grad), 3 * 4 * np.array([3.0, 6.0, 9.0]) + 1)


def test_protocol_array_double_backward_and_autograd_grad(protocol_array):
    x = protocol_array([1.0, 2.0, -3.0])
    w = protocol_array([0.5, -1.0, 2.0])
    (dx,) = grad((x * x * x * w).sum(), x, create_graph=True)
    np.testing.assert_allclose(_values(dx), 3 * np.array([1.0, 4.0, 9.0]) * [0.5, -1.0, 2.0])
    (dxx,) = grad(dx.sum(), x)
    np.testing.assert_allclose(_values(dxx), 6 * np.array([1.0, 2.0, -3.0]) * [0.5, -1.0, 2.0])
    (w * x).sum().backward(create_graph=True)
    np.testing.assert_allclose(_values(x.grad), [0.5, -1.0, 2.0])


def test_protocol_array_through_a_user_defined_function(protocol_array):
    class Cube(dg.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a**3

        @staticmethod
        def backward(ctx, grad):
            (a,) = ctx.saved_tensors
            return grad * 3 * a**2

    x = protocol_array([1.0, 2.0, 3.0])
    Cube.apply(x).sum().backward()
    np.testing.assert_allclose(_values(x.grad), [3.0, 12.0, 27.0])


def test_protocol_array_gradcheck_and_anomaly_checks(protocol_array):
    from deepgrad.autograd import detect_anomaly, gradcheck, gradgradcheck

    x = protocol_array([0.3, -1.2, 2.0])
    w = protocol_array([1.5, 0.5, -0.7])
    assert gradcheck(lambda a, b: (a * b).tanh(), (x, w))
    assert gradgradcheck(lambda a, b: (a * b).tanh(), (x, w))
    with detect_anomaly():
        (x * w).exp().sum().backward()
    np.testing.assert_allclose(_values(x.grad), np.exp(x.array.values * w.array.values) * w.array.values)


def test_backward_gradient_is_read_not_copied_and_never_written():
    """backward(gradient) hands the ops a read-only view of the caller's array (no copy); the caller's values
    stay as they were, and a leaf reached directly gets its own copy as .grad."""
    gradient = np.arange(6.0).reshape(2, 3)
    before = gradient.copy()
    x = dg.tensor(np.ones((2, 3)), requires_grad=True)
    y = dg.tensor(np.full((2, 3), 2.0), requires_grad=True)
    (x * y + x).backward(dg.tensor(gradient))
    np.testing.assert_array_equal(gradient, before)
    np.testing.assert_array_equal(x.grad.array, before * 3)
    z = dg.tensor(np.ones((2, 3)), requires_grad=True)
    z.backward(dg.tensor(gradient))
    z.grad.array[0, 0] = 100.0  # the leaf's .grad is its own memory, writable
    np.testing.assert_array_equal(gradient, before)


def test_a_leafs_grad_is_c_contiguous_even_when_backward_hands_over_a_transposed_view():
    """PyTorch's layout contract for .grad; the optimizers' one-pass updates rely on it."""
    w = dg.tensor(np.arange(12.0).reshape(3, 4), requires_grad=True)
    upstream = np.arange(12.0).reshape(4, 3) + 1
    w.t().backward(dg.tensor(upstream))  # transpose's backward: grad.T, a view in Fortran order
    assert w.grad.array.flags.c_contiguous
    np.testing.assert_array_equal(w.grad.array, upstream.T)
    # an im2col convolution's weight gradient is such a view (its product has im2col's rows as rows)
    weight = dg.randn(8, 3, 3, 3, requires_grad=True)
    dg.nn.functional.conv2d(dg.randn(2, 3, 8, 8), weight).sum().backward()
    assert weight.grad.array.flags.c_contiguous
