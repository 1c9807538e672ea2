"""The array backend: what deepgrad asks of an array library, the default dtypes and the random generator.

NumPy is the backend today. The core (ops, tensor, autograd, nn.functional, optim) never names an array type:
it computes with NumPy's operators and functions and lets NumPy's protocols send each call to the library
the array belongs to. A GPU array library that follows the same protocols (CuPy does) plugs in here.

The contract an array library meets to plug in:

* **NumPy's protocols.** Its array type implements ``__array_ufunc__`` (``np.add(x, y)``, ``np.exp(x, out=x)``,
  ``np.add.at``) and ``__array_function__`` (``np.sum``, ``np.reshape``, ``np.where``, ``np.take_along_axis``,
  ...), so the same formula runs on either library. Allocations name the array they follow: ``np.zeros_like(x)``,
  ``np.empty_like(x)``, or NumPy's ``like=`` argument (``np.zeros(shape, dtype=x.dtype, like=x)``,
  ``np.arange(n, like=x)``), which ``__array_function__`` receives too.
* **Array methods and attributes** as NumPy's: ``shape``, ``ndim``, ``size``, ``dtype`` (a ``numpy.dtype``),
  ``strides``, ``nbytes``, ``astype``, ``copy``, ``reshape``, ``sum``/``max``/``min``/``all``/``any``, ``T``, indexing,
  in-place operators; scalars come back as NumPy or Python scalars.
* **The few calls outside the protocols**, given to ``register_array_type`` as a module (or any object) with
  ``as_strided(x, shape, strides)`` (the im2col window view), ``scatter_add(target, index, values)``
  (``np.add.at``: repeated indices add up) and ``from_host(array)`` (a NumPy array moved to this library, used
  for random draws, which come from one host generator so that a seed gives the same numbers everywhere).
  deepgrad calls them through ``as_strided``, ``scatter_add`` and ``from_host`` below, never directly.
* **No implicit conversion to NumPy.** Nothing in the core calls ``np.asarray`` on a backend array; a value
  leaves the device only when the user asks (``Tensor.numpy()``, ``tolist()``, ``item()``, printing).

A device name maps to an array module in one place, ``DEVICES`` (only ``"cpu"`` -> NumPy exists today).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided as _numpy_as_strided

float16 = np.dtype("float16")
float32 = np.dtype("float32")
float64 = np.dtype("float64")
int8 = np.dtype("int8")
uint8 = np.dtype("uint8")
int16 = np.dtype("int16")
int32 = np.dtype("int32")
int64 = np.dtype("int64")
bool_ = np.dtype("bool")

DEFAULT_FLOAT = float32
DEFAULT_INT = int64

_generator = np.random.default_rng()

# The devices deepgrad can place tensors on, each with its array module.
DEVICES: dict[str, ModuleType] = {"cpu": np}


class _NumpyCalls:
    """The non-protocol calls for NumPy arrays."""

    @staticmethod
    def as_strided(x: np.ndarray, shape: tuple, strides: tuple) -> np.ndarray:
        return _numpy_as_strided(x, shape, strides, writeable=False)

    @staticmethod
    def scatter_add(target: np.ndarray, index: Any, values: Any) -> None:
        np.add.at(target, index, values)

    @staticmethod
    def from_host(array: np.ndarray) -> np.ndarray:
        return array


# The array types the core treats as arrays (not Tensors, not Python scalars), and their non-protocol calls.
ARRAY_TYPES: tuple[type, ...] = (np.ndarray,)
_CALLS: dict[type, Any] = {np.ndarray: _NumpyCalls}


def is_array(value: object) -> bool:
    """True for an array of a registered array library (a NumPy ndarray by default), False for Tensors.

    >>> import numpy as np, deepgrad
    >>> is_array(np.zeros(2)), is_array(deepgrad.zeros(2)), is_array(2.0)
    (True, False, False)
    """
    return isinstance(value, ARRAY_TYPES)


def register_array_type(array_type: type, calls: Any = None) -> None:
    """Let the core treat instances of ``array_type`` as arrays (e.g. ``cupy.ndarray``).

    ``calls`` provides ``as_strided``, ``scatter_add`` and ``from_host`` for that type (see the module
    docstring); without it, only code that needs none of the three runs on the type.
    """
    global ARRAY_TYPES
    if array_type not in ARRAY_TYPES:
        ARRAY_TYPES = ARRAY_TYPES + (array_type,)
    if calls is not None:
        _CALLS[array_type] = calls


def _calls(x: Any) -> Any:
    calls = _CALLS.get(type(x))
    if calls is None:
        for array_type, candidate in _CALLS.items():
            if isinstance(x, array_type):
                return candidate
        raise TypeError(f"no array library registered for {type(x).__name__} (backend.register_array_type)")
    return calls


def as_strided(x: Any, shape: tuple, strides: tuple) -> Any:
    """A read-only view of ``x`` with the given shape and byte strides (``numpy.lib.stride_tricks.as_strided``)."""
    return _calls(x).as_strided(x, shape, strides)


def scatter_add(target: Any, index: Any, values: Any) -> None:
    """``target[index] += values`` in place, where repeated indices add up (``np.add.at``)."""
    _calls(target).scatter_add(target, index, values)


def asarray(value: Any, like: Any) -> Any:
    """``value`` as an array of ``like``'s library: arrays pass as they are; scalars (what a NumPy reduction to
    0-d returns) and lists become arrays there, by NumPy's ``like=`` protocol."""
    if isinstance(value, ARRAY_TYPES):
        return value
    return np.asarray(value, like=like)


def from_host(array: np.ndarray, like: Any) -> Any:
    """A NumPy array moved to the array library of ``like`` (itself when ``like`` is a NumPy array)."""
    if type(like) is np.ndarray:
        return array
    return _calls(like).from_host(array)


# Device types PyTorch knows; only "cpu" has an array module here, the others get a clear error when used.
DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")

# The device factories use when none is given (``deepgrad.set_default_device``).
DEFAULT_DEVICE = "cpu"


def array_module(device: Any = "cpu") -> ModuleType:
    """The array module of a device (``"cpu"``, ``"cpu:0"`` or ``deepgrad.device("cpu")`` -> numpy).

    Any other device raises one ValueError saying that deepgrad runs on the CPU here.
    """
    name = str(device)
    device_type, _, index = name.partition(":")
    module = DEVICES.get(device_type) if index in ("", "0") else None
    if module is not None:
        return module
    if device_type == "cuda":
        raise ValueError(f"no CUDA device here: deepgrad runs on the CPU only, got device {name!r}")
    raise ValueError(f"deepgrad runs on the CPU only, got device {name!r}")


# ------------------------------------------------------------------------------- random numbers


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the generator behind every random draw in deepgrad (rand, randn, init, dropout, ...).

    >>> import deepgrad
    >>> _ = deepgrad.manual_seed(0); a = deepgrad.rand(2)
    >>> _ = deepgrad.manual_seed(0); bool((a == deepgrad.rand(2)).all())
    True
    """
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed expects an integer seed, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def generator() -> np.random.Generator:
    """The current random generator (replaced by `manual_seed`)."""
    return _generator


def random(shape: tuple[int, ...], dtype: np.dtype, like: Any) -> Any:
    """Uniform draws from [0, 1) of ``dtype`` (float32 or float64) in the array library of ``like``."""
    return from_host(_generator.random(shape, dtype=dtype), like)


def uniform(low: float, high: float, shape: tuple[int, ...], like: Any) -> Any:
    """Uniform draws from [low, high) (float64) in the array library of ``like``."""
    return from_host(_generator.uniform(low, high, shape), like)


def normal(mean: float, std: float, shape: tuple[int, ...], like: Any) -> Any:
    """Normal draws (float64) in the array library of ``like``."""
    return from_host(_generator.normal(mean, std, shape), like)


def get_rng_state() -> dict:
    """The generator's state as a JSON-serialisable dict (used by checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    _generator.bit_generator.state = state


# ------------------------------------------------------------------------------- dtypes


def is_floating(dtype: np.dtype) -> bool:
    return dtype.kind == "f"


def to_dtype(dtype: object) -> np.dtype:
    """Turn a dtype given as np.dtype, a NumPy type, a string or a Python type into np.dtype."""
    if dtype is float:
        return DEFAULT_FLOAT
    if dtype is int:
        return DEFAULT_INT
    if dtype is bool:
        return bool_
    try:
        return np.dtype(dtype)
    except TypeError:
        raise TypeError(f"not a dtype: {dtype!r}") from None
