"""Adam's variants with PyTorch's update rules: `Adamax` (the infinity norm), `NAdam` (Nesterov momentum) and
`RAdam` (the variance rectified in the first steps). Each step is a few NumPy passes over the parameter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from deepgrad.optim.adam import check_adam_group
from deepgrad.optim.optimizer import Optimizer, ParamsT

__all__ = ["Adamax", "NAdam", "RAdam"]


class _AdamFamily(Optimizer):
    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        super()._check_group(group, index)
        check_adam_group(self, group, index)

    def _gradient(self, group: dict[str, Any], param: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """The gradient the update follows: weight decay added to it, or (decoupled) applied to the parameter."""
        lr, weight_decay = float(group["lr"]), float(group["weight_decay"])
        if group.get("decoupled_weight_decay"):
            if weight_decay:
                np.multiply(param, 1.0 - lr * weight_decay, out=param)
            return self._effective_grad(param, grad, bool(group["maximize"]), 0.0)
        return self._effective_grad(param, grad, bool(group["maximize"]), weight_decay)

    @staticmethod
    def _moments(state: dict[str, Any], g: np.ndarray, beta1: float, beta2: float) -> tuple[np.ndarray, np.ndarray]:
        """m <- m + (1 - b1)(g - m);  v <- b2 v + (1 - b2) g^2 (in place; returns m, v)."""
        m, v = state["exp_avg"].array, state["exp_avg_sq"].array
        m += (g - m) * (1.0 - beta1)
        v *= beta2
        v += g * g * (1.0 - beta2)
        return m, v


class Adamax(_AdamFamily):
    """Adam with the infinity norm (Kingma and Ba, 2015): u = max(b2 u, |g| + eps),
    theta -= lr / (1 - b1^t) * m / u."""

    def __init__(
        self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, *, maximize: bool = False,
    ) -> None:  # fmt: skip
        super().__init__(
            params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "maximize": maximize}
        )

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps = self._hyper(group, "lr", "eps")
        beta1, beta2 = (float(b) for b in group["betas"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            state = self._state_for(p, ("exp_avg", "exp_inf"))
            g = self._gradient(group, param, grad)
            m, u = state["exp_avg"].array, state["exp_inf"].array
            m += (g - m) * (1.0 - beta1)
            np.maximum(u * beta2, np.abs(g) + eps, out=u)
            param -= (lr / (1.0 - beta1 ** state["step"])) * m / u
            self._bump_version(p)


class NAdam(_AdamFamily):
    """Adam with Nesterov momentum (Dozat, 2016), PyTorch's schedule of the momentum
    mu_t = b1 (1 - 0.5 * 0.96^(t momentum_decay)): the step mixes the gradient and the next step's momentum."""

    def __init__(
        self, params: ParamsT, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, momentum_decay: float = 4e-3, decoupled_weight_decay: bool = False, *,
        maximize: bool = False,
    ) -> None:  # fmt: skip
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "momentum_decay": momentum_decay,
            "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
        }  # fmt: skip
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, momentum_decay = self._hyper(group, "lr", "eps", "momentum_decay")
        beta1, beta2 = (float(b) for b in group["betas"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            state = self._state_for(p, ("exp_avg", "exp_avg_sq"))
            step = state["step"]
            g = self._gradient(group, param, grad)
            mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
            mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
            mu_product = state.get("mu_product", 1.0) * mu
            state["mu_product"] = mu_product
            m, v = self._moments(state, g, beta1, beta2)
            denominator = np.sqrt(v / (1.0 - beta2**step)) + eps
            param -= (lr * (1.0 - mu) / (1.0 - mu_product)) * g / denominator
            param -= (lr * mu_next / (1.0 - mu_product * mu_next)) * m / denominator
            self._bump_version(p)


class RAdam(_AdamFamily):
    """Rectified Adam (Liu et al., 2020): while the variance estimate has fewer than 5 effective samples
    (rho_t <= 5) the step is momentum SGD, lr * m_hat; after, Adam's step times the rectification factor."""

    def __init__(
        self, params: ParamsT, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
        weight_decay: float = 0.0, decoupled_weight_decay: bool = False, *, maximize: bool = False,
    ) -> None:  # fmt: skip
        defaults = {
            "lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
            "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize,
        }  # fmt: skip
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps = self._hyper(group, "lr", "eps")
        beta1, beta2 = (float(b) for b in group["betas"])
        rho_inf = 2.0 / (1.0 - beta2) - 1.0
        for p, grad in self._params_with_grad(group):
            param = p.array
            state = self._state_for(p, ("exp_avg", "exp_avg_sq"))
            step = state["step"]
            g = self._gradient(group, param, grad)
            m, v = self._moments(state, g, beta1, beta2)
            bias_correction2 = 1.0 - beta2**step
            corrected = m / (1.0 - beta1**step)
            rho = rho_inf - 2.0 * step * beta2**step / bias_correction2
            if rho > 5.0:
                rectification = math.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
                adaptive = math.sqrt(bias_correction2) / (np.sqrt(v) + eps)
                param -= corrected * (lr * rectification) * adaptive
            else:
                param -= corrected * lr
            self._bump_version(p)
