"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from deepgrad.ops import kernels
from deepgrad.optim.optimizer import Optimizer, ParamsT, _check_number
from deepgrad.tensor import Tensor


class SGD(Optimizer):
    r"""SGD with PyTorch's update rule: ``d = g + wd*theta; b = mu*b + (1-tau)*d; theta -= lr*b``.

    For each parameter ``theta`` with gradient ``g`` (``-g`` when ``maximize``):

    * ``d = g + weight_decay * theta``
    * with ``momentum`` mu > 0: ``b = d`` on the first step, then ``b = mu*b + (1 - dampening)*d``;
      the step direction is ``d + mu*b`` if ``nesterov`` else ``b``
    * ``theta = theta - lr * direction``

    **Same as the lectures' momentum.** The lectures write ``v <- -lr*g + gamma*v; theta <- theta + v``
    with ``v_0 = 0``. PyTorch's buffer (dampening 0) is ``b <- g + gamma*b; theta <- theta - lr*b``.
    With a constant lr, set ``v_t = -lr * b_t``. Then ``v_t = -lr*g_t + gamma*(-lr*b_{t-1})
    = -lr*g_t + gamma*v_{t-1}`` and ``theta - lr*b_t = theta + v_t``: the same recursion and the same
    parameters, step by step. The first step agrees too: PyTorch's ``b_1 = g_1`` gives ``v_1 = -lr*g_1``,
    which is the lectures' ``-lr*g_1 + gamma*0``. The velocities differ only by the factor ``-lr``; when
    lr changes during training they are no longer proportional (PyTorch's buffer remembers gradients, the
    lectures' v remembers steps), so a schedule acts on old gradients too in PyTorch's form.

    **Weight decay.** ``weight_decay`` adds ``wd*theta`` to the gradient, which is the gradient of
    ``(wd/2) * sum theta^2``: the lectures' objective ``L + lambda * sum theta^2`` (see
    ``deepgrad.nn.utils.l2_penalty``) is minimised by ``SGD(weight_decay=2*lambda)``.

    >>> import deepgrad
    >>> from deepgrad.optim import SGD
    >>> w = deepgrad.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = SGD([w], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     opt.zero_grad(); (w * w).sum().backward(); opt.step()
    >>> w  # b1 = g1 = (2, -4), w1 = (0.8, -1.6); b2 = 0.9*b1 + g2 = (3.4, -6.8), w2 = w1 - 0.1*b2
    tensor([ 0.46, -0.92], requires_grad=True)
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0.0,
        dampening: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        super()._check_group(group, index)
        _check_number(self, group, index, "momentum", low=0.0, high=1.0)
        _check_number(self, group, index, "dampening", low=0.0, high=1.0, high_inclusive=True)
        _check_number(self, group, index, "weight_decay", low=0.0)
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: nesterov=True in param group {index} requires momentum > 0 and dampening = 0, got "
                f"momentum={group['momentum']!r}, dampening={group['dampening']!r}"
            )

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum, dampening, weight_decay = self._hyper(group, "lr", "momentum", "dampening", "weight_decay")
        nesterov = bool(group["nesterov"])
        maximize = bool(group["maximize"])
        for p, grad in self._params_with_grad(group):
            param = p.array
            direction = self._effective_grad(param, grad, maximize, weight_decay)
            if momentum != 0:
                state = self.state[p]
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    buffer = Tensor._make(direction.astype(param.dtype), False, None)  # b_1 = d (a copy)
                    state["momentum_buffer"] = buffer
                elif dampening == 0 and not nesterov and self._one_pass(param, buffer.array, direction):
                    # b = momentum b + d and p -= lr b in one pass (ops/kernels.py, measured there)
                    kind = param.dtype.type
                    kernels.sgd_momentum_step(
                        param.reshape(-1), buffer.array.reshape(-1), direction.reshape(-1), kind(lr), kind(momentum)
                    )
                    self._bump_version(p)
                    continue
                else:
                    b = buffer.array
                    np.multiply(b, momentum, out=b)
                    if dampening == 0:
                        np.add(b, direction, out=b)
                    else:
                        scaled = self._scratch(1, param)
                        np.multiply(direction, 1.0 - dampening, out=scaled)
                        np.add(b, scaled, out=b)
                if nesterov:
                    ahead = self._scratch(1, param)
                    np.multiply(buffer.array, momentum, out=ahead)
                    np.add(direction, ahead, out=ahead)
                    direction = ahead
                else:
                    direction = buffer.array
            update = self._scratch(2, param)
            np.multiply(direction, lr, out=update)
            np.subtract(param, update, out=param)
            self._bump_version(p)
