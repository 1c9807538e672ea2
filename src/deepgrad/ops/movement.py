"""Shape and indexing primitives: no arithmetic, the gradient is moved back to where the value came from."""

from __future__ import annotations

import numpy as np

from deepgrad import backend
from deepgrad.autograd.function import Function


class Reshape(Function):
    """z = x viewed with a new shape;   dx = grad reshaped back"""

    uses_inputs = False

    def forward(self, x, shape):
        return x.reshape(shape)

    def backward(self, grad, result, x):
        return np.reshape(grad, x.shape)


class Permute(Function):
    """z = x with its axes reordered;   dx = grad with the inverse order"""

    uses_inputs = False

    def forward(self, x, axes):
        self.axes = axes
        return np.transpose(x, axes)

    def backward(self, grad, result, x):
        return np.transpose(grad, tuple(int(a) for a in np.argsort(self.axes)))


class BroadcastTo(Function):
    """z = x repeated along broadcast axes;   dx = grad (the engine sums it back to x's shape)"""

    uses_inputs = False

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    def backward(self, grad, result, x):
        return grad


class GetItem(Function):
    """z = x[index];   dx = zeros with grad scatter-added at index (repeated indices accumulate)"""

    uses_inputs = False

    def forward(self, x, index):
        self.index = index
        out = x[index]
        if isinstance(out, np.generic):  # an integer for every axis: a 0-d view, as PyTorch's x[0] is, not a copy
            out = x[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        return out

    def backward(self, grad, result, x):
        return IndexAddToZeros.call(grad, shape=x.shape, index=self.index)


class IndexAddToZeros(Function):
    """z = zeros(shape) with x added at index;   dx = grad[index]   (the adjoint of GetItem)"""

    uses_inputs = False

    def forward(self, x, shape, index):
        self.index = index
        out = np.zeros(shape, dtype=x.dtype, like=x)
        if _has_integer_array(index):
            backend.scatter_add(out, index, x)
        else:  # basic and boolean indexing never select an element twice
            out[index] = x
        return out

    def backward(self, grad, result, x):
        return grad[self.index]


def _has_integer_array(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(backend.is_array(p) and p.dtype.kind in "iu" for p in parts)


class Cat(Function):
    """z = concatenate(xs, axis);   dx_i = the slice of grad that x_i filled"""

    uses_inputs = False

    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = np.cumsum([0] + [x.shape[axis] for x in xs])
        return np.concatenate(xs, axis=axis)

    def backward(self, grad, result, *xs):
        prefix = (slice(None),) * self.axis
        return tuple(
            grad[prefix + (slice(start, stop),)] if need else None
            for start, stop, need in zip(self.bounds[:-1], self.bounds[1:], self.needs_input_grad)
        )


class Pad(Function):
    """z = x surrounded by a constant;   dx = the interior of grad"""

    uses_inputs = False

    def forward(self, x, pad_width, value):
        self.interior = tuple(slice(before, before + size) for (before, _), size in zip(pad_width, x.shape))
        return np.pad(x, pad_width, mode="constant", constant_values=value)

    def backward(self, grad, result, x):
        return grad[self.interior]
