"""Adagrad: per-coordinate step sizes from the sum of all past squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.optim.optimizer import Optimizer, ParamsT, _check_number
from deepgrad.tensor import Tensor


class Adagrad(Optimizer):
    r"""Adagrad: ``G = G + g^2; theta -= lr_t * g / (sqrt(G) + eps)`` with ``lr_t = lr / (1 + (t-1)*lr_decay)``.

    ``G`` starts at ``initial_accumulator_value``; ``t`` counts steps from 1; ``weight_decay`` adds
    ``wd*theta`` to ``g``. As in PyTorch the state (``step``, ``sum``) exists from construction on.

    >>> import deepgrad
    >>> from deepgrad.optim import Adagrad
    >>> w = deepgrad.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adagrad([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w  # first step: g / sqrt(g^2) = sign(g)
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "eps": eps,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        super()._check_group(group, index)
        _check_number(self, group, index, "lr_decay", low=0.0)
        _check_number(self, group, index, "weight_decay", low=0.0)
        _check_number(self, group, index, "initial_accumulator_value", low=0.0)
        _check_number(self, group, index, "eps", low=0.0)

    def _init_group_state(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        if not state:  # as PyTorch, the accumulator starts at initial_accumulator_value
            state["step"] = 0
            state["sum"] = Tensor._make(np.full_like(p.array, float(group["initial_accumulator_value"])), False, None)
        return state

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, weight_decay, eps = self._hyper(group, "lr", "lr_decay", "weight_decay", "eps")
        maximize = bool(group["maximize"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            state = self._init_state(p, group)
            state["step"] += 1
            clr = lr / (1.0 + (state["step"] - 1) * lr_decay)

            g = self._effective_grad(param, grad, maximize, weight_decay)
            total = state["sum"].array
            work = self._scratch(1, param)
            np.multiply(g, g, out=work)
            np.add(total, work, out=total)
            np.sqrt(total, out=work)
            np.add(work, eps, out=work)
            np.divide(g, work, out=work)
            np.multiply(work, clr, out=work)
            np.subtract(param, work, out=param)
            self._bump_version(p)
