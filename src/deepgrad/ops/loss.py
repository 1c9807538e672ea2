"""Loss primitives fused for speed and stability (a composite would gather with scatter-add backward)."""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.function import Function


class NllLoss(Function):
    """loss_i = -w[t_i] * logp[i, t_i];   dlogp[i, t_i] = -grad_i * w[t_i]  (divided by sum(w) for 'mean')

    ``logp`` has the classes on axis 1: shape (N, C) or (N, C, d1, ...); ``target`` has shape (N, d1, ...).
    """

    uses_inputs = False  # backward reads only logp's shape, and the targets and weights saved in forward

    def forward(self, logp, target, weight, ignore_index, reduction):
        self.reduction = reduction
        keep = target != ignore_index
        self.safe_target = np.where(keep, target, 0)[:, None]
        picked = np.take_along_axis(logp, self.safe_target, axis=1)[:, 0]
        w = keep.astype(logp.dtype) if weight is None else weight[self.safe_target[:, 0]] * keep
        self.w = w.astype(logp.dtype, copy=False)
        losses = -picked * self.w
        if reduction == "none":
            return losses
        if reduction == "sum":
            return losses.sum()
        self.total_weight = self.w.sum()
        return losses.sum() / self.total_weight

    def backward(self, grad, result, logp, target=None):
        scale = -self.w
        if self.reduction == "mean":
            scale = scale / self.total_weight
        grad_picked = grad * scale  # shape of the per-sample losses
        return ScatterClass.call(grad_picked, shape=logp.shape, index=self.safe_target)


class ScatterClass(Function):
    """z = zeros(shape) with x[i, ...] placed at class index[i] along axis 1;   dx = grad gathered back"""

    uses_inputs = False

    def forward(self, x, shape, index):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype, like=x)
        np.put_along_axis(out, index, x[:, None], axis=1)
        return out

    def backward(self, grad, result, x):
        return np.take_along_axis(grad, self.index, axis=1)[:, 0]
