"""The backend seam: the core runs on a second array type that follows NumPy's protocols, without converting it.

``DuckArray`` stands for a GPU array library such as CuPy: it wraps an ndarray, implements
``__array_ufunc__`` and ``__array_function__`` by unwrapping, calling NumPy and rewrapping, and counts every
implicit conversion to ``numpy.ndarray`` (``__array__``) and every host ndarray operand it is handed, which a
device library would refuse. On it the op table (forward and backward), an MLP and a CNN training step with SGD
momentum must give the NumPy run's values with both counts at zero.
"""

from __future__ import annotations

import traceback
from typing import Any

import numpy as np
import pytest
from op_specs import SPECS, draw

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import backend, nn, optim


class DuckArray:
    """An array of another library, as the core sees it: only NumPy's protocols and ndarray's methods."""

    __slots__ = ("host",)
    conversions: list[str] = []  # where each implicit conversion to numpy.ndarray happened
    host_operands: list[str] = []  # where a plain ndarray was mixed into a computation

    def __init__(self, base: np.ndarray) -> None:
        assert type(base) is np.ndarray
        self.host = base

    # ---- the protocols
    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        DuckArray.conversions.append(_caller())
        return self.host if dtype is None else self.host.astype(dtype)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if any(_foreign(x) for x in inputs):
            return NotImplemented  # e.g. a Tensor: its own __array_ufunc__ takes over
        _check_operands(inputs)
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if method == "at":
            return None
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        if any(not issubclass(t, (DuckArray, np.ndarray)) for t in types):
            return NotImplemented
        if func not in _FUNCTIONS_TAKING_HOST_ARRAYS:
            _check_operands(args)
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    # ---- ndarray's attributes and methods
    shape = property(lambda self: self.host.shape)
    ndim = property(lambda self: self.host.ndim)
    size = property(lambda self: self.host.size)
    dtype = property(lambda self: self.host.dtype)
    strides = property(lambda self: self.host.strides)
    nbytes = property(lambda self: self.host.nbytes)
    flags = property(lambda self: self.host.flags)
    T = property(lambda self: DuckArray(self.host.T))
    base = property(lambda self: None if self.host.base is None else _wrap(self.host.base))

    def __len__(self) -> int:
        return len(self.host)

    def __getitem__(self, index: Any) -> Any:
        return _wrap(self.host[_unwrap(index)])

    def __setitem__(self, index: Any, value: Any) -> None:
        if type(value) is np.ndarray and value.ndim:
            DuckArray.host_operands.append(_caller())
        self.host[_unwrap(index)] = _unwrap(value)

    def __bool__(self) -> bool:
        return bool(self.host)

    def __float__(self) -> float:
        return float(self.host)

    def __int__(self) -> int:
        return int(self.host)

    def __index__(self) -> int:
        return self.host.__index__()

    def __repr__(self) -> str:
        return f"DuckArray({self.host!r})"

    def item(self) -> Any:
        return self.host.item()

    def tolist(self) -> Any:
        return self.host.tolist()

    def astype(self, dtype: Any, copy: bool = True) -> DuckArray:
        return DuckArray(self.host.astype(dtype, copy=copy))

    def copy(self) -> DuckArray:
        return DuckArray(self.host.copy())

    def reshape(self, *shape: Any) -> DuckArray:
        return DuckArray(self.host.reshape(*shape))

    def transpose(self, *axes: Any) -> DuckArray:
        return DuckArray(self.host.transpose(*axes))


def _add_operators() -> None:
    binary = {
        "add": np.add,
        "sub": np.subtract,
        "mul": np.multiply,
        "truediv": np.true_divide,
        "floordiv": np.floor_divide,
        "mod": np.remainder,
        "pow": np.power,
        "matmul": np.matmul,
        "and": np.bitwise_and,
        "or": np.bitwise_or,
    }
    for name, ufunc in binary.items():
        setattr(DuckArray, f"__{name}__", lambda self, other, f=ufunc: f(self, other))
        setattr(DuckArray, f"__r{name}__", lambda self, other, f=ufunc: f(other, self))
        setattr(DuckArray, f"__i{name}__", lambda self, other, f=ufunc: f(self, other, out=(self,)))
    compare = {"lt": np.less, "le": np.less_equal, "gt": np.greater, "ge": np.greater_equal}
    compare |= {"eq": np.equal, "ne": np.not_equal}
    for name, ufunc in compare.items():
        setattr(DuckArray, f"__{name}__", lambda self, other, f=ufunc: f(self, other))
    for name, ufunc in {"neg": np.negative, "pos": np.positive, "abs": np.abs, "invert": np.invert}.items():
        setattr(DuckArray, f"__{name}__", lambda self, f=ufunc: f(self))
    DuckArray.__hash__ = None
    for name in ("sum", "max", "min", "all", "any", "argmax", "argmin"):
        setattr(DuckArray, name, _reduction(name))


def _reduction(name: str) -> Any:
    def method(self: DuckArray, *args: Any, **kwargs: Any) -> Any:
        return _wrap(getattr(self.host, name)(*_unwrap(args), **_unwrap(kwargs)))

    return method


_add_operators()

# index arrays and axes may come from the host (CuPy accepts NumPy index arrays too), and np.asarray(host, like=x)
# is the protocol's explicit transfer to x's library
_FUNCTIONS_TAKING_HOST_ARRAYS = {np.transpose, np.take_along_axis, np.put_along_axis, np.asarray, np.array}


def _foreign(x: Any) -> bool:
    return hasattr(x, "__array_ufunc__") and not isinstance(x, (DuckArray, np.ndarray, np.generic))


def _check_operands(values: Any) -> None:
    for value in values:
        if type(value) is np.ndarray and value.ndim:
            DuckArray.host_operands.append(_caller())
        elif isinstance(value, (list, tuple)):
            _check_operands(value)


def _caller() -> str:
    frames = [f for f in traceback.extract_stack()[:-2] if "deepgrad" in f.filename and "tests" not in f.filename]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "test code"


def _unwrap(value: Any) -> Any:
    if isinstance(value, DuckArray):
        return value.host
    if isinstance(value, tuple):
        return tuple(_unwrap(v) for v in value)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if isinstance(value, dict):
        return {k: _unwrap(v) for k, v in value.items()}
    return value


def _wrap(value: Any) -> Any:
    if type(value) is np.ndarray:
        return DuckArray(value)
    if isinstance(value, np.generic):  # as CuPy, reductions and 0-d arithmetic give 0-d arrays, not scalars
        return DuckArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    return value


class DuckCalls:
    """What the duck library offers outside NumPy's protocols (CuPy: as_strided, scatter_add, asarray)."""

    @staticmethod
    def as_strided(x: DuckArray, shape: tuple, strides: tuple) -> DuckArray:
        return DuckArray(np.lib.stride_tricks.as_strided(x.host, shape, strides, writeable=False))

    @staticmethod
    def scatter_add(target: DuckArray, index: Any, values: Any) -> None:
        np.add.at(target.host, _unwrap(index), _unwrap(values))

    @staticmethod
    def from_host(array: np.ndarray) -> DuckArray:
        return DuckArray(np.array(array))


backend.register_array_type(DuckArray, DuckCalls)


def to_duck(t: dg.Tensor) -> dg.Tensor:
    """The tensor moved to the duck library in place (what ``Module.to(device)`` would do)."""
    t.array = DuckArray(np.array(t.array))
    return t


@pytest.fixture(autouse=True)
def _counters():
    DuckArray.conversions.clear()
    DuckArray.host_operands.clear()
    yield


def assert_stayed_on_duck(*tensors: dg.Tensor) -> None:
    assert DuckArray.conversions == [], f"implicit conversions to numpy.ndarray at {DuckArray.conversions}"
    assert DuckArray.host_operands == [], f"host ndarrays mixed in at {DuckArray.host_operands}"
    for t in tensors:
        assert isinstance(t.array, DuckArray), f"a {type(t.array).__name__} of shape {t.shape} left the duck library"


# ---------------------------------------------------------------------------------------------------
# the backend helpers themselves


def test_is_array_knows_registered_types_and_not_tensors():
    assert backend.is_array(np.zeros(2)) and backend.is_array(DuckArray(np.zeros(2)))
    assert not backend.is_array(dg.zeros(2)) and not backend.is_array(2.0) and not backend.is_array([1.0])


def test_non_protocol_calls_follow_the_array_type():
    duck = DuckArray(np.arange(6.0))
    view = backend.as_strided(duck, (2, 2), (16, 8))
    assert isinstance(view, DuckArray) and view.host.tolist() == [[0.0, 1.0], [2.0, 3.0]]
    target = DuckArray(np.zeros(3))
    backend.scatter_add(target, np.array([0, 2, 0]), DuckArray(np.array([1.0, 2.0, 3.0])))
    assert target.host.tolist() == [4.0, 0.0, 2.0]
    host = np.arange(3.0)
    assert backend.from_host(host, like=np.zeros(1)) is host
    assert isinstance(backend.from_host(host, like=duck), DuckArray)
    assert isinstance(backend.asarray(np.float32(1.5), like=duck), DuckArray)
    assert isinstance(backend.random((2, 3), np.dtype("float32"), like=duck), DuckArray)
    assert DuckArray.conversions == []


def test_unregistered_array_types_are_named():
    class Unknown:
        pass

    with pytest.raises(TypeError, match="no array library registered for Unknown"):
        backend.as_strided(Unknown(), (1,), (8,))


def test_devices_map_to_array_modules_in_one_place():
    assert backend.array_module("cpu") is np and backend.array_module("cpu:0") is np
    with pytest.raises(ValueError, match="CPU only, got device 'cuda'"):
        backend.array_module("cuda")


def test_allocations_follow_the_input():
    duck = to_duck(dg.tensor([[1.0, -2.0, 3.0]]))
    assert_stayed_on_duck(duck * 2.0, duck.sum(), duck > 0, duck.argmax(1), duck[[0, 0]], duck.max(1).indices)


def test_dropout_masks_are_drawn_by_the_inputs_library():
    for drop in (F.dropout, F.dropout2d):
        duck = to_duck(dg.ones(2, 3, 4, 4, requires_grad=True))
        out = drop(duck, 0.5)
        out.backward(to_duck(dg.ones(*out.shape)))
        assert_stayed_on_duck(out, duck.grad)


# ---------------------------------------------------------------------------------------------------
# the op table, forward and backward


def _run(spec, arrays, upstream_seed, wrap):
    inputs = [dg.tensor(wrap(a), dtype=dg.float64, requires_grad=i not in spec.nondiff) for i, a in enumerate(arrays)]
    out = spec.ours(*inputs)
    upstream = np.random.default_rng(upstream_seed).standard_normal(out.shape)
    out.backward(dg.tensor(wrap(upstream), dtype=dg.float64))
    return out, [x for i, x in enumerate(inputs) if i not in spec.nondiff]


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_op_table_on_a_duck_array(spec):
    rng = np.random.default_rng(7)
    arrays = [draw(shape, spec.domain, rng) for shape in spec.shapes[0]]
    out, inputs = _run(spec, arrays, 8, DuckArray)
    assert_stayed_on_duck(out, *[x.grad for x in inputs])
    expected_out, expected_inputs = _run(spec, arrays, 8, lambda a: a)
    np.testing.assert_allclose(out.array.host, expected_out.array, rtol=1e-13, atol=1e-15)
    for x, expected in zip(inputs, expected_inputs):
        np.testing.assert_allclose(x.grad.array.host, expected.grad.array, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------------------------------------------
# training steps


def _train(make_model, x, y, duck: bool, steps: int = 2):
    dg.manual_seed(0)
    model = make_model()
    x, y = dg.tensor(x), dg.tensor(y)
    if duck:
        for t in [*model.parameters(), *model.buffers(), x, y]:
            to_duck(t)
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss)
    return model, losses


def _compare_training(make_model, x, y):
    model, losses = _train(make_model, x, y, duck=True)
    assert_stayed_on_duck(*losses, *model.parameters(), *[p.grad for p in model.parameters()], *model.buffers())
    expected_model, expected_losses = _train(make_model, x, y, duck=False)
    np.testing.assert_allclose([loss.array.host for loss in losses], [loss.array for loss in expected_losses])
    for (name, p), q in zip(model.named_parameters(), expected_model.parameters()):
        np.testing.assert_allclose(p.array.host, q.array, rtol=1e-6, atol=1e-7, err_msg=name)
    for p, q in zip(model.buffers(), expected_model.buffers()):
        np.testing.assert_allclose(p.array.host, q.array, rtol=1e-6, atol=1e-7)
    assert losses[1].item() < losses[0].item()


def test_mlp_training_step_on_a_duck_array():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    _compare_training(lambda: nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)), x, y)


def test_cnn_training_step_on_a_duck_array():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 2, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 4)

    def make_model():
        return nn.Sequential(
            nn.Conv2d(2, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.AvgPool2d(2, ceil_mode=True),
            nn.Flatten(),
            nn.Linear(16, 3),
        )

    _compare_training(make_model, x, y)
