"""Each op's ``uses_inputs`` / ``uses_result`` tell the engine which saved values its backward reads, and so
which in-place changes must make the next backward fail (the version check). A missing declaration lets a
stale backward run silently; a needless one rejects harmless in-place updates. So both are checked against
what backward really reads.

For every op of the op table (``op_specs.py``), the ops outside it (layers, losses, pooling) and the ops that
only appear in gradient graphs (``create_graph=True``), every node's backward is run as the engine runs it
(first order on arrays, and on Tensors as under ``create_graph``), then again with all its inputs, or its
output, replaced by garbage of the same shape and dtype (random values, then NaN). The gradient changes
exactly when backward reads those values; each op class must declare what at least one of its nodes read,
and nothing more. Every ``Function`` subclass defined in ``deepgrad.ops`` must be exercised.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from op_specs import SPECS, draw

import deepgrad as dg
import deepgrad.nn.functional as F
import deepgrad.ops
from deepgrad.autograd import Function


def _op_classes() -> list[type]:
    """Every Function subclass defined in a module of deepgrad.ops."""
    classes = []
    for info in pkgutil.iter_modules(deepgrad.ops.__path__):
        module = importlib.import_module(f"deepgrad.ops.{info.name}")
        for value in vars(module).values():
            if inspect.isclass(value) and issubclass(value, Function) and value.__module__ == module.__name__:
                classes.append(value)
    return sorted(classes, key=lambda cls: f"{cls.__module__}.{cls.__name__}")


OP_CLASSES = _op_classes()


def _leaf(shape: tuple[int, ...], rng: np.random.Generator, domain: str = "real", requires_grad: bool = True):
    return dg.tensor(draw(shape, domain, rng), dtype=dg.float64, requires_grad=requires_grad)


def _table_case(spec, shapes) -> Callable[[np.random.Generator], Any]:
    def build(rng):
        leaves = [_leaf(s, rng, spec.domain, i not in spec.nondiff) for i, s in enumerate(shapes)]
        return spec.ours(*leaves)

    return build


def _conv2d(rng):
    x, w, b = _leaf((2, 4, 6, 5), rng), _leaf((6, 2, 3, 2), rng), _leaf((6,), rng)
    return F.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)


def _cross_entropy_weighted_smoothed(rng):
    x = _leaf((4, 3, 2), rng)
    target = dg.tensor([[0, 2], [1, -100], [2, 2], [0, 1]])
    weight = dg.tensor([0.5, 1.0, 2.0], dtype=dg.float64)
    return F.cross_entropy(x, target, weight, ignore_index=-100, label_smoothing=0.2)


def _nll_loss(rng):
    logp = _leaf((5, 3), rng).log_softmax(1)
    return F.nll_loss(logp, dg.tensor([0, 2, 1, 1, -100]), dg.tensor([0.5, 1.0, 2.0], dtype=dg.float64))


# ops outside the op table, each built from float64 leaves that require grad
EXTRA_CASES: dict[str, Callable[[np.random.Generator], Any]] = {
    "linear": lambda r: F.linear(_leaf((4, 3), r), _leaf((2, 3), r), _leaf((2,), r)),
    "linear_3d_no_bias": lambda r: F.linear(_leaf((2, 4, 3), r), _leaf((2, 3), r)),
    "conv2d": _conv2d,
    "max_pool2d": lambda r: F.max_pool2d(_leaf((2, 3, 5, 6), r, "distinct"), 3, stride=2, padding=1),
    "avg_pool2d": lambda r: F.avg_pool2d(_leaf((2, 3, 5, 6), r), 2, stride=1, padding=1, count_include_pad=False),
    "cross_entropy": lambda r: F.cross_entropy(_leaf((5, 3), r), dg.tensor([0, 2, 1, 1, 0])),
    "cross_entropy_sum_none": lambda r: F.cross_entropy(_leaf((5, 3), r), dg.tensor([0, 2, 1, 1, 0]), reduction="none"),
    "cross_entropy_weighted_smoothed": _cross_entropy_weighted_smoothed,
    "nll_loss": _nll_loss,
    "binary_cross_entropy": lambda r: F.binary_cross_entropy(_leaf((2, 3), r).sigmoid(), _leaf((2, 3), r).sigmoid()),
    "bce_with_logits": lambda r: F.binary_cross_entropy_with_logits(_leaf((2, 3), r), _leaf((2, 3), r).sigmoid()),
    "bce_with_logits_pos_weight": lambda r: F.binary_cross_entropy_with_logits(
        _leaf((2, 3), r), _leaf((2, 3), r).sigmoid(), pos_weight=_leaf((3,), r, "positive")
    ),
    "softplus": lambda r: F.softplus(_leaf((3, 4), r) * 4, beta=2.0, threshold=3.0),
    "amin": lambda r: _leaf((3, 4), r, "distinct").amin(-1),
    "min_all": lambda r: _leaf((3, 4), r, "distinct").min(),
    "cast": lambda r: _leaf((2, 3), r).to(dg.float32) * 2,
}

CASES = {
    f"{spec.name}-{'x'.join(map(str, shapes))}": _table_case(spec, shapes) for spec in SPECS for shapes in spec.shapes
}
CASES.update(EXTRA_CASES)


# ---------------------------------------------------------------------------------------------------
# running one node's backward with the real values and with garbage


def _garbage(array: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """Same shape and dtype as ``array``, other values."""
    array = np.asarray(array)
    if array.dtype.kind != "f":
        return np.roll(array.ravel()[::-1], 1).reshape(array.shape)
    if kind == "nan":
        return np.full_like(array, np.nan)
    return (rng.standard_normal(array.shape) * 3 + 1).astype(array.dtype)


def _as_tensor_like(array: np.ndarray, original: Any) -> Any:
    requires_grad = bool(original.requires_grad) and array.dtype.kind == "f"
    return dg.tensor(array, dtype=array.dtype, requires_grad=requires_grad)


def _run(fn: Function, grad: np.ndarray, result: Any, inputs: list, as_tensors: bool) -> tuple:
    """fn's backward as the engine calls it: on arrays, or on Tensors with recording on (create_graph)."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if as_tensors:
            with dg.enable_grad():
                grads = fn.backward(dg.tensor(grad.copy(), dtype=grad.dtype), result, *inputs)
        else:
            grads = fn.backward(grad.copy(), result, *inputs)
    grads = grads if isinstance(grads, tuple) else (grads,)
    grads += (None,) * (len(inputs) - len(grads))
    return tuple(None if g is None else np.array(g.array if isinstance(g, dg.Tensor) else g) for g in grads)


def _differs(reference: tuple, other: tuple) -> bool:
    for a, b in zip(reference, other):
        if (a is None) != (b is None):
            return True
        if a is not None and (a.shape != b.shape or not np.allclose(a, b, rtol=1e-12, atol=0, equal_nan=True)):
            return True
    return False


def _reads(fn: Function, out: Any, grad: np.ndarray, as_tensors: bool, rng: np.random.Generator) -> tuple[bool, bool]:
    """(whether backward's gradients depend on the inputs' values, ... on the output's value)."""
    if as_tensors:
        inputs, result = list(fn.inputs), out
    else:
        inputs, result = [t.array for t in fn.inputs], out.array
    reference = _run(fn, grad, result, inputs, as_tensors)
    reads_inputs = reads_result = False
    for kind in ("random", "nan"):
        garbage_inputs = [_garbage(t.array, kind, rng) for t in fn.inputs]
        garbage_result = _garbage(out.array, kind, rng)
        if as_tensors:
            garbage_inputs = [_as_tensor_like(g, t) for g, t in zip(garbage_inputs, fn.inputs)]
            garbage_result = _as_tensor_like(garbage_result, out)
        try:
            reads_inputs |= _differs(reference, _run(fn, grad, result, garbage_inputs, as_tensors))
        except Exception:  # garbage made backward fail: it reads them
            reads_inputs = True
        try:
            reads_result |= _differs(reference, _run(fn, grad, garbage_result, inputs, as_tensors))
        except Exception:
            reads_result = True
    return reads_inputs, reads_result


def _nodes(roots: list) -> list[tuple[Function, Any]]:
    """Every node of the graphs behind ``roots``, with the tensor it produced."""
    found: dict[int, tuple[Function, Any]] = {}
    stack = [root for root in roots if root.grad_fn is not None]
    while stack:
        tensor = stack.pop()
        fn = tensor.grad_fn
        if id(fn) in found:
            continue
        found[id(fn)] = (fn, tensor)
        stack.extend(t for t in fn.inputs if t.grad_fn is not None)
    return list(found.values())


def _observe(build: Callable, rng: np.random.Generator, observed: dict) -> None:
    """Check every node of one case's forward graph and of its gradients' graph (create_graph)."""
    out = build(rng)
    leaves = {}
    for fn, _ in _nodes([out]):
        leaves.update({id(t): t for t in fn.inputs if t.grad_fn is None and t.requires_grad})
    leaves = list(leaves.values())
    # an upstream gradient that requires grad: the ops linear in it (the pooling and scatter adjoints) then
    # show up in the gradients' graph too
    upstream = dg.tensor(rng.standard_normal(out.shape), dtype=out.dtype, requires_grad=True)
    grads = dg.autograd.grad(out, leaves, grad_outputs=upstream, create_graph=True, allow_unused=True)
    nodes = _nodes([out] + [g for g in grads if g is not None])
    for fn, tensor in nodes:
        grad = rng.standard_normal(tensor.shape).astype(tensor.dtype)
        record = observed.setdefault(type(fn), [False, False])
        for as_tensors in (False, True):
            reads_inputs, reads_result = _reads(fn, tensor, grad, as_tensors, rng)
            record[0] |= reads_inputs
            record[1] |= reads_result


@pytest.fixture(scope="module")
def observed() -> dict[type, list[bool]]:
    """op class -> [its backward read its inputs in some node, ... its output]."""
    rng = np.random.default_rng(0)
    observed: dict[type, list[bool]] = {}
    for build in CASES.values():
        _observe(build, rng, observed)
    return observed


def test_every_op_class_in_ops_is_exercised(observed):
    missing = [f"{cls.__module__}.{cls.__name__}" for cls in OP_CLASSES if cls not in observed]
    assert not missing, f"ops not exercised (add them to op_specs.py or EXTRA_CASES): {missing}"
    assert set(OP_CLASSES) <= set(observed)


@pytest.mark.parametrize("cls", OP_CLASSES, ids=lambda cls: cls.__name__)
def test_declarations_match_what_backward_reads(cls, observed):
    if cls not in observed:
        pytest.fail(f"{cls.__name__} is never exercised (see test_every_op_class_in_ops_is_exercised)")
    reads_inputs, reads_result = observed[cls]
    problems = []
    for attribute, declared, reads, what in [
        ("uses_inputs", cls.uses_inputs, reads_inputs, "its inputs"),
        ("uses_result", cls.uses_result, reads_result, "its output"),
    ]:
        if reads and not declared:
            problems.append(f"backward reads {what}' values, so {attribute} must be True")
        if declared and not reads:
            problems.append(f"{attribute} = True, but backward never reads {what}' values (set it False)")
    assert not problems, f"{cls.__name__}: " + "; ".join(problems)


def test_the_probe_sees_what_backward_reads():
    """exp's backward reads only its output (grad * z), mul's only its inputs (grad * b, grad * a)."""
    rng = np.random.default_rng(1)
    exp = _leaf((3,), rng).exp()
    product = _leaf((3,), rng) * _leaf((3,), rng)
    for as_tensors in (False, True):
        assert _reads(exp.grad_fn, exp, np.ones(3), as_tensors, rng) == (False, True)
        assert _reads(product.grad_fn, product, np.ones(3), as_tensors, rng) == (True, False)
