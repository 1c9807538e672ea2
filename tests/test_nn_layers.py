"""Layers and activations against torch.nn with copied weights (float64: values, input and parameter
gradients of a random upstream gradient), gradcheck of the functionals, dropout and batch norm in
training and eval, and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import as_ours, compare_with_torch

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.ops import linalg

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def rng(seed=0):
    return np.random.default_rng(seed)


def copy_parameters(ours: nn.Module, theirs) -> None:
    """Give both modules the same (random, non-default) parameter values."""
    generator = rng(123)
    for (name, p), (t_name, t_p) in zip(ours.named_parameters(), theirs.named_parameters()):
        assert name == t_name
        values = generator.uniform(-1.0, 1.0, p.shape)
        with dg.no_grad():
            p.copy_(values)
        with torch.no_grad():
            t_p.copy_(torch.tensor(values))


def compare_parameter_grads(ours: nn.Module, theirs, rtol=1e-10, atol=1e-12) -> None:
    ours_params = dict(ours.named_parameters())
    theirs_params = dict(theirs.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, p in ours_params.items():
        assert p.grad is not None, f"{name} got no gradient"
        np.testing.assert_allclose(p.grad.array, theirs_params[name].grad.numpy(), rtol=rtol, atol=atol, err_msg=name)


# ---------------------------------------------------------------------------------------------------
# Linear


@pytest.mark.parametrize("input_shape", [(5, 3), (2, 4, 3), (3,), (1, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(input_shape, bias):
    ours = nn.Linear(3, 4, bias=bias, dtype=dg.float64)
    theirs = torch.nn.Linear(3, 4, bias=bias, dtype=torch.float64)
    copy_parameters(ours, theirs)
    compare_with_torch(ours, theirs, [rng(1).standard_normal(input_shape)])
    compare_parameter_grads(ours, theirs)
    assert repr(ours) == repr(theirs)


def test_linear_is_one_fused_node_and_skips_unneeded_input_gradient():
    layer = nn.Linear(6, 2)
    x = dg.randn(4, 6)
    out = layer(x)
    assert isinstance(out.grad_fn, linalg.Linear)
    assert out.grad_fn.needs_input_grad == (False, True, True)
    out.sum().backward()
    assert x.grad is None and layer.weight.grad.shape == (2, 6) and layer.bias.grad.shape == (2,)
    assert out.dtype == dg.float32 and layer.weight.grad.dtype == dg.float32


def test_linear_wrong_in_features_names_both_shapes():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError, match=r"input of shape \(8, 780\).*expected 784.*weight shape \(10, 784\)"):
        layer(dg.zeros(8, 780))
    with pytest.raises(ValueError, match=r"input of shape \(2, 5\) does not fit weight of shape \(3, 4\)"):
        F.linear(dg.zeros(2, 5), dg.zeros(3, 4))


def test_linear_dtype_mismatch_is_an_error():
    with pytest.raises(TypeError, match="input is float64.*weight is float32"):
        nn.Linear(2, 2)(dg.zeros(3, 2, dtype=dg.float64))


def test_linear_bad_sizes():
    with pytest.raises(ValueError, match="in_features must be"):
        nn.Linear(-1, 3)
    with pytest.raises(ValueError, match="out_features must be"):
        nn.Linear(3, 2.5)


# ---------------------------------------------------------------------------------------------------
# Identity, Flatten


def test_identity_and_flatten_match_torch():
    x = rng(2).standard_normal((2, 3, 4, 5))
    compare_with_torch(nn.Identity(54, unused=True), torch.nn.Identity(54, unused=True), [x])
    for start, end in [(1, -1), (0, -1), (1, 2), (2, 3), (0, 0)]:
        ours, theirs = nn.Flatten(start, end), torch.nn.Flatten(start, end)
        compare_with_torch(ours, theirs, [x])
        assert repr(ours) == repr(theirs)


# ---------------------------------------------------------------------------------------------------
# activations

ACTIVATIONS = [
    ("ReLU", (), {}),
    ("ReLU", (), {"inplace": True}),
    ("LeakyReLU", (0.2,), {}),
    ("LeakyReLU", (), {}),
    ("ELU", (0.5,), {}),
    ("Sigmoid", (), {}),
    ("Tanh", (), {}),
    ("GELU", (), {}),
    ("GELU", (), {"approximate": "tanh"}),
    ("SiLU", (), {}),
    ("Softplus", (), {}),
    ("Softplus", (2.0, 1.0), {}),
    ("Softmax", (), {"dim": 1}),
    ("Softmax", (), {"dim": -1}),
    ("LogSoftmax", (), {"dim": 1}),
    ("LogSoftmax", (), {"dim": 0}),
]
ACTIVATION_SHAPES = [(7,), (3, 4), (2, 3, 4)]


@pytest.mark.parametrize("name,args,kwargs", ACTIVATIONS, ids=lambda v: str(v) if not isinstance(v, dict) else "")
@pytest.mark.parametrize("shape", ACTIVATION_SHAPES, ids=str)
def test_activation_modules_match_torch(name, args, kwargs, shape):
    if kwargs.get("dim") == 1 and len(shape) == 1:
        kwargs = {"dim": 0}  # a 1-d input has no dim 1
    x = rng(3).standard_normal(shape) * 3
    ours = getattr(nn, name)(*args, **kwargs)
    assert repr(ours) == repr(getattr(torch.nn, name)(*args, **kwargs))
    # torch refuses in-place ops on leaves that require grad; ours computes out of place either way
    theirs = getattr(torch.nn, name)(*args, **{k: v for k, v in kwargs.items() if k != "inplace"})
    compare_with_torch(ours, theirs, [x], rtol=1e-9)


def test_activations_at_extreme_inputs_match_torch():
    x = np.array([-1000.0, -30.0, -1.0, 0.5, 30.0, 1000.0])
    for name in ["Sigmoid", "Tanh", "SiLU", "GELU", "ELU", "Softplus", "LeakyReLU"]:
        compare_with_torch(getattr(nn, name)(), getattr(torch.nn, name)(), [x], rtol=1e-9, atol=1e-12)


def test_softmax_without_dim_warns_and_uses_pytorch_legacy_rule():
    x = rng(4).standard_normal((2, 3, 4))
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = F.softmax(as_ours(x))
    np.testing.assert_allclose(ours.array, TF.softmax(torch.tensor(x), dim=0).numpy(), rtol=1e-12)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        ours = F.log_softmax(as_ours(x[0]))
    np.testing.assert_allclose(ours.array, TF.log_softmax(torch.tensor(x[0]), dim=1).numpy(), rtol=1e-12)


def test_gelu_rejects_unknown_approximation():
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="approximate"):
        F.gelu(dg.zeros(2), approximate="sigmoid")


FUNCTIONALS = {
    "linear": (lambda x, w, b: F.linear(x, w, b), [(4, 3), (2, 3), (2,)]),
    "linear_3d_no_bias": (lambda x, w: F.linear(x, w), [(2, 2, 3), (4, 3)]),
    "relu": (F.relu, [(3, 4)]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.1), [(3, 4)]),
    "elu": (lambda x: F.elu(x, 0.7), [(3, 4)]),
    "gelu": (F.gelu, [(3, 4)]),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"), [(3, 4)]),
    "silu": (F.silu, [(3, 4)]),
    "sigmoid": (F.sigmoid, [(3, 4)]),
    "tanh": (F.tanh, [(3, 4)]),
    "softplus": (lambda x: F.softplus(x * 10, beta=0.5, threshold=3.0), [(3, 4)]),
    "softmax": (lambda x: F.softmax(x, dim=0), [(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=1), [(3, 4)]),
    "batch_norm_train": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [(5, 3), (3,), (3,)],
    ),
    "batch_norm_train_3d": (lambda x: F.batch_norm(x, None, None, training=True), [(3, 2, 4)]),
    "batch_norm_eval": (
        lambda x, w, b: F.batch_norm(x, dg.zeros(3, dtype=dg.float64), dg.ones(3, dtype=dg.float64) * 2, w, b),
        [(5, 3), (3,), (3,)],
    ),
    "dropout": (lambda x: (dg.manual_seed(5), F.dropout(x, 0.4))[1], [(4, 5)]),
    "pad_constant": (lambda x: F.pad(x, (1, 2, -1, 1), value=0.5), [(3, 4)]),
    "pad_reflect": (lambda x: F.pad(x, (2, 1), mode="reflect"), [(2, 4)]),
    "pad_replicate": (lambda x: F.pad(x, (2, 3, 1, 0), mode="replicate"), [(2, 3)]),
    "pad_circular": (lambda x: F.pad(x, (2, 1), mode="circular"), [(2, 3)]),
}


@pytest.mark.parametrize("name", list(FUNCTIONALS))
def test_functional_gradcheck(name):
    fn, shapes = FUNCTIONALS[name]
    inputs = [
        dg.tensor(rng(i + 10).standard_normal(s), dtype=dg.float64, requires_grad=True) for i, s in enumerate(shapes)
    ]
    assert gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["gelu", "softplus", "batch_norm_train", "pad_reflect"])
def test_functional_gradgradcheck(name):
    fn, shapes = FUNCTIONALS[name]
    inputs = [
        dg.tensor(rng(i + 20).standard_normal(s), dtype=dg.float64, requires_grad=True) for i, s in enumerate(shapes)
    ]
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize(
    "pad,mode,value",
    [
        ((1, 2), "constant", None),
        ((1, 2, 0, 3), "constant", 1.5),
        ((-1, 2, 1, -1), "constant", 0.0),
        ((2, 1), "reflect", None),
        ((1, 2, 2, 1), "reflect", None),
        ((3, 0), "replicate", None),
        ((1, 2, 1, 1), "replicate", None),
        ((2, 3), "circular", None),
    ],
)
def test_pad_matches_torch(pad, mode, value):
    x = rng(5).standard_normal((2, 3, 4))
    kwargs = {} if value is None else {"value": value}
    compare_with_torch(lambda t: F.pad(t, pad, mode, **kwargs), lambda t: TF.pad(t, pad, mode, **kwargs), [x])


def test_pad_errors():
    with pytest.raises(ValueError, match="even number"):
        F.pad(dg.zeros(3), (1,))
    with pytest.raises(ValueError, match="mode"):
        F.pad(dg.zeros(3), (1, 1), mode="mirror")
    with pytest.raises(ValueError, match="smaller than dimension"):
        F.pad(dg.zeros(2, 3), (3, 0), mode="reflect")


def test_one_hot_matches_torch():
    labels = np.array([[0, 3], [2, 1]])
    np.testing.assert_array_equal(F.one_hot(dg.tensor(labels)).array, TF.one_hot(torch.tensor(labels)).numpy())
    np.testing.assert_array_equal(F.one_hot(dg.tensor(labels), 6).array, TF.one_hot(torch.tensor(labels), 6).numpy())
    with pytest.raises(IndexError, match=r"class values must be in \[0, 3\)"):
        F.one_hot(dg.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(dg.tensor([0.0, 1.0]))


# ---------------------------------------------------------------------------------------------------
# Dropout


def test_dropout_train_vs_eval():
    layer = nn.Dropout(0.3)
    x = dg.randn(50, 40)
    assert layer.training
    y = layer(x)
    assert not np.array_equal(y.array, x.array)
    layer.eval()
    assert layer(x) is x
    assert F.dropout(x, 0.3, training=False) is x
    assert repr(layer) == repr(torch.nn.Dropout(0.3)) == "Dropout(p=0.3, inplace=False)"


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_mask_statistics(p):
    x = dg.ones(200_000)
    y = F.dropout(x, p).array
    dropped = y == 0
    assert abs(dropped.mean() - p) < 0.005  # binomial sd is ~0.001
    np.testing.assert_allclose(y[~dropped], 1 / (1 - p), rtol=1e-6)  # survivors scaled exactly
    assert abs(y.mean() - 1.0) < 0.02  # the expected activation is unchanged
    assert y.dtype == np.float32


def test_dropout_gradient_flows_through_kept_units_only():
    x = dg.randn(30, 20, dtype=dg.float64, requires_grad=True)
    y = F.dropout(x, 0.4)
    upstream = rng(6).standard_normal(x.shape)
    y.backward(dg.tensor(upstream, dtype=dg.float64))
    kept = y.array != 0
    np.testing.assert_allclose(x.grad.array[kept], upstream[kept] / 0.6, rtol=1e-12)
    assert (x.grad.array[~kept] == 0).all()
    np.testing.assert_allclose(y.array[kept], x.array[kept] / 0.6, rtol=1e-12)


def test_dropout_edge_probabilities_and_seed():
    x = dg.randn(10, requires_grad=True)
    assert F.dropout(x, 0.0) is x
    zeros = F.dropout(x, 1.0)
    assert (zeros.array == 0).all()
    zeros.sum().backward()
    assert (x.grad.array == 0).all()
    dg.manual_seed(7)
    a = F.dropout(dg.ones(100), 0.5)
    dg.manual_seed(7)
    b = F.dropout(dg.ones(100), 0.5)
    assert np.array_equal(a.array, b.array)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match="between 0 and 1"):
            F.dropout(x, bad)


# ---------------------------------------------------------------------------------------------------
# BatchNorm1d


BN_CONFIGS = [
    {},
    {"momentum": None},
    {"momentum": 0.5, "eps": 1e-3},
    {"affine": False},
    {"bias": False},
    {"track_running_stats": False},
    {"affine": False, "track_running_stats": False},
]


@pytest.mark.parametrize("config", BN_CONFIGS, ids=lambda c: ",".join(f"{k}={v}" for k, v in c.items()) or "default")
@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)], ids=str)
def test_batchnorm1d_matches_torch_over_several_steps(config, shape):
    ours = nn.BatchNorm1d(3, dtype=dg.float64, **config)
    theirs = torch.nn.BatchNorm1d(3, dtype=torch.float64, **config)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    copy_parameters(ours, theirs)
    for step in range(4):
        ours.zero_grad()
        theirs.zero_grad()
        x = rng(step).standard_normal(shape) * (step + 1) + step
        compare_with_torch(ours, theirs, [x], seed=step)
        if config.get("affine", True):
            compare_parameter_grads(ours, theirs)
        for name, buffer in theirs.named_buffers():
            np.testing.assert_allclose(dict(ours.named_buffers())[name].array, buffer.numpy(), rtol=1e-12, err_msg=name)
    ours.eval()
    theirs.eval()
    ours.zero_grad()
    theirs.zero_grad()
    compare_with_torch(ours, theirs, [rng(9).standard_normal(shape)], seed=9)
    if config.get("affine", True):
        compare_parameter_grads(ours, theirs)
    before = {name: b.array.copy() for name, b in ours.named_buffers()}
    ours(dg.randn(*shape, dtype=dg.float64))
    for name, b in ours.named_buffers():
        assert np.array_equal(b.array, before[name]), f"{name} changed in eval mode"


def test_batchnorm1d_running_stats_formula():
    bn = nn.BatchNorm1d(2, momentum=0.25)
    x = dg.tensor([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
    bn(x)
    np.testing.assert_allclose(bn.running_mean.array, 0.75 * np.zeros(2) + 0.25 * np.array([3.0, 30.0]), rtol=1e-6)
    unbiased = np.var(x.array, axis=0, ddof=1)
    np.testing.assert_allclose(bn.running_var.array, 0.75 + 0.25 * unbiased, rtol=1e-6)
    assert int(bn.num_batches_tracked.item()) == 1 and bn.num_batches_tracked.dtype == dg.int64
    assert bn.running_mean.dtype == dg.float32


def test_batchnorm1d_cumulative_average_with_momentum_none():
    bn = nn.BatchNorm1d(1, momentum=None, affine=False)
    batches = [np.array([[1.0], [3.0]]), np.array([[5.0], [9.0]]), np.array([[0.0], [2.0]])]
    for batch in batches:
        bn(dg.tensor(batch))
    np.testing.assert_allclose(bn.running_mean.array, [np.mean([b.mean() for b in batches])], rtol=1e-6)


def test_batchnorm1d_bad_input():
    bn = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(4\): input of shape \(8, 3\) has 3 channels.*expected 4"):
        bn(dg.zeros(8, 3))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):
        bn(dg.zeros(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(dg.zeros(1, 4))
    bn.eval()
    assert bn(dg.zeros(1, 4)).shape == (1, 4)  # eval mode uses running statistics: a single sample is fine
    with pytest.raises(ValueError, match="running_mean has shape"):
        F.batch_norm(dg.zeros(2, 3), dg.zeros(4), dg.ones(4))
    with pytest.raises(ValueError, match="num_features must be"):
        nn.BatchNorm1d(0)


def test_batch_norm_functional_matches_torch():
    x = rng(11).standard_normal((6, 4))
    mean_ours, var_ours = dg.zeros(4, dtype=dg.float64), dg.ones(4, dtype=dg.float64)
    mean_theirs, var_theirs = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    compare_with_torch(
        lambda t: F.batch_norm(t, mean_ours, var_ours, training=True, momentum=0.3, eps=1e-4),
        lambda t: TF.batch_norm(t, mean_theirs, var_theirs, training=True, momentum=0.3, eps=1e-4),
        [x],
    )
    np.testing.assert_allclose(mean_ours.array, mean_theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(var_ours.array, var_theirs.numpy(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------------
# float32 end to end


@pytest.mark.parametrize(
    "name,kwargs",
    [(n, k) for n, _, k in ACTIVATIONS if "inplace" not in k]
    + [("Dropout", {}), ("BatchNorm1d", {"num_features": 4}), ("Linear", {"in_features": 4, "out_features": 3})],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_float32_stays_float32(name, kwargs):
    layer = getattr(nn, name)(**kwargs)
    x = dg.randn(5, 4, requires_grad=True)
    out = layer(x)
    assert out.dtype == dg.float32
    out.backward(dg.ones_like(out))
    assert x.grad.dtype == dg.float32
    for p in layer.parameters():
        assert p.dtype == dg.float32 and p.grad.dtype == dg.float32
    for b in layer.buffers():
        assert b.dtype in (dg.float32, dg.int64)
