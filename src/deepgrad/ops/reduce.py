"""Reductions. ``axis`` is always a normalised tuple of non-negative axes (the Tensor methods see to it)."""

from __future__ import annotations

import numpy as np

from deepgrad.autograd.function import Function


class Cumsum(Function):
    """z_i = x_0 + ... + x_i along ``axis``;   dx_i = grad_i + ... + grad_last: the cumulative sum of grad
    taken from the end (reversed, summed, reversed back)"""

    uses_inputs = False

    def forward(self, x, axis):
        self.axis = axis
        return np.cumsum(x, axis=axis)

    def backward(self, grad, result, x):
        reverse = (slice(None),) * self.axis + (slice(None, None, -1),)
        return Cumsum.call(grad[reverse], axis=self.axis)[reverse]


def _expand_reduced(grad, axis, keepdims):
    """Give a reduced gradient its reduced axes back (size 1), so it broadcasts against the input."""
    return grad if keepdims else np.expand_dims(grad, axis)


class Sum(Function):
    """z = sum(x, axis);   dx = grad broadcast back over the summed axes"""

    uses_inputs = False

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        return x.sum(axis=axis, keepdims=keepdims)

    def backward(self, grad, result, x):
        return np.broadcast_to(_expand_reduced(grad, self.axis, self.keepdims), x.shape)


class Amax(Function):
    """z = max(x, axis);   dx = grad at the maxima (split evenly between ties), 0 elsewhere"""

    uses_inputs = False

    extreme = staticmethod(np.max)

    def forward(self, x, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims
        peak = self.extreme(x, axis=axis, keepdims=True)
        self.share = _tie_share(x == peak, axis)
        return peak if keepdims else np.squeeze(peak, axis)

    def backward(self, grad, result, x):
        return _expand_reduced(grad, self.axis, self.keepdims) * self.share.astype(grad.dtype)


class Amin(Amax):
    """z = min(x, axis);   dx = grad at the minima (split evenly between ties), 0 elsewhere"""

    extreme = staticmethod(np.min)


def _tie_share(is_extreme: np.ndarray, axis: tuple[int, ...]) -> np.ndarray:
    return is_extreme / is_extreme.sum(axis=axis, keepdims=True)


class LogSoftmax(Function):
    """z = x - logsumexp(x, axis)  (max-shifted, stable);   dx = grad - softmax(x) * sum(grad, axis)"""

    uses_inputs = False
    uses_result = True

    def forward(self, x, axis):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, grad, result, x):
        return grad - np.exp(result) * np.sum(grad, axis=self.axis, keepdims=True)


class Softmax(Function):
    """z = exp(x - max) / sum(exp(x - max));   dx = z * (grad - sum(grad * z, axis))"""

    uses_inputs = False
    uses_result = True

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        return e / e.sum(axis=axis, keepdims=True)

    def backward(self, grad, result, x):
        return result * (grad - np.sum(grad * result, axis=self.axis, keepdims=True))
