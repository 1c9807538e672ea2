"""Module-level functions mirroring the Tensor methods: ``deepgrad.exp(x)``, ``deepgrad.cat([...])``, ...

Each takes PyTorch's ``out=`` (one mechanism, ``deepgrad.tensor.write_out``): the result is written into a
given tensor, outside the graph.
"""

from __future__ import annotations

from typing import Any

from deepgrad.autograd.grad_mode import no_grad, set_grad_enabled
from deepgrad.tensor import (
    Tensor,
    add,
    as_tensor,
    bincount,
    cat,
    chunk,
    concatenate,
    div,
    einsum,
    hstack,
    matmul,
    maximum,
    meshgrid,
    minimum,
    mm,
    mul,
    pad,
    pow,
    split,
    stack,
    sub,
    tensordot,
    vstack,
    where,
    write_out,
)

__all__ = [
    "bincount",
    "count_nonzero",
    "cumprod",
    "prod",
    "repeat_interleave",
    "tensordot",
    "unique",
    "all",
    "allclose",
    "any",
    "argsort",
    "atan2",
    "bmm",
    "ceil",
    "cosh",
    "cumsum",
    "diag",
    "diff",
    "dot",
    "einsum",
    "equal",
    "exp2",
    "expm1",
    "flip",
    "floor",
    "frac",
    "hstack",
    "index_select",
    "inference_mode",
    "isfinite",
    "isinf",
    "isnan",
    "log10",
    "log2",
    "masked_select",
    "median",
    "meshgrid",
    "movedim",
    "mv",
    "narrow",
    "nonzero",
    "outer",
    "roll",
    "round",
    "rsqrt",
    "sign",
    "sinh",
    "sort",
    "square",
    "std_mean",
    "swapaxes",
    "t",
    "topk",
    "trace",
    "tril",
    "triu",
    "trunc",
    "var_mean",
    "vstack",
    "abs",
    "add",
    "addcdiv",
    "addcmul",
    "amax",
    "amin",
    "argmax",
    "argmin",
    "as_tensor",
    "broadcast_to",
    "cat",
    "chunk",
    "clamp",
    "clamp_max",
    "clamp_min",
    "clip",
    "concatenate",
    "cos",
    "div",
    "elu",
    "erf",
    "exp",
    "flatten",
    "gather",
    "is_tensor",
    "numel",
    "leaky_relu",
    "lerp",
    "log",
    "log1p",
    "log_softmax",
    "logsumexp",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mm",
    "mul",
    "neg",
    "pad",
    "permute",
    "pow",
    "relu",
    "relu_",
    "reshape",
    "scatter",
    "scatter_add",
    "sigmoid",
    "sin",
    "softmax",
    "split",
    "sqrt",
    "squeeze",
    "stack",
    "std",
    "sub",
    "sum",
    "tanh",
    "transpose",
    "unsqueeze",
    "var",
    "where",
]


def _method(name: str) -> Any:
    method = getattr(Tensor, name)

    def function(input: Any, *args: Any, out: Tensor | None = None, **kwargs: Any) -> Any:
        return write_out(method(as_tensor(input), *args, **kwargs), out, name)

    function.__name__ = name
    function.__qualname__ = name
    function.__doc__ = method.__doc__
    return function


abs = _method("abs")
addcdiv = _method("addcdiv")
addcmul = _method("addcmul")
amax = _method("amax")
amin = _method("amin")
argmax = _method("argmax")
argmin = _method("argmin")
broadcast_to = _method("broadcast_to")
clamp = _method("clamp")
clip = clamp
clamp_max = _method("clamp_max")
clamp_min = _method("clamp_min")
cos = _method("cos")
elu = _method("elu")
erf = _method("erf")
exp = _method("exp")
flatten = _method("flatten")
gather = _method("gather")
leaky_relu = _method("leaky_relu")
lerp = _method("lerp")
log = _method("log")
log1p = _method("log1p")
log_softmax = _method("log_softmax")
logsumexp = _method("logsumexp")
max = _method("max")
mean = _method("mean")
min = _method("min")
neg = _method("neg")
permute = _method("permute")
relu = _method("relu")
relu_ = _method("relu_")
reshape = _method("reshape")
scatter = _method("scatter")
scatter_add = _method("scatter_add")
sigmoid = _method("sigmoid")
sin = _method("sin")
softmax = _method("softmax")
sqrt = _method("sqrt")
squeeze = _method("squeeze")
std = _method("std")
sum = _method("sum")
tanh = _method("tanh")
transpose = _method("transpose")
unsqueeze = _method("unsqueeze")
var = _method("var")


all = _method("all")
count_nonzero = _method("count_nonzero")
cumprod = _method("cumprod")
prod = _method("prod")
repeat_interleave = _method("repeat_interleave")
unique = _method("unique")
allclose = _method("allclose")
any = _method("any")
argsort = _method("argsort")
atan2 = _method("atan2")
bmm = _method("bmm")
ceil = _method("ceil")
cosh = _method("cosh")
cumsum = _method("cumsum")
diag = _method("diag")
diff = _method("diff")
dot = _method("dot")
equal = _method("equal")
exp2 = _method("exp2")
expm1 = _method("expm1")
flip = _method("flip")
floor = _method("floor")
frac = _method("frac")
index_select = _method("index_select")
isfinite = _method("isfinite")
isinf = _method("isinf")
isnan = _method("isnan")
log10 = _method("log10")
log2 = _method("log2")
masked_select = _method("masked_select")
median = _method("median")
movedim = _method("movedim")
mv = _method("mv")
narrow = _method("narrow")
nonzero = _method("nonzero")
outer = _method("outer")
roll = _method("roll")
round = _method("round")
rsqrt = _method("rsqrt")
sign = _method("sign")
sinh = _method("sinh")
sort = _method("sort")
square = _method("square")
swapaxes = _method("swapaxes")
t = _method("t")
topk = _method("topk")
trace = _method("trace")
tril = _method("tril")
triu = _method("triu")
trunc = _method("trunc")


def std_mean(input: Any, dim: Any = None, correction: int = 1, keepdim: bool = False) -> tuple[Tensor, Tensor]:
    """``(std, mean)`` over ``dim``, as PyTorch's."""
    x = as_tensor(input)
    return x.std(dim, correction=correction, keepdim=keepdim), x.mean(dim, keepdim=keepdim)


def var_mean(input: Any, dim: Any = None, correction: int = 1, keepdim: bool = False) -> tuple[Tensor, Tensor]:
    """``(var, mean)`` over ``dim``, as PyTorch's."""
    x = as_tensor(input)
    return x.var(dim, correction=correction, keepdim=keepdim), x.mean(dim, keepdim=keepdim)


def inference_mode(mode: bool = True) -> Any:
    """PyTorch's inference mode: here ``no_grad`` (a context manager and a decorator; ``mode=False`` records)."""
    return no_grad() if mode else set_grad_enabled(True)


def is_tensor(obj: Any) -> bool:
    """True for a deepgrad Tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements."""
    return as_tensor(input).numel()
