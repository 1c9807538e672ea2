"""Adadelta: step sizes from running averages of squared gradients and of squared updates (no global rate needed)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.optim.optimizer import Optimizer, ParamsT, _check_number


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), as ``torch.optim.Adadelta``:

    ``v = rho*v + (1-rho)*g^2;  delta = sqrt(u + eps) / sqrt(v + eps) * g;  u = rho*u + (1-rho)*delta^2;
    theta -= lr * delta``. ``weight_decay`` adds ``wd*theta`` to ``g``; ``maximize`` ascends.

    >>> import deepgrad
    >>> from deepgrad.optim import Adadelta
    >>> w = deepgrad.tensor([1.0], requires_grad=True)
    >>> opt = Adadelta([w], lr=1.0, rho=0.0, eps=1e-6)
    >>> (w * w).sum().backward(); opt.step()
    >>> round(w.item(), 6)  # rho=0: delta = sqrt(eps) / sqrt(g^2 + eps) * g, about sqrt(eps) = 0.001
    0.999
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        super()._check_group(group, index)
        _check_number(self, group, index, "rho", low=0.0, high=1.0)
        _check_number(self, group, index, "eps", low=0.0)
        _check_number(self, group, index, "weight_decay", low=0.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps, weight_decay = self._hyper(group, "lr", "rho", "eps", "weight_decay")
        maximize = bool(group["maximize"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            state = self._state_for(p, ("square_avg", "acc_delta"))
            g = self._effective_grad(param, grad, maximize, weight_decay)
            square_avg, acc_delta = state["square_avg"].array, state["acc_delta"].array
            std = self._scratch(1, param)
            delta = self._scratch(2, param)
            # v <- rho*v + (1-rho)*g^2
            np.multiply(g, g, out=std)
            np.multiply(std, 1.0 - rho, out=std)
            np.multiply(square_avg, rho, out=square_avg)
            np.add(square_avg, std, out=square_avg)
            # delta = sqrt(u + eps) / sqrt(v + eps) * g
            np.add(square_avg, eps, out=std)
            np.sqrt(std, out=std)
            np.add(acc_delta, eps, out=delta)
            np.sqrt(delta, out=delta)
            np.divide(delta, std, out=delta)
            np.multiply(delta, g, out=delta)
            # u <- rho*u + (1-rho)*delta^2
            np.multiply(delta, delta, out=std)
            np.multiply(std, 1.0 - rho, out=std)
            np.multiply(acc_delta, rho, out=acc_delta)
            np.add(acc_delta, std, out=acc_delta)
            np.multiply(delta, lr, out=delta)
            np.subtract(param, delta, out=param)
            self._bump_version(p)
