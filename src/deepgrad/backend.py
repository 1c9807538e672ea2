"""The array backend: NumPy, the default dtypes and the random number generator.

Every other module takes its array library, default float type and randomness from here, so a
different backend (or a seeded run) changes one place.
"""

from __future__ import annotations

import numpy as np

xp = np

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

# The array types the core treats as arrays (not Tensors, not Python scalars). Another array library that
# follows NumPy's protocols (__array_ufunc__, __array_function__) registers its type here.
ARRAY_TYPES: tuple[type, ...] = (np.ndarray,)


def is_array(value: object) -> bool:
    """True for an array of a registered array library (a NumPy ndarray by default), False for Tensors."""
    return isinstance(value, ARRAY_TYPES)


def register_array_type(array_type: type) -> None:
    """Let the core treat instances of ``array_type`` as arrays (e.g. ``cupy.ndarray``)."""
    global ARRAY_TYPES
    if array_type not in ARRAY_TYPES:
        ARRAY_TYPES = ARRAY_TYPES + (array_type,)


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


def get_rng_state() -> dict:
    """The generator's state as a JSON-serialisable dict (used by checkpoints)."""
    return _generator.bit_generator.state


def set_rng_state(state: dict) -> None:
    """Restore a state returned by `get_rng_state`."""
    _generator.bit_generator.state = state


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
