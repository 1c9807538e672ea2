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
    ("Hardtanh", (), {}),
    ("Hardtanh", (-0.5, 2.0), {}),
    ("ReLU6", (), {}),
    ("Hardsigmoid", (), {}),
    ("Hardswish", (), {}),
    ("Mish", (), {}),
    ("SELU", (), {}),
    ("CELU", (0.5,), {}),  # (an alpha exact in float32: PyTorch's kernel rounds it to float)
    ("LogSigmoid", (), {}),
    ("Softsign", (), {}),
    ("Tanhshrink", (), {}),
    ("Softshrink", (0.4,), {}),
    ("Hardshrink", (), {}),
    ("Threshold", (0.1, -2.0), {}),
    ("Softmin", (), {"dim": -1}),
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
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    if kwargs.get("inplace"):  # both refuse to update a leaf that requires grad in place: give them a result
        module_ours, module_theirs = ours, theirs
        ours, theirs = (lambda t: module_ours(t * 1.0)), (lambda t: module_theirs(t * 1.0))
    # PyTorch's hardsigmoid backward multiplies by a float32 1/6 even in float64 (3e-8 relative)
    compare_with_torch(ours, theirs, [x], rtol=1e-7 if name in ("Hardsigmoid", "Hardswish") else 1e-9)


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
def test_batchnorm1d_matches_torch_over_several_steps(config, shape, kernel_route):
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


def test_batch_norm_functional_matches_torch(kernel_route):
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
    "name,args,kwargs",
    [(n, a, k) for n, a, k in ACTIVATIONS if "inplace" not in k]
    + [
        ("Dropout", (), {}),
        ("BatchNorm1d", (), {"num_features": 4}),
        ("Linear", (), {"in_features": 4, "out_features": 3}),
        ("PReLU", (4,), {}),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_float32_stays_float32(name, args, kwargs):
    layer = getattr(nn, name)(*args, **kwargs)
    x = dg.randn(5, 4, requires_grad=True)
    out = layer(x)
    assert out.dtype == dg.float32
    out.backward(dg.ones_like(out))
    assert x.grad.dtype == dg.float32
    for p in layer.parameters():
        assert p.dtype == dg.float32 and p.grad.dtype == dg.float32
    for b in layer.buffers():
        assert b.dtype in (dg.float32, dg.int64)


# ---------------------------------------------------------------------------------------------------
# the CNN architectures' layers (issue 12): composites of conv2d, pooling, slicing and padding. Each line:
# ours, PyTorch's (same arguments), input shapes, the inputs to differentiate, the input domain.

CNN_FUNCTIONALS = {
    "adaptive_avg_pool2d_exact": (
        lambda x: F.adaptive_avg_pool2d(x, (2, 3)),
        lambda x: TF.adaptive_avg_pool2d(x, (2, 3)),
        [(2, 3, 4, 6)],
    ),
    "adaptive_avg_pool2d_uneven": (
        lambda x: F.adaptive_avg_pool2d(x, (3, 4)),
        lambda x: TF.adaptive_avg_pool2d(x, (3, 4)),
        [(2, 2, 7, 5)],
    ),
    "adaptive_avg_pool2d_global_unbatched": (
        lambda x: F.adaptive_avg_pool2d(x, 1),
        lambda x: TF.adaptive_avg_pool2d(x, 1),
        [(3, 5, 4)],
    ),
    "adaptive_avg_pool2d_none_upsample": (
        lambda x: F.adaptive_avg_pool2d(x, (None, 5)),
        lambda x: TF.adaptive_avg_pool2d(x, (None, 5)),
        [(1, 2, 3, 3)],
    ),
    "adaptive_max_pool2d_exact": (
        lambda x: F.adaptive_max_pool2d(x, 2),
        lambda x: TF.adaptive_max_pool2d(x, 2),
        [(2, 3, 4, 6)],
    ),
    "adaptive_max_pool2d_uneven": (
        lambda x: F.adaptive_max_pool2d(x, (3, 2)),
        lambda x: TF.adaptive_max_pool2d(x, (3, 2)),
        [(2, 2, 5, 7)],
    ),
    "local_response_norm": (
        lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=2.0),
        lambda x: TF.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=2.0),
        [(2, 5, 3, 3)],
    ),
    "local_response_norm_even_3d": (
        lambda x: F.local_response_norm(x, 4, alpha=0.3),
        lambda x: TF.local_response_norm(x, 4, alpha=0.3),
        [(2, 6, 4)],
    ),
    "conv_transpose2d": (
        lambda x, w, b: F.conv_transpose2d(x, w, b),
        lambda x, w, b: TF.conv_transpose2d(x, w, b),
        [(2, 3, 4, 4), (3, 2, 3, 3), (2,)],
    ),
    "conv_transpose2d_stride_padding_output_padding": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        [(2, 3, 3, 4), (3, 2, 3, 3)],
    ),
    "conv_transpose2d_groups_dilation_rect": (
        lambda x, w, b: F.conv_transpose2d(x, w, b, stride=(3, 2), padding=(2, 0), groups=2, dilation=(2, 1)),
        lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=(3, 2), padding=(2, 0), groups=2, dilation=(2, 1)),
        [(1, 4, 3, 3), (4, 3, 3, 2), (6,)],
    ),
    "conv_transpose2d_padding_beyond_kernel": (
        lambda x, w: F.conv_transpose2d(x, w, padding=3),
        lambda x, w: TF.conv_transpose2d(x, w, padding=3),
        [(1, 2, 7, 8), (2, 1, 2, 2)],
    ),
    "conv_transpose2d_unbatched": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2),
        lambda x, w: TF.conv_transpose2d(x, w, stride=2),
        [(2, 3, 3), (2, 2, 2, 2)],
    ),
    "conv1d": (
        lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
        lambda x, w, b: TF.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2),
        [(2, 4, 11), (6, 2, 3), (6,)],
    ),
    "conv1d_same_unbatched": (
        lambda x, w: F.conv1d(x, w, padding="same"),
        lambda x, w: TF.conv1d(x, w, padding="same"),
        [(3, 9), (2, 3, 3)],
    ),
    "max_pool1d": (
        lambda x: F.max_pool1d(x, 3, 2, 1),
        lambda x: TF.max_pool1d(x, 3, 2, 1),
        [(2, 3, 10)],
    ),
    "max_pool1d_ceil_dilation": (
        lambda x: F.max_pool1d(x, 2, 2, dilation=2, ceil_mode=True),
        lambda x: TF.max_pool1d(x, 2, 2, dilation=2, ceil_mode=True),
        [(2, 11)],
    ),
    "avg_pool1d": (
        lambda x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
        lambda x: TF.avg_pool1d(x, 3, 2, 1, count_include_pad=False),
        [(2, 3, 10)],
    ),
    "avg_pool1d_ceil": (
        lambda x: F.avg_pool1d(x, 4, ceil_mode=True),
        lambda x: TF.avg_pool1d(x, 4, ceil_mode=True),
        [(1, 2, 10)],
    ),
}

# max-based entries need inputs without ties or near-ties (a subgradient is not a derivative)
_DISTINCT = {"adaptive_max_pool2d_exact", "adaptive_max_pool2d_uneven", "max_pool1d", "max_pool1d_ceil_dilation"}


def _cnn_inputs(name, seed):
    _, _, shapes = CNN_FUNCTIONALS[name]
    generator = rng(seed)
    arrays = []
    for shape in shapes:
        if name in _DISTINCT:
            count = int(np.prod(shape))
            arrays.append((generator.permutation(count) * 0.37 - count * 0.18 + 0.05).reshape(shape))
        else:
            arrays.append(generator.standard_normal(shape))
    return arrays


@pytest.mark.parametrize("name", list(CNN_FUNCTIONALS))
def test_cnn_functional_matches_torch(name):
    ours, theirs, shapes = CNN_FUNCTIONALS[name]
    compare_with_torch(ours, theirs, _cnn_inputs(name, 30), grad_of=tuple(range(len(shapes))))


@pytest.mark.parametrize("name", list(CNN_FUNCTIONALS))
def test_cnn_functional_gradcheck(name):
    ours, _, _ = CNN_FUNCTIONALS[name]
    assert gradcheck(ours, [as_ours(a, True) for a in _cnn_inputs(name, 31)])


@pytest.mark.parametrize("name", list(CNN_FUNCTIONALS))
def test_cnn_functional_gradgradcheck(name):
    ours, _, _ = CNN_FUNCTIONALS[name]
    assert gradgradcheck(ours, [as_ours(a, True) for a in _cnn_inputs(name, 32)])


@pytest.mark.parametrize(
    "name",
    ["local_response_norm", "local_response_norm_even_3d", "conv_transpose2d_stride_padding_output_padding", "conv1d"],
)
def test_cnn_functional_second_derivative_matches_torch(name):
    ours, theirs, shapes = CNN_FUNCTIONALS[name]
    arrays = _cnn_inputs(name, 33)
    ours_in = [as_ours(a, True) for a in arrays]
    theirs_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    out, expected = ours(*ours_in), theirs(*theirs_in)
    upstream = rng(34).standard_normal(out.shape)
    (grad,) = dg.autograd.grad(out, ours_in[0], dg.tensor(upstream, dtype=dg.float64), create_graph=True)
    (t_grad,) = torch.autograd.grad(expected, theirs_in[0], torch.tensor(upstream), create_graph=True)
    (grad * grad).sum().backward()
    (t_grad * t_grad).sum().backward()
    for i, (a, t) in enumerate(zip(ours_in, theirs_in)):
        if t.grad is None:  # the gradient for x of an op linear in x does not depend on x
            assert a.grad is None or not a.grad.array.any(), f"input {i}"
            continue
        np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-9, atol=1e-11, err_msg=f"input {i}")


def test_adaptive_max_pool2d_return_indices_match_torch():
    x = rng(40).permutation(2 * 3 * 7 * 9).reshape(2, 3, 7, 9).astype(np.float64)
    for size in [(3, 4), (7, 3), 2, (1, 1)]:
        out, indices = F.adaptive_max_pool2d(dg.tensor(x), size, return_indices=True)
        t_out, t_indices = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(out.array, t_out.numpy())
        np.testing.assert_array_equal(indices.array, t_indices.numpy())
        assert indices.dtype == dg.int64
    layer = nn.AdaptiveMaxPool2d((2, 2), return_indices=True)
    _, unbatched = layer(dg.tensor(x[0]))
    assert unbatched.shape == (3, 2, 2)


def test_max_pool1d_return_indices_match_torch():
    x = rng(41).permutation(2 * 3 * 10).reshape(2, 3, 10).astype(np.float64)
    out, indices = F.max_pool1d(dg.tensor(x), 3, 2, 1, return_indices=True)
    t_out, t_indices = TF.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
    np.testing.assert_array_equal(out.array, t_out.numpy())
    np.testing.assert_array_equal(indices.array, t_indices.numpy())


CNN_LAYERS = [
    (lambda m: m.AdaptiveAvgPool2d((6, 6)), (2, 3, 13, 11)),
    (lambda m: m.AdaptiveAvgPool2d(1), (2, 3, 5, 5)),
    (lambda m: m.AdaptiveAvgPool2d((None, 2)), (2, 3, 5, 5)),
    (lambda m: m.AdaptiveMaxPool2d((2, 3)), (2, 3, 5, 7)),
    (lambda m: m.LocalResponseNorm(5), (2, 7, 3, 3)),
    (lambda m: m.LocalResponseNorm(2, alpha=0.1, beta=0.5, k=2.0), (2, 4, 3)),
    (lambda m: m.Conv1d(4, 6, 3), (2, 4, 9)),
    (lambda m: m.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2, bias=False), (2, 4, 12)),
    (lambda m: m.Conv1d(3, 2, 4, padding="same", padding_mode="reflect"), (2, 3, 8)),
    (lambda m: m.Conv1d(3, 2, 3, padding=1, padding_mode="circular"), (3, 7)),
    (lambda m: m.ConvTranspose2d(4, 6, 3), (2, 4, 5, 5)),
    (lambda m: m.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1, groups=2), (2, 4, 4, 5)),
    (lambda m: m.ConvTranspose2d(2, 3, (2, 3), stride=(2, 1), dilation=2, bias=False), (1, 2, 3, 3)),
    (lambda m: m.MaxPool1d(3, stride=2, padding=1), (2, 3, 10)),
    (lambda m: m.MaxPool1d(2, ceil_mode=True), (2, 3, 9)),
    (lambda m: m.AvgPool1d(3, stride=2), (2, 3, 10)),
    (lambda m: m.AvgPool1d(3, padding=1, count_include_pad=False, ceil_mode=True), (2, 3, 10)),
]


@pytest.mark.parametrize("make,shape", CNN_LAYERS, ids=lambda v: "" if isinstance(v, tuple) else None)
def test_cnn_layers_match_torch(make, shape):
    ours = make(nn)
    ours.double()
    theirs = make(torch.nn).double()
    assert repr(ours) == repr(theirs)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, tuple(p.shape)) for n, p in theirs.named_parameters()
    ]
    copy_parameters(ours, theirs)
    x = rng(50).standard_normal(shape)
    if isinstance(ours, (nn.MaxPool1d, nn.AdaptiveMaxPool2d)):
        x = rng(50).permutation(x.size).reshape(shape).astype(np.float64)
    compare_with_torch(ours, theirs, [x])
    if list(ours.parameters()):
        compare_parameter_grads(ours, theirs)


def test_conv_transpose2d_output_size_argument_matches_torch():
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=dg.float64)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dtype=torch.float64)
    copy_parameters(ours, theirs)
    x = rng(51).standard_normal((1, 3, 4, 4))
    for size in [(7, 7), (8, 8), (1, 2, 8, 7)]:
        compare_with_torch(lambda t, s=size: ours(t, s), lambda t, s=size: theirs(t, output_size=s), [x])
    with pytest.raises(ValueError, match=r"output_size \(9, 9\) is not reachable from input of shape \(1, 3, 4, 4\)"):
        ours(dg.tensor(x), (9, 9))


def test_conv_transpose2d_inverts_conv2d_shapes_and_is_its_adjoint():
    """<conv2d(x, W), y> = <x, conv_transpose2d(y, W)>: the transposed convolution is the adjoint map."""
    x, y = rng(52).standard_normal((2, 3, 9, 9)), rng(53).standard_normal((2, 4, 5, 5))
    w = rng(54).standard_normal((4, 3, 3, 3))
    forward = F.conv2d(as_ours(x), as_ours(w), stride=2, padding=1)
    adjoint = F.conv_transpose2d(as_ours(y), as_ours(w), stride=2, padding=1)
    assert adjoint.shape == x.shape
    np.testing.assert_allclose((forward.array * y).sum(), (x * adjoint.array).sum(), rtol=1e-12)


def test_cnn_layers_default_initialisation_ranges():
    dg.manual_seed(0)
    up = nn.ConvTranspose2d(64, 8, 4, groups=2)
    bound = 1 / np.sqrt(4 * 4 * 4)  # fan_in = (out_channels / groups) k_h k_w, as PyTorch
    assert up.weight.shape == (64, 4, 4, 4)
    assert np.abs(up.weight.array).max() <= bound and np.abs(up.weight.array).max() > 0.9 * bound
    assert np.abs(up.bias.array).max() <= bound
    conv = nn.Conv1d(16, 8, 5)
    bound = 1 / np.sqrt(16 * 5)
    assert np.abs(conv.weight.array).max() <= bound and np.abs(conv.weight.array).max() > 0.9 * bound


def test_dropout2d_drops_whole_channels():
    dg.manual_seed(3)
    layer = nn.Dropout2d(0.3)
    y = layer(dg.ones(64, 32, 4, 4)).array
    per_channel = y.reshape(64, 32, -1)
    assert (per_channel == per_channel[..., :1]).all()  # one draw per (sample, channel)
    assert set(np.unique(y).tolist()) == {0.0, float(np.float32(1.0 / 0.7))}
    assert abs((y == 0).mean() - 0.3) < 0.03
    x = dg.randn(4, 3, 2, 2, requires_grad=True)
    out = F.dropout2d(x, 0.5)
    out.backward(dg.ones_like(out))
    np.testing.assert_array_equal(x.grad.array, out.array / np.where(x.array == 0, 1, x.array))
    assert layer.eval()(x) is x
    assert F.dropout2d(x, 1.0).array.max() == 0
    with pytest.warns(UserWarning, match="3-D input"):
        assert F.dropout2d(dg.ones(2, 3, 4), 0.5).shape == (2, 3, 4)
    assert repr(nn.Dropout2d(0.2, inplace=True)) == repr(torch.nn.Dropout2d(0.2, inplace=True))


def test_dropout2d_gradcheck_with_fixed_mask():
    def fn(x):
        dg.manual_seed(7)
        return F.dropout2d(x, 0.4)

    assert gradcheck(fn, [as_ours(rng(55).standard_normal((3, 4, 2, 2)), True)])


def test_dropout2d_gradgradcheck_with_fixed_mask():
    def fn(x):
        dg.manual_seed(7)
        return F.dropout2d(x, 0.4) ** 2  # squared: a second derivative that is not zero

    assert gradgradcheck(fn, [as_ours(rng(57).standard_normal((2, 3, 2, 2)), True)])


# (ours, theirs) for every inplace=True PyTorch has among our activations
INPLACE_FUNCTIONS = [
    (lambda x, inplace: F.relu(x, inplace=inplace), lambda x, inplace: TF.relu(x, inplace=inplace)),
    (lambda x, inplace: F.leaky_relu(x, 0.2, inplace), lambda x, inplace: TF.leaky_relu(x, 0.2, inplace)),
    (lambda x, inplace: F.elu(x, 0.7, inplace), lambda x, inplace: TF.elu(x, 0.7, inplace)),
    (lambda x, inplace: F.silu(x, inplace), lambda x, inplace: TF.silu(x, inplace)),
    (lambda x, inplace: nn.ReLU(inplace)(x), lambda x, inplace: torch.nn.ReLU(inplace)(x)),
    (lambda x, inplace: nn.LeakyReLU(0.2, inplace)(x), lambda x, inplace: torch.nn.LeakyReLU(0.2, inplace)(x)),
    (lambda x, inplace: nn.ELU(0.7, inplace)(x), lambda x, inplace: torch.nn.ELU(0.7, inplace)(x)),
    (lambda x, inplace: nn.SiLU(inplace)(x), lambda x, inplace: torch.nn.SiLU(inplace)(x)),
]


@pytest.mark.parametrize("ours,theirs", INPLACE_FUNCTIONS)
def test_inplace_writes_into_an_input_outside_the_graph_as_torch(ours, theirs):
    data = rng(60).standard_normal((2, 3, 4))
    x, xt = dg.tensor(data), torch.tensor(data)
    out, out_t = ours(x, True), theirs(xt, True)
    assert out is x and out_t is xt
    np.testing.assert_allclose(x.array, xt.numpy(), rtol=1e-12)
    assert x._version == 1
    with dg.no_grad():  # a leaf that requires grad, under no_grad: written in place too
        leaf = dg.tensor(data, requires_grad=True)
        assert ours(leaf, True) is leaf
    np.testing.assert_allclose(leaf.array, xt.numpy(), rtol=1e-12)


@pytest.mark.parametrize("ours,theirs", INPLACE_FUNCTIONS)
def test_inplace_in_the_graph_gives_torchs_gradients_and_relu_writes_over_its_input(ours, theirs):
    data, upstream = rng(61).standard_normal((2, 3, 4)), rng(62).standard_normal((2, 3, 4))
    x, xt = dg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    hidden, hidden_t = x * 2.0, xt * 2.0  # a non-leaf, which PyTorch updates in place
    memory = hidden.array
    out, out_t = ours(hidden, True), theirs(hidden_t, True)
    if ours in (INPLACE_FUNCTIONS[0][0], INPLACE_FUNCTIONS[4][0]):  # ReLU: over its input, no new memory
        assert out is hidden and out.array is memory and hidden._version == 1
        assert repr(out.grad_fn) == "<ReluBackward0>"
    else:  # the others: a new tensor, the input left as it was
        assert out is not hidden
        np.testing.assert_array_equal(hidden.array, 2.0 * data)
    np.testing.assert_allclose(out.array, out_t.detach().numpy(), rtol=1e-12)
    out.backward(dg.tensor(upstream))
    out_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(x.grad.array, xt.grad.numpy(), rtol=1e-12)


def test_inplace_dropout_writes_into_an_input_outside_the_graph():
    for drop in [F.dropout, F.dropout2d, lambda x, p, training, inplace: nn.Dropout(p, inplace)(x)]:
        x = dg.ones(8, 16, 3, 3)
        assert drop(x, 0.5, True, True) is x
        assert set(np.unique(x.array).tolist()) == {0.0, 2.0}
        assert drop(x, 1.0, True, True) is x and not x.array.any()
        y = dg.ones(2, 4, 3, 3, requires_grad=True) * 1.0  # in the graph: a new tensor, the input as it was
        assert drop(y, 0.5, True, True) is not y and (y.array == 1).all()


def test_inplace_change_of_a_value_saved_for_backward_is_refused_as_torch():
    data = rng(63).standard_normal((3, 4))
    for relu_in_place in [lambda x: F.relu(x, inplace=True), lambda x: x.relu_(), F.relu_, dg.relu_]:
        x, w = dg.tensor(data), dg.tensor(data, requires_grad=True)
        y = x * w  # the product saves x for w's gradient
        relu_in_place(x)
        with pytest.raises(RuntimeError, match="in-place"):
            y.sum().backward()
    xt, wt = torch.tensor(data), torch.tensor(data, requires_grad=True)
    yt = xt * wt
    TF.relu(xt, inplace=True)
    with pytest.raises(RuntimeError, match="inplace"):
        yt.sum().backward()


def test_underscore_functions_write_in_place_as_torch_and_record_graph_tensors():
    data = rng(64).standard_normal((2, 5))
    for ours, theirs in [
        (F.relu_, TF.relu_),
        (dg.relu_, torch.relu_),
        (lambda x: x.relu_(), lambda x: x.relu_()),
        (lambda x: F.leaky_relu_(x, 0.3), lambda x: TF.leaky_relu_(x, 0.3)),
        (lambda x: F.elu_(x, 0.5), lambda x: TF.elu_(x, 0.5)),
    ]:
        x, xt = dg.tensor(data), torch.tensor(data)
        assert ours(x) is x and theirs(xt) is xt
        np.testing.assert_allclose(x.array, xt.numpy(), rtol=1e-12)
        leaf, leaf_t = dg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        with pytest.raises(RuntimeError, match="in-place update of a leaf tensor that requires grad"):
            ours(leaf)
        y, y_t = leaf * 2.0, leaf_t * 2.0  # in the graph, the tensor takes the update's node as its creator
        assert ours(y) is y and theirs(y_t) is y_t
        (y * leaf).sum().backward()
        (y_t * leaf_t).sum().backward()
        np.testing.assert_allclose(y.array, y_t.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(leaf.grad.array, leaf_t.grad.numpy(), rtol=1e-12)
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


def test_flatten_function_and_method_match_torch():
    x = rng(56).standard_normal((2, 3, 4, 5))
    for args in [(), (1,), (1, 2), (0, -2)]:
        np.testing.assert_array_equal(
            dg.flatten(dg.tensor(x, dtype=dg.float64), *args).array, torch.flatten(torch.tensor(x), *args)
        )
        assert dg.tensor(x).flatten(*args).shape == tuple(torch.tensor(x).flatten(*args).shape)


def test_cnn_layer_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"output_size entries must be positive"):
        F.adaptive_avg_pool2d(dg.zeros(1, 1, 4, 4), (0, 2))
    with pytest.raises(ValueError, match=r"expected a 4-D input \(N, C, H, W\).*shape \(4, 4\)"):
        F.adaptive_max_pool2d(dg.zeros(4, 4), 2)
    with pytest.raises(
        ValueError, match=r"input of shape \(1, 3, 4, 4\) has 3 channels.*weight of shape \(2, 1, 3, 3\)"
    ):
        F.conv_transpose2d(dg.zeros(1, 3, 4, 4), dg.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match=r"output_padding \(2, 2\) must be smaller than either stride"):
        F.conv_transpose2d(dg.zeros(1, 2, 4, 4), dg.zeros(2, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"ConvTranspose2d\(3, 2\): input of shape \(1, 4, 5, 5\) has 4 channels"):
        nn.ConvTranspose2d(3, 2, 3)(dg.zeros(1, 4, 5, 5))
    with pytest.raises(ValueError, match=r"conv1d: expected a 3-D input \(N, C, L\).*shape \(1, 2, 3, 4\)"):
        F.conv1d(dg.zeros(1, 2, 3, 4), dg.zeros(1, 2, 3))
    with pytest.raises(ValueError, match=r"Conv1d\(3, 2\): input of shape \(1, 4, 9\) has 4 channels"):
        nn.Conv1d(3, 2, 3)(dg.zeros(1, 4, 9))
    with pytest.raises(ValueError, match=r"kernel_size must be an integer >= 1"):
        nn.MaxPool1d(0)
    with pytest.raises(ValueError, match=r"local_response_norm: expected input \(N, C, \*\).*shape \(3, 4\)"):
        F.local_response_norm(dg.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"size must be a positive integer"):
        nn.LocalResponseNorm(0)
    with pytest.raises(ValueError, match=r"dropout probability"):
        nn.Dropout2d(1.5)


@pytest.mark.parametrize(
    "layer,shape",
    [
        (lambda: nn.AdaptiveAvgPool2d((3, 2)), (2, 3, 7, 5)),
        (lambda: nn.AdaptiveMaxPool2d(3), (2, 3, 7, 5)),
        (lambda: nn.LocalResponseNorm(3), (2, 4, 3, 3)),
        (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2), (2, 3, 4, 4)),
        (lambda: nn.Conv1d(3, 2, 3), (2, 3, 8)),
        (lambda: nn.MaxPool1d(2), (2, 3, 8)),
        (lambda: nn.AvgPool1d(2), (2, 3, 8)),
        (lambda: nn.Dropout2d(0.3), (2, 3, 4, 4)),
    ],
)
def test_cnn_layers_keep_float32(layer, shape):
    module = layer()
    x = dg.randn(*shape, requires_grad=True)
    out = module(x)
    assert out.dtype == dg.float32
    out.backward(dg.ones_like(out))
    assert x.grad.dtype == dg.float32
    assert all(p.grad.dtype == dg.float32 for p in module.parameters())


def test_glu_and_per_channel_prelu_match_torch():
    x = rng(70).standard_normal((2, 4, 3)) * 2
    compare_with_torch(nn.GLU(1), torch.nn.GLU(1), [x], rtol=1e-9)
    ours, theirs = nn.PReLU(4, init=0.1).double(), torch.nn.PReLU(4, init=0.1).double()
    with dg.no_grad():
        ours.weight.copy_(dg.tensor([0.1, -0.2, 0.3, 0.5]))
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor([0.1, -0.2, 0.3, 0.5]))
    compare_with_torch(ours, theirs, [x], rtol=1e-9)
    upstream = rng(71).standard_normal((2, 4, 3))
    out, out_t = ours(dg.tensor(x)), theirs(torch.tensor(x))
    out.backward(dg.tensor(upstream))
    out_t.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), rtol=1e-9)
    assert [name for name, _ in ours.named_parameters()] == ["weight"]
    with pytest.raises(ValueError, match=r"glu: dimension 1 of the input \(shape \(2, 3\)\) must have an even size"):
        F.glu(dg.ones(2, 3), 1)
    with pytest.raises(ValueError, match=r"prelu: weight of 3 values for an input of shape \(2, 4, 3\)"):
        F.prelu(dg.tensor(x), dg.ones(3))


def test_layer_norm_group_norm_and_embedding_modules_match_torch():
    x = rng(80).standard_normal((3, 4, 2, 2))
    for ours, theirs in [
        (nn.LayerNorm((2, 2)), torch.nn.LayerNorm((2, 2))),
        (nn.LayerNorm(2, bias=False), torch.nn.LayerNorm(2, bias=False)),
        (nn.GroupNorm(2, 4), torch.nn.GroupNorm(2, 4)),
        (nn.GroupNorm(4, 4, affine=False), torch.nn.GroupNorm(4, 4, affine=False)),
    ]:
        ours, theirs = ours.double(), theirs.double()
        with dg.no_grad():
            for p in ours.parameters():
                p.copy_(dg.tensor(rng(81).standard_normal(p.shape)))
        theirs.load_state_dict({k: torch.tensor(v.array) for k, v in ours.state_dict().items()})
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [x], rtol=1e-9)
        assert list(ours.state_dict()) == list(theirs.state_dict())
    table = nn.Embedding(6, 3, padding_idx=2)
    assert np.all(table.weight.array[2] == 0) and table.weight.requires_grad
    indices = dg.tensor([[0, 2, 5], [2, 2, 1]])
    out = table(indices)
    assert out.shape == (2, 3, 3)
    (out * dg.arange(3.0)).sum().backward()
    expected = np.zeros((6, 3))
    for i in [0, 5, 1]:
        expected[i] += np.arange(3.0)
    np.testing.assert_array_equal(table.weight.grad.array, expected)  # the padding row gets nothing
    frozen = nn.Embedding.from_pretrained(dg.tensor(np.eye(4)))
    assert not frozen.weight.requires_grad and frozen(dg.tensor([3])).tolist() == [[0.0, 0.0, 0.0, 1.0]]
    with pytest.raises(IndexError, match=r"embedding: index 6 is out of range for 6 embeddings"):
        table(dg.tensor([6]))
    with pytest.raises(TypeError, match=r"embedding: indices must be integers, got float32"):
        table(dg.tensor([1.0]))


def test_losses_distances_and_shape_layers_match_torch():
    a, b = rng(82).standard_normal((4, 6)) * 2, rng(83).standard_normal((4, 6))
    for reduction in ("mean", "sum", "none"):
        compare_with_torch(
            nn.SmoothL1Loss(reduction=reduction, beta=0.5), torch.nn.SmoothL1Loss(reduction=reduction, beta=0.5), [a, b]
        )
        compare_with_torch(
            nn.HuberLoss(reduction=reduction, delta=0.8), torch.nn.HuberLoss(reduction=reduction, delta=0.8), [a, b]
        )
    compare_with_torch(nn.SmoothL1Loss(beta=0.0), torch.nn.SmoothL1Loss(beta=0.0), [a, b])
    compare_with_torch(nn.CosineSimilarity(1), torch.nn.CosineSimilarity(1), [a, b], grad_of=(0, 1))
    compare_with_torch(nn.PairwiseDistance(), torch.nn.PairwiseDistance(), [a, b], grad_of=(0, 1))
    image = rng(84).standard_normal((2, 8, 3, 3))
    for ours, theirs in [
        (nn.PixelShuffle(2), torch.nn.PixelShuffle(2)),
        (nn.Unflatten(1, (2, 4)), torch.nn.Unflatten(1, (2, 4))),
        (nn.ZeroPad2d((1, 0, 2, 1)), torch.nn.ZeroPad2d((1, 0, 2, 1))),
        (nn.ConstantPad2d(1, -2.5), torch.nn.ConstantPad2d(1, -2.5)),
    ]:
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [image])
    compare_with_torch(nn.PixelUnshuffle(3), torch.nn.PixelUnshuffle(3), [image.reshape(2, 2, 6, 6)])


def test_attention_masks_match_torch():
    q, k, v = (rng(85 + i).standard_normal((2, 3, 4)) for i in range(3))
    boolean = np.array([[True, False, True], [True, True, False], [False, True, True]])
    additive = rng(88).standard_normal((3, 3))
    for mask_ours, mask_theirs in [
        (dg.tensor(boolean), torch.tensor(boolean)),
        (dg.tensor(additive), torch.tensor(additive)),
    ]:
        compare_with_torch(
            lambda *t, mask=mask_ours: F.scaled_dot_product_attention(*t, attn_mask=mask),
            lambda *t, mask=mask_theirs: TF.scaled_dot_product_attention(*t, attn_mask=mask),
            [q, k, v],
            grad_of=(0, 1, 2),
        )
    with pytest.raises(ValueError, match="give attn_mask or is_causal, not both"):
        F.scaled_dot_product_attention(
            dg.tensor(q), dg.tensor(k), dg.tensor(v), attn_mask=dg.tensor(boolean), is_causal=True
        )


def test_upsample_layers_and_interpolate_errors_match_torch():
    image = rng(90).standard_normal((2, 3, 4, 5))
    for ours, theirs in [
        (nn.Upsample(scale_factor=2), torch.nn.Upsample(scale_factor=2)),
        (nn.Upsample(size=(6, 7), mode="bilinear"), torch.nn.Upsample(size=(6, 7), mode="bilinear")),
        (nn.Upsample(scale_factor=(2, 3), mode="bilinear"), torch.nn.Upsample(scale_factor=(2, 3), mode="bilinear")),
        (nn.UpsamplingNearest2d(scale_factor=3), torch.nn.UpsamplingNearest2d(scale_factor=3)),
        (nn.UpsamplingBilinear2d(size=(5, 9)), torch.nn.UpsamplingBilinear2d(size=(5, 9))),
    ]:
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [image])
    x = dg.tensor(image)
    with pytest.raises(ValueError, match=r"interpolate: mode 'bicubic' is not supported; choose one of nearest"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
    with pytest.raises(ValueError, match="give exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match=r"mode 'linear' needs 3-D input"):
        F.interpolate(x, size=3, mode="linear")
    with pytest.raises(ValueError, match="align_corners only applies to linear and bilinear modes"):
        F.interpolate(x, scale_factor=2, align_corners=True)


def test_one_dimensional_adaptive_pooling_and_channel_dropout_match_torch():
    signal = rng(95).standard_normal((2, 3, 7))
    for ours, theirs in [
        (nn.AdaptiveAvgPool1d(3), torch.nn.AdaptiveAvgPool1d(3)),
        (nn.AdaptiveMaxPool1d(4), torch.nn.AdaptiveMaxPool1d(4)),
    ]:
        assert repr(ours) == repr(theirs)
        compare_with_torch(ours, theirs, [signal])
        compare_with_torch(ours, theirs, [signal[0]])  # unbatched (C, L)
    values, indices = F.adaptive_max_pool1d(dg.tensor(signal), 3, return_indices=True)
    values_t, indices_t = TF.adaptive_max_pool1d(torch.tensor(signal), 3, return_indices=True)
    np.testing.assert_array_equal(indices.array, indices_t.numpy())
    np.testing.assert_allclose(values.array, values_t.numpy())
    assert repr(nn.Dropout1d(0.3)) == repr(torch.nn.Dropout1d(0.3))
    dropped = F.dropout1d(dg.ones(4, 16, 5), 0.5)
    assert all(len(set(dropped[n, c].tolist())) == 1 for n in range(4) for c in range(16))
    assert set(np.unique(dropped.array).tolist()) == {0.0, 2.0}
    assert F.dropout1d(dg.ones(4, 5), 0.5, training=False).tolist() == dg.ones(4, 5).tolist()
    with pytest.raises(ValueError, match=r"dropout1d: expected a 3-D input \(N, C, L\) or 2-D \(C, L\), got shape"):
        F.dropout1d(dg.ones(2, 3, 4, 5))
