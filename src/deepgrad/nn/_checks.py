"""The argument checks of ``nn.functional`` and the layers, in one place: clear errors naming shapes and dtypes.

Each check runs once per call: a layer checks what it knows (``Linear`` its input's features) and calls the op
itself, and the losses validate ``reduction`` once, when the module is made (``F`` checks it per call).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.tensor import Tensor, as_tensor

REDUCTIONS = ("mean", "sum", "none")


def as_input(value: Any, name: str, what: str = "input") -> Tensor:
    """A Tensor argument: Tensors pass, arrays, lists and numbers become Tensors, anything else is named."""
    if isinstance(value, Tensor):
        return value
    if backend.is_array(value) or isinstance(value, (list, tuple, int, float)):
        return as_tensor(value)
    raise TypeError(f"{name}: {what} must be a Tensor, got {type(value).__name__}")


def check_reduction(reduction: str, name: str, allowed: Sequence[str] = REDUCTIONS) -> None:
    """'mean', 'sum' or 'none' (or the loss's own ``allowed`` values)."""
    if reduction not in allowed:
        raise ValueError(f"{name}: reduction must be one of {', '.join(repr(r) for r in allowed)}; got {reduction!r}")


def int_pair(value: Any, what: str, name: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints (h, w), each at least ``minimum`` (used by the 2-d layers and functions)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) and not isinstance(value, bool) else value
    if (
        not isinstance(pair, (tuple, list))
        or len(pair) != 2
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum for v in pair)
    ):
        raise ValueError(f"{name}: {what} must be an integer >= {minimum} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def image_input(input: Any, name: str) -> tuple[Tensor, bool]:
    """Batched (N, C, H, W) floating-point input, and whether it came unbatched as (C, H, W)."""
    input = as_input(input, name)
    if input.ndim not in (3, 4):
        raise ValueError(
            f"{name}: expected a 4-D input (N, C, H, W) or a 3-D unbatched one (C, H, W), got {input.ndim}-D input "
            f"of shape {input.shape}"
        )
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got {input.dtype} (shape {input.shape})")
    if input.ndim == 3:
        return input.unsqueeze(0), True
    return input, False


def class_targets(name: str, input: Tensor, target: Tensor, ignore_index: int) -> tuple[Tensor, np.ndarray, bool]:
    """Check class-index targets against (N, C, *) or unbatched (C,) input; return the batched input, the
    target array and whether the input was unbatched."""
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    target_data = target.array
    if target_data.dtype.kind not in "iu":
        raise TypeError(
            f"{name}: class-index targets must be integers, got {target_data.dtype} of shape {target.shape}"
            + (
                "; probability targets must have the input's shape " + str(input.shape)
                if target_data.dtype.kind == "f"
                else ""
            )
        )
    unbatched = input.ndim == 1
    expected = () if unbatched else (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        layout = "(C,)" if unbatched else "(N, C, d1, ...)"
        raise ValueError(
            f"{name}: target of shape {target.shape} does not match input of shape {input.shape}; for input "
            f"{layout} the target must have shape {expected}"
        )
    classes = input.shape[0] if unbatched else input.shape[1]
    # the cheap test first (min and max); only when it fails, look past the ignored entries
    if target_data.size and (target_data.min() < 0 or target_data.max() >= classes):
        counted = target_data[target_data != ignore_index]
        if counted.size and (counted.min() < 0 or counted.max() >= classes):
            bad = counted[(counted < 0) | (counted >= classes)][0]
            raise IndexError(f"{name}: target {bad} is out of bounds for {classes} classes (valid: 0..{classes - 1})")
    if unbatched:
        return input.reshape(1, classes), target_data.reshape(1), True
    return input, target_data, False


def class_weights(name: str, weight: Tensor | None, classes: int, input: Tensor) -> np.ndarray | None:
    """The class weights as an array of the input's dtype and array library (None for no weights)."""
    if weight is None:
        return None
    data = weight.array if isinstance(weight, Tensor) else np.asarray(weight, like=input.array)
    if data.shape != (classes,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({classes},); got {data.shape}")
    return data.astype(input.dtype, copy=False)


def check_pair(name: str, input: Tensor, target: Tensor, *, same_shape: bool = False) -> None:
    if input.shape == target.shape:
        return
    if same_shape:
        raise ValueError(f"{name}: target of shape {target.shape} must have the same shape as the input {input.shape}")
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{name}: input of shape {input.shape} and target of shape {target.shape} differ") from None
    warnings.warn(
        f"{name}: using a target size ({target.shape}) that is different to the input size ({input.shape}); "
        "they are broadcast, which is rarely what is meant. Make them the same shape.",
        stacklevel=3,
    )


def optional_tensor(value: Any, name: str, owner: str) -> Tensor | None:
    """None, or a Tensor argument (class weights of the loss modules)."""
    if value is None or isinstance(value, Tensor):
        return value
    if backend.is_array(value) or isinstance(value, (list, tuple)):
        return Tensor(value)
    raise TypeError(f"{owner}: {name} must be a Tensor or None, got {type(value).__name__}")


def check_linear(input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """x (*, in_features), W (out_features, in_features) and b (out_features,) of one floating-point dtype."""
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-d (out_features, in_features), got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"linear: input of shape {input.shape} does not fit weight of shape {weight.shape}: the input's last "
            f"dimension must be in_features = {weight.shape[1]}"
        )
    check_same_dtype("linear", input, weight)
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(
            f"linear: bias must have shape ({weight.shape[0]},) for weight {weight.shape}, got {bias.shape}"
        )


def check_same_dtype(name: str, input: Tensor, weight: Tensor) -> None:
    if input.dtype != weight.dtype:
        raise TypeError(
            f"{name}: input is {input.dtype} (shape {input.shape}) but weight is {weight.dtype} (shape "
            f"{weight.shape}); convert the input (x.float() / x.double()) or the model (model.double())"
        )
