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


def conv2d_geometry(
    input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any, padding: Any, dilation: Any, groups: Any
) -> tuple[tuple[int, int], tuple[int, int, int, int], tuple[int, int]]:
    """Check conv2d's arguments; return stride, padding (top, bottom, left, right) and dilation."""
    if weight.ndim != 4:
        raise ValueError(
            f"conv2d: weight must be 4-D (out_channels, in_channels/groups, kH, kW), got shape {weight.shape}"
        )
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"conv2d: groups must be a positive integer, got {groups!r}")
    out_channels, group_channels, kernel_h, kernel_w = weight.shape
    if out_channels % groups:
        raise ValueError(
            f"conv2d: weight of shape {weight.shape} has {out_channels} output channels, not divisible by "
            f"groups={groups}"
        )
    if input.shape[1] != group_channels * groups:
        raise ValueError(
            f"conv2d: input of shape {input.shape} has {input.shape[1]} channels (axis 1), but weight of shape "
            f"{weight.shape} with groups={groups} expects {group_channels * groups} (= weight.shape[1] * groups)"
        )
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(
            f"conv2d: input ({input.dtype}), weight ({weight.dtype})"
            + (f" and bias ({bias.dtype})" if bias is not None else "")
            + " must have the same dtype; convert the input (x.float() / x.double()) or the model (model.double())"
        )
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"conv2d: bias must have shape ({out_channels},) for weight {weight.shape}, got {bias.shape}")
    stride = int_pair(stride, "stride", "conv2d", 1)
    dilation = int_pair(dilation, "dilation", "conv2d", 1)
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"conv2d: padding='same' is not supported for strided convolutions (stride={stride})")
            total_h, total_w = dilation[0] * (kernel_h - 1), dilation[1] * (kernel_w - 1)
            pads = (total_h // 2, total_h - total_h // 2, total_w // 2, total_w - total_w // 2)
        else:
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same'; got {padding!r}")
    else:
        pad_h, pad_w = int_pair(padding, "padding", "conv2d", 0)
        pads = (pad_h, pad_h, pad_w, pad_w)
    padded = (input.shape[2] + pads[0] + pads[1], input.shape[3] + pads[2] + pads[3])
    extent = (dilation[0] * (kernel_h - 1) + 1, dilation[1] * (kernel_w - 1) + 1)
    if padded[0] < extent[0] or padded[1] < extent[1]:
        raise ValueError(
            f"conv2d: kernel of size {(kernel_h, kernel_w)} (dilation {dilation}, so it spans {extent}) is larger than "
            f"the padded input {padded} (input shape {input.shape}, padding {padding!r})"
        )
    return stride, pads, dilation


def pool_geometry(
    name: str, input: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any, ceil_mode: bool
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int, int, int], tuple]:
    """kernel, stride, dilation, nominal padding (h, w), padding (top, bottom, left, right) including the
    overhang of ``ceil_mode`` windows, and the output size, with PyTorch's output-size rule and checks."""
    kernel = int_pair(kernel_size, "kernel_size", name, 1)
    stride = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else stride
    stride = int_pair(stride, "stride", name, 1)
    dilation = int_pair(dilation, "dilation", name, 1)
    pad = int_pair(padding, "padding", name, 0)
    out_size = []
    overhang = []
    for axis in range(2):
        size, k, s, p, d = input.shape[2 + axis], kernel[axis], stride[axis], pad[axis], dilation[axis]
        extent = d * (k - 1) + 1
        if 2 * p > extent:
            raise ValueError(
                f"{name}: padding should be at most half of the effective kernel size, got padding={padding!r}, "
                f"kernel_size={kernel_size!r} and dilation={dilation}"
            )
        out = (size + 2 * p - extent + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= size + p:  # the last window must start inside the input or left padding
            out -= 1
        if out < 1:
            raise ValueError(
                f"{name}: input of shape {input.shape} is too small for kernel_size={kernel_size!r} "
                f"(dilation {dilation}, padding {padding!r}): the output size would be {out}"
            )
        out_size.append(out)
        overhang.append(max(0, (out - 1) * s + extent - (size + 2 * p)))
    pads = (pad[0], pad[0] + overhang[0], pad[1], pad[1] + overhang[1])
    return kernel, stride, dilation, pad, pads, tuple(out_size)


def signal_input(input: Any, name: str) -> tuple[Tensor, bool]:
    """Batched (N, C, L) floating-point input, and whether it came unbatched as (C, L)."""
    input = as_input(input, name)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"{name}: expected a 3-D input (N, C, L) or a 2-D unbatched one (C, L), got {input.ndim}-D input of "
            f"shape {input.shape}"
        )
    if input.ndim == 2:
        return input.unsqueeze(0), True
    return input, False


def int_single(value: Any, what: str, name: str, minimum: int) -> int:
    """An int, or a one-element tuple of it, at least ``minimum`` (used by the 1-d layers and functions)."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: {what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def pool1d_geometry(kernel_size: Any, stride: Any, padding: Any, name: str) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a 1-d pooling; stride None (or empty) means the kernel size, as PyTorch."""
    kernel = int_single(kernel_size, "kernel_size", name, 1)
    step = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) else stride
    return kernel, int_single(step, "stride", name, 1), int_single(padding, "padding", name, 0)
