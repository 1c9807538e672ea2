"""Matrix products. Batch dimensions broadcast; the engine sums their gradients back."""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.function import Function


def _mT(x):
    return np.swapaxes(x, -1, -2)


class Matmul(Function):
    """z = a @ b  (both at least 2-d);   da = grad @ b^T,  db = a^T @ grad"""

    def forward(self, a, b):
        return a @ b

    def backward(self, grad, result, a, b):
        needs_a, needs_b = self.needs_input_grad
        return (grad @ _mT(b) if needs_a else None), (_mT(a) @ grad if needs_b else None)

    def reads_input(self, position):
        return self.needs_input_grad[1 - position]  # da reads b, db reads a


class Linear(Function):
    """z = x @ W^T + b  (fused: one node for a layer);   dx = grad @ W,  dW = grad^T @ x,  db = sum(grad)"""

    def forward(self, x, weight, bias=None):
        out = x @ weight.T
        if bias is not None:
            out += bias
        return out

    def backward(self, grad, result, x, weight, bias=None):
        needs = self.needs_input_grad
        grad_x = grad @ weight if needs[0] else None
        grad_weight = grad_bias = None
        if needs[1]:
            if grad.ndim == 2:
                grad_weight = _mT(grad) @ x
            else:  # fold leading batch dimensions into one
                grad_2d = np.reshape(grad, (-1, grad.shape[-1]))
                grad_weight = _mT(grad_2d) @ np.reshape(x, (-1, x.shape[-1]))
        if bias is not None and needs[2]:
            grad_bias = np.sum(np.reshape(grad, (-1, grad.shape[-1])), axis=0)
        return grad_x, grad_weight, grad_bias

    def reads_input(self, position):
        return position < 2 and self.needs_input_grad[1 - position]  # dx reads W, dW reads x, db neither
