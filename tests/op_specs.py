"""The op table: one line per differentiable op, shared by the gradcheck and the PyTorch oracle tests.

Each spec: a name, deepgrad's function, PyTorch's function (taking the same arguments, on torch
tensors), the shapes of the tensor inputs (several cases, broadcasting among them), and the domain the
inputs are drawn from. Adding an op means one line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import deepgrad as dg
import deepgrad.nn.functional as F


@dataclass
class OpSpec:
    name: str
    ours: Callable[..., Any]
    theirs: Callable[..., Any] | None  # called with (torch, *tensors)
    shapes: list[tuple[tuple[int, ...], ...]]
    domain: str = "real"  # real | positive | away_from_zero | distinct
    nondiff: list[int] = field(default_factory=list)  # positions of inputs that get no gradient


def draw(shape: tuple[int, ...], domain: str, rng: np.random.Generator) -> np.ndarray:
    if domain == "positive":
        return rng.uniform(0.5, 2.0, shape)
    if domain == "away_from_zero":
        return rng.choice([-1.0, 1.0], shape) * rng.uniform(0.3, 2.0, shape)
    if domain == "distinct":  # no ties and no values near each other (max, sort-like ops, relu kinks)
        n = int(np.prod(shape)) if shape else 1
        values = rng.permutation(n).astype(np.float64) * 0.37 - n * 0.18 + 0.05
        return values.reshape(shape)
    return rng.standard_normal(shape)


UNARY = [(3,), (2, 3), (2, 3, 4), ()]
BINARY = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((2, 1), (1, 4)),
    ((2, 3, 4), (3, 1)),
    ((), (2, 3)),
    ((4, 1, 3), (2, 3)),
]
REDUCE = [(5,), (3, 4), (2, 3, 4)]

SPECS = [
    OpSpec("add", lambda a, b: a + b, lambda t, a, b: a + b, BINARY),
    OpSpec("sub", lambda a, b: a - b, lambda t, a, b: a - b, BINARY),
    OpSpec("mul", lambda a, b: a * b, lambda t, a, b: a * b, BINARY),
    OpSpec("div", lambda a, b: a / b, lambda t, a, b: a / b, BINARY, "away_from_zero"),
    OpSpec("pow_tensor", lambda a, b: a**b, lambda t, a, b: a**b, BINARY, "positive"),
    OpSpec("pow_scalar", lambda a: a**3, lambda t, a: a**3, [(s,) for s in UNARY]),
    OpSpec("rpow_scalar", lambda a: 2.0**a, lambda t, a: 2.0**a, [(s,) for s in UNARY]),
    OpSpec("rsub_scalar", lambda a: 1.5 - a, lambda t, a: 1.5 - a, [(s,) for s in UNARY]),
    OpSpec(
        "rdiv_scalar",
        lambda a: 1.5 / a,
        lambda t, a: 1.5 / a,
        [(s,) for s in UNARY],
        "away_from_zero",
    ),
    OpSpec("neg", lambda a: -a, lambda t, a: -a, [(s,) for s in UNARY]),
    OpSpec("exp", dg.exp, lambda t, a: t.exp(a), [(s,) for s in UNARY]),
    OpSpec("log", dg.log, lambda t, a: t.log(a), [(s,) for s in UNARY], "positive"),
    OpSpec("log1p", dg.log1p, lambda t, a: t.log1p(a), [(s,) for s in UNARY], "positive"),
    OpSpec("sqrt", dg.sqrt, lambda t, a: t.sqrt(a), [(s,) for s in UNARY], "positive"),
    OpSpec("abs", dg.abs, lambda t, a: t.abs(a), [(s,) for s in UNARY], "away_from_zero"),
    OpSpec("sin", dg.sin, lambda t, a: t.sin(a), [(s,) for s in UNARY]),
    OpSpec("cos", dg.cos, lambda t, a: t.cos(a), [(s,) for s in UNARY]),
    OpSpec("tanh", dg.tanh, lambda t, a: t.tanh(a), [(s,) for s in UNARY]),
    OpSpec("sigmoid", dg.sigmoid, lambda t, a: t.sigmoid(a), [(s,) for s in UNARY]),
    OpSpec("erf", dg.erf, lambda t, a: t.erf(a), [(s,) for s in UNARY]),
    OpSpec("relu", dg.relu, lambda t, a: t.relu(a), [(s,) for s in UNARY], "distinct"),
    OpSpec(
        "leaky_relu",
        lambda a: dg.leaky_relu(a, 0.1),
        lambda t, a: t.nn.functional.leaky_relu(a, 0.1),
        [(s,) for s in UNARY],
        "distinct",
    ),
    OpSpec(
        "elu",
        lambda a: dg.elu(a, 0.7),
        lambda t, a: t.nn.functional.elu(a, 0.7),
        [(s,) for s in UNARY],
        "distinct",
    ),
    OpSpec("maximum", dg.maximum, lambda t, a, b: t.maximum(a, b), BINARY, "distinct"),
    OpSpec("minimum", dg.minimum, lambda t, a, b: t.minimum(a, b), BINARY, "distinct"),
    OpSpec(
        "clamp",
        lambda a: dg.clamp(a, -0.5, 0.6),
        lambda t, a: t.clamp(a, -0.5, 0.6),
        [(s,) for s in UNARY],
        "distinct",
    ),
    OpSpec(
        "clamp_tensor",
        lambda a, lo: dg.clamp(a, min=lo),
        lambda t, a, lo: t.clamp(a, min=lo),
        [((2, 3), (3,))],
        "distinct",
    ),
    OpSpec(
        "where",
        lambda a, b: dg.where(a.array > 0, a, b),
        lambda t, a, b: t.where(a > 0, a, b),
        BINARY,
    ),
    OpSpec("sum_all", lambda a: a.sum(), lambda t, a: a.sum(), [(s,) for s in REDUCE]),
    OpSpec("sum_dim", lambda a: a.sum(-1), lambda t, a: a.sum(-1), [(s,) for s in REDUCE]),
    OpSpec(
        "sum_dims_keepdim",
        lambda a: a.sum((0, -1), keepdim=True),
        lambda t, a: a.sum((0, -1), keepdim=True),
        [((3, 4),), ((2, 3, 4),)],
    ),
    OpSpec("mean", lambda a: a.mean(0), lambda t, a: a.mean(0), [(s,) for s in REDUCE]),
    OpSpec("mean_all", lambda a: a.mean(), lambda t, a: a.mean(), [(s,) for s in REDUCE]),
    OpSpec("var", lambda a: a.var(-1), lambda t, a: a.var(-1), [(s,) for s in REDUCE]),
    OpSpec(
        "var_biased_keepdim",
        lambda a: a.var(0, unbiased=False, keepdim=True),
        lambda t, a: a.var(0, unbiased=False, keepdim=True),
        [(s,) for s in REDUCE],
    ),
    OpSpec("std", lambda a: a.std(), lambda t, a: a.std(), [(s,) for s in REDUCE]),
    OpSpec("amax", lambda a: a.amax(-1), lambda t, a: a.amax(-1), [(s,) for s in REDUCE], "distinct"),
    OpSpec("max_all", lambda a: a.max(), lambda t, a: a.max(), [(s,) for s in REDUCE], "distinct"),
    OpSpec(
        "max_dim",
        lambda a: a.max(0).values,
        lambda t, a: a.max(0).values,
        [(s,) for s in REDUCE],
        "distinct",
    ),
    OpSpec(
        "min_dim_keepdim",
        lambda a: a.min(-1, keepdim=True)[0],
        lambda t, a: a.min(-1, keepdim=True)[0],
        [(s,) for s in REDUCE],
        "distinct",
    ),
    OpSpec("logsumexp", lambda a: a.logsumexp(-1), lambda t, a: a.logsumexp(-1), [(s,) for s in REDUCE]),
    OpSpec(
        "logsumexp_dims",
        lambda a: a.logsumexp((0, 1), keepdim=True),
        lambda t, a: a.logsumexp((0, 1), keepdim=True),
        [((3, 4),), ((2, 3, 4),)],
    ),
    OpSpec("softmax", lambda a: a.softmax(-1), lambda t, a: a.softmax(-1), [(s,) for s in REDUCE]),
    OpSpec("softmax_dim0", lambda a: a.softmax(0), lambda t, a: a.softmax(0), [((3, 4),), ((2, 3, 4),)]),
    OpSpec(
        "log_softmax",
        lambda a: a.log_softmax(-1),
        lambda t, a: a.log_softmax(-1),
        [(s,) for s in REDUCE],
    ),
    OpSpec(
        "log_softmax_dim1",
        lambda a: a.log_softmax(1),
        lambda t, a: a.log_softmax(1),
        [((3, 4),), ((2, 3, 4),)],
    ),
    OpSpec("norm", lambda a: a.norm(), lambda t, a: a.norm(), [(s,) for s in REDUCE], "away_from_zero"),
    OpSpec("matmul_2d", dg.matmul, lambda t, a, b: a @ b, [((2, 3), (3, 4)), ((1, 5), (5, 1))]),
    OpSpec(
        "matmul_batched",
        dg.matmul,
        lambda t, a, b: a @ b,
        [
            ((2, 2, 3), (2, 3, 4)),
            ((2, 2, 3), (3, 4)),
            ((3, 2), (2, 2, 4)),
            ((2, 1, 2, 3), (3, 3, 2)),
        ],
    ),
    OpSpec(
        "matmul_vector",
        dg.matmul,
        lambda t, a, b: a @ b,
        [((3,), (3,)), ((3,), (3, 4)), ((2, 3), (3,)), ((2, 2, 3), (3,)), ((3,), (2, 3, 4))],
    ),
    OpSpec(
        "transpose",
        lambda a: a.transpose(0, -1),
        lambda t, a: a.transpose(0, -1),
        [((2, 3),), ((2, 3, 4),)],
    ),
    OpSpec("permute", lambda a: a.permute(2, 0, 1), lambda t, a: a.permute(2, 0, 1), [((2, 3, 4),)]),
    OpSpec("T", lambda a: a.T, lambda t, a: a.T, [((2, 3),)]),
    OpSpec(
        "reshape",
        lambda a: a.reshape(-1, 2),
        lambda t, a: a.reshape(-1, 2),
        [((2, 3),), ((2, 3, 4),)],
    ),
    OpSpec("view", lambda a: a.view(4, 6), lambda t, a: a.view(4, 6), [((2, 3, 4),)]),
    OpSpec("flatten", lambda a: a.flatten(1), lambda t, a: a.flatten(1), [((2, 3, 4),)]),
    OpSpec("squeeze", lambda a: a.squeeze(1), lambda t, a: a.squeeze(1), [((2, 1, 4),)]),
    OpSpec("unsqueeze", lambda a: a.unsqueeze(-1), lambda t, a: a.unsqueeze(-1), [((2, 3),)]),
    OpSpec(
        "expand",
        lambda a: a.expand(4, 2, 3),
        lambda t, a: a.expand(4, 2, 3),
        [((2, 1),), ((1, 3),), ((3,),)],
    ),
    OpSpec(
        "broadcast_to",
        lambda a: a.broadcast_to((2, 2, 3)),
        lambda t, a: a.broadcast_to((2, 2, 3)),
        [((3,),), ((2, 1, 1),)],
    ),
    OpSpec("repeat", lambda a: a.repeat(2, 3), lambda t, a: a.repeat(2, 3), [((2, 3),), ((3,),)]),
    OpSpec("index_int_slice", lambda a: a[1, 1:], lambda t, a: a[1, 1:], [((3, 4),)]),
    OpSpec(
        "index_none_ellipsis",
        lambda a: a[None, ..., ::2],
        lambda t, a: a[None, ..., ::2],
        [((3, 4),), ((2, 3, 4),)],
    ),
    OpSpec(
        "index_int_array_repeats",
        lambda a: a[[0, 2, 0, 0]],
        lambda t, a: a[[0, 2, 0, 0]],
        [((3,),), ((3, 4),)],
    ),
    OpSpec(
        "index_pairs",
        lambda a: a[np.array([0, 2, 2]), np.array([1, 0, 1])],
        lambda t, a: a[t.tensor([0, 2, 2]), t.tensor([1, 0, 1])],
        [((3, 4),)],
    ),
    OpSpec("index_bool_mask", lambda a: a[a.array > 0], lambda t, a: a[a > 0], [((3, 4),)]),
    OpSpec(
        "gather",
        lambda a: a.gather(1, np.array([[0, 0], [2, 1], [1, 1]])),
        lambda t, a: a.gather(1, t.tensor([[0, 0], [2, 1], [1, 1]])),
        [((3, 4),)],
    ),
    OpSpec(
        "cat",
        lambda a, b: dg.cat([a, b, a], dim=0),
        lambda t, a, b: t.cat([a, b, a], dim=0),
        [((2, 3), (1, 3)), ((3,), (2,))],
    ),
    OpSpec(
        "cat_dim1",
        lambda a, b: dg.cat([a, b], dim=1),
        lambda t, a, b: t.cat([a, b], dim=1),
        [((2, 3), (2, 1))],
    ),
    OpSpec(
        "stack",
        lambda a, b: dg.stack([a, b], dim=-1),
        lambda t, a, b: t.stack([a, b], dim=-1),
        [((2, 3), (2, 3)), ((), ())],
    ),
    OpSpec(
        "split",
        lambda a: dg.split(a, 2, dim=1)[1] * 2 + dg.split(a, 2, dim=1)[0],
        lambda t, a: t.split(a, 2, dim=1)[1] * 2 + t.split(a, 2, dim=1)[0],
        [((3, 4),)],
    ),
    OpSpec(
        "chunk",
        lambda a: dg.chunk(a, 3, dim=0)[-1],
        lambda t, a: t.chunk(a, 3, dim=0)[-1],
        [((5, 2),)],
    ),
    OpSpec(
        "pad",
        lambda a: dg.pad(a, (1, 2, 0, 1), value=0.5),
        lambda t, a: t.nn.functional.pad(a, (1, 2, 0, 1), value=0.5),
        [((2, 3),), ((2, 2, 3),)],
    ),
    OpSpec("clone", lambda a: a.clone() * 2, lambda t, a: a.clone() * 2, [((2, 3),)]),
    OpSpec(
        "masked_fill",
        lambda a: a.masked_fill(a.array > 0, 0.5),
        lambda t, a: a.masked_fill(a > 0, 0.5),
        [((3, 4),)],
    ),
    *[
        # conv2d (fused im2col + GEMM route, the 1x1 route and the grouped/depthwise route): one line per geometry
        OpSpec(
            f"conv2d_{name}",
            lambda x, w, b=None, kw=kw: F.conv2d(x, w, b, **kw),
            lambda t, x, w, b=None, kw=kw: t.nn.functional.conv2d(x, w, b, **kw),
            shapes,
        )
        for name, kw, shapes in [
            ("3x3_pad1", dict(padding=1), [((2, 3, 6, 5), (4, 3, 3, 3), (4,)), ((1, 2, 4, 4), (3, 2, 3, 3))]),
            ("stride2", dict(stride=2, padding=1), [((2, 3, 7, 7), (4, 3, 3, 3), (4,)), ((1, 2, 8, 6), (2, 2, 3, 3))]),
            ("dilation2", dict(dilation=2, padding=(2, 1)), [((2, 2, 7, 6), (3, 2, 3, 2), (3,))]),
            ("groups2", dict(groups=2, padding=1), [((2, 4, 6, 5), (6, 2, 3, 3), (6,))]),
            (
                "depthwise",
                dict(groups=3, padding=1),
                [((2, 3, 5, 5), (3, 1, 3, 3), (3,)), ((1, 3, 5, 6), (6, 1, 3, 3))],
            ),
            ("1x1", {}, [((2, 4, 5, 5), (3, 4, 1, 1), (3,)), ((1, 4, 3, 2), (5, 4, 1, 1))]),
            ("1x1_stride2", dict(stride=2), [((2, 4, 5, 6), (3, 4, 1, 1), (3,)), ((1, 2, 4, 4), (3, 2, 1, 1))]),
            ("1x1_groups2", dict(groups=2), [((2, 4, 3, 3), (6, 2, 1, 1), (6,))]),
            ("odd_5x3_stride2x3", dict(stride=(2, 3), padding=(2, 1)), [((3, 2, 9, 7), (2, 2, 5, 3), (2,))]),
            ("5x5_pad2_batch1", dict(padding=2), [((1, 1, 7, 7), (2, 1, 5, 5), (2,))]),
            ("11x11_stride4", dict(stride=4, padding=2), [((1, 2, 15, 13), (2, 2, 11, 11), (2,))]),
        ]
    ],
    OpSpec(
        "batch_norm_train",
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        lambda t, x, w, b: t.nn.functional.batch_norm(x, None, None, w, b, training=True),
        [((4, 3, 2, 3), (3,), (3,)), ((5, 2, 3), (2,), (2,)), ((6, 2), (2,), (2,))],
    ),
    # more of PyTorch's tensor API: composites of the primitives, and the primitives Cumsum, Einsum, Expm1, Atan2
    OpSpec("flip", lambda a: a.flip(0, -1), lambda t, a: a.flip(0, -1), [((2, 3),), ((2, 3, 4),)]),
    OpSpec("flip_vector", lambda a: a.flip(0), lambda t, a: a.flip(0), [((3,),)]),
    OpSpec("roll", lambda a: a.roll((1, -2), (0, 1)), lambda t, a: a.roll((1, -2), (0, 1)), [((3, 4),), ((2, 5, 3),)]),
    OpSpec("roll_flat", lambda a: a.roll(2), lambda t, a: a.roll(2), [((5,),), ((2, 3),)]),
    OpSpec("cumsum", lambda a: a.cumsum(-1), lambda t, a: a.cumsum(-1), [((4,),), ((2, 3),), ((2, 3, 4),), ((),)]),
    OpSpec("cumsum_dim0", lambda a: a.cumsum(0), lambda t, a: a.cumsum(0), [((3, 2),), ((3, 2, 2),)]),
    OpSpec("sort", lambda a: a.sort(1).values, lambda t, a: a.sort(1).values, [((2, 5),), ((2, 4, 3),)], "distinct"),
    OpSpec(
        "sort_descending",
        lambda a: a.sort(0, descending=True).values,
        lambda t, a: a.sort(0, descending=True).values,
        [((5,),), ((4, 3),)],
        "distinct",
    ),
    OpSpec("topk", lambda a: a.topk(2).values, lambda t, a: a.topk(2).values, [((5,),), ((3, 4),)], "distinct"),
    OpSpec(
        "topk_smallest",
        lambda a: a.topk(3, 0, largest=False).values,
        lambda t, a: a.topk(3, 0, largest=False).values,
        [((4, 3),)],
        "distinct",
    ),
    OpSpec("median", lambda a: a.median(), lambda t, a: a.median(), [((5,),), ((2, 3),)], "distinct"),
    OpSpec("median_dim", lambda a: a.median(1).values, lambda t, a: a.median(1).values, [((3, 4),)], "distinct"),
    OpSpec("diff", lambda a: a.diff(), lambda t, a: a.diff(), [((5,),), ((2, 4),)]),
    OpSpec("diff_twice_dim0", lambda a: a.diff(2, 0), lambda t, a: a.diff(2, 0), [((5, 2),)]),
    OpSpec("bmm", lambda a, b: a.bmm(b), lambda t, a, b: a.bmm(b), [((2, 3, 4), (2, 4, 2))]),
    OpSpec("dot", dg.dot, lambda t, a, b: t.dot(a, b), [((4,), (4,))]),
    OpSpec("mv", dg.mv, lambda t, a, b: t.mv(a, b), [((3, 4), (4,))]),
    OpSpec("outer", dg.outer, lambda t, a, b: t.outer(a, b), [((3,), (4,))]),
    OpSpec("tril", lambda a: a.tril(), lambda t, a: a.tril(), [((3, 3),), ((2, 3, 4),)]),
    OpSpec("triu_offset", lambda a: a.triu(1), lambda t, a: a.triu(1), [((3, 4),), ((4, 3),)]),
    OpSpec("diag_embed", lambda a: a.diag(), lambda t, a: a.diag(), [((3,),)]),
    OpSpec("diag_embed_offset", lambda a: a.diag(-1), lambda t, a: a.diag(-1), [((3,),)]),
    OpSpec("diag_of_matrix", lambda a: a.diag(1), lambda t, a: a.diag(1), [((3, 4),), ((4, 3),)]),
    OpSpec("trace", lambda a: a.trace(), lambda t, a: a.trace(), [((3, 3),), ((2, 4),)]),
    OpSpec("narrow", lambda a: a.narrow(1, 1, 2), lambda t, a: a.narrow(1, 1, 2), [((2, 4),), ((2, 3, 2),)]),
    OpSpec("movedim", lambda a: a.movedim(0, -1), lambda t, a: a.movedim(0, -1), [((2, 3, 4),)]),
    OpSpec("movedim_two", lambda a: a.movedim((0, 1), (2, 0)), lambda t, a: a.movedim((0, 1), (2, 0)), [((2, 3, 4),)]),
    OpSpec(
        "index_select",
        lambda a: a.index_select(1, dg.tensor([2, 0, 2])),
        lambda t, a: a.index_select(1, t.tensor([2, 0, 2])),
        [((2, 3),), ((2, 4, 2),)],
    ),
    OpSpec(
        "masked_select",
        lambda a: a.masked_select(dg.tensor([True, False, True])),
        lambda t, a: a.masked_select(t.tensor([True, False, True])),
        [((3,),), ((2, 3),)],
    ),
    OpSpec("atan2", dg.atan2, lambda t, a, b: t.atan2(a, b), BINARY, "away_from_zero"),
    OpSpec("expm1", dg.expm1, lambda t, a: t.expm1(a), [(s,) for s in UNARY]),
    OpSpec("exp2", dg.exp2, lambda t, a: t.exp2(a), [(s,) for s in UNARY]),
    OpSpec("log2", dg.log2, lambda t, a: t.log2(a), [(s,) for s in UNARY], "positive"),
    OpSpec("log10", dg.log10, lambda t, a: t.log10(a), [(s,) for s in UNARY], "positive"),
    OpSpec("sinh", dg.sinh, lambda t, a: t.sinh(a), [(s,) for s in UNARY]),
    OpSpec("cosh", dg.cosh, lambda t, a: t.cosh(a), [(s,) for s in UNARY]),
    OpSpec("frac", dg.frac, lambda t, a: t.frac(a), [(s,) for s in UNARY], "distinct"),
    OpSpec("lerp", lambda a, b: a.lerp(b, 0.3), lambda t, a, b: a.lerp(b, 0.3), BINARY[:4]),
    OpSpec(
        "lerp_tensor_weight", dg.lerp, lambda t, a, b, w: t.lerp(a, b, w), [((3,), (3,), (3,)), ((2, 3), (3,), (2, 1))]
    ),
    OpSpec(
        "addcmul",
        lambda a, b, c: a.addcmul(b, c, value=0.5),
        lambda t, a, b, c: a.addcmul(b, c, value=0.5),
        [((3,), (3,), (3,)), ((2, 3), (3,), (2, 1))],
    ),
    OpSpec(
        "addcdiv",
        lambda a, b, c: a.addcdiv(b, c, value=-2.0),
        lambda t, a, b, c: a.addcdiv(b, c, value=-2.0),
        [((3,), (3,), (3,)), ((2, 3), (3,), (2, 1))],
        "away_from_zero",
    ),
    *[
        OpSpec(
            f"F.{name}",
            getattr(F, name),
            lambda t, a, name=name: getattr(t.nn.functional, name)(a),
            [((2, 3),), ((4,),)],
        )
        for name in ["mish", "selu", "celu", "logsigmoid", "softsign", "tanhshrink", "hardswish", "relu6", "hardtanh"]
    ],
    OpSpec("F.glu", lambda a: F.glu(a, 0), lambda t, a: t.nn.functional.glu(a, 0), [((4, 3),)]),
    OpSpec("F.softmin", lambda a: F.softmin(a, 1), lambda t, a: t.nn.functional.softmin(a, 1), [((2, 3),)]),
    OpSpec(
        "F.prelu",
        lambda a, w: F.prelu(a, w),
        lambda t, a, w: t.nn.functional.prelu(a, w),
        [((2, 3, 4), (3,)), ((2, 3), (1,))],
    ),
    OpSpec(
        "F.layer_norm",
        lambda x, w, b: F.layer_norm(x, (3,), w, b),
        lambda t, x, w, b: t.nn.functional.layer_norm(x, (3,), w, b),
        [((4, 3), (3,), (3,)), ((2, 2, 3), (3,), (3,))],
    ),
    OpSpec(
        "F.layer_norm_2d_no_affine",
        lambda x: F.layer_norm(x, (2, 3)),
        lambda t, x: t.nn.functional.layer_norm(x, (2, 3)),
        [((2, 2, 3),)],
    ),
    OpSpec(
        "F.group_norm",
        lambda x, w, b: F.group_norm(x, 2, w, b),
        lambda t, x, w, b: t.nn.functional.group_norm(x, 2, w, b),
        [((2, 4, 3), (4,), (4,)), ((2, 4, 2, 2), (4,), (4,))],
    ),
    OpSpec(
        "F.smooth_l1_loss",
        lambda a, b: F.smooth_l1_loss(a, b, beta=0.5),
        lambda t, a, b: t.nn.functional.smooth_l1_loss(a, b, beta=0.5),
        [((6,), (6,)), ((2, 3), (2, 3))],
    ),
    OpSpec(
        "F.huber_loss",
        lambda a, b: F.huber_loss(a, b, reduction="sum", delta=0.7),
        lambda t, a, b: t.nn.functional.huber_loss(a, b, reduction="sum", delta=0.7),
        [((6,), (6,)), ((2, 3), (2, 3))],
    ),
    OpSpec("F.normalize", F.normalize, lambda t, a: t.nn.functional.normalize(a), [((3, 4),), ((2, 3, 2),)]),
    OpSpec(
        "F.cosine_similarity",
        F.cosine_similarity,
        lambda t, a, b: t.nn.functional.cosine_similarity(a, b),
        [((3, 4), (3, 4)), ((2, 3, 2), (1, 3, 2))],
    ),
    OpSpec(
        "F.pairwise_distance",
        F.pairwise_distance,
        lambda t, a, b: t.nn.functional.pairwise_distance(a, b),
        [((3, 4), (3, 4)), ((4,), (4,))],
    ),
    OpSpec(
        "F.pixel_shuffle",
        lambda a: F.pixel_shuffle(a, 2),
        lambda t, a: t.nn.functional.pixel_shuffle(a, 2),
        [((1, 8, 2, 3),), ((2, 1, 4, 2, 2),)],
    ),
    OpSpec(
        "F.pixel_unshuffle",
        lambda a: F.pixel_unshuffle(a, 2),
        lambda t, a: t.nn.functional.pixel_unshuffle(a, 2),
        [((1, 2, 4, 6),)],
    ),
    OpSpec(
        "F.scaled_dot_product_attention",
        F.scaled_dot_product_attention,
        lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v),
        [((2, 3, 4), (2, 5, 4), (2, 5, 2)), ((1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4))],
    ),
    OpSpec(
        "F.scaled_dot_product_attention_causal",
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
        lambda t, q, k, v: t.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.3),
        [((2, 4, 3), (2, 4, 3), (2, 4, 3))],
    ),
    *[
        OpSpec(
            f"F.interpolate_{name}",
            lambda x, kw=kw: F.interpolate(x, **kw),
            lambda t, x, kw=kw: t.nn.functional.interpolate(x, **kw),
            [(shape,)],
        )
        for name, kw, shape in [
            ("nearest", dict(scale_factor=2), (1, 2, 2, 3)),
            ("nearest_size", dict(size=(3, 5)), (2, 1, 2, 3)),
            ("nearest_exact", dict(size=(5, 2), mode="nearest-exact"), (1, 1, 3, 4)),
            ("linear", dict(size=5, mode="linear"), (2, 2, 3)),
            ("bilinear", dict(scale_factor=(1.5, 2), mode="bilinear"), (1, 2, 2, 3)),
            ("bilinear_corners", dict(size=(4, 3), mode="bilinear", align_corners=True), (1, 1, 3, 2)),
            ("area", dict(size=(2, 2), mode="area"), (1, 2, 4, 5)),
        ]
    ],
    *[  # step functions: gradient 0, recorded as PyTorch's so a backward through them runs
        OpSpec(name, getattr(dg.Tensor, name), lambda t, a, name=name: getattr(a, name)(), [((2, 3),), ((4,),)])
        for name in ["floor", "ceil", "round", "sign", "trunc"]
    ],
    OpSpec("round_decimals", lambda a: a.round(decimals=1), lambda t, a: a.round(decimals=1), [((2, 3),)]),
    OpSpec(
        "F.margin_ranking_loss",
        lambda a, b, y: F.margin_ranking_loss(a, b, y, 0.2),
        lambda t, a, b, y: t.nn.functional.margin_ranking_loss(a, b, y, 0.2),
        [((6,), (6,), (6,))],
        nondiff=[2],
    ),
    OpSpec(
        "F.triplet_margin_loss",
        F.triplet_margin_loss,
        lambda t, a, p, n: t.nn.functional.triplet_margin_loss(a, p, n),
        [((3, 4), (3, 4), (3, 4))],
    ),
    OpSpec(
        "F.gaussian_nll_loss",
        F.gaussian_nll_loss,
        lambda t, x, y, v: t.nn.functional.gaussian_nll_loss(x, y, v),
        [((3, 4), (3, 4), (3, 4))],
        "positive",
    ),
    OpSpec("prod", lambda a: a.prod(), lambda t, a: a.prod(), [((5,),), ((2, 3),), ((),)]),
    OpSpec("prod_dim", lambda a: a.prod(1), lambda t, a: a.prod(1), [((2, 3),), ((2, 5, 2),), ((3, 1),)]),
    OpSpec("prod_keepdim", lambda a: a.prod(0, keepdim=True), lambda t, a: a.prod(0, keepdim=True), [((4, 2),)]),
    OpSpec(
        "prod_with_zeros",
        lambda a: dg.cat([a[..., :1], a[..., 1:2] * 0, a[..., 2:]], -1).prod(),  # a zero that depends on a
        lambda t, a: t.cat([a[..., :1], a[..., 1:2] * 0, a[..., 2:]], -1).prod(),
        [((4,),), ((3, 4),)],
    ),
    OpSpec("cumprod", lambda a: a.cumprod(-1), lambda t, a: a.cumprod(-1), [((5,),), ((2, 3),), ((2, 4, 3),)]),
    OpSpec(
        "cumprod_with_zeros",
        lambda a: dg.cat([a[:1], a[1:2] * 0, a[2:]]).cumprod(0),
        lambda t, a: t.cat([a[:1], a[1:2] * 0, a[2:]]).cumprod(0),
        [((3,),)],
    ),
    OpSpec(
        "repeat_interleave",
        lambda a: a.repeat_interleave(dg.tensor([1, 0, 3]), dim=0),
        lambda t, a: a.repeat_interleave(t.tensor([1, 0, 3]), dim=0),
        [((3,),), ((3, 2),)],
    ),
    OpSpec(
        "repeat_interleave_flat", lambda a: a.repeat_interleave(2), lambda t, a: a.repeat_interleave(2), [((2, 3),)]
    ),
    OpSpec(
        "tensordot", lambda a, b: dg.tensordot(a, b, 2), lambda t, a, b: t.tensordot(a, b, 2), [((2, 3, 4), (3, 4, 5))]
    ),
    OpSpec(
        "tensordot_pairs",
        lambda a, b: dg.tensordot(a, b, ([0, 2], [1, 0])),
        lambda t, a, b: t.tensordot(a, b, ([0, 2], [1, 0])),
        [((2, 3, 4), (4, 2, 5))],
    ),
    *[
        OpSpec(
            f"einsum_{name}",
            lambda *ops, eq=eq: dg.einsum(eq, *ops),
            lambda t, *ops, eq=eq: t.einsum(eq, *ops),
            [shapes],
        )
        for name, eq, shapes in [
            ("matmul", "ij,jk->ik", ((3, 4), (4, 2))),
            ("batched", "bij,bjk->bik", ((2, 3, 4), (2, 4, 2))),
            ("ellipsis", "...ij,jk", ((2, 3, 4), (4, 2))),
            ("sum_all", "ij->", ((3, 4),)),
            ("outer", "i,j->ij", ((3,), (4,))),
            ("row_dots", "ij,ij->i", ((3, 4), (3, 4))),
            ("permute", "ijk->kji", ((2, 3, 4),)),
            ("chain", "ij,jk,kl->il", ((2, 3), (3, 4), (4, 2))),
            ("each_summed_alone", "ij,kl->", ((2, 3), (4, 2))),
            ("attention_scores", "bhqd,bhkd->bhqk", ((2, 2, 3, 4), (2, 2, 5, 4))),
        ]
    ],
]
