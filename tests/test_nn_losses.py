"""Losses against torch.nn (values and gradients, float64, every reduction), gradcheck of each functional,
extreme logits, the fused cross-entropy node, float32 paths and the errors for bad input."""

from __future__ import annotations

import numpy as np
import pytest
from nn_helpers import as_ours, compare_with_torch

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn
from deepgrad.autograd import gradcheck, gradgradcheck
from deepgrad.ops.nn import CrossEntropy

torch = pytest.importorskip("torch")
TF = torch.nn.functional

REDUCTIONS = ["mean", "sum", "none"]


def rng(seed=0):
    return np.random.default_rng(seed)


def class_targets(shape, classes, seed=0, ignore=False):
    target = rng(seed).integers(0, classes, shape)
    if ignore:
        target.reshape(-1)[::3] = -100
    return target


# ---------------------------------------------------------------------------------------------------
# cross-entropy with class indices


CE_SHAPES = [((6, 4), (6,)), ((3, 5, 2), (3, 2)), ((2, 3, 2, 2), (2, 2, 2)), ((4,), ())]


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=lambda s: "x".join(map(str, s[0])))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_class_indices_matches_torch(shapes, reduction, weighted, smoothing, ignore):
    input_shape, target_shape = shapes
    classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    logits = rng(1).standard_normal(input_shape) * 3
    target = class_targets(target_shape, classes, seed=2, ignore=ignore and target_shape != ())
    weight = rng(3).uniform(0.2, 2.0, classes) if weighted else None

    def ours(x, t):
        w = None if weight is None else as_ours(weight)
        return F.cross_entropy(x, t, w, reduction=reduction, label_smoothing=smoothing)

    def theirs(x, t):
        w = None if weight is None else torch.tensor(weight)
        return TF.cross_entropy(x, t, w, reduction=reduction, label_smoothing=smoothing)

    compare_with_torch(ours, theirs, [logits, target])


def test_cross_entropy_module_matches_torch_with_ignore_index():
    logits = rng(4).standard_normal((7, 3))
    target = np.array([0, 1, 2, 5, 1, 5, 0])
    weight = np.array([0.5, 1.0, 2.0])
    ours = nn.CrossEntropyLoss(dg.tensor(weight, dtype=dg.float64), ignore_index=5, label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(torch.tensor(weight), ignore_index=5, label_smoothing=0.1)
    compare_with_torch(ours, theirs, [logits, target])
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    assert repr(ours) == repr(theirs) == "CrossEntropyLoss()"


def test_cross_entropy_is_one_fused_node():
    x = dg.randn(8, 10, requires_grad=True)
    loss = F.cross_entropy(x, dg.randint(0, 10, (8,)))
    assert isinstance(loss.grad_fn, CrossEntropy)
    assert len(loss.grad_fn.inputs) == 1 and loss.grad_fn.inputs[0] is x  # straight from the logits


def test_cross_entropy_backward_is_softmax_minus_onehot():
    logits = rng(5).standard_normal((4, 3))
    target = np.array([2, 0, 1, 1])
    x = as_ours(logits, True)
    F.cross_entropy(x, dg.tensor(target), reduction="sum").backward()
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(x.grad.array, probs - np.eye(3)[target], rtol=1e-12)


def test_cross_entropy_all_targets_ignored_is_nan_as_torch():
    logits = rng(6).standard_normal((3, 4))
    target = np.full(3, -100)
    ours = F.cross_entropy(as_ours(logits), dg.tensor(target))
    theirs = TF.cross_entropy(torch.tensor(logits), torch.tensor(target))
    assert np.isnan(ours.item()) and torch.isnan(theirs)


# ---------------------------------------------------------------------------------------------------
# cross-entropy with probability targets


@pytest.mark.parametrize("shape", [(5, 4), (3, 4, 2), (4,)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_matches_torch(shape, reduction, weighted, smoothing):
    class_dim = 0 if len(shape) == 1 else 1
    logits = rng(7).standard_normal(shape) * 2
    raw = rng(8).uniform(0.1, 1.0, shape)
    probs = raw / raw.sum(class_dim, keepdims=True)
    weight = rng(9).uniform(0.2, 2.0, shape[class_dim]) if weighted else None

    def ours(x, y):
        w = None if weight is None else as_ours(weight)
        return F.cross_entropy(x, y, w, reduction=reduction, label_smoothing=smoothing)

    def theirs(x, y):
        w = None if weight is None else torch.tensor(weight)
        return TF.cross_entropy(x, y, w, reduction=reduction, label_smoothing=smoothing)

    compare_with_torch(ours, theirs, [logits, probs], grad_of=(0, 1))


# ---------------------------------------------------------------------------------------------------
# extreme logits


@pytest.mark.parametrize("dtype", [dg.float32, dg.float64], ids=str)
def test_cross_entropy_finite_and_correct_for_huge_logits(dtype):
    logits = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0], [0.0, 0.0, -1000.0]])
    target = np.array([1, 2, 0])
    x = dg.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, dg.tensor(target), reduction="none")
    loss.backward(dg.ones(3, dtype=dtype))
    assert np.isfinite(loss.array).all() and np.isfinite(x.grad.array).all()
    # by hand: row 0 -> 2000, row 1 -> 1000 - 999 + log(1 + e^-1) , row 2 -> log(2 + e^-1000) = log 2
    expected = [2000.0, 1.0 + np.log1p(np.exp(-1.0)), np.log(2.0)]
    np.testing.assert_allclose(loss.array, expected, rtol=1e-6)
    t_x = torch.tensor(logits, requires_grad=True)
    t_loss = TF.cross_entropy(t_x, torch.tensor(target), reduction="none")
    t_loss.backward(torch.ones(3, dtype=torch.float64))
    np.testing.assert_allclose(x.grad.array, t_x.grad.numpy(), rtol=1e-6, atol=1e-7)
    # probability targets go through log_softmax, which is stable too
    probs = np.eye(3)[target]
    x2 = dg.tensor(logits, dtype=dtype, requires_grad=True)
    loss2 = F.cross_entropy(x2, dg.tensor(probs, dtype=dtype), reduction="none")
    loss2.backward(dg.ones(3, dtype=dtype))
    np.testing.assert_allclose(loss2.array, expected, rtol=1e-6)
    np.testing.assert_allclose(x2.grad.array, t_x.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("dtype", [dg.float32, dg.float64], ids=str)
def test_bce_with_logits_finite_and_correct_for_huge_logits(dtype):
    logits = np.array([1000.0, -1000.0, 1000.0, -1000.0, 0.0])
    target = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    x = dg.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, dg.tensor(target, dtype=dtype), reduction="none")
    loss.backward(dg.ones(5, dtype=dtype))
    np.testing.assert_allclose(loss.array, [0.0, 0.0, 1000.0, 1000.0, np.log(2.0)], rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(x.grad.array, [0.0, 0.0, 1.0, -1.0, -0.5], atol=1e-30)
    t_x = torch.tensor(logits, requires_grad=True)
    t_loss = TF.binary_cross_entropy_with_logits(t_x, torch.tensor(target), reduction="none")
    t_loss.backward(torch.ones(5, dtype=torch.float64))
    np.testing.assert_allclose(loss.array, t_loss.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(x.grad.array, t_x.grad.numpy(), atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# the other losses


@pytest.mark.parametrize("shapes", CE_SHAPES, ids=lambda s: "x".join(map(str, s[0])))
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(shapes, reduction, weighted):
    input_shape, target_shape = shapes
    classes = input_shape[0] if len(input_shape) == 1 else input_shape[1]
    logp = rng(10).standard_normal(input_shape)
    target = class_targets(target_shape, classes, seed=11, ignore=target_shape != ())
    weight = rng(12).uniform(0.2, 2.0, classes) if weighted else None
    ours = nn.NLLLoss(None if weight is None else as_ours(weight), reduction=reduction)
    theirs = torch.nn.NLLLoss(None if weight is None else torch.tensor(weight), reduction=reduction)
    compare_with_torch(ours, theirs, [logp, target])


ELEMENTWISE_SHAPES = [(5,), (3, 4), (2, 3, 4), ()]


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss"])
def test_regression_losses_match_torch(shape, reduction, name):
    prediction, target = rng(13).standard_normal(shape), rng(14).standard_normal(shape)
    ours = getattr(nn, name)(reduction=reduction)
    theirs = getattr(torch.nn, name)(reduction=reduction)
    compare_with_torch(ours, theirs, [prediction, target], grad_of=(0, 1))


@pytest.mark.parametrize("shape", ELEMENTWISE_SHAPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(shape, reduction, weighted):
    probs = rng(15).uniform(0.05, 0.95, shape)
    target = rng(16).uniform(0.0, 1.0, shape)
    weight = rng(17).uniform(0.5, 2.0, shape) if weighted else None
    ours = nn.BCELoss(None if weight is None else as_ours(weight), reduction=reduction)
    theirs = torch.nn.BCELoss(None if weight is None else torch.tensor(weight), reduction=reduction)
    compare_with_torch(ours, theirs, [probs, target], grad_of=(0, 1))


def test_bce_clamps_logs_at_minus_100_as_torch():
    probs = np.array([0.0, 1.0, 0.0, 1.0, 1e-50])
    target = np.array([1.0, 0.0, 0.0, 1.0, 1.0])
    ours = F.binary_cross_entropy(as_ours(probs), as_ours(target), reduction="none")
    theirs = TF.binary_cross_entropy(torch.tensor(probs), torch.tensor(target), reduction="none")
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-12)
    np.testing.assert_allclose(ours.array, [100.0, 100.0, 0.0, 0.0, 100.0], rtol=1e-12)


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("positive_weighted", [False, True])
def test_bce_with_logits_matches_torch(shape, reduction, weighted, positive_weighted):
    logits = rng(18).standard_normal(shape) * 3
    target = rng(19).uniform(0.0, 1.0, shape)
    arrays = [logits, target]
    if weighted:
        arrays.append(rng(20).uniform(0.5, 2.0, shape))
    if positive_weighted:
        arrays.append(rng(21).uniform(0.5, 3.0, shape[-1:]))

    def call(module_fn, tensors):
        x, y, *rest = tensors
        weight = rest.pop(0) if weighted else None
        pos_weight = rest.pop(0) if positive_weighted else None
        return module_fn(x, y, weight, reduction=reduction, pos_weight=pos_weight)

    compare_with_torch(
        lambda *t: call(F.binary_cross_entropy_with_logits, t),
        lambda *t: call(TF.binary_cross_entropy_with_logits, t),
        arrays,
        grad_of=(0, 1),  # PyTorch does not differentiate weight and pos_weight (gradcheck covers ours)
    )


def test_bce_with_logits_module_buffers_and_values():
    logits, target = rng(22).standard_normal((4, 3)), rng(23).uniform(0, 1, (4, 3))
    pos_weight = np.array([1.0, 2.0, 3.0])
    ours = nn.BCEWithLogitsLoss(pos_weight=dg.tensor(pos_weight, dtype=dg.float64))
    theirs = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    compare_with_torch(ours, theirs, [logits, target])
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["pos_weight"]


@pytest.mark.parametrize("shape", [(4, 3), (2, 3, 5)], ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS + ["batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(shape, reduction, log_target):
    logits = rng(24).standard_normal(shape)
    log_q = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    p = rng(25).uniform(0.05, 1.0, shape)
    p = p / p.sum(-1, keepdims=True)
    target = np.log(p) if log_target else p
    ours = nn.KLDivLoss(reduction=reduction, log_target=log_target)
    theirs = torch.nn.KLDivLoss(reduction=reduction, log_target=log_target)
    with pytest.warns(UserWarning) if reduction == "mean" else _no_warning():
        compare_with_torch(ours, theirs, [log_q, target], grad_of=(0, 1))


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_kl_div_zero_target_contributes_zero():
    log_q = np.log(np.array([[0.5, 0.25, 0.25]]))
    p = np.array([[1.0, 0.0, 0.0]])
    x = as_ours(log_q, True)
    loss = F.kl_div(x, as_ours(p), reduction="sum")
    theirs = TF.kl_div(torch.tensor(log_q), torch.tensor(p), reduction="sum")
    np.testing.assert_allclose(loss.item(), theirs.item(), rtol=1e-12)
    np.testing.assert_allclose(loss.item(), np.log(2.0), rtol=1e-12)
    loss.backward()
    np.testing.assert_allclose(x.grad.array, -p)


# ---------------------------------------------------------------------------------------------------
# gradcheck (float64 finite differences) and double backward


def _f64(shape, seed, requires_grad=True, low=None, high=None):
    data = rng(seed).standard_normal(shape) if low is None else rng(seed).uniform(low, high, shape)
    return dg.tensor(data, dtype=dg.float64, requires_grad=requires_grad)


GRADCHECK_CASES = {
    "cross_entropy": (lambda x: F.cross_entropy(x, dg.tensor([0, 2, 1])), [(3, 4)]),
    "cross_entropy_none_weight_smooth": (
        lambda x: F.cross_entropy(
            x, dg.tensor([0, -100, 1]), dg.tensor([1.0, 2.0, 0.5, 1.5]), reduction="none", label_smoothing=0.2
        ),
        [(3, 4)],
    ),
    "cross_entropy_spatial": (lambda x: F.cross_entropy(x, dg.tensor([[0, 2], [1, 1]])), [(2, 3, 2)]),
    "cross_entropy_probabilities": (lambda x, y: F.cross_entropy(x, y.softmax(1)), [(3, 4), (3, 4)]),
    "nll_loss": (lambda x: F.nll_loss(x, dg.tensor([0, 2, 1]), reduction="sum"), [(3, 4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [(3, 4), (3, 4)]),
    "l1_loss": (lambda x, y: F.l1_loss(x, y, reduction="none"), [(3, 4), (3, 4)]),
    "bce_with_logits": (
        lambda x, y, p: F.binary_cross_entropy_with_logits(x, y.sigmoid(), pos_weight=p.exp()),
        [(3, 4), (3, 4), (4,)],
    ),
    "kl_div": (lambda x, y: F.kl_div(x.log_softmax(1), y.softmax(1), reduction="batchmean"), [(3, 4), (3, 4)]),
}


@pytest.mark.parametrize("name", list(GRADCHECK_CASES))
def test_gradcheck(name):
    fn, shapes = GRADCHECK_CASES[name]
    inputs = [_f64(shape, seed) for seed, shape in enumerate(shapes)]
    assert gradcheck(fn, inputs)


def test_gradcheck_bce():
    x = _f64((3, 4), 0, low=0.1, high=0.9)
    y = _f64((3, 4), 1, low=0.0, high=1.0)
    assert gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction="sum"), [x, y])


@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_none_weight_smooth", "bce_with_logits"])
def test_gradgradcheck(name):
    fn, shapes = GRADCHECK_CASES[name]
    inputs = [_f64(shape, seed + 5) for seed, shape in enumerate(shapes)]
    assert gradgradcheck(fn, inputs)


def test_gradgradcheck_bce():
    x = _f64((2, 3), 0, low=0.1, high=0.9)
    y = _f64((2, 3), 1, low=0.0, high=1.0)
    assert gradgradcheck(lambda a, b: F.binary_cross_entropy(a, b), [x, y])


def test_cross_entropy_double_backward_matches_torch():
    logits = rng(30).standard_normal((4, 5))
    target = np.array([1, 0, 4, 2])
    vector = rng(31).standard_normal((4, 5))
    x = as_ours(logits, True)
    (g,) = dg.autograd.grad(F.cross_entropy(x, dg.tensor(target), label_smoothing=0.1), x, create_graph=True)
    (hv,) = dg.autograd.grad((g * as_ours(vector)).sum(), x)
    tx = torch.tensor(logits, requires_grad=True)
    (tg,) = torch.autograd.grad(TF.cross_entropy(tx, torch.tensor(target), label_smoothing=0.1), tx, create_graph=True)
    (thv,) = torch.autograd.grad((tg * torch.tensor(vector)).sum(), tx)
    np.testing.assert_allclose(g.array, tg.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(hv.array, thv.numpy(), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------------------------------------------
# float32 stays float32


@pytest.mark.parametrize(
    "loss_fn",
    [
        lambda x: F.cross_entropy(x, dg.tensor([0, 1, 2])),
        lambda x: F.cross_entropy(x, dg.tensor([0, 1, 2]), dg.tensor([1.0, 2.0, 3.0, 4.0], dtype=dg.float64)),
        lambda x: F.cross_entropy(x, dg.tensor([0, 1, 2]), label_smoothing=0.1, reduction="none"),
        lambda x: F.cross_entropy(x, x.detach().softmax(1)),
        lambda x: F.cross_entropy(x, x.detach().softmax(1).double(), label_smoothing=0.1),
        lambda x: F.nll_loss(x.log_softmax(1), dg.tensor([0, 1, 2])),
        lambda x: F.mse_loss(x, dg.zeros(3, 4)),
        lambda x: F.l1_loss(x, dg.zeros(3, 4)),
        lambda x: F.binary_cross_entropy(x.sigmoid(), dg.ones(3, 4)),
        lambda x: F.binary_cross_entropy_with_logits(x, dg.ones(3, 4), pos_weight=dg.ones(4)),
        lambda x: F.kl_div(x.log_softmax(1), dg.ones(3, 4) / 4, reduction="batchmean"),
    ],
)
def test_float32_stays_float32(loss_fn):
    x = dg.randn(3, 4, requires_grad=True)
    loss = loss_fn(x)
    assert loss.dtype == dg.float32
    loss.backward(dg.ones_like(loss))
    assert x.grad.dtype == dg.float32


# ---------------------------------------------------------------------------------------------------
# bad input


def test_reduction_must_be_known():
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(dg.zeros(2), dg.zeros(2), reduction="average")
    with pytest.raises(ValueError, match="reduction must be one of"):
        nn.CrossEntropyLoss(reduction="batchmean")
    nn.KLDivLoss(reduction="batchmean")  # allowed there


def test_cross_entropy_target_out_of_range():
    with pytest.raises(IndexError, match="target 7 is out of bounds for 3 classes"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([0, 7]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([-1, 0]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.nll_loss(dg.zeros(2, 3), dg.tensor([3, 0]))


def test_cross_entropy_target_wrong_shape():
    with pytest.raises(ValueError, match=r"target of shape \(3,\) does not match input of shape \(2, 3\)"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match=r"must have shape \(2,\)"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([[0], [1]]))


def test_cross_entropy_float_target_of_wrong_shape():
    with pytest.raises(TypeError, match="class-index targets must be integers.*probability targets"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([0.0, 1.0]))


def test_cross_entropy_bad_weight_and_smoothing():
    with pytest.raises(ValueError, match=r"one entry per class, shape \(3,\)"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([0, 1]), dg.ones(4))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(dg.zeros(2, 3), dg.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=-0.1)


def test_bce_rejects_values_outside_unit_interval_and_shape_mismatch():
    with pytest.raises(ValueError, match="between 0 and 1.*with_logits"):
        F.binary_cross_entropy(dg.tensor([0.5, 1.5]), dg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="same shape"):
        F.binary_cross_entropy(dg.tensor([[0.5], [0.2]]), dg.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match="same shape"):
        F.binary_cross_entropy_with_logits(dg.zeros(3, 1), dg.zeros(3))


def test_bce_with_logits_integer_targets_are_converted():
    loss = F.binary_cross_entropy_with_logits(dg.zeros(2), dg.tensor([0, 1]))
    assert loss.dtype == dg.float32
    np.testing.assert_allclose(loss.item(), np.log(2.0), rtol=1e-6)


def test_mse_warns_on_broadcast_and_rejects_incompatible_shapes():
    with pytest.warns(UserWarning, match="different to the input size"):
        F.mse_loss(dg.zeros(4, 1), dg.zeros(4))
    with pytest.raises(ValueError, match=r"input of shape \(4,\) and target of shape \(3,\)"):
        F.mse_loss(dg.zeros(4), dg.zeros(3))


def test_ranking_embedding_margin_and_likelihood_losses_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    a, b, c = (rng.standard_normal((5, 4)) for _ in range(3))
    labels = np.array([1.0, -1.0, 1.0, -1.0, 1.0])
    scores1, scores2 = rng.standard_normal(5), rng.standard_normal(5)
    counts = rng.poisson(2.0, (5, 4)).astype(np.float64)
    variance = rng.uniform(0.5, 2.0, (5, 4))
    variance[0, 0] = 1e-9  # below eps: clamped, with its gradient kept
    cases = [
        (nn.MarginRankingLoss(0.3), torch.nn.MarginRankingLoss(0.3), [scores1, scores2, labels], (0, 1)),
        (nn.TripletMarginLoss(), torch.nn.TripletMarginLoss(), [a, b, c], (0, 1, 2)),
        (
            nn.TripletMarginLoss(0.5, p=1.0, swap=True),
            torch.nn.TripletMarginLoss(0.5, p=1.0, swap=True),
            [a, b, c],
            (0, 1, 2),
        ),
        (nn.CosineEmbeddingLoss(0.1), torch.nn.CosineEmbeddingLoss(0.1), [a, b, labels], (0, 1)),
        (nn.SoftMarginLoss(), torch.nn.SoftMarginLoss(), [a[:, 0] * 3, labels], (0,)),
        (nn.PoissonNLLLoss(), torch.nn.PoissonNLLLoss(), [a, counts], (0,)),
        (
            nn.PoissonNLLLoss(log_input=False, full=True),
            torch.nn.PoissonNLLLoss(log_input=False, full=True),
            [np.abs(a) + 0.1, counts],
            (0,),
        ),
        (nn.GaussianNLLLoss(), torch.nn.GaussianNLLLoss(), [a, b, variance], (0, 2)),
        (
            nn.GaussianNLLLoss(full=True, reduction="sum"),
            torch.nn.GaussianNLLLoss(full=True, reduction="sum"),
            [a, b, variance[:, :1]],
            (0, 2),
        ),
    ]
    for ours, theirs, arrays, grad_of in cases:
        compare_with_torch(ours, theirs, arrays, grad_of=grad_of, rtol=1e-9)
    for reduction in ("sum", "none"):
        compare_with_torch(
            nn.MarginRankingLoss(reduction=reduction),
            torch.nn.MarginRankingLoss(reduction=reduction),
            [scores1, scores2, labels],
            grad_of=(0, 1),
        )
    with pytest.raises(ValueError, match=r"gaussian_nll_loss: var of shape \(5, 3\) for input of shape \(5, 4\)"):
        nn.GaussianNLLLoss()(dg.tensor(a), dg.tensor(b), dg.tensor(variance[:, :3]))
