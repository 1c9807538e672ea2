"""Differentiable collectives: ops whose backward is itself a collective."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.autograd.function import Function
from deepgrad.distributed.process_group import ReduceOp, all_reduce_array
from deepgrad.tensor import Tensor


class AllReduceSum(Function):
    """y = sum over ranks r of x_r, on every rank;  dL/dx_r = sum over ranks of grad (every rank's y is used)."""

    uses_inputs = False

    def forward(self, x: np.ndarray) -> np.ndarray:
        return all_reduce_array(x, ReduceOp.SUM)

    def backward(self, grad: Any, result: Any, x: Any) -> Any:
        return AllReduceSum.call(grad)


def all_reduce_sum(x: Tensor) -> Tensor:
    """The sum of ``x`` over all ranks, recorded in the graph (the identity outside a process group).

    >>> import deepgrad
    >>> all_reduce_sum(deepgrad.tensor([1.0, 2.0])).tolist()   # a world of one
    [1.0, 2.0]
    """
    return AllReduceSum.apply(x)
