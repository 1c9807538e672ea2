"""The lectures' worked examples, to the digits the slides give."""

import pytest

import deepgrad as dg


def leaves(*values):
    return [dg.tensor(v, dtype=dg.float64, requires_grad=True) for v in values]


def test_z_times_x_plus_y():
    x, y, z = leaves(2.0, 3.0, -2.0)
    f = z * (x + y)
    f.backward()
    assert f.item() == -10.0
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-2.0, -2.0, 5.0)


def test_a_plus_b_times_b_plus_one():
    a, b = leaves(2.0, 1.0)
    e = (a + b) * (b + 1)
    e.backward()
    assert e.item() == 6.0
    assert a.grad.item() == 2.0
    assert b.grad.item() == 5.0  # b is used twice: 2 + 3


def test_sigmoid_neuron():
    x0, x1, w0, w1, w2 = leaves(-1.0, -2.0, 2.0, -3.0, -3.0)
    f = 1 / (1 + dg.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()
    assert f.item() == pytest.approx(0.7311, abs=1e-4)
    grads = [round(t.grad.item(), 3) for t in (x0, x1, w0, w1, w2)]
    assert grads == [0.393, -0.590, -0.197, -0.393, 0.197]


def test_sigmoid_neuron_with_sigmoid_primitive_gives_the_same_gradient():
    x0, x1, w0, w1, w2 = leaves(-1.0, -2.0, 2.0, -3.0, -3.0)
    f = dg.sigmoid(w0 * x0 + w1 * x1 + w2)
    f.backward()
    assert [round(t.grad.item(), 3) for t in (x0, x1, w0, w1, w2)] == [0.393, -0.590, -0.197, -0.393, 0.197]


def test_sqrt_exp_cos_example():
    (x,) = leaves(2.0)
    inner = x**2 + dg.exp(x**2)
    f = dg.sqrt(inner) + dg.cos(inner)
    f.backward()
    assert round(f.item(), 2) == 7.19
    assert round(x.grad.item(), 1) == -182.9
