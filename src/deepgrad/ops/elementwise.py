"""Elementwise primitives. Binary ops broadcast; the engine sums each gradient back to its input's shape."""

from __future__ import annotations

import numpy as np

from deepgrad import compiled
from deepgrad.autograd.function import Function
from deepgrad.ops import kernels

# Below this many elements an op stays on NumPy: a compiled kernel's call costs a few microseconds more.
COMPILED_MIN_SIZE = 2**14


class Add(Function):
    """z = a + b;   da = grad,  db = grad"""

    uses_inputs = False

    def forward(self, a, b):
        return a + b

    def backward(self, grad, result, a, b):
        return grad, grad


class Sub(Function):
    """z = a - b;   da = grad,  db = -grad"""

    uses_inputs = False

    def forward(self, a, b):
        return a - b

    def backward(self, grad, result, a, b):
        return grad, (-grad if self.needs_input_grad[1] else None)


class Mul(Function):
    """z = a * b;   da = grad * b,  db = grad * a"""

    def forward(self, a, b):
        return a * b

    def backward(self, grad, result, a, b):
        needs_a, needs_b = self.needs_input_grad
        return (grad * b if needs_a else None), (grad * a if needs_b else None)

    def reads_input(self, position):
        return self.needs_input_grad[1 - position]  # da reads b, db reads a


class Div(Function):
    """z = a / b;   da = grad / b,  db = -grad * a / b^2 = -grad * z / b"""

    uses_result = True

    def forward(self, a, b):
        return a / b

    def backward(self, grad, result, a, b):
        needs_a, needs_b = self.needs_input_grad
        grad_a = grad / b if needs_a else None
        return grad_a, (-(grad_a if needs_a else grad / b) * result if needs_b else None)

    def reads_input(self, position):
        return position == 1  # b (and the result), never a

    def reads_result(self):
        return self.needs_input_grad[1]  # db only


class Neg(Function):
    """z = -x;   dx = -grad"""

    uses_inputs = False

    def forward(self, x):
        return -x

    def backward(self, grad, result, x):
        return -grad


class Pow(Function):
    """z = a ** b;   da = grad * b * a^(b-1),  db = grad * z * log(a)   (PyTorch's zeros: da = 0 where b = 0,
    db = 0 where a = 0 and b >= 0, the limits that 0 * inf and 0 * log(0) would turn into nan)"""

    uses_result = True

    def forward(self, a, b):
        return a**b

    def backward(self, grad, result, a, b):
        needs_a, needs_b = self.needs_input_grad
        zero = np.zeros((), dtype=grad.dtype)
        with np.errstate(divide="ignore", invalid="ignore"):
            grad_a = np.where(b == 0, zero, grad * b * a ** (b - 1)) if needs_a else None
            grad_b = np.where((a == 0) & (b >= 0), zero, grad * result * np.log(a)) if needs_b else None
        return grad_a, grad_b

    def reads_input(self, position):
        return position == 0 or self.needs_input_grad[0]  # a always; b for da only

    def reads_result(self):
        return self.needs_input_grad[1]  # db only


class Exp(Function):
    """z = exp(x);   dx = grad * z"""

    uses_inputs = False
    uses_result = True

    def forward(self, x):
        return np.exp(x)

    def backward(self, grad, result, x):
        return grad * result


class Log(Function):
    """z = log(x);   dx = grad / x"""

    def forward(self, x):
        return np.log(x)

    def backward(self, grad, result, x):
        return grad / x


class Log1p(Function):
    """z = log(1 + x)  (exact near 0, where 1 + x would round);   dx = grad / (1 + x)"""

    def forward(self, x):
        return np.log1p(x)

    def backward(self, grad, result, x):
        return grad / (1 + x)


class Expm1(Function):
    """z = exp(x) - 1  (exact near 0, where exp(x) - 1 would cancel);   dx = grad * (z + 1)"""

    uses_inputs = False
    uses_result = True

    def forward(self, x):
        return np.expm1(x)

    def backward(self, grad, result, x):
        return grad * (result + 1)


class Atan2(Function):
    """z = atan2(y, x), the angle of (x, y);   dy = grad x / (x^2 + y^2),  dx = -grad y / (x^2 + y^2)"""

    def forward(self, y, x):
        return np.arctan2(y, x)

    def backward(self, grad, result, y, x):
        needs_y, needs_x = self.needs_input_grad
        scale = grad / (x * x + y * y)
        return (scale * x if needs_y else None), (-scale * y if needs_x else None)

    def reads_input(self, position):
        return True  # both gradients read both inputs


class Sqrt(Function):
    """z = sqrt(x);   dx = grad / (2 z)"""

    uses_inputs = False
    uses_result = True

    def forward(self, x):
        return np.sqrt(x)

    def backward(self, grad, result, x):
        return grad / (2 * result)


class Abs(Function):
    """z = |x|;   dx = grad * sign(x)   (0 at x = 0, as in PyTorch)"""

    def forward(self, x):
        return np.abs(x)

    def backward(self, grad, result, x):
        return grad * np.sign(x)


class Sin(Function):
    """z = sin(x);   dx = grad * cos(x)"""

    def forward(self, x):
        return np.sin(x)

    def backward(self, grad, result, x):
        return grad * np.cos(x)


class Cos(Function):
    """z = cos(x);   dx = -grad * sin(x)"""

    def forward(self, x):
        return np.cos(x)

    def backward(self, grad, result, x):
        return -grad * np.sin(x)


class Tanh(Function):
    """z = tanh(x);   dx = grad * (1 - z^2)"""

    uses_inputs = False
    uses_result = True

    def forward(self, x):
        return np.tanh(x)

    def backward(self, grad, result, x):
        return grad * (1 - result * result)


class Sigmoid(Function):
    """z = 1 / (1 + exp(-x)) = (1 + tanh(x/2)) / 2   (no overflow);   dx = grad * z * (1 - z)"""

    uses_inputs = False
    uses_result = True

    def forward(self, x):
        return 0.5 + 0.5 * np.tanh(0.5 * x)

    def backward(self, grad, result, x):
        return grad * result * (1 - result)


class Relu(Function):
    """z = max(x, 0);   dx = grad * [not x <= 0]   (a NaN passes its gradient through, as in PyTorch)

    ``in_place``: z is written over x (``Tensor.relu_``, which counts the change): backward needs only the mask."""

    uses_inputs = False

    def forward(self, x, in_place=False):
        if compiled.usable_flat(x, min_size=COMPILED_MIN_SIZE):
            self.mask = np.empty(x.shape, dtype=bool)
            if in_place:
                kernels.relu_in_place(x.reshape(-1), self.mask.reshape(-1))
                return x
            out = np.empty_like(x)
            kernels.relu_forward(x.reshape(-1), out.reshape(-1), self.mask.reshape(-1))
            return out
        self.mask = ~(x <= 0)
        # not x * mask, which gives -0.0 for negative x (1/relu(-1) would be -inf)
        return np.maximum(x, 0, out=x if in_place else None)

    def backward(self, grad, result, x):
        if compiled.usable_flat(grad, min_size=COMPILED_MIN_SIZE):
            out = np.empty_like(grad)
            kernels.relu_backward(grad.reshape(-1), self.mask.reshape(-1), out.reshape(-1))
            return out
        return grad * self.mask


class Erf(Function):
    """z = erf(x);   dx = grad * 2/sqrt(pi) * exp(-x^2)"""

    def forward(self, x):
        return erf(x)

    def backward(self, grad, result, x):
        return grad * (2 / np.sqrt(np.pi)) * np.exp(-(x * x))


class Maximum(Function):
    """z = max(a, b);   the larger input gets grad, ties split it evenly (as PyTorch)"""

    uses_inputs = False

    def forward(self, a, b):
        self.share_a = (a > b) + 0.5 * (a == b)
        return np.maximum(a, b)

    def backward(self, grad, result, a, b):
        share_a = self.share_a.astype(grad.dtype)
        return grad * share_a, grad * (1 - share_a)


class Minimum(Function):
    """z = min(a, b);   the smaller input gets grad, ties split it evenly (as PyTorch)"""

    uses_inputs = False

    def forward(self, a, b):
        self.share_a = (a < b) + 0.5 * (a == b)
        return np.minimum(a, b)

    def backward(self, grad, result, a, b):
        share_a = self.share_a.astype(grad.dtype)
        return grad * share_a, grad * (1 - share_a)


class Where(Function):
    """z = a where condition else b;   da = grad where condition,  db = grad elsewhere"""

    uses_inputs = False

    def forward(self, a, b, condition):
        self.condition = condition
        return np.where(condition, a, b)

    def backward(self, grad, result, a, b):
        zero = grad.dtype.type(0)
        needs_a, needs_b = self.needs_input_grad
        return (
            np.where(self.condition, grad, zero) if needs_a else None,
            np.where(self.condition, zero, grad) if needs_b else None,
        )


class Cast(Function):
    """z = x converted to another float dtype;   dx = grad converted back"""

    uses_inputs = False

    def forward(self, x, dtype):
        return x.astype(dtype)

    def backward(self, grad, result, x):
        return Cast.call(grad, dtype=x.dtype)


class Clone(Function):
    """z = a copy of x;   dx = grad"""

    uses_inputs = False

    def forward(self, x):
        return x.copy()

    def backward(self, grad, result, x):
        return grad


def erf(x: np.ndarray) -> np.ndarray:
    """The error function to float64 accuracy (NumPy has none), computed in float64.

    |x| < 2.5: its Maclaurin series; beyond: erf = 1 - erfc with erfc from its continued fraction.
    Checked against PyTorch's erf to 1e-12 in the op table.
    """
    dtype = x.dtype if x.dtype.kind == "f" else np.dtype("float64")
    z = np.abs(x.astype(np.float64))
    out = np.empty_like(z)
    small = z < 2.5
    # Maclaurin series: erf(z) = 2/sqrt(pi) * sum_n (-1)^n z^(2n+1) / (n! (2n+1)), converges fast for |z| < 2.5
    zs = z[small]
    term = zs.copy()
    total = zs.copy()
    z2 = zs * zs
    for n in range(1, 60):
        term = -term * z2 / n
        total += term / (2 * n + 1)
    out[small] = 2 / np.sqrt(np.pi) * total
    # Asymptotic continued fraction for erfc at |z| >= 2.5 (Lentz), accurate to ~1e-16 there.
    zl = z[~small]
    if zl.size:
        fraction = np.zeros_like(zl)
        for k in range(60, 0, -1):
            fraction = (k / 2) / (zl + fraction)
        erfc = np.exp(-zl * zl) / np.sqrt(np.pi) / (zl + fraction)
        out[~small] = 1 - erfc
    return (np.sign(x) * out).astype(dtype)
