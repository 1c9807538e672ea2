"""deepgrad.viz.trace: upstream x local = downstream at every node, checked against the lectures and PyTorch."""

import numpy as np
import pytest

import deepgrad as dg
from deepgrad.viz import Trace, trace

F64 = dg.float64


def leaf(value, name=None):
    t = dg.tensor(value, dtype=F64, requires_grad=True)
    t.name = name
    return t


def sigmoid_neuron():
    x0, x1, w0, w1, w2 = leaf(-1.0), leaf(-2.0), leaf(2.0), leaf(-3.0), leaf(-3.0)
    f = 1 / (1 + (-(w0 * x0 + w1 * x1 + w2)).exp())
    return f, (x0, x1, w0, w1, w2)


def test_simple_graph_steps_in_backward_order():
    x, y, z = leaf(2.0), leaf(3.0), leaf(-2.0)
    q = x + y
    f = z * q
    t = trace(f)
    assert isinstance(t, Trace)
    assert [s.op for s in t] == ["mul", "add"]
    mul, add = t.steps
    assert mul.fn is f.grad_fn and add.fn is q.grad_fn
    assert float(mul.upstream) == 1.0
    # mul(z, q): local d/dz = q = 5, d/dq = z = -2
    assert [float(v) for v in mul.local] == [5.0, -2.0]
    assert [float(v) for v in mul.downstream] == [5.0, -2.0]
    assert [n.name for n in mul.inputs] == ["z", "q"]  # leaves and values named by the caller's variables
    assert [n.label for n in mul.inputs] == ["z", "add"]
    assert float(add.upstream) == -2.0
    assert [float(v) for v in add.local] == [1.0, 1.0]
    assert [float(v) for v in add.downstream] == [-2.0, -2.0]
    # trace ran backward: the leaves hold the lecture's gradient
    assert (float(x.grad), float(y.grad), float(z.grad)) == (-2.0, -2.0, 5.0)
    assert float(t.gradient(q)) == -2.0 and float(t.gradient(x)) == -2.0


def test_sigmoid_neuron_matches_the_lecture():
    f, leaves = sigmoid_neuron()
    t = trace(f)
    assert [s.op for s in t] == ["div", "add", "exp", "neg", "add", "add", "mul", "mul"]
    div = t.steps[0]
    # the 1/x node: upstream 1.00, local -1/1.37^2 = -0.53, downstream -0.53 (the constant 1 needs no gradient)
    assert div.downstream[0] is None and div.local[0] is None
    assert float(div.upstream) == 1.0
    assert float(div.local[1]) == pytest.approx(-1 / (1 + np.exp(-1.0)) ** 2)
    assert round(float(div.local[1]), 2) == -0.53 and round(float(div.downstream[1]), 2) == -0.53
    exp = t.steps[2]
    assert round(float(exp.upstream), 2) == -0.53
    assert float(exp.local[0]) == pytest.approx(np.exp(-1.0))
    assert round(float(exp.downstream[0]), 2) == -0.20
    neg = t.steps[3]
    assert float(neg.local[0]) == -1.0 and round(float(neg.downstream[0]), 2) == 0.20
    grads = [round(float(v.grad), 3) for v in leaves]
    assert grads == [0.393, -0.590, -0.197, -0.393, 0.197]
    table = str(t)
    div_row = table.splitlines()[2]
    assert div_row.split() == ["1", "div", "f", "1.00", "add", "(n13)", "-0.53", "-0.53"]


def test_sigmoid_neuron_against_torch():
    torch = pytest.importorskip("torch")
    f, leaves = sigmoid_neuron()
    trace(f)
    tx = [torch.tensor(float(v.array), dtype=torch.float64, requires_grad=True) for v in leaves]
    x0, x1, w0, w1, w2 = tx
    tf = 1 / (1 + torch.exp(-(w0 * x0 + w1 * x1 + w2)))
    tf.backward()
    np.testing.assert_allclose([float(v.grad) for v in leaves], [float(v.grad) for v in tx], rtol=1e-12)
    assert float(f.array) == pytest.approx(tf.item())


def test_shared_subexpression_sums_upstream_like_the_lecture():
    x = leaf(2.0)
    a = x**2
    b = a.exp()
    c = a + b
    f = c.sqrt() + c.cos()
    t = trace(f)
    assert [s.op for s in t] == ["add", "cos", "sqrt", "add", "exp", "pow"]
    assert round(float(f.array), 2) == 7.19
    c_step = t.steps[3]
    assert c_step.fn is c.grad_fn
    # dF/dc = -sin(c) + 1/(2 sqrt(c)) = -0.822 (two uses summed), dF/da = -45.717, dF/dx = -182.87
    assert float(c_step.upstream) == pytest.approx(-np.sin(58.598150033144236) + 0.5 / np.sqrt(58.598150033144236))
    assert round(float(c_step.upstream), 3) == -0.822
    assert round(float(t.steps[5].upstream), 3) == -45.717
    assert round(float(x.grad), 2) == -182.87


def test_local_gradient_is_computed_even_when_upstream_is_zero():
    x, y, z = leaf(2.0), leaf(3.0), leaf(0.0)
    f = z * (x + y)
    t = trace(f)
    add = t.steps[1]
    assert float(add.upstream) == 0.0
    assert [float(v) for v in add.local] == [1.0, 1.0]  # not 0/0
    assert [float(v) for v in add.downstream] == [0.0, 0.0]
    u = leaf(3.0)
    g = 0 * u.exp()
    exp = trace(g).steps[1]
    assert float(exp.upstream) == 0.0 and float(exp.local[0]) == pytest.approx(np.exp(3.0))


def test_tensors_with_broadcasting_match_backward_and_show_shapes():
    dg.manual_seed(1)
    a = dg.randn(3, 4, dtype=F64, requires_grad=True)
    b = dg.randn(4, dtype=F64, requires_grad=True)
    w = dg.randn(4, 2, dtype=F64, requires_grad=True)
    out = ((a * b + b).tanh() @ w).sum()
    t = trace(out)
    traced = [a.grad.array.copy(), b.grad.array.copy(), w.grad.array.copy()]
    for p in (a, b, w):
        p.grad = None
    out.backward()
    for got, want in zip(traced, [a.grad.array, b.grad.array, w.grad.array]):
        np.testing.assert_allclose(got, want, rtol=1e-12)
    for step in t:
        for source, grad in zip(step.inputs, step.downstream):
            if grad is not None:
                assert grad.shape == source.tensor.shape  # broadcasting summed back, as the engine does
    table = t.table()
    assert "(3, 4) norm" in table and "(4) norm" in table and "(4, 2) norm" in table


def test_tensor_trace_against_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a_np, b_np = rng.standard_normal((2, 3)), rng.standard_normal(3)
    upstream = rng.standard_normal((2, 3))
    a, b = dg.tensor(a_np, dtype=F64, requires_grad=True), dg.tensor(b_np, dtype=F64, requires_grad=True)
    t = trace((a * b).sigmoid() - b, gradient=upstream)
    ta = torch.tensor(a_np, requires_grad=True)
    tb = torch.tensor(b_np, requires_grad=True)
    ((ta * tb).sigmoid() - tb).backward(torch.tensor(upstream))
    np.testing.assert_allclose(a.grad.array, ta.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(b.grad.array, tb.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(t.steps[0].upstream, upstream)


def test_non_scalar_output_needs_gradient():
    a = dg.ones(3, dtype=F64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape \(3,\).*gradient"):
        trace(a * 2)


def test_output_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        trace(dg.tensor(1.0) * 2)
    with pytest.raises(TypeError, match="expected a Tensor, got float"):
        trace(1.0)


def test_trace_accumulates_grad_like_backward():
    x = leaf(3.0)
    y = x * x
    trace(y)
    trace(y)  # the graph is kept by default
    assert float(x.grad) == 12.0


def test_retain_graph_false_frees_the_graph():
    x = leaf(3.0)
    y = x.exp() * 2
    trace(y, retain_graph=False)
    with pytest.raises(RuntimeError, match="freed"):
        trace(y)


def test_hooks_run_as_in_backward():
    x = leaf(1.5)
    h = x * 3
    h.register_hook(lambda g: g * 10)
    h.retain_grad()
    y = h.sin()
    t = trace(y)
    assert float(x.grad) == pytest.approx(30 * np.cos(4.5))
    assert float(h.grad) == pytest.approx(10 * np.cos(4.5))
    assert float(t.steps[1].upstream) == pytest.approx(10 * np.cos(4.5))


def test_find_and_output_that_is_a_leaf():
    x = leaf(2.0)
    t = trace(x)
    assert len(t) == 0 and float(x.grad) == 1.0
    y = leaf(1.0)
    t = trace((y * y).exp() * y)
    assert [s.op for s in t.find("mul")] == ["mul", "mul"]
    assert t.find("nothing") == []


def test_table_layout():
    x, y, z = leaf(2.0), leaf(3.0), leaf(-2.0)
    t = trace(z * (x + y))
    lines = str(t).splitlines()
    assert lines[0].split() == ["step", "node", "upstream", "input", "local", "downstream"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["1", "mul", "(n4)", "1.00", "z", "5.00", "5.00"]
    assert lines[3].split() == ["add", "(n3)", "-2.00", "-2.00"]
    assert lines[4].split() == ["2", "add", "(n3)", "-2.00", "x", "1.00", "-2.00"]
    assert repr(t) == str(t)
    assert t.table(precision=4).splitlines()[2].split()[-1] == "5.0000"


def test_module_steps_collapse_layers():
    pytest.importorskip("deepgrad.nn")
    from deepgrad import nn
    from deepgrad.models import MLP
    from deepgrad.viz import record_modules

    dg.manual_seed(0)
    model = MLP(6, [5, 4], 3)
    x = dg.randn(8, 6)
    target = dg.randint(0, 3, (8,))
    with record_modules(model) as layers:
        loss = nn.CrossEntropyLoss()(model(x), target)
    t = trace(loss, modules=layers)
    names = [s.node.title for s in t]
    assert names[1:] == ["4 (Linear)", "3 (ReLU)", "2 (Linear)", "1 (ReLU)", "0 (Linear)"]
    traced = {f"{s.op}.{name}": g.copy() for s in t for name, g in s.params}
    assert set(traced) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    model.zero_grad()
    loss.backward()
    for name, p in model.named_parameters():
        np.testing.assert_allclose(traced[name], p.grad.array, rtol=1e-6)
    # the gradient leaving a layer is the one arriving at the layer before it
    linear4, relu3 = t.steps[1], t.steps[2]
    np.testing.assert_allclose(linear4.downstream[0], relu3.upstream)
    assert "weight" in t.table() and "(5, 6) norm" in t.table()


def test_a_value_updated_in_place_is_two_nodes_in_the_graph_and_the_trace():
    """y read x before x += 1: the picture and the trace show y reading the old x, the add reading it too, and
    z reading the add; the gradient reaching w is the engine's."""
    w = dg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    x = w * 2
    y = x * 3
    x += 1
    z = x * x
    loss = y.sum() + z.sum()
    nodes = {node.id: node for node in dg.viz.graph(loss).nodes}
    titles = {node.title: node for node in nodes.values()}
    old_x, new_x = titles["mul x"], titles["add x"]
    assert [i.id for i in titles["mul y"].inputs][0] == old_x.id
    assert new_x.inputs[0] is old_x
    assert [i.id for i in titles["mul z"].inputs] == [new_x.id, new_x.id]
    traced = trace(loss)
    np.testing.assert_allclose(w.grad.array, [18.0, -6.0, 34.0])
    by_title = {step.node.title: step for step in traced.steps}
    np.testing.assert_allclose(by_title["mul y"].downstream[0], [3.0, 3.0, 3.0])  # to the old x
    np.testing.assert_allclose(by_title["add x"].upstream, 2 * (2 * w.array + 1))
