"""Adam (with AMSGrad) and AdamW (Adam with decoupled weight decay)."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.ops import kernels
from deepgrad.optim.optimizer import Optimizer, ParamsT, _check_number

_BUFFERS = ("exp_avg", "exp_avg_sq")
_AMSGRAD_BUFFERS = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")


def check_adam_group(optimizer: Optimizer, group: dict[str, Any], index: int) -> None:
    """betas a pair in [0, 1), eps and weight_decay >= 0: the checks Adam and its variants share."""
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{type(optimizer).__name__}: betas={betas!r} in param group {index}: must be a pair (b1, b2)")
    for i, beta in enumerate(betas):
        _check_number(optimizer, group, index, "betas", low=0.0, high=1.0, value=beta, label=f"betas[{i}]")
    _check_number(optimizer, group, index, "eps", low=0.0)
    _check_number(optimizer, group, index, "weight_decay", low=0.0)


class Adam(Optimizer):
    r"""Adam: ``m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2; theta -= lr * m_hat / (sqrt(v_hat) + eps)``.

    With ``t`` the step count, ``m_hat = m / (1 - b1^t)`` and ``sqrt(v_hat) = sqrt(v) / sqrt(1 - b2^t)``
    (bias corrections for the zero-initialised averages). ``amsgrad`` uses the running maximum of ``v``
    instead of ``v``. ``weight_decay`` adds ``wd*theta`` to ``g`` (L2 regularisation), or with
    ``decoupled_weight_decay=True`` (AdamW) multiplies ``theta`` by ``1 - lr*wd`` before the update.

    >>> import deepgrad
    >>> from deepgrad.optim import Adam
    >>> w = deepgrad.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = Adam([w], lr=0.1)
    >>> (w * w).sum().backward(); opt.step()
    >>> w  # the first Adam step moves every coordinate by about lr
    tensor([ 0.9, -1.9], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": tuple(betas) if isinstance(betas, list) else betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        super()._check_group(group, index)
        check_adam_group(self, group, index)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = self._hyper(group, "lr", "eps", "weight_decay")
        beta1, beta2 = (float(b) for b in group["betas"])
        amsgrad = bool(group["amsgrad"])
        maximize = bool(group["maximize"])
        decoupled = bool(group["decoupled_weight_decay"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            # amsgrad switched on after some steps: its maximum starts at zero
            state = self._state_for(p, _AMSGRAD_BUFFERS if amsgrad else _BUFFERS)
            step = state["step"]

            if decoupled:
                if weight_decay != 0:
                    np.multiply(param, 1.0 - lr * weight_decay, out=param)
                g = self._effective_grad(param, grad, maximize, 0.0)
            else:
                g = self._effective_grad(param, grad, maximize, weight_decay)

            m, v = state["exp_avg"].array, state["exp_avg_sq"].array
            bias_correction1 = 1.0 - beta1**step
            bias_correction2_sqrt = (1.0 - beta2**step) ** 0.5
            step_size = lr / bias_correction1
            if not amsgrad and self._one_pass(param, g, m, v):
                # the passes below in one (ops/kernels.py, measured there)
                kind = param.dtype.type
                scalars = (1.0 - beta1, beta2, 1.0 - beta2, step_size, bias_correction2_sqrt, eps)
                flat = (param.reshape(-1), g.reshape(-1), m.reshape(-1), v.reshape(-1))
                kernels.adam_step(*flat, *(kind(value) for value in scalars))
                self._bump_version(p)
                continue
            work = self._scratch(1, param)
            # m <- m + (1-b1)*(g - m), PyTorch's lerp form of b1*m + (1-b1)*g
            np.subtract(g, m, out=work)
            np.multiply(work, 1.0 - beta1, out=work)
            np.add(m, work, out=m)
            # v <- b2*v + (1-b2)*g^2
            np.multiply(v, beta2, out=v)
            np.multiply(g, g, out=work)
            np.multiply(work, 1.0 - beta2, out=work)
            np.add(v, work, out=v)

            if amsgrad:
                v_max = state["max_exp_avg_sq"].array
                np.maximum(v_max, v, out=v_max)
                v = v_max
            denom = work
            np.sqrt(v, out=denom)
            np.divide(denom, bias_correction2_sqrt, out=denom)
            np.add(denom, eps, out=denom)
            np.divide(m, denom, out=denom)
            np.multiply(denom, step_size, out=denom)
            np.subtract(param, denom, out=param)
            self._bump_version(p)


class AdamW(Adam):
    r"""Adam with decoupled weight decay: ``theta *= 1 - lr*wd`` then the Adam step (default wd = 0.01).

    Decoupled decay shrinks every weight by the same factor whatever its gradient history, unlike L2
    regularisation in Adam, whose ``wd*theta`` term is divided by ``sqrt(v_hat)`` like the gradient.

    >>> import deepgrad
    >>> from deepgrad.optim import AdamW
    >>> w = deepgrad.tensor([1.0], requires_grad=True)
    >>> opt = AdamW([w], lr=0.1, weight_decay=0.5)
    >>> w.grad = deepgrad.tensor([0.0]); opt.step(); w  # zero gradient: only the decay acts
    tensor([0.95], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
