"""Module-level functions mirroring the Tensor methods: ``deepgrad.exp(x)``, ``deepgrad.cat([...])``, ...

Each takes PyTorch's ``out=`` (one mechanism, ``deepgrad.tensor.write_out``): the result is written into a
given tensor, outside the graph.
"""

from __future__ import annotations

from typing import Any

from deepgrad.tensor import (
    Tensor,
    add,
    as_tensor,
    cat,
    chunk,
    concatenate,
    div,
    matmul,
    maximum,
    minimum,
    mm,
    mul,
    pad,
    pow,
    split,
    stack,
    sub,
    where,
    write_out,
)

__all__ = [
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


def is_tensor(obj: Any) -> bool:
    """True for a deepgrad Tensor."""
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements."""
    return as_tensor(input).numel()
