"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.optim.optimizer import Optimizer, ParamsT, _check_number


class RMSprop(Optimizer):
    r"""RMSprop: ``s = alpha*s + (1-alpha)*g^2; theta -= lr * g / (sqrt(s) + eps)``.

    ``centered`` also tracks the mean gradient ``a = alpha*a + (1-alpha)*g`` and divides by
    ``sqrt(s - a^2) + eps`` (an estimate of the standard deviation instead of the RMS). With ``momentum``
    mu > 0: ``b = mu*b + g / (sqrt(.) + eps); theta -= lr*b``. ``weight_decay`` adds ``wd*theta`` to ``g``.

    >>> import deepgrad
    >>> from deepgrad.optim import RMSprop
    >>> w = deepgrad.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = RMSprop([w], lr=0.01, alpha=0.99)
    >>> (w * w).sum().backward(); opt.step()
    >>> w  # first step: g / sqrt(0.01 * g^2) = 10 * sign(g)
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "alpha": alpha,
            "eps": eps,
            "weight_decay": weight_decay,
            "momentum": momentum,
            "centered": centered,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        super()._check_group(group, index)
        _check_number(self, group, index, "alpha", low=0.0, high=1.0)
        _check_number(self, group, index, "eps", low=0.0)
        _check_number(self, group, index, "weight_decay", low=0.0)
        _check_number(self, group, index, "momentum", low=0.0, high=1.0)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps, weight_decay, momentum = self._hyper(group, "lr", "alpha", "eps", "weight_decay", "momentum")
        buffers = (
            ("square_avg",)
            + (("momentum_buffer",) if momentum > 0 else ())
            + (("grad_avg",) if group["centered"] else ())
        )
        centered = bool(group["centered"])
        maximize = bool(group["maximize"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            state = self._state_for(p, buffers)

            g = self._effective_grad(param, grad, maximize, weight_decay)
            square_avg = state["square_avg"].array
            avg = self._scratch(1, param)
            # s <- alpha*s + (1-alpha)*g^2
            np.multiply(square_avg, alpha, out=square_avg)
            np.multiply(g, g, out=avg)
            np.multiply(avg, 1.0 - alpha, out=avg)
            np.add(square_avg, avg, out=square_avg)
            if centered:
                grad_avg = state["grad_avg"].array
                # a <- a + (1-alpha)*(g - a), PyTorch's lerp; then avg = sqrt(s - a^2)
                np.subtract(g, grad_avg, out=avg)
                np.multiply(avg, 1.0 - alpha, out=avg)
                np.add(grad_avg, avg, out=grad_avg)
                np.multiply(grad_avg, grad_avg, out=avg)
                np.subtract(square_avg, avg, out=avg)
                np.sqrt(avg, out=avg)
            else:
                np.sqrt(square_avg, out=avg)
            np.add(avg, eps, out=avg)

            np.divide(g, avg, out=avg)  # avg now holds g / (sqrt(.) + eps)
            if momentum > 0:
                buffer = state["momentum_buffer"].array
                np.multiply(buffer, momentum, out=buffer)
                np.add(buffer, avg, out=buffer)
                np.multiply(buffer, lr, out=avg)
            else:
                np.multiply(avg, lr, out=avg)
            np.subtract(param, avg, out=param)
            self._bump_version(p)
