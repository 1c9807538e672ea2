"""gradcheck and gradgradcheck catch wrong derivatives and say where."""

import pytest

import deepgrad as dg
from deepgrad.autograd import GradcheckError, gradcheck, gradgradcheck


class WrongSquare(dg.autograd.Function):
    """forward x^2 with a deliberately wrong backward (3x instead of 2x) at the second element."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        factor = dg.tensor([2.0, 3.0, 2.0], dtype=dg.float64)
        return grad * factor * x


class DetachedCube(dg.autograd.Function):
    """A correct first derivative whose formula hides its dependence on x (so second derivatives are wrong)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x.detach() ** 2


def test_gradcheck_names_input_element_and_both_values():
    x = dg.tensor([1.0, 2.0, 3.0], dtype=dg.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(3,\)\) at element \(1,\).*numerical 4, analytical 6"):
        gradcheck(WrongSquare.apply, (x,))
    assert gradcheck(WrongSquare.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_catches_a_wrong_second_derivative():
    x = dg.tensor([0.5, -1.5], dtype=dg.float64, requires_grad=True)
    assert gradcheck(DetachedCube.apply, (x,))
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(DetachedCube.apply, (x,))


def test_gradcheck_wants_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, (dg.ones(2, requires_grad=True),))
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, (dg.ones(2, dtype=dg.float64),))


def test_gradcheck_handles_several_inputs_and_outputs():
    a = dg.randn(2, 3, dtype=dg.float64, requires_grad=True)
    b = dg.randn(3, dtype=dg.float64, requires_grad=True)
    assert gradcheck(lambda p, q: ((p * q).tanh(), (p @ q).exp()), (a, b))


def test_gradcheck_perturbs_non_contiguous_inputs():
    base = dg.randn(3, 4, dtype=dg.float64)
    x = dg.from_numpy(base.array.T)  # a transposed (non-contiguous) view
    x.requires_grad_()
    assert not x.array.flags.c_contiguous
    assert gradcheck(lambda t: (t * t).sum(0), (x,))
