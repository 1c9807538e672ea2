"""deepgrad.nn.init: gains and fans against PyTorch, the statistics (bounds, std) of every initializer with a
fixed seed, the layers' default initialisation, reproducibility, and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import nn
from deepgrad.nn import init

torch = pytest.importorskip("torch")


@pytest.mark.parametrize(
    "nonlinearity,param",
    [
        ("linear", None),
        ("conv2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
        ("leaky_relu", 0.2),
        ("leaky_relu", math.sqrt(5)),
        ("selu", None),
    ],
)
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(
        torch.nn.init.calculate_gain(nonlinearity, param), rel=1e-12
    )


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'softsign'"):
        init.calculate_gain("softsign")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5), (16, 3, 5, 5), (1, 1)], ids=str)
def test_fans_match_torch(shape):
    ours = init._calculate_fan_in_and_fan_out(dg.empty(*shape))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(*shape))
    assert ours == theirs


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\)"):
        init.xavier_uniform_(dg.empty(5))
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.kaiming_normal_(dg.empty(5))


def _uniform_checks(values: np.ndarray, bound: float) -> None:
    """U(-b, b): inside the bounds, reaching close to them, std b / sqrt(3), mean 0."""
    assert np.abs(values).max() <= bound * (1 + 1e-6)
    assert np.abs(values).max() > 0.99 * bound
    assert values.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert abs(values.mean()) < 0.02 * bound


def _normal_checks(values: np.ndarray, std: float, mean: float = 0.0) -> None:
    assert values.std() == pytest.approx(std, rel=0.02)
    assert abs(values.mean() - mean) < 0.02 * std + 1e-12


SHAPE = (400, 300)  # 120,000 draws: the sample std is within ~0.5% of the true one


def test_uniform_and_normal():
    dg.manual_seed(0)
    t = init.uniform_(dg.empty(*SHAPE), -0.3, 0.7)
    assert t.array.min() >= -0.3 and t.array.max() < 0.7
    assert t.array.mean() == pytest.approx(0.2, abs=0.005)
    assert t.array.std() == pytest.approx(1.0 / math.sqrt(12), rel=0.02)
    _normal_checks(init.normal_(dg.empty(*SHAPE), 1.5, 0.2).array, 0.2, 1.5)


def test_constant_ones_zeros_eye():
    assert (init.constant_(dg.empty(3, 2), 0.25).array == 0.25).all()
    assert (init.ones_(dg.empty(4)).array == 1).all()
    assert (init.zeros_(dg.ones(4)).array == 0).all()
    np.testing.assert_array_equal(init.eye_(dg.empty(2, 3)).array, np.eye(2, 3))
    with pytest.raises(ValueError, match="2-d"):
        init.eye_(dg.empty(2, 2, 2))


def test_trunc_normal_stays_in_bounds():
    dg.manual_seed(1)
    values = init.trunc_normal_(dg.empty(*SHAPE), mean=0.0, std=1.0, a=-1.0, b=1.5).array
    assert values.min() >= -1.0 and values.max() <= 1.5
    t = torch.empty(*SHAPE)
    torch.manual_seed(1)
    torch.nn.init.trunc_normal_(t, 0.0, 1.0, -1.0, 1.5)
    assert values.mean() == pytest.approx(t.mean().item(), abs=0.01)
    assert values.std() == pytest.approx(t.std().item(), rel=0.02)
    with pytest.raises(ValueError, match="empty"):
        init.trunc_normal_(dg.empty(3), a=1.0, b=0.0)


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(gain):
    dg.manual_seed(2)
    fan_in, fan_out = SHAPE[1], SHAPE[0]
    std = gain * math.sqrt(2.0 / (fan_in + fan_out))
    _uniform_checks(init.xavier_uniform_(dg.empty(*SHAPE), gain).array, math.sqrt(3) * std)
    _normal_checks(init.xavier_normal_(dg.empty(*SHAPE), gain).array, std)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nonlinearity,a", [("relu", 0), ("leaky_relu", 0), ("leaky_relu", 0.2), ("tanh", 0)])
def test_kaiming(mode, nonlinearity, a):
    dg.manual_seed(3)
    fan = SHAPE[1] if mode == "fan_in" else SHAPE[0]
    std = torch.nn.init.calculate_gain(nonlinearity, a) / math.sqrt(fan)
    _uniform_checks(init.kaiming_uniform_(dg.empty(*SHAPE), a, mode, nonlinearity).array, math.sqrt(3) * std)
    _normal_checks(init.kaiming_normal_(dg.empty(*SHAPE), a, mode, nonlinearity).array, std)


def test_kaiming_bad_mode():
    with pytest.raises(ValueError, match="mode 'fan_avg' not supported"):
        init.kaiming_uniform_(dg.empty(3, 3), mode="fan_avg")


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2)], ids=str)
def test_orthogonal(shape):
    w = init.orthogonal_(dg.empty(*shape, dtype=dg.float64), gain=2.0).array.reshape(shape[0], -1)
    rows, cols = w.shape
    if rows >= cols:
        np.testing.assert_allclose(w.T @ w, 4.0 * np.eye(cols), atol=1e-10)
    else:
        np.testing.assert_allclose(w @ w.T, 4.0 * np.eye(rows), atol=1e-10)


def test_initializers_work_in_place_on_parameters_and_repeat_with_seed():
    p = nn.Parameter(dg.zeros(50, 40))
    data = p.array
    assert init.kaiming_uniform_(p) is p and p.array is data  # same array, filled in place
    assert p.requires_grad and p.grad_fn is None
    dg.manual_seed(4)
    first = init.xavier_normal_(dg.empty(5, 5)).array.copy()
    dg.manual_seed(4)
    assert np.array_equal(first, init.xavier_normal_(dg.empty(5, 5)).array)
    assert p.dtype == dg.float32
    with pytest.raises(TypeError, match="expected a deepgrad Tensor"):
        init.zeros_(np.zeros(3))


def test_linear_default_initialisation_statistics():
    # PyTorch: weight kaiming_uniform_(a=sqrt(5)) -> U(-1/sqrt(fan_in), 1/sqrt(fan_in)); bias the same range
    dg.manual_seed(5)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    _uniform_checks(layer.weight.array, bound)
    bias = layer.bias.array
    assert np.abs(bias).max() <= bound and bias.std() == pytest.approx(bound / math.sqrt(3), rel=0.1)
    assert layer.weight.dtype == dg.float32
    torch_layer = torch.nn.Linear(400, 300)
    assert layer.weight.array.std() == pytest.approx(torch_layer.weight.std().item(), rel=0.03)
    # a fixed seed gives the same layer; another seed a different one
    dg.manual_seed(5)
    assert np.array_equal(nn.Linear(400, 300).weight.array, layer.weight.array)
    dg.manual_seed(6)
    assert not np.array_equal(nn.Linear(400, 300).weight.array, layer.weight.array)


def test_batchnorm_default_initialisation():
    bn = nn.BatchNorm1d(5)
    assert (bn.weight.array == 1).all() and (bn.bias.array == 0).all()
    assert (bn.running_mean.array == 0).all() and (bn.running_var.array == 1).all()
    bn.weight.array[...] = 3
    bn.running_mean.array[...] = 2
    bn.reset_parameters()
    assert (bn.weight.array == 1).all() and (bn.running_mean.array == 0).all()
