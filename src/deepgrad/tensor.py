"""`Tensor`: an n-d array that remembers how it was computed, so gradients can flow back through it.

A Tensor holds ``array`` (the backend array with its values: a NumPy ndarray on the CPU), ``grad``
(a Tensor, filled by ``backward``), ``requires_grad`` and ``grad_fn`` (the op node that produced it;
``None`` for leaves). Its operators and methods call the primitive ops in ``deepgrad.ops``; methods that
are composites (``var``, ``clamp``, ``norm``, ``logsumexp``, ...) call ``deepgrad.composites``, their one
home. Argument handling (dims, dtype promotion, ``to()``) lives in ``deepgrad._tensor_args``, and NumPy's
protocols on Tensors (used by backward formulas under create_graph) in ``deepgrad.autograd.dispatch``.
"""

from __future__ import annotations

import builtins
import math
import weakref
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from deepgrad import backend, composites
from deepgrad._tensor_args import (
    SCALAR_TYPES,
    _axes,
    _check_nonempty,
    _count,
    _float_pair,
    _normalize_dim,
    _numpy_aliases,
    _pair,
    _shape_args,
    _to_arguments,
    _to_array,
    scalar_dtype,
)
from deepgrad.autograd import dispatch, engine
from deepgrad.autograd.function import Function, label
from deepgrad.autograd.grad_mode import GRAD_MODE
from deepgrad.devices import CPU, check_device
from deepgrad.ops import elementwise as ew
from deepgrad.ops import linalg, movement, reduce

MinMax = namedtuple("MinMax", ["values", "indices"])
Sorted = namedtuple("Sorted", ["values", "indices"])  # sort and topk, as PyTorch's return types


class Size(tuple):
    """A tensor's shape: a tuple of ints with ``numel()``, as ``torch.Size`` (it prints as a plain tuple).

    >>> import deepgrad
    >>> s = deepgrad.zeros(2, 3).shape
    >>> s, s.numel(), isinstance(s, deepgrad.Size), s == (2, 3)
    ((2, 3), 6, True, True)
    """

    __slots__ = ()

    def numel(self) -> int:
        """The number of elements of a tensor of this shape."""
        count = 1
        for size in self:
            count *= size
        return count

    def __getitem__(self, index: Any) -> Any:
        item = tuple.__getitem__(self, index)
        return Size(item) if isinstance(index, slice) else item

    def __add__(self, other: Any) -> Size:
        return Size(tuple.__add__(self, tuple(other)))


class _VersionCounter:
    """A counter shared by the tensors that view one block of memory, and the views of it that are alive (whose
    history an in-place update in the graph rewrites, ``Tensor._rebase``)."""

    __slots__ = ("value", "views")

    def __init__(self) -> None:
        self.value = 0
        self.views: weakref.WeakSet | None = None


class Tensor:
    """An n-d array with reverse-mode automatic differentiation.

    >>> import deepgrad
    >>> x = deepgrad.tensor(3.0, requires_grad=True)
    >>> y = x * x + 2 * x
    >>> y.backward()
    >>> x.grad
    tensor(8.)
    """

    __slots__ = (
        "array",
        "_grad",
        "grad_fn",
        "_requires_grad",
        "_counter",
        "_hooks",
        "_retains_grad",
        "name",
        "_view_of",
        "__weakref__",
    )

    # Python scalars and arrays on the left (2 * t, array + t) dispatch to Tensor's reflected operators.
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        self.array = _to_array(data, dtype)
        self._grad: Tensor | None = None
        self.grad_fn = None
        self._requires_grad = False
        self._counter: _VersionCounter | None = None
        self._hooks: list | None = None
        self._retains_grad = False
        self.name: str | None = None
        self._view_of: tuple | None = None
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: np.ndarray, requires_grad: bool, grad_fn: Function | None) -> Tensor:
        """Fast constructor for op outputs: ``data`` is already an ndarray of the right dtype."""
        t = object.__new__(Tensor)
        t.array = data
        t._grad = None
        t.grad_fn = grad_fn
        t._requires_grad = requires_grad
        t._counter = None
        t._hooks = None
        t._retains_grad = False
        t.name = None
        t._view_of = None
        return t

    # ------------------------------------------------------------------ attributes

    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward`` accumulated into this leaf (None until then)."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # As PyTorch: a gradient is a Tensor or None (a wrong shape is reported by the optimizer's step).
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(
                f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}"
            )
        self._grad = value

    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether gradients are computed for this leaf (in place); returns self."""
        if self.grad_fn is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad can only be switched off on a leaf tensor; use detach() to get a "
                f"tensor of shape {self.shape} outside the graph"
            )
        if requires_grad and self.array.dtype.kind != "f":
            raise RuntimeError(
                f"only floating-point tensors can require gradients, got a {self.dtype} tensor of "
                f"shape {self.shape}; convert it first, e.g. t.float()"
            )
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def data(self) -> Tensor:
        """The values as a Tensor outside the graph, sharing memory (PyTorch's ``.data``).

        ``p.data -= lr * p.grad`` updates ``p`` in place; ``p.data = t`` makes ``p`` hold ``t``'s values.
        The array itself is ``.array`` (or ``.numpy()``).
        """
        return self._alias(Tensor._make(self.array, False, None))

    @data.setter
    def data(self, value: Any) -> None:
        if isinstance(value, Tensor):
            self.array = value.array
        else:
            self.array = value if backend.is_array(value) else _to_array(value)
        self._counter = value._shared_counter() if isinstance(value, Tensor) else None

    @property
    def is_leaf(self) -> bool:
        """True for tensors made by the user (not by a recorded op)."""
        return self.grad_fn is None

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def device(self) -> Any:
        """Where the values live: ``device(type='cpu')`` (compares equal to ``"cpu"``)."""
        return CPU

    is_cuda = False
    is_cpu = True

    def cpu(self) -> Tensor:
        """The tensor on the CPU: itself, as everything is there."""
        return self

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        """Raises: there is no CUDA device (``"cuda" if deepgrad.cuda.is_available() else "cpu"`` picks the CPU)."""
        check_device("cuda" if device is None else device if isinstance(device, str) else f"cuda:{device}")
        return self

    @property
    def T(self) -> Tensor:
        """All axes reversed (the matrix transpose for 2-d tensors)."""
        return self.permute(*reversed(range(self.ndim)))

    @property
    def mT(self) -> Tensor:
        """The last two axes swapped (batched matrix transpose)."""
        return self.transpose(-2, -1)

    def size(self, dim: int | None = None) -> Any:
        """The shape (a `Size`), or the length of one dimension."""
        if dim is None:
            return Size(self.array.shape)
        return self.array.shape[_normalize_dim(dim, self.ndim, "size")]

    def dim(self) -> int:
        return self.ndim

    def numel(self) -> int:
        return int(self.array.size)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.array.size != 1:
            raise ValueError(
                f"item(): only one-element tensors can be converted to a Python number, got shape {self.shape}"
            )
        return self.array.item()

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array (shared memory). Detach first if the tensor requires grad."""
        if self._requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: use t.detach().numpy()")
        return self.array

    def tolist(self) -> Any:
        return self.array.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # np.array(t) asks for copy=True: hand out the shared data only when a copy is not requested
        if dtype is not None and np.dtype(dtype) != self.array.dtype:
            return self.array.astype(dtype)
        return self.array.copy() if copy else self.array

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is ambiguous; use .any() or .all()")
        return bool(self.array)

    def __index__(self) -> int:
        if self.array.size != 1 or self.dtype.kind not in "iub":
            raise TypeError(
                f"only one-element integer tensors can be used as an index, got {self.dtype} of shape {self.shape}"
            )
        return int(self.array)

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    __hash__ = object.__hash__

    def __repr__(self) -> str:
        body = np.array2string(self.array, separator=", ", prefix="tensor(", precision=4, threshold=200, edgeitems=3)
        extras = []
        if self.dtype not in (backend.DEFAULT_FLOAT, backend.DEFAULT_INT, backend.bool_):
            extras.append(f"dtype={self.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn!r}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------------ autograd

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Compute d(self)/d(leaf) for every leaf that requires grad and add it to ``leaf.grad``.

        ``gradient`` is the upstream gradient (needed unless self has one element);
        ``retain_graph`` keeps the graph for another backward; ``create_graph`` records the backward
        pass so the gradients can be differentiated again.
        """
        if retain_graph is None:
            retain_graph = create_graph
        if not self._requires_grad:
            raise RuntimeError(
                f"backward() on a tensor of shape {self.shape} that does not require grad: no input it "
                "was computed from has requires_grad=True (or it was computed under no_grad())"
            )
        root_grad = engine.root_gradient(self, gradient, "backward", create_graph)
        engine.run_backward([self], [root_grad], retain_graph, create_graph)

    def detach(self) -> Tensor:
        """The same data outside the graph (no grad_fn, requires_grad False).

        It shares memory and the version counter with self: an in-place change of either counts for both."""
        return self._alias(Tensor._make(self.array, False, None))

    # Version counter: how many in-place changes the memory behind this tensor has seen. The graph records
    # the versions of what backward will read and refuses to backward if they changed. Tensors sharing memory
    # (views made by reshape/permute/expand/indexing, detach) share one counter, as in PyTorch. It is created
    # on first need: most tensors are never changed in place nor viewed.

    @property
    def _version(self) -> int:
        counter = self._counter
        return 0 if counter is None else counter.value

    def _shared_counter(self) -> _VersionCounter:
        if self._counter is None:
            self._counter = _VersionCounter()
        return self._counter

    def _bump_version(self) -> None:
        """Count an in-place change (seen by every tensor sharing this memory)."""
        self._shared_counter().value += 1

    def _alias(self, out: Tensor) -> Tensor:
        """``out`` (this tensor's memory outside the graph: detach, .data) shares the version counter."""
        out._counter = self._shared_counter()
        return out

    def _view_result(self, out: Tensor, step: tuple) -> Tensor:
        """When ``out``'s data is a view of this tensor's memory: let it share the version counter, and remember
        how it was taken, ``step`` (("index", i), ("reshape", shape), ("permute", axes), ("expand", shape)) after
        this tensor's own steps from the tensor that owns the memory, so that an in-place update of either in
        the graph can rewrite the other's history (``_rebase``)."""
        if out is not self and np.may_share_memory(out.array, self.array):
            counter = out._counter = self._shared_counter()
            root, steps = self._view_of or (self, ())
            out._view_of = (root, (*steps, step))
            if counter.views is None:
                counter.views = weakref.WeakSet()
            counter.views.add(out)
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def retain_grad(self) -> None:
        """Keep this intermediate value's gradient in ``.grad`` after backward (leaves always do)."""
        if not self._requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        if self.grad_fn is not None:
            self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor replaces it.

        Returns a function that removes the hook.
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that does not require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(hook)
        hooks = self._hooks

        def remove() -> None:
            if hook in hooks:
                hooks.remove(hook)

        return remove

    # ------------------------------------------------------------------ arithmetic (primitives)

    def __add__(self, other: Any) -> Tensor:
        return ew.Add.apply(*_pair(self, _operand(other, self)))

    def __radd__(self, other: Any) -> Tensor:
        return ew.Add.apply(*_pair(_operand(other, self), self))

    def __sub__(self, other: Any) -> Tensor:
        return ew.Sub.apply(*_pair(self, _operand(other, self)))

    def __rsub__(self, other: Any) -> Tensor:
        return ew.Sub.apply(*_pair(_operand(other, self), self))

    def __mul__(self, other: Any) -> Tensor:
        return ew.Mul.apply(*_pair(self, _operand(other, self)))

    def __rmul__(self, other: Any) -> Tensor:
        return ew.Mul.apply(*_pair(_operand(other, self), self))

    def __truediv__(self, other: Any) -> Tensor:
        a, b = _float_pair(self, _operand(other, self))
        return ew.Div.apply(a, b)

    def __rtruediv__(self, other: Any) -> Tensor:
        a, b = _float_pair(_operand(other, self), self)
        return ew.Div.apply(a, b)

    def __pow__(self, other: Any) -> Tensor:
        return ew.Pow.apply(*_pair(self, _operand(other, self)))

    def __rpow__(self, other: Any) -> Tensor:
        return ew.Pow.apply(*_pair(_operand(other, self), self))

    def __neg__(self) -> Tensor:
        return ew.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    def __matmul__(self, other: Any) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(_operand(other, self), self)

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__
    matmul = __matmul__

    def exp(self) -> Tensor:
        return ew.Exp.apply(self)

    def log(self) -> Tensor:
        return ew.Log.apply(self)

    def sqrt(self) -> Tensor:
        return ew.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return ew.Abs.apply(self)

    def sin(self) -> Tensor:
        return ew.Sin.apply(self)

    def cos(self) -> Tensor:
        return ew.Cos.apply(self)

    def tanh(self) -> Tensor:
        return ew.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        return ew.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        return ew.Relu.apply(self)

    def relu_(self) -> Tensor:
        """max(x, 0) written into this tensor (recorded in the graph as PyTorch does: see ``_rebase``)."""
        return self._overwrite("relu_", _relu_over_input)

    def erf(self) -> Tensor:
        return ew.Erf.apply(self)

    def log1p(self) -> Tensor:
        """log(1 + x), exact near 0 (``(1 + x).log()`` rounds 1 + x first)."""
        return ew.Log1p.apply(self)

    def clone(self) -> Tensor:
        """A copy of the data that stays in the graph (gradient flows through)."""
        return ew.Clone.apply(self)

    # ------------------------------------------------------------------ composites

    # Composites label their last graph node with PyTorch's grad_fn name (``_named``), so ``y.grad_fn``
    # reads as in PyTorch although deepgrad computes the value from primitives.

    def square(self) -> Tensor:
        return _named(self * self, self, "PowBackward0")

    def rsqrt(self) -> Tensor:
        return _named(1 / self.sqrt(), self, "RsqrtBackward0")

    def reciprocal(self) -> Tensor:
        return _named(1 / self, self, "ReciprocalBackward0")

    def leaky_relu(self, negative_slope: float = 0.01) -> Tensor:
        """x where x > 0, else negative_slope * x"""
        return _named(composites.leaky_relu(self, negative_slope), self, "LeakyReluBackward0")

    def elu(self, alpha: float = 1.0) -> Tensor:
        """x where x > 0, else alpha * (exp(x) - 1)"""
        return _named(composites.elu(self, alpha), self, "EluBackward0")

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Limit to [min, max]; the gradient passes where min <= x <= max (as in PyTorch)."""
        return _named(composites.clamp(self, min, max), self, "ClampBackward1")

    clip = clamp

    def clamp_min(self, min: Any) -> Tensor:
        """max(x, min), as ``clamp(min=min)``."""
        return _named(composites.clamp(self, min, None), self, "ClampMinBackward0")

    def clamp_max(self, max: Any) -> Tensor:
        """min(x, max), as ``clamp(max=max)``."""
        return _named(composites.clamp(self, None, max), self, "ClampMaxBackward0")

    def lerp(self, end: Any, weight: Any) -> Tensor:
        """x + weight (end - x): linear interpolation towards ``end`` (``weight`` a number or a tensor)."""
        name = "LerpBackward1" if isinstance(weight, Tensor) else "LerpBackward0"
        return label(self + _operand(weight, self) * (_operand(end, self) - self), name)

    def addcmul(self, tensor1: Any, tensor2: Any, value: float = 1) -> Tensor:
        """x + value tensor1 tensor2 (Adam's second-moment update: ``v.mul_(b2).addcmul_(g, g, value=1 - b2)``)."""
        return label(self + _operand(tensor1, self) * tensor2 * value, "AddcmulBackward0")

    def addcdiv(self, tensor1: Any, tensor2: Any, value: float = 1) -> Tensor:
        """x + value tensor1 / tensor2 (Adam's step: ``p.addcdiv_(m, v.sqrt().add_(eps), value=-lr)``)."""
        return label(self + _operand(tensor1, self) / tensor2 * value, "AddcdivBackward0")

    def where(self, condition: Any, other: Any) -> Tensor:
        """self where condition is true, else other (as ``deepgrad.where(condition, self, other)``)."""
        return where(condition, self, other)

    def maximum(self, other: Any) -> Tensor:
        return ew.Maximum.apply(*_pair(self, _operand(other, self)))

    def minimum(self, other: Any) -> Tensor:
        return ew.Minimum.apply(*_pair(self, _operand(other, self)))

    def _reduced(self, value: Any) -> Tensor:
        """A reduction's value outside the graph (a NumPy scalar for 0-d results becomes a 0-d array)."""
        return Tensor._make(backend.asarray(value, like=self.array), False, None)

    def _constant(self, function: Callable) -> Tensor:
        """function(x) outside the graph: for functions whose derivative is 0 or undefined everywhere."""
        return Tensor._make(function(self.array), False, None)

    def _step_function(self, function: Callable, node_name: str) -> Tensor:
        """function(x) for a step function (its derivative is 0 wherever it exists): in the graph, a node that
        sends zeros back, as PyTorch's, so a backward through it runs; outside it, a plain tensor."""
        out = Tensor._make(function(self.array), False, None)
        if GRAD_MODE.enabled and self._requires_grad:
            return _replaced_by(self, out, node_name)
        return out

    def sign(self) -> Tensor:
        """-1, 0 or 1 (gradient 0)."""
        return self._step_function(np.sign, "SignBackward0")

    def floor(self) -> Tensor:
        """Largest integer <= x (gradient 0)."""
        return self._step_function(np.floor, "FloorBackward0")

    def ceil(self) -> Tensor:
        """Smallest integer >= x (gradient 0)."""
        return self._step_function(np.ceil, "CeilBackward0")

    def round(self, decimals: int = 0) -> Tensor:
        """Nearest integer (or multiple of 10^-decimals), halves to even as in PyTorch (gradient 0)."""
        return self._step_function(
            lambda a: np.round(a, decimals), "RoundBackward0" if not decimals else "RoundBackward1"
        )

    def trunc(self) -> Tensor:
        """x rounded toward zero (gradient 0)."""
        return self._step_function(np.trunc, "TruncBackward0")

    def __floordiv__(self, other: Any) -> Tensor:
        """floor(a / b), as torch.floor_divide (not differentiable)."""
        a, b = _pair(self, _operand(other, self))
        return Tensor._make(backend.asarray(np.floor_divide(a.array, b.array), like=a.array), False, None)

    def __rfloordiv__(self, other: Any) -> Tensor:
        return _operand(other, self).__floordiv__(self)

    def __mod__(self, other: Any) -> Tensor:
        """a - floor(a / b) * b (the sign of b, as Python and torch.remainder);  da = grad,  db = -floor(a/b) grad"""
        a, b = _pair(self, _operand(other, self))
        if a.dtype.kind != "f" and b.dtype.kind != "f":
            return Tensor._make(backend.asarray(np.remainder(a.array, b.array), like=a.array), False, None)
        return a - (a.detach() / b.detach()).floor() * b

    def __rmod__(self, other: Any) -> Tensor:
        return _operand(other, self).__mod__(self)

    remainder = __mod__
    floor_divide = __floordiv__

    def float(self) -> Tensor:
        return self.to(backend.float32)

    def double(self) -> Tensor:
        return self.to(backend.float64)

    def half(self) -> Tensor:
        return self.to(backend.float16)

    def long(self) -> Tensor:
        return self.to(backend.int64)

    def int(self) -> Tensor:
        return self.to(backend.int32)

    def bool(self) -> Tensor:
        return self.to(backend.bool_)

    def to(self, dtype: Any = None, *args: Any, **kwargs: Any) -> Tensor:
        """Convert to a dtype (differentiable between float types): ``to(deepgrad.float64)``, ``to(other)``,
        ``to("cpu", dtype)``, ``to(device="cpu", dtype=...)``; without a dtype it returns self."""
        if args or kwargs or not isinstance(dtype, np.dtype):
            dtype = _to_arguments((dtype, *args), kwargs)
            if dtype is None:
                return self
        dtype = backend.to_dtype(dtype)
        if dtype == self.dtype:
            return self
        if self._requires_grad and dtype.kind == "f":
            return ew.Cast.apply(self, dtype=dtype)
        return Tensor._make(self.array.astype(dtype), False, None)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """Without an argument, the type name (``'torch.FloatTensor'`` for float32, PyTorch's names, so ported
        comparisons hold); with a dtype (``deepgrad.float64``, ``float``, ``'torch.DoubleTensor'``), converted."""
        if dtype is None:
            return _TYPE_NAMES.get(self.dtype, f"torch.{self.dtype}")
        if isinstance(dtype, str) and dtype in _TYPE_DTYPES:
            dtype = _TYPE_DTYPES[dtype]
        return self.to(dtype)

    astype = to

    # ------------------------------------------------------------------ comparisons (no gradient)

    def _compare(self, other: Any, compare: Callable) -> Tensor:
        other_data = other.array if isinstance(other, Tensor) else other
        try:
            return Tensor._make(backend.asarray(compare(self.array, other_data), like=self.array), False, None)
        except ValueError as error:
            raise ValueError(f"{compare.__name__}: {error} (shapes {self.shape} and {np.shape(other_data)})") from None

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def __and__(self, other: Any) -> Tensor:
        return self._compare(other, np.logical_and if self.dtype == np.bool_ else np.bitwise_and)

    def __or__(self, other: Any) -> Tensor:
        return self._compare(other, np.logical_or if self.dtype == np.bool_ else np.bitwise_or)

    def __invert__(self) -> Tensor:
        return self._constant(np.invert)

    def isnan(self) -> Tensor:
        return self._constant(np.isnan)

    def isfinite(self) -> Tensor:
        return self._constant(np.isfinite)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return self._reduced(self.array.all(axis=_axes(dim, self.ndim), keepdims=keepdim))

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return self._reduced(self.array.any(axis=_axes(dim, self.ndim), keepdims=keepdim))

    def allclose(self, other: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        return bool(np.allclose(self.array, _data(other), rtol=rtol, atol=atol))

    def equal(self, other: Any) -> bool:
        return bool(np.array_equal(self.array, _data(other)))

    # ------------------------------------------------------------------ reductions

    def sum(
        self,
        dim: Any = None,
        keepdim: bool = False,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """Sum over ``dim`` (an int, a tuple, or all axes when None)."""
        dim, keepdim = _numpy_aliases(dim, keepdim, axis, keepdims)
        if self.dtype.kind in "bui" and not self._requires_grad:
            return self._reduced(self.array.sum(axis=_axes(dim, self.ndim), keepdims=keepdim))
        return reduce.Sum.apply(self, axis=_axes(dim, self.ndim), keepdims=keepdim)

    def mean(
        self,
        dim: Any = None,
        keepdim: bool = False,
        *,
        axis: Any = None,
        keepdims: bool | None = None,
    ) -> Tensor:
        """sum(x, dim) / n, where n is the number of elements summed."""
        dim, keepdim = _numpy_aliases(dim, keepdim, axis, keepdims)
        axes = _axes(dim, self.ndim)
        source = self if self.dtype.kind == "f" else self.float()
        count = _count(self.shape, axes)
        return _named(source.sum(axes, keepdim) * (1.0 / count if count else float("nan")), self, "MeanBackward0")

    def var(
        self,
        dim: Any = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: int | None = None,
    ) -> Tensor:
        """sum((x - mean)^2) / (n - correction); correction=1 (Bessel) by default, as in PyTorch."""
        if correction is None:
            correction = 0 if unbiased is False else 1
        return _named(composites.var(self, dim, correction, keepdim), self, "VarBackward0")

    def std(
        self,
        dim: Any = None,
        unbiased: bool | None = None,
        keepdim: bool = False,
        *,
        correction: int | None = None,
    ) -> Tensor:
        """sqrt(var(x))"""
        return _named(self.var(dim, unbiased, keepdim, correction=correction).sqrt(), self, "StdBackward0")

    def amax(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """Largest value over ``dim``; gradient to the maxima, split evenly between ties."""
        _check_nonempty(self, "amax")
        return reduce.Amax.apply(self, axis=_axes(dim, self.ndim), keepdims=keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        _check_nonempty(self, "amin")
        return reduce.Amin.apply(self, axis=_axes(dim, self.ndim), keepdims=keepdim)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``max()``: the largest value. ``max(dim)``: ``(values, indices)`` as in PyTorch.
        ``max(other_tensor)``: the elementwise maximum."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        if dim is None:
            return self.amax()
        return self._extreme_at_index(dim, keepdim, self.argmax)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        """``min()``: the smallest value. ``min(dim)``: ``(values, indices)`` as in PyTorch."""
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        if dim is None:
            return self.amin()
        return self._extreme_at_index(dim, keepdim, self.argmin)

    def _extreme_at_index(self, dim: Any, keepdim: bool, arg: Callable) -> MinMax:
        # As PyTorch, the values are gathered at the returned indices, so with ties the gradient goes to
        # that one index (amax/amin split it between the ties).
        if self.ndim == 0:
            _normalize_dim(dim, 0, arg.__name__)
            return MinMax(self, Tensor._make(np.zeros((), dtype=backend.DEFAULT_INT, like=self.array), False, None))
        indices = arg(dim, keepdim=True)
        values = self.gather(dim, indices)
        if keepdim:
            return MinMax(values, indices)
        return MinMax(values.squeeze(dim), indices.squeeze(dim))

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        """Index of the largest value (over the flattened tensor when dim is None)."""
        _check_nonempty(self, "argmax")
        if dim is None:
            return self._reduced(self.array.argmax())
        return self._reduced(self.array.argmax(axis=_normalize_dim(dim, self.ndim, "argmax"), keepdims=keepdim))

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        _check_nonempty(self, "argmin")
        if dim is None:
            return self._reduced(self.array.argmin())
        return self._reduced(self.array.argmin(axis=_normalize_dim(dim, self.ndim, "argmin"), keepdims=keepdim))

    def logsumexp(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        """log(sum(exp(x))) over dim, shifted by the max so nothing overflows."""
        return _named(composites.logsumexp(self, dim, keepdim), self, "LogsumexpBackward0")

    def softmax(self, dim: int = -1) -> Tensor:
        """exp(x_i) / sum_j exp(x_j) along dim (shifted by the max: stable)."""
        return reduce.Softmax.apply(self, axis=_normalize_dim(dim, self.ndim, "softmax"))

    def log_softmax(self, dim: int = -1) -> Tensor:
        """x_i - logsumexp(x) along dim (stable, fused)."""
        return reduce.LogSoftmax.apply(self, axis=_normalize_dim(dim, self.ndim, "log_softmax"))

    def norm(self, p: float = 2, dim: Any = None, keepdim: bool = False) -> Tensor:
        """(sum |x|^p)^(1/p) over dim; p=0 counts the non-zero elements; gradient 0 at x = 0, as in PyTorch."""
        return _named(composites.norm(self, p, dim, keepdim), self, "LinalgVectorNormBackward0")

    # ------------------------------------------------------------------ shape and indexing

    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape (one dimension may be -1)."""
        shape = _shape_args(shape)
        if shape == self.shape:
            return self
        return self._view_result(movement.Reshape.apply(self, shape=shape), ("reshape", shape))

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge dimensions start_dim..end_dim into one."""
        if self.ndim == 0:
            return self.reshape(1)
        start = _normalize_dim(start_dim, self.ndim, "flatten")
        end = _normalize_dim(end_dim, self.ndim, "flatten")
        if start > end:
            raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} for shape {self.shape}")
        shape = self.shape[:start] + (_count(self.shape, tuple(range(start, end + 1))),) + self.shape[end + 1 :]
        return self.reshape(shape)

    def unflatten(self, dim: int, sizes: Sequence[int]) -> Tensor:
        dim = _normalize_dim(dim, self.ndim, "unflatten")
        return self.reshape(self.shape[:dim] + tuple(sizes) + self.shape[dim + 1 :])

    def squeeze(self, dim: Any = None) -> Tensor:
        """Remove dimensions of size 1 (all of them, or those in dim)."""
        if dim is None:
            axes = tuple(i for i, s in enumerate(self.shape) if s == 1)
        else:
            axes = tuple(a for a in _axes(dim, self.ndim) if self.shape[a] == 1)
        squeezed = self.reshape(tuple(s for i, s in enumerate(self.shape) if i not in axes))
        return _named(squeezed, self, "SqueezeBackward0")

    def unsqueeze(self, dim: int) -> Tensor:
        """Insert a dimension of size 1 at dim."""
        dim = _normalize_dim(dim, self.ndim + 1, "unsqueeze")
        return _named(self.reshape(self.shape[:dim] + (1,) + self.shape[dim:]), self, "UnsqueezeBackward0")

    def permute(self, *dims: Any) -> Tensor:
        """Reorder the axes."""
        dims = tuple(_normalize_dim(d, self.ndim, "permute") for d in _shape_args(dims))
        if sorted(dims) != list(range(self.ndim)):
            raise ValueError(
                f"permute: {dims} is not a permutation of the {self.ndim} axes of a tensor of shape {self.shape}"
            )
        if dims == tuple(range(self.ndim)):
            return self
        return self._view_result(movement.Permute.apply(self, axes=dims), ("permute", dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        """Swap two axes."""
        axes = list(range(self.ndim))
        d0, d1 = (
            _normalize_dim(dim0, self.ndim, "transpose"),
            _normalize_dim(dim1, self.ndim, "transpose"),
        )
        axes[d0], axes[d1] = axes[d1], axes[d0]
        return _named(self.permute(*axes), self, "TransposeBackward0")

    swapaxes = transpose

    def t(self) -> Tensor:
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor with at most 2 dimensions, got shape {self.shape}")
        return _named(self.T, self, "TBackward0")

    def expand(self, *sizes: Any) -> Tensor:
        """Repeat along dimensions of size 1 without copying (-1 keeps a dimension)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"expand: target shape {sizes} has fewer dimensions than the tensor's shape {self.shape}")
        offset = len(sizes) - self.ndim
        shape = tuple(self.shape[i - offset] if s == -1 and i >= offset else s for i, s in enumerate(sizes))
        return self.broadcast_to(shape)

    def expand_as(self, other: Tensor) -> Tensor:
        return self.broadcast_to(other.shape)

    def broadcast_to(self, *shape: Any) -> Tensor:
        shape = _shape_args(shape)
        if shape == self.shape:
            return self
        return self._view_result(movement.BroadcastTo.apply(self, shape=shape), ("expand", shape))

    def repeat(self, *sizes: Any) -> Tensor:
        """Tile the tensor sizes[i] times along dimension i (as torch.Tensor.repeat)."""
        sizes = _shape_args(sizes)
        if len(sizes) < self.ndim:
            raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor with {self.ndim} dimensions")
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        # insert a size-1 axis before each dimension, broadcast it to the count, and merge the pairs
        interleaved = x.reshape(tuple(v for s in x.shape for v in (1, s)))
        tiled = interleaved.broadcast_to(tuple(v for r, s in zip(sizes, x.shape) for v in (r, s)))
        return tiled.reshape(tuple(r * s for r, s in zip(sizes, x.shape)))

    def contiguous(self) -> Tensor:
        return self

    def __getitem__(self, index: Any) -> Tensor:
        index = _index_to_array(index, self.array)
        return self._view_result(movement.GetItem.apply(self, index=index), ("index", index))

    def __setitem__(self, index: Any, value: Any) -> None:
        index = _index_to_array(index, self.array)
        if self._records_inplace(value):
            self._rebase("__setitem__", lambda before: _put(before, index, value), value)
            return
        self.array[index] = value.array if isinstance(value, Tensor) else value
        self._bump_version()

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        dim = _normalize_dim(dim, self.ndim, "unbind")
        prefix = (slice(None),) * dim
        return tuple(self[prefix + (i,)] for i in range(self.shape[dim]))

    def mm(self, other: Tensor) -> Tensor:
        """The product of two matrices (2-d only, as torch.mm; ``matmul`` broadcasts)."""
        return mm(self, other)

    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        """A new leaf tensor from ``data`` with this tensor's dtype unless ``dtype`` says otherwise."""
        check_device(device)
        return Tensor(data, dtype=self.dtype if dtype is None else dtype, requires_grad=requires_grad)

    def new_full(
        self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
    ) -> Tensor:
        """A tensor of ``size`` filled with ``fill_value``, with this tensor's dtype unless ``dtype`` is given."""
        check_device(device)
        dtype = self.dtype if dtype is None else backend.to_dtype(dtype)
        array = np.full(_shape_args((size,)), fill_value, dtype=dtype, like=self.array)
        return Tensor._make(array, False, None).requires_grad_(requires_grad)

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape_args(size), 0, dtype, device, requires_grad)

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape_args(size), 1, dtype, device, requires_grad)

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
        return self.new_full(_shape_args(size), 0, dtype, device, requires_grad)

    def _scatter_index(self, dim: int, index: Any, name: str) -> tuple[int, Any, tuple]:
        """dim, the index array, and the positions self[i][index[i][j]] (dim replaced) as an open grid."""
        dim = _normalize_dim(dim, self.ndim, name)
        idx = index.array if isinstance(index, Tensor) else np.asarray(index, like=self.array)
        if idx.ndim != self.ndim or idx.dtype.kind not in "iu":
            raise ValueError(
                f"{name}: index must be an integer tensor with as many dimensions as the tensor; got {idx.dtype} "
                f"of shape {idx.shape} for a tensor of shape {self.shape}"
            )
        if any(i > s for axis, (i, s) in enumerate(zip(idx.shape, self.shape)) if axis != dim):
            raise ValueError(f"{name}: index of shape {idx.shape} is larger than the tensor {self.shape} outside dim")
        if idx.size and (idx.min() < -self.shape[dim] or idx.max() >= self.shape[dim]):
            raise IndexError(f"{name}: index out of range for dimension {dim} of size {self.shape[dim]}")
        grids = [
            np.arange(size, like=idx).reshape((1,) * axis + (size,) + (1,) * (idx.ndim - axis - 1))
            for axis, size in enumerate(idx.shape)
        ]
        grids[dim] = idx % self.shape[dim]
        return dim, idx, tuple(grids)

    def _scatter_source(self, src: Any, idx: Any, name: str) -> Any:
        """The part of ``src`` that index points at: src[:idx.shape[0], :idx.shape[1], ...] (or a scalar)."""
        if not isinstance(src, Tensor):
            return src
        if src.ndim != idx.ndim or any(i > s for i, s in zip(idx.shape, src.shape)):
            raise ValueError(f"{name}: src of shape {src.shape} is smaller than the index {idx.shape}")
        return src[tuple(slice(0, size) for size in idx.shape)]

    def scatter_(self, dim: int, index: Any, src: Any = None, value: Any = None, reduce: str | None = None) -> Tensor:
        """self[i][index[i][j]] = src[i][j] along ``dim`` (or ``= value``), in place; ``reduce='add'`` or
        ``'multiply'`` combines instead of replacing. ``zeros(n, 10).scatter_(1, y.unsqueeze(1), 1)`` one-hots."""
        source = value if src is None else src
        if reduce is None and self._records_inplace(source):
            return self._rebase("scatter_", lambda before: before.scatter(dim, index, src, value), source)
        self._check_inplace("scatter_", source)
        _, idx, positions = self._scatter_index(dim, index, "scatter_")
        part = _data(self._scatter_source(source, idx, "scatter_"))
        if reduce is None:
            self.array[positions] = part
        elif reduce in ("add", "multiply"):
            ufunc = np.add if reduce == "add" else np.multiply
            ufunc.at(self.array, positions, np.broadcast_to(part, idx.shape))
        else:
            raise ValueError(f"scatter_: reduce must be None, 'add' or 'multiply', got {reduce!r}")
        self._bump_version()
        return self

    def scatter_add_(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """self[i][index[i][j]] += src[i][j] along ``dim``, in place (repeated indices add up)."""
        if self._records_inplace(src):
            return self._rebase("scatter_add_", lambda before: before.scatter_add(dim, index, src), src)
        _, idx, positions = self._scatter_index(dim, index, "scatter_add_")
        part = _data(self._scatter_source(as_tensor(src), idx, "scatter_add_"))
        backend.scatter_add(self.array, positions, part)
        self._bump_version()
        return self

    def scatter_add(self, dim: int, index: Any, src: Tensor) -> Tensor:
        """self + src added at index along ``dim`` (out of place, differentiable in self and src)."""
        _, idx, positions = self._scatter_index(dim, index, "scatter_add")
        part = self._scatter_source(_operand(src, self), idx, "scatter_add")
        return self + movement.IndexAddToZeros.apply(part, shape=self.shape, index=positions)

    def scatter(self, dim: int, index: Any, src: Any = None, value: Any = None) -> Tensor:
        """Out-of-place ``scatter_``, differentiable: the gradient reaches self where nothing was written and
        src at the elements written (for an index repeated along dim, the last one, as the in-place form)."""
        _, idx, positions = self._scatter_index(dim, index, "scatter")
        source = _operand(value if src is None else src, self)
        part = self._scatter_source(source, idx, "scatter") if source.ndim else source.expand(idx.shape)
        flat = np.ravel_multi_index(np.broadcast_arrays(*positions), self.shape).reshape(-1)
        _, last_reversed = np.unique(flat[::-1], return_index=True)
        keep = flat.size - 1 - last_reversed  # the last write to each position wins, as in scatter_
        written = movement.IndexAddToZeros.apply(part.reshape(-1)[keep], shape=(self.numel(),), index=flat[keep])
        hit = np.zeros(self.numel(), dtype=bool, like=self.array)
        hit[flat] = True
        return where(hit.reshape(self.shape), written.reshape(self.shape), self)

    def gather(self, dim: int, index: Any) -> Tensor:
        """out[i][j] = x[i][index[i][j]] along dim (as torch.gather)."""
        dim = _normalize_dim(dim, self.ndim, "gather")
        idx = index.array if isinstance(index, Tensor) else np.asarray(index, like=self.array)
        if idx.ndim != self.ndim or idx.dtype.kind not in "iu":
            raise ValueError(
                f"gather: index must be an integer tensor with as many dimensions as the input; got {idx.dtype} "
                f"of shape {idx.shape} for input of shape {self.shape}"
            )
        # an open grid of positions (np.indices(sparse=True)) in the input's array library, with idx along dim
        grids = [
            np.arange(size, like=idx).reshape((1,) * axis + (size,) + (1,) * (idx.ndim - axis - 1))
            for axis, size in enumerate(idx.shape)
        ]
        grids[dim] = idx
        return self[tuple(grids)]

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        return where(mask, _operand(value, self), self)

    # ------------------------------------------------------------------ more of PyTorch's tensor API
    # Composites of the primitives (indexing, gather, products, where), so their gradients come for free.

    def flip(self, *dims: Any) -> Tensor:
        """The elements in reverse order along ``dims`` (a copy, as PyTorch's)."""
        axes = {_normalize_dim(d, self.ndim, "flip") for d in _shape_args(dims)}
        index = tuple(slice(None, None, -1) if axis in axes else slice(None) for axis in range(self.ndim))
        return label(self[index].clone(), "FlipBackward0")

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        """The elements shifted by ``shifts`` along ``dims``, those pushed off one end coming back at the other
        (no ``dims``: over the flattened tensor, shape kept)."""
        if dims is None:
            return label(self.reshape(-1).roll(shifts, 0).reshape(self.shape), "RollBackward0")
        shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(shifts) != len(dims):
            raise ValueError(f"roll: {len(shifts)} shifts for {len(dims)} dims")
        out = self
        for shift, dim in zip(shifts, dims):
            dim = _normalize_dim(dim, self.ndim, "roll")
            order = (np.arange(self.shape[dim]) - shift) % max(self.shape[dim], 1)
            out = out[(slice(None),) * dim + (order,)]
        return label(out if out is not self else self.clone(), "RollBackward0")

    def cumsum(self, dim: int, dtype: Any = None) -> Tensor:
        """The running sum along ``dim``."""
        source = self if dtype is None else self.to(dtype)
        axis = _normalize_dim(dim, self.ndim, "cumsum") if self.ndim else 0
        return reduce.Cumsum.apply(source, axis=axis) if self.ndim else source.clone()

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Sorted:
        """``(values, indices)`` along ``dim``, ascending unless ``descending`` (ties kept in order: stable)."""
        indices = self.argsort(dim, descending)
        return Sorted(self.gather(_normalize_dim(dim, self.ndim, "sort") if self.ndim else 0, indices), indices)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Tensor:
        """The indices that sort the elements along ``dim`` (int64)."""
        if self.ndim == 0:
            return Tensor._make(np.zeros((), dtype=backend.DEFAULT_INT, like=self.array), False, None)
        axis = _normalize_dim(dim, self.ndim, "argsort")
        order = np.argsort(-self.array if descending else self.array, axis=axis, kind="stable")
        return Tensor._make(order.astype(backend.DEFAULT_INT, copy=False), False, None)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Sorted:
        """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``, in order."""
        axis = _normalize_dim(dim, self.ndim, "topk") if self.ndim else 0
        size = self.shape[axis] if self.ndim else 1
        if not 0 <= k <= size:
            raise IndexError(f"topk: k = {k} is out of range for dimension {dim} of size {size} (shape {self.shape})")
        order = self.argsort(axis, descending=largest)
        indices = order[(slice(None),) * axis + (slice(0, k),)].clone() if self.ndim else order
        return Sorted(self.gather(axis, indices) if self.ndim else self, indices)

    def median(self, dim: Any = None, keepdim: bool = False) -> Any:
        """The lower median (PyTorch's): of all elements, or ``(values, indices)`` along ``dim``."""
        if dim is None:
            flat = self.reshape(-1)
            return flat.sort().values[(flat.numel() - 1) // 2]
        axis = _normalize_dim(dim, self.ndim, "median")
        order = self.argsort(axis)
        middle = (self.shape[axis] - 1) // 2
        indices = order[(slice(None),) * axis + (slice(middle, middle + 1),)].clone()
        values = self.gather(axis, indices)
        if not keepdim:
            values, indices = values.squeeze(axis), indices.squeeze(axis)
        return MinMax(values, indices)

    def prod(self, dim: Any = None, keepdim: bool = False, dtype: Any = None) -> Tensor:
        """The product of the elements (over ``dim``), as products of halves in log2(n) steps: its gradient, the
        product of the other elements, comes from the multiplications and is right where elements are 0."""
        x = self if dtype is None else self.to(dtype)
        if dim is None:
            return label(x.reshape(-1)._product_along(0).reshape(()), "ProdBackward0")
        if self.ndim == 0:
            return label(x.clone(), "ProdBackward1")
        axis = _normalize_dim(dim, self.ndim, "prod")
        out = x._product_along(axis)
        return label(out if keepdim else out.squeeze(axis), "ProdBackward1")

    def _product_along(self, axis: int) -> Tensor:
        """The product along ``axis``, kept as a dimension of size 1 (1 for none)."""
        if self.shape[axis] == 0:
            return self.sum(axis, keepdim=True) * 0 + 1
        x, before = self, (slice(None),) * axis
        while x.shape[axis] > 1:
            if x.shape[axis] % 2:
                x = cat([x, x[before + (slice(0, 1),)] * 0 + 1], axis)
            x = x[before + (slice(0, None, 2),)] * x[before + (slice(1, None, 2),)]
        return x

    def cumprod(self, dim: int, dtype: Any = None) -> Tensor:
        """The running product along ``dim`` (a scan of log2(n) multiplications: gradients right at zeros)."""
        x = self if dtype is None else self.to(dtype)
        if self.ndim == 0:
            return x.clone()
        axis = _normalize_dim(dim, self.ndim, "cumprod")
        before, size, shift = (slice(None),) * axis, self.shape[axis], 1
        while shift < size:
            ones = x[before + (slice(0, shift),)] * 0 + 1
            x = x * cat([ones, x[before + (slice(0, size - shift),)]], axis)
            shift *= 2
        return label(x if x is not self else x.clone(), "CumprodBackward0")

    def repeat_interleave(self, repeats: Any, dim: Any = None) -> Tensor:
        """Each element (or slice along ``dim``) repeated ``repeats`` times (a number, or one per element)."""
        source = self.reshape(-1) if dim is None else self
        axis = 0 if dim is None else _normalize_dim(dim, self.ndim, "repeat_interleave")
        counts = np.asarray(_data(repeats))
        index = np.repeat(np.arange(source.shape[axis]), counts)
        return label(source[(slice(None),) * axis + (index,)], "RepeatInterleaveBackward0")

    def count_nonzero(self, dim: Any = None) -> Tensor:
        """How many elements are not zero (over ``dim``), int64."""
        axis = None if dim is None else _axes(dim, self.ndim)
        return Tensor._make(np.asarray(np.count_nonzero(self.array, axis=axis), dtype=backend.DEFAULT_INT), False, None)

    def unique(
        self, sorted: bool = True, return_inverse: bool = False, return_counts: bool = False, dim: Any = None
    ) -> Any:
        """The distinct values in ascending order (or the distinct slices along ``dim``), and on request where
        each element went (``return_inverse``) and how often each value occurs (``return_counts``)."""
        axis = None if dim is None else _normalize_dim(dim, self.ndim, "unique")
        values, inverse, counts = np.unique(self.array, return_inverse=True, return_counts=True, axis=axis)
        out = [Tensor._make(values, False, None)]
        if return_inverse:
            out.append(
                Tensor._make(
                    inverse.reshape(self.shape if axis is None else -1).astype(backend.DEFAULT_INT), False, None
                )
            )
        if return_counts:
            out.append(Tensor._make(counts.astype(backend.DEFAULT_INT), False, None))
        return out[0] if len(out) == 1 else tuple(out)

    def diff(self, n: int = 1, dim: int = -1) -> Tensor:
        """x[i + 1] - x[i] along ``dim``, ``n`` times."""
        axis = _normalize_dim(dim, self.ndim, "diff")
        out = self
        for _ in range(n):
            out = out[(slice(None),) * axis + (slice(1, None),)] - out[(slice(None),) * axis + (slice(None, -1),)]
        return out

    def bmm(self, mat2: Tensor) -> Tensor:
        """Batched matrix product of (b, n, m) and (b, m, p) tensors."""
        if self.ndim != 3 or mat2.ndim != 3:
            raise ValueError(f"bmm: expected 3-D tensors, got shapes {self.shape} and {mat2.shape}")
        return self.matmul(mat2)

    def dot(self, other: Tensor) -> Tensor:
        """The inner product of two 1-D tensors."""
        if self.ndim != 1 or other.ndim != 1 or self.shape != other.shape:
            raise ValueError(f"dot: expected two 1-D tensors of one size, got shapes {self.shape} and {other.shape}")
        return label((self * other).sum(), "DotBackward0")

    def mv(self, vec: Tensor) -> Tensor:
        """Matrix (n, m) times vector (m,)."""
        if self.ndim != 2 or vec.ndim != 1:
            raise ValueError(f"mv: expected a matrix and a vector, got shapes {self.shape} and {vec.shape}")
        return self.matmul(vec)

    def outer(self, vec2: Tensor) -> Tensor:
        """The (n, m) products of two vectors' elements."""
        return self.reshape(-1, 1) * vec2.reshape(1, -1)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two dimensions (above ``diagonal``: zeros)."""
        return label(where(self._band(lambda offset: offset <= diagonal), self, _operand(0, self)), "TrilBackward0")

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two dimensions (below ``diagonal``: zeros)."""
        return label(where(self._band(lambda offset: offset >= diagonal), self, _operand(0, self)), "TriuBackward0")

    def _band(self, keep: Callable[[Any], Any]) -> Any:
        """A mask over the last two dimensions: ``keep(column - row)``, in this tensor's array library."""
        if self.ndim < 2:
            raise ValueError(f"tril/triu: expected a tensor of at least 2 dimensions, got shape {self.shape}")
        rows, columns = self.shape[-2:]
        offset = np.arange(columns, like=self.array).reshape(1, -1) - np.arange(rows, like=self.array).reshape(-1, 1)
        return keep(offset)

    def diag(self, diagonal: int = 0) -> Tensor:
        """A vector's square matrix with it on ``diagonal``; a matrix's ``diagonal`` as a vector."""
        if self.ndim == 1:
            size = self.shape[0] + abs(diagonal)
            rows = np.arange(self.shape[0]) + max(-diagonal, 0)
            index = (rows, rows + diagonal)
            return movement.IndexAddToZeros.apply(self, shape=(size, size), index=index)
        if self.ndim != 2:
            raise ValueError(f"diag: expected a 1-D or 2-D tensor, got shape {self.shape}")
        count = max(0, min(self.shape[0] + min(diagonal, 0), self.shape[1] - max(diagonal, 0)))
        rows = np.arange(count) + max(-diagonal, 0)
        return self[(rows, rows + diagonal)]

    def trace(self) -> Tensor:
        """The sum of a matrix's diagonal."""
        return label(self.diag().sum(), "TraceBackward0")

    def narrow(self, dim: int, start: int, length: int) -> Tensor:
        """Elements start .. start + length - 1 along ``dim`` (a view)."""
        axis = _normalize_dim(dim, self.ndim, "narrow")
        if start < 0:
            start += self.shape[axis]
        if not (0 <= start and length >= 0 and start + length <= self.shape[axis]):
            raise IndexError(f"narrow: {start} + {length} exceeds dimension {dim} of size {self.shape[axis]}")
        return self[(slice(None),) * axis + (slice(start, start + length),)]

    def movedim(self, source: Any, destination: Any) -> Tensor:
        """The axes ``source`` moved to positions ``destination``, the others in order."""
        sources = [_normalize_dim(d, self.ndim, "movedim") for d in ((source,) if isinstance(source, int) else source)]
        targets = [
            _normalize_dim(d, self.ndim, "movedim")
            for d in ((destination,) if isinstance(destination, int) else destination)
        ]
        if len(sources) != len(targets):
            raise ValueError(f"movedim: {len(sources)} source dims for {len(targets)} destinations")
        order = [axis for axis in range(self.ndim) if axis not in sources]
        for target, axis in sorted(zip(targets, sources)):
            order.insert(target, axis)
        return self.permute(*order)

    def index_select(self, dim: int, index: Any) -> Tensor:
        """The slices at ``index`` (1-D integers) along ``dim`` (a copy)."""
        idx = _index_to_array(index, self.array)
        if np.ndim(idx) != 1 or idx.dtype.kind not in "iu":
            raise ValueError(
                f"index_select: index must be a 1-D integer tensor, got {idx.dtype} of shape {np.shape(idx)}"
            )
        axis = _normalize_dim(dim, self.ndim, "index_select") if self.ndim else 0
        return label(self[(slice(None),) * axis + (idx,)], "IndexSelectBackward0")

    def masked_select(self, mask: Any) -> Tensor:
        """The elements where ``mask`` (broadcast with this tensor) is true, as a 1-D tensor."""
        keep = _index_to_array(mask, self.array)
        shape = np.broadcast_shapes(self.shape, np.shape(keep))
        source = self if self.shape == shape else self.expand(shape)
        return label(source[np.broadcast_to(keep, shape)], "MaskedSelectBackward0")

    def nonzero(self, as_tuple: bool = False) -> Any:
        """The indices of the non-zero elements: (n, ndim) int64, or one 1-D tensor per dimension."""
        found = np.nonzero(self.array)
        if as_tuple:
            return tuple(Tensor._make(i.astype(backend.DEFAULT_INT), False, None) for i in found)
        return Tensor._make(np.stack(found, axis=1).astype(backend.DEFAULT_INT), False, None)

    def atan2(self, other: Any) -> Tensor:
        """The angle of the point (other, self), in (-pi, pi]."""
        return ew.Atan2.apply(*_pair(self, _operand(other, self)))

    def expm1(self) -> Tensor:
        """exp(x) - 1, exact near 0."""
        return ew.Expm1.apply(self)

    def exp2(self) -> Tensor:
        return label(_operand(2.0, self) ** self, "Exp2Backward0")

    def log2(self) -> Tensor:
        return label(self.log() * (1 / math.log(2)), "Log2Backward0")

    def log10(self) -> Tensor:
        return label(self.log() * (1 / math.log(10)), "Log10Backward0")

    def sinh(self) -> Tensor:
        return label((self.exp() - (-self).exp()) * 0.5, "SinhBackward0")

    def cosh(self) -> Tensor:
        return label((self.exp() + (-self).exp()) * 0.5, "CoshBackward0")

    def frac(self) -> Tensor:
        """x - trunc(x) (the gradient passes as it is)."""
        return label(self - self.trunc(), "FracBackward0")

    def isinf(self) -> Tensor:
        return self._constant(np.isinf)

    def nelement(self) -> int:
        return self.numel()

    def element_size(self) -> int:
        """Bytes per element."""
        return int(self.array.itemsize)

    def is_contiguous(self) -> bool:
        return bool(self.array.flags.c_contiguous)

    def stride(self, dim: Any = None) -> Any:
        """Steps between neighbouring elements along each dimension, in elements (as PyTorch's)."""
        steps = tuple(step // self.array.itemsize for step in self.array.strides)
        return steps if dim is None else steps[_normalize_dim(dim, self.ndim, "stride")]

    def get_device(self) -> int:
        return -1  # the CPU, in PyTorch's numbering

    def data_ptr(self) -> int:
        return int(self.array.ctypes.data)

    swapaxes = transpose
    swapdims = transpose

    # ------------------------------------------------------------------ in-place updates

    def _check_inplace(self, name: str, other: Any = None) -> None:
        """Refuse an in-place update that has no graph form here (``scatter_`` with ``reduce``) while a graph is
        recorded for this tensor or for the value written."""
        if GRAD_MODE.enabled and self._requires_grad:
            kind = "a leaf tensor that requires grad" if self.grad_fn is None else "a tensor recorded in the graph"
            raise RuntimeError(
                f"{name}: in-place update of {kind} (shape {self.shape}); do it inside "
                "`with deepgrad.no_grad():` (as optimizers do) or use the out-of-place operation"
            )
        if GRAD_MODE.enabled and isinstance(other, Tensor) and other._requires_grad:
            # not recorded: the gradient to `other` would be lost without a word
            raise RuntimeError(
                f"{name}: the value written in place (shape {other.shape}) requires grad, but {name} is not "
                "recorded in the graph; use an out-of-place form (where, cat/stack, scatter) instead"
            )

    def _records_inplace(self, *others: Any) -> bool:
        """Whether an in-place update is recorded in the graph: grad mode is on, and this tensor or a value
        the update reads requires grad."""
        return GRAD_MODE.enabled and (
            self._requires_grad or any(isinstance(other, Tensor) and other._requires_grad for other in others)
        )

    def _rebase(self, name: str, compute: Callable[[Tensor], Tensor], *operands: Any) -> Tensor:
        """An in-place update recorded in the graph, as PyTorch records it: ``compute(before)`` runs out of place
        on a stand-in for this tensor's value before the update, its values are written into this tensor's
        memory, and the node that made them becomes this tensor's ``grad_fn``. Nodes recorded earlier keep the
        creator of the value they read (``Function.parents``), so their gradients still reach it; one whose
        backward reads that value finds the version changed and refuses, as in PyTorch. When a node of the
        update itself reads the value before it (mul_ by a tensor that requires grad, pow_), ``before`` keeps a
        copy. ``operands``: the other tensors ``compute`` reads.

        Views: the memory's owner (the root of this tensor's ``_view_of``) gets as its new creator its old
        value with this view's positions replaced by the result (a ``CopySlices`` node), and every other view of
        that memory still alive is taken again from the owner's new value, so that later uses of any of them
        send their gradients through the update (PyTorch's view replay)."""
        root, steps = self._view_of or (self, ())
        if root.grad_fn is None and root._requires_grad:
            what = "a leaf tensor" if root is self else f"a view (shape {self.shape}) of a leaf tensor"
            raise RuntimeError(
                f"{name}: in-place update of {what} that requires grad (shape {root.shape}); do it inside "
                "`with deepgrad.no_grad():` (as optimizers do) or use the out-of-place operation"
            )
        if any(kind == "expand" for kind, _ in steps):
            raise RuntimeError(
                f"{name}: in-place update of an expanded tensor (shape {self.shape}): several of its elements are "
                "one memory location; clone() it first"
            )
        before = Tensor._make(self.array, self._requires_grad, self.grad_fn)
        before._counter = self._shared_counter()  # (a node that read it unnoticed would then refuse, not err)
        result = compute(before)
        computed_in_place = result.array is self.array  # (relu_: its op wrote over the input)
        if not computed_in_place and _reads_value(result.grad_fn, before, operands):
            before.array, before._counter = self.array.copy(), _VersionCounter()
            before._counter.value = self._version  # (the version its readers recorded)
        owner = Tensor._make(root.array, root._requires_grad, root.grad_fn) if root is not self else None
        if not computed_in_place:
            self._write(name, result)
        self._bump_version()
        self._take_creator(result)
        if owner is not None:  # the owner: its old value, with this view's positions replaced by the result
            positions = _replay(np.arange(root.array.size).reshape(root.shape), steps)
            flat = _put(owner.reshape(-1), positions.reshape(-1), result.reshape(-1))
            root._take_creator(flat.reshape(root.shape))
        views = self._counter.views if self._counter is not None else None
        if views and (root._requires_grad or self._requires_grad):
            for view in list(views):
                if view is not self:
                    view._take_creator(_replay(root, view._view_of[1]))
        return self

    def _take_creator(self, value: Tensor) -> None:
        """Make ``value``'s node (recorded for this tensor's current data) this tensor's ``grad_fn``."""
        self.grad_fn = value.grad_fn
        self._requires_grad = value._requires_grad
        if value.grad_fn is not None:
            value.grad_fn.result_version = self._version

    def _overwrite(self, name: str, compute: Callable[[Tensor], Tensor], *operands: Any) -> Tensor:
        """This tensor's data replaced by ``compute(self)`` (an out-of-place op reading ``operands`` too),
        counted as an in-place change, and recorded in the graph when one is (``_rebase``)."""
        if self._records_inplace(*operands):
            return self._rebase(name, compute, *operands)
        result = compute(self)
        if result.array is not self.array:
            self._write(name, result)
        self._bump_version()
        return self

    def _write(self, name: str, result: Tensor) -> None:
        """Copy ``result`` into this tensor's memory; a dtype it cannot take (float into int) is an error."""
        try:
            np.copyto(self.array, result.array, casting="same_kind")
        except TypeError:
            raise TypeError(
                f"{name}: the result ({result.dtype}) cannot be written into this {self.dtype} tensor "
                f"(shape {self.shape})"
            ) from None

    _OUT_OF_PLACE = {np.add: "__add__", np.subtract: "__sub__", np.multiply: "__mul__", np.true_divide: "__truediv__"}

    def _inplace(self, name: str, ufunc: Callable, other: Any) -> Tensor:
        if self._records_inplace(other):
            method = self._OUT_OF_PLACE[ufunc]
            return self._rebase(name, lambda before: getattr(before, method)(other), other)
        other_data = other.array if isinstance(other, Tensor) else other
        try:
            ufunc(self.array, other_data, out=self.array, casting="same_kind")
        except (ValueError, TypeError) as error:
            raise type(error)(
                f"{name}: {error} (tensor {self.dtype} {self.shape}, other {np.shape(other_data)})"
            ) from None
        self._bump_version()
        return self

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        return self._inplace("add_", np.add, other if alpha == 1 else _scaled(other, alpha))

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        return self._inplace("sub_", np.subtract, other if alpha == 1 else _scaled(other, alpha))

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", np.multiply, other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", np.true_divide, other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        if self._records_inplace():
            return self._rebase("clamp_", lambda before: before.clamp(min, max))
        np.clip(self.array, min, max, out=self.array)
        self._bump_version()
        return self

    def zero_(self) -> Tensor:
        return self._fill("zero_", 0, "ZeroBackward0")

    def fill_(self, value: Any) -> Tensor:
        return self._fill("fill_", value, "FillBackward3" if isinstance(value, Tensor) else "FillBackward2")

    def bernoulli_(self, p: Any = 0.5) -> Tensor:
        """Fill with 0/1 draws, 1 with probability ``p`` (a number or a tensor of probabilities)."""
        draws = backend.generator().random(self.shape) < np.asarray(_data(p))
        return self.copy_(draws.astype(self.dtype))

    def exponential_(self, lambd: float = 1.0) -> Tensor:
        """Fill with draws from the exponential distribution of rate ``lambd``."""
        return self.copy_(backend.generator().exponential(1.0 / lambd, self.shape).astype(self.dtype))

    def random_(self, low: int = 0, high: int | None = None) -> Tensor:
        """Fill with integers from [low, high) (``random_(high)``: from [0, high)); none given: from 0 to the
        largest integer the dtype holds exactly, as PyTorch's."""
        if high is None and low != 0:
            low, high = 0, low
        if high is None:
            high = 2 ** (np.finfo(self.dtype).nmant + 1) if self.dtype.kind == "f" else np.iinfo(self.dtype).max
        return self.copy_(backend.generator().integers(low, high, self.shape).astype(self.dtype))

    def _fill(self, name: str, value: Any, node_name: str) -> Tensor:
        if self._records_inplace(value):  # the gradient reaches the value (if a tensor), none the old values
            return self._rebase(name, lambda before: _replaced_by(before, value, node_name), value)
        self.array[...] = _data(value)
        self._bump_version()
        return self

    def copy_(self, source: Any) -> Tensor:
        """Overwrite the data with ``source`` (broadcast to this shape, cast to this dtype)."""
        if self._records_inplace(source):
            if np.broadcast_shapes(np.shape(_data(source)), self.shape) != self.shape:
                raise ValueError(f"copy_: cannot copy shape {np.shape(_data(source))} into shape {self.shape}")
            return self._rebase("copy_", lambda before: _replaced_by(before, source, "CopyBackwards"), source)
        source_data = _data(source)
        try:
            np.copyto(self.array, np.broadcast_to(source_data, self.shape), casting="unsafe")
        except ValueError as error:
            raise ValueError(
                f"copy_: cannot copy shape {np.shape(source_data)} into shape {self.shape}: {error}"
            ) from None
        self._bump_version()
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0) -> Tensor:
        return self.copy_(backend.uniform(a, b, self.shape, like=self.array))

    def normal_(self, mean: float = 0.0, std: float = 1.0) -> Tensor:
        return self.copy_(backend.normal(mean, std, self.shape, like=self.array))

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_
    clip_ = clamp_

    # ------------------------------------------------------------------ NumPy protocol
    # Lets backward formulas written with NumPy functions run on Tensors under create_graph=True.

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Callable, types: Any, args: Any, kwargs: Any) -> Any:
        return dispatch.array_function(func, args, kwargs)


Function.tensor_class = Tensor  # see Function.tensor_class: the one inverted dependency


def _in_place_form(name: str) -> Callable[..., Tensor]:
    """PyTorch's ``x.<name>_(...)``: ``x.<name>(...)`` written into x (``Tensor._overwrite``): counted as an
    in-place change, and recorded in the graph as PyTorch records it when x or an argument requires grad."""
    method = getattr(Tensor, name)

    def update(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._overwrite(f"{name}_", lambda before: method(before, *args, **kwargs), *args, *kwargs.values())

    update.__name__ = update.__qualname__ = f"{name}_"
    update.__doc__ = f"``{name}`` written into this tensor, in place (recorded in the graph when one is)."
    return update


# the in-place forms custom optimizers, initialisers and training loops use (relu_, clamp_, add_, ... above)
for _name in (
    "exp", "log", "sqrt", "rsqrt", "neg", "abs", "sigmoid", "tanh", "sin", "cos", "floor", "ceil", "round",
    "sign", "reciprocal", "square", "log1p", "erf", "trunc", "pow", "remainder", "clamp_min", "clamp_max",
    "masked_fill", "lerp", "addcmul", "addcdiv",
):  # fmt: skip
    setattr(Tensor, f"{_name}_", _in_place_form(_name))
Tensor.__ipow__ = Tensor.pow_  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- conversion helpers

# Tensor.type() answers with PyTorch's legacy type names, so ported comparisons and casts keep working.
_TYPE_NAMES = {
    backend.float16: "torch.HalfTensor",
    backend.float32: "torch.FloatTensor",
    backend.float64: "torch.DoubleTensor",
    backend.uint8: "torch.ByteTensor",
    backend.int8: "torch.CharTensor",
    backend.int16: "torch.ShortTensor",
    backend.int32: "torch.IntTensor",
    backend.int64: "torch.LongTensor",
    backend.bool_: "torch.BoolTensor",
}
_TYPE_DTYPES = {name: dtype for dtype, name in _TYPE_NAMES.items()}


def _data(value: Any) -> Any:
    return value.array if isinstance(value, Tensor) else value


def _relu_over_input(x: Tensor) -> Tensor:
    """relu(x) written over x's memory by the op itself (its backward reads only a mask): ``relu_``, and so
    ``nn.ReLU(inplace=True)``, costs no new memory, in the graph as outside it."""
    return ew.Relu.apply(x, in_place=True)


def _scaled(value: Any, alpha: float) -> Any:
    """alpha * value for add_/sub_'s ``alpha``: recorded when ``value`` is a Tensor (its gradient is kept)."""
    return value * alpha if isinstance(value, Tensor) else _data(value) * alpha


def _replaced_by(before: Tensor, value: Any, node_name: str) -> Tensor:
    """``value`` broadcast to ``before``'s shape, as a recorded op named as PyTorch's: fill_ and copy_ in the
    graph (the gradient reaches ``value`` summed over the broadcast, and nothing reaches ``before``)."""
    everywhere = np.ones(before.shape, dtype=bool, like=before.array)
    return label(where(everywhere, _operand(value, before), before), node_name)


def _replay(base: Any, steps: tuple) -> Any:
    """The view ``steps`` (``Tensor._view_result``) taken again from ``base``: an array (the positions a view
    covers), or a Tensor (recorded, and registered as no view: it only gives a view its new creator)."""
    for kind, param in steps:
        if isinstance(base, Tensor):
            if kind == "index":
                base = movement.GetItem.apply(base, index=param)
            elif kind == "reshape":
                base = movement.Reshape.apply(base, shape=param)
            elif kind == "permute":
                base = movement.Permute.apply(base, axes=param)
            else:
                base = movement.BroadcastTo.apply(base, shape=param)
        elif kind == "index":
            base = base[param]
        elif kind == "reshape":
            base = base.reshape(param)
        elif kind == "permute":
            base = base.transpose(param)
        else:
            base = np.broadcast_to(base, param)
    return base


def _put(before: Tensor, index: Any, value: Any) -> Tensor:
    """``before`` with ``value`` written at ``index`` (broadcast to the positions selected), as recorded ops:
    ``x[index] = value`` in the graph (PyTorch's CopySlices). The gradient reaches ``value`` from the positions
    written and ``before`` from the others."""
    hit = np.zeros(before.shape, dtype=bool, like=before.array)
    hit[index] = True
    selected = hit[index].shape
    if movement._has_integer_array(index) and int(hit.sum()) != int(np.prod(selected)):
        raise IndexError(
            f"__setitem__: the index selects some positions of the tensor (shape {before.shape}) more than once; "
            "which write wins is undefined, and PyTorch leaves it so: while a graph is recorded, index each "
            "position once"
        )
    part = _operand(value, before)
    if tuple(part.shape) != selected:
        part = part.expand(selected)
    placed = movement.IndexAddToZeros.apply(part, shape=before.shape, index=index)
    return label(where(hit, placed, before), "CopySlices")


def _reads_value(node: Function | None, before: Tensor, operands: Sequence[Any]) -> bool:
    """Whether a node that an in-place update's computation recorded (from ``node`` back to ``before`` and the
    ``operands``) reads ``before``'s values in its backward (``Function.uses_inputs``)."""
    stops = {id(before), *(id(operand) for operand in operands)}
    stack, seen = [node], set()
    while stack:
        fn = stack.pop()
        if fn is None or id(fn) in seen or fn.inputs is None:
            continue
        seen.add(id(fn))
        for tensor in fn.inputs:
            if tensor is before:
                if fn.uses_inputs:
                    return True
            elif id(tensor) not in stops:
                stack.append(tensor.grad_fn)
    return False


def _operand(value: Any, like: Tensor) -> Tensor:
    """Turn the other operand of a binary op into a Tensor; Python numbers take ``like``'s dtype
    (a float scalar with an integer tensor gives the default float dtype), so float32 stays float32.
    Scalars become 0-d arrays of ``like``'s array library."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, SCALAR_TYPES):
        array = np.asarray(value, dtype=scalar_dtype(value, like.array.dtype), like=like.array)
        return Tensor._make(array, False, None)
    if backend.is_array(value):
        return Tensor._make(value, False, None)
    return Tensor(value)


def _index_to_array(index: Any, like: Any) -> Any:
    """An index for ``like`` (an array): Tensors give their arrays, lists become arrays of like's library."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        # lists become arrays here too: GetItem's backward recognises integer arrays (repeated indices add up)
        return tuple(_index_to_array(i, like) if isinstance(i, (Tensor, list)) else i for i in index)
    if isinstance(index, list):
        array = np.asarray([i.item() if isinstance(i, Tensor) else i for i in index], like=like)
        return array.astype(np.intp) if array.size == 0 else array  # t[[]]: np.asarray([]) is float
    return index


# ---------------------------------------------------------------------- functions on tensors


def _named(out: Tensor, source: Tensor, name: str) -> Tensor:
    """``out`` with its graph node named as PyTorch's (unless it is ``source`` itself: nothing was computed)."""
    return out if out is source else label(out, name)


def as_tensor(value: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """``value`` as a Tensor: a Tensor of that dtype passes as it is, anything else is copied into one."""
    check_device(device)
    if isinstance(value, Tensor):
        return value if dtype is None else value.to(dtype)
    return Tensor(value, dtype=dtype)


def write_out(result: Tensor, out: Tensor | None, name: str) -> Tensor:
    """PyTorch's ``out=``: the result written into ``out`` (cast to its dtype), which is returned.

    As in PyTorch, ``out`` is not recorded in the graph, so it refuses when a gradient would be lost, and an
    empty ``out`` takes the result's shape."""
    if out is None:
        return result
    if not isinstance(out, Tensor):
        raise TypeError(f"{name}: out must be a Tensor, got {type(out).__name__}")
    if GRAD_MODE.enabled and (result._requires_grad or out._requires_grad):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation; "
            "call it without out= (or inside `with deepgrad.no_grad():`)"
        )
    if out.shape != result.shape:
        if out.numel() != 0:
            raise ValueError(f"{name}: out has shape {out.shape}, but the result has shape {result.shape}")
        out.array = np.empty(result.shape, dtype=out.dtype, like=out.array)
    np.copyto(out.array, result.array, casting="unsafe" if out.dtype.kind == result.dtype.kind else "same_kind")
    out._bump_version()
    return out


def _binary(method: Callable, name: str) -> Callable:
    def apply(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
        a = input if isinstance(input, Tensor) else _operand(input, other)
        return write_out(method(a, other), out, name)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"``deepgrad.{name}(input, other, out=None)``: as the Tensor method (``out=`` as PyTorch's)."
    return apply


def _with_alpha(method: Callable, name: str) -> Callable:
    def apply(input: Any, other: Any, *, alpha: float = 1, out: Tensor | None = None) -> Tensor:
        a = input if isinstance(input, Tensor) else _operand(input, other)
        return write_out(method(a, other if alpha == 1 else _operand(other, a) * alpha), out, name)

    apply.__name__ = apply.__qualname__ = name
    apply.__doc__ = f"``deepgrad.{name}(input, other, alpha=1, out=None)``: input {name} alpha * other."
    return apply


add = _with_alpha(Tensor.__add__, "add")
sub = _with_alpha(Tensor.__sub__, "sub")
Tensor.add, Tensor.sub = add, sub  # type: ignore[method-assign]  (x.add(y, alpha=2), as PyTorch's methods)
mul = _binary(Tensor.__mul__, "mul")
div = _binary(Tensor.__truediv__, "div")
pow = _binary(Tensor.__pow__, "pow")
maximum = _binary(Tensor.maximum, "maximum")
minimum = _binary(Tensor.minimum, "minimum")


def mm(input: Any, mat2: Any, *, out: Tensor | None = None) -> Tensor:
    """The product of two matrices, (n, k) @ (k, m); both must be 2-d (as torch.mm)."""
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise ValueError(f"mm: both operands must be 2-d matrices, got shapes {a.shape} and {b.shape}")
    return matmul(a, b, out=out)


def matmul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Matrix product with NumPy/PyTorch rules: 1-d operands are promoted and the added axis removed;
    leading (batch) dimensions broadcast. ``out=`` and the argument names as in PyTorch."""
    if out is not None:
        return write_out(matmul(input, other), out, "matmul")
    a, b = input, other
    a = as_tensor(a) if not isinstance(a, Tensor) else a
    b = _operand(b, a) if not isinstance(b, Tensor) else b
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes {a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {a.shape} and {b.shape} are not aligned: inner dimensions {k_a} (last of the "
            f"first) and {k_b} ({'only' if b.ndim == 1 else 'second-to-last'} of the second) differ"
        )
    if a.ndim == 1 and b.ndim == 1:
        return (a * b).sum()
    a2 = a.unsqueeze(0) if a.ndim == 1 else a
    b2 = b.unsqueeze(-1) if b.ndim == 1 else b
    out = linalg.Matmul.apply(a2, b2)
    if b.ndim == 1:
        out = out.squeeze(-1)
    if a.ndim == 1:
        out = out.squeeze(-2)
    return out


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """a where condition is true, else b (broadcasting all three)."""
    if isinstance(condition, Tensor):
        condition = condition.array
    elif not backend.is_array(condition):
        condition = np.asarray(condition)
    if condition.dtype != np.bool_:
        condition = condition.astype(bool)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)
    if not isinstance(a, Tensor):
        a = _operand(a, b)
    if not isinstance(b, Tensor):
        b = _operand(b, a)
    return ew.Where.apply(*_pair(a, b), condition=condition)


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dimension."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    first = tensors[0]
    axis = _normalize_dim(dim, first.ndim, "cat")
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1 :] != first.shape[:axis] + first.shape[axis + 1 :]:
            shapes = ", ".join(str(x.shape) for x in tensors)
            raise ValueError(f"cat: tensors must have the same shape except in dimension {dim}; got {shapes}")
    return movement.Cat.apply(*tensors, axis=axis)


concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of equal shape along a new dimension."""
    tensors = [as_tensor(t) for t in tensors]
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {', '.join(str(t.shape) for t in tensors)}")
    dim = _normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([t.unsqueeze(dim) for t in tensors], dim)


def hstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along the columns: dimension 1, or 0 for 1-D tensors."""
    tensors = [as_tensor(t) for t in tensors]
    return cat(tensors, 0 if tensors and tensors[0].ndim == 1 else 1)


def vstack(tensors: Sequence[Tensor]) -> Tensor:
    """Join along the rows, 1-D tensors as rows of one."""
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in (as_tensor(t) for t in tensors)], 0)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Einstein summation, as ``torch.einsum("bij,bjk->bik", a, b)`` (operands also as one list); ``...``
    for leading dimensions. Differentiable in every operand (its gradient is einsum again)."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    tensors = [as_tensor(t) for t in operands]
    return label(linalg.Einsum.apply(*tensors, equation=equation), "EinsumBackward0")


def tensordot(a: Any, b: Any, dims: Any = 2) -> Tensor:
    """Sum over ``dims`` dimensions: the last ``dims`` of a with the first of b, or the listed pairs
    ``([a's dims], [b's dims])`` (as einsum, so differentiable in both)."""
    a, b = as_tensor(a), as_tensor(b)
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if isinstance(dims, int):
        pairs = list(zip(range(a.ndim - dims, a.ndim), range(dims)))
    else:
        first, second = dims
        first, second = (first, second) if isinstance(first, (list, tuple)) else ([first], [second])
        pairs = list(
            zip(
                (_normalize_dim(d, a.ndim, "tensordot") for d in first),
                (_normalize_dim(d, b.ndim, "tensordot") for d in second),
            )
        )
    shared = {pa: next(letters) for pa, _ in pairs}
    a_terms = [shared.get(d) or next(letters) for d in range(a.ndim)]
    b_shared = {pb: shared[pa] for pa, pb in pairs}
    b_terms = [b_shared.get(d) or next(letters) for d in range(b.ndim)]
    output = [t for d, t in enumerate(a_terms) if d not in shared] + [
        t for d, t in enumerate(b_terms) if d not in b_shared
    ]
    return einsum(f"{''.join(a_terms)},{''.join(b_terms)}->{''.join(output)}", a, b)


def bincount(input: Any, weights: Any = None, minlength: int = 0) -> Tensor:
    """How often each non-negative integer occurs in the 1-D ``input`` (with ``weights``: their sums)."""
    values = as_tensor(input).array
    if values.ndim != 1 or values.dtype.kind not in "iu" or (values.size and values.min() < 0):
        raise ValueError(f"bincount: expected a 1-D tensor of non-negative integers, got {values.dtype} {values.shape}")
    weight_data = None if weights is None else as_tensor(weights).array
    counts = np.bincount(values, weights=weight_data, minlength=minlength)
    dtype = backend.DEFAULT_INT if weight_data is None else weight_data.dtype
    return Tensor._make(counts.astype(dtype), False, None)


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors: ``indexing="ij"`` (matrix, PyTorch's default) or ``"xy"``
    (Cartesian: the first two grids swap axes). Each grid is an expanded view, as PyTorch's."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    vectors = [as_tensor(t).reshape(-1) for t in tensors]
    sizes = [v.shape[0] for v in vectors]
    if indexing == "xy" and len(vectors) >= 2:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    grids = []
    for position, vector in enumerate(vectors):
        axis = {0: 1, 1: 0}.get(position, position) if indexing == "xy" and len(vectors) >= 2 else position
        shape = [1] * len(vectors)
        shape[axis] = vector.shape[0]
        grids.append(vector.reshape(*shape).expand(*sizes))
    return tuple(grids)


def split(tensor: Tensor, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
    """Pieces of ``split_size`` along dim (the last may be smaller), or pieces of the given sizes."""
    dim = _normalize_dim(dim, tensor.ndim, "split")
    length = tensor.shape[dim]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        # a dimension of length 0 still gives one (empty) piece, as torch.split
        sizes = [builtins.min(size, length - start) for start in range(0, length, size)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} add up to {sum(sizes)}, but dimension {dim} has length {length}")
    prefix = (slice(None),) * dim
    pieces, start = [], 0
    for size in sizes:
        pieces.append(tensor[prefix + (slice(start, start + size),)])
        start += size
    return tuple(pieces)


def chunk(tensor: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of equal size (the last may be smaller), as torch.chunk."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    length = tensor.shape[_normalize_dim(dim, tensor.ndim, "chunk")]
    return split(tensor, builtins.max(1, -(-length // chunks)), dim)


def pad(tensor: Tensor, pad: Sequence[int], value: float = 0.0) -> Tensor:
    """Constant padding, PyTorch's convention: ``pad = (left, right)`` for the last dimension, then
    ``(top, bottom)`` for the one before, and so on."""
    if len(pad) % 2 or len(pad) // 2 > tensor.ndim:
        raise ValueError(
            f"pad: needs an even number of values, at most 2 per dimension; got {tuple(pad)} for shape {tensor.shape}"
        )
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {tuple(pad)} is not supported")
    widths = [(0, 0)] * tensor.ndim
    for i in range(len(pad) // 2):
        widths[tensor.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return movement.Pad.apply(tensor, pad_width=tuple(widths), value=value)


# np.concatenate on Tensors (in a create_graph backward) is deepgrad.cat: the one dispatch entry above autograd
dispatch.register(np.concatenate, lambda arrays, axis=0, **_: cat(arrays, axis))
