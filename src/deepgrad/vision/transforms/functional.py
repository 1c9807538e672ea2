"""Image functions with torchvision's names and semantics (``torchvision.transforms.functional``).

An *image* is one of:
- a Tensor of shape (..., C, H, W) or (H, W) (a batch of any leading shape is treated as one image: the
  same crop or flip for all, as torchvision does);
- a NumPy array of shape H x W or H x W x C (what ``np.asarray`` of a PIL image gives, and what
  `deepgrad.vision.datasets` return without a transform);
- a PIL image, when PIL is installed (converted through NumPy and back; PIL is never imported here
  unless the caller already has it loaded).

Every function returns the kind it was given. Results are outside the autograd graph except
`normalize`, which is written with Tensor operations and so differentiable.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from enum import Enum
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.data.transforms import pad_array
from deepgrad.tensor import Tensor


class InterpolationMode(str, Enum):
    """Interpolation for `resize`: torchvision's names."""

    NEAREST = "nearest"
    BILINEAR = "bilinear"


# ---------------------------------------------------------------------------------------------- image kinds


def _is_pil(img: Any) -> bool:
    image_module = sys.modules.get("PIL.Image")
    return image_module is not None and isinstance(img, image_module.Image)


def _as_array(img: Any, caller: str) -> tuple[np.ndarray, str]:
    """``(array, kind)``: kind "tensor" (axes ..., H, W), "array" or "pil" (axes H, W[, C])."""
    if isinstance(img, Tensor):
        if img.ndim < 2:
            raise ValueError(f"{caller}: expected a tensor image of shape (..., H, W), got shape {img.shape}")
        return img.array, "tensor"
    if _is_pil(img):
        return np.asarray(img), "pil"
    if backend.is_array(img):
        if img.ndim not in (2, 3):
            raise ValueError(f"{caller}: expected an H x W or H x W x C array image, got shape {img.shape}")
        return img, "array"
    raise TypeError(f"{caller}: expected a Tensor, an H x W (x C) ndarray or a PIL image, got {type(img).__name__}")


def _from_array(array: np.ndarray, kind: str) -> Any:
    """Wrap a result as the kind of image it came from; always a fresh array, never a view of the input."""
    array = np.array(array, order="C")
    if kind == "tensor":
        return Tensor._make(array, False, None)
    if kind == "pil":
        from PIL import Image  # the caller passed a PIL image, so PIL is installed

        return Image.fromarray(array)
    return array


def _hw_axes(kind: str) -> tuple[int, int]:
    return (-2, -1) if kind == "tensor" else (0, 1)


def get_dimensions(img: Any) -> list[int]:
    """``[channels, height, width]`` of an image.

    >>> get_dimensions(np.zeros((28, 28), np.uint8))
    [1, 28, 28]
    """
    array, kind = _as_array(img, "get_dimensions")
    if kind == "tensor":
        channels = array.shape[-3] if array.ndim >= 3 else 1
        return [channels, array.shape[-2], array.shape[-1]]
    return [array.shape[2] if array.ndim == 3 else 1, array.shape[0], array.shape[1]]


def get_image_size(img: Any) -> list[int]:
    """``[width, height]`` of an image (torchvision's order)."""
    _, height, width = get_dimensions(img)
    return [width, height]


# ---------------------------------------------------------------------------------------------- conversions


def to_tensor(pic: Any) -> Tensor:
    """A PIL image or H x W (x C) array -> Tensor C x H x W; uint8 becomes float32 x / 255, other dtypes stay.

    >>> to_tensor(np.full((2, 3), 255, np.uint8)).shape, to_tensor(np.full((2, 3), 255, np.uint8)).max().item()
    ((1, 2, 3), 1.0)
    """
    if isinstance(pic, Tensor):
        raise TypeError(
            f"to_tensor: expected a PIL image or an H x W (x C) ndarray, got a Tensor of shape {pic.shape}; "
            "it is a tensor already (ConvertImageDtype rescales its values)"
        )
    if _is_pil(pic):
        array = np.asarray(pic)
        if pic.mode == "1":
            array = array.astype(np.uint8) * 255  # 1-bit images: PIL gives bools; torchvision scales to 0/255
    elif backend.is_array(pic):
        array = pic
    else:
        raise TypeError(f"to_tensor: expected a PIL image or an H x W (x C) ndarray, got {type(pic).__name__}")
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3:
        raise ValueError(f"to_tensor: expected an H x W or H x W x C image, got an array of shape {array.shape}")
    chw = np.ascontiguousarray(array.transpose(2, 0, 1))
    if chw.dtype == np.uint8:
        out = chw.astype(backend.DEFAULT_FLOAT)
        out /= 255.0  # an exact division, as torchvision's img.div(255)
        return Tensor._make(out, False, None)
    return Tensor._make(chw.copy() if chw is array else chw, False, None)


_INT_MAX = {np.dtype(t): np.iinfo(t).max for t in (np.uint8, np.int8, np.int16, np.int32, np.int64)}


def convert_image_dtype(image: Tensor, dtype: Any = backend.float32) -> Tensor:
    """Convert a tensor image's dtype, rescaling values: ints span [0, max], floats [0, 1].

    uint8 -> float: x / 255; float -> uint8: floor(x * (255 + 1 - 1e-3)), as torchvision.

    >>> convert_image_dtype(Tensor(np.array([[[0, 255]]], np.uint8))).tolist()
    [[[0.0, 1.0]]]
    """
    if not isinstance(image, Tensor):
        raise TypeError(f"convert_image_dtype: expected a Tensor image, got {type(image).__name__}")
    target = backend.to_dtype(dtype)
    source = image.dtype
    array = image.array
    if source == target:
        return image
    if source.kind == "f" and target.kind == "f":
        return Tensor._make(array.astype(target), False, None)
    if source.kind == "f":
        if target not in _INT_MAX:
            raise TypeError(f"convert_image_dtype: cannot convert a {source} image to {target}")
        if (source == np.float32 and target in (np.int32, np.int64)) or (source == np.float64 and target == np.int64):
            raise RuntimeError(
                f"convert_image_dtype: the conversion from {source} to {target} cannot be performed safely"
            )
        eps = 1e-3
        return Tensor._make((array * (_INT_MAX[target] + 1.0 - eps)).astype(target), False, None)
    if source not in _INT_MAX:
        raise TypeError(f"convert_image_dtype: cannot convert a {source} image to {target}")
    if target.kind == "f":
        return Tensor._make((array.astype(target) / _INT_MAX[source]).astype(target), False, None)
    if target not in _INT_MAX:
        raise TypeError(f"convert_image_dtype: cannot convert a {source} image to {target}")
    in_max, out_max = _INT_MAX[source], _INT_MAX[target]
    if in_max > out_max:
        factor = (in_max + 1) // (out_max + 1)
        return Tensor._make((array // factor).astype(target), False, None)
    factor = (out_max + 1) // (in_max + 1)
    return Tensor._make(array.astype(target) * target.type(factor), False, None)


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> Tensor:
    """Per-channel standardisation of a float tensor image (..., C, H, W): (x - mean[c]) / std[c].

    >>> normalize(Tensor(np.ones((2, 1, 1), np.float32)), [0.5, 1.0], [0.5, 2.0]).tolist()
    [[[1.0]], [[0.0]]]
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: expected a Tensor image, got {type(tensor).__name__}")
    if tensor.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of shape (..., C, H, W), got shape {tensor.shape}")
    if tensor.dtype.kind != "f":
        raise TypeError(f"normalize: expected a float tensor, got {tensor.dtype} (ToTensor or ConvertImageDtype first)")
    channels = tensor.shape[-3]
    mean_c = np.asarray(mean, dtype=tensor.dtype).reshape(-1, 1, 1)
    std_c = np.asarray(std, dtype=tensor.dtype).reshape(-1, 1, 1)
    for name, values in (("mean", mean_c), ("std", std_c)):
        if values.size not in (1, channels):
            raise ValueError(f"normalize: {name} has {values.size} values, the image has {channels} channels")
    if np.any(std_c == 0):
        raise ValueError(f"normalize: std {list(np.ravel(std))} evaluated to zero, which would divide by zero")
    if inplace:
        np.subtract(tensor.array, mean_c, out=tensor.array)
        np.divide(tensor.array, std_c, out=tensor.array)
        tensor._bump_version()  # a saved copy of it in a graph must notice the change
        return tensor
    return (tensor - Tensor._make(mean_c, False, None)) / Tensor._make(std_c, False, None)


# ---------------------------------------------------------------------------------------------- geometry


def hflip(img: Any) -> Any:
    """Mirror left-right: out[..., w] = img[..., W - 1 - w]."""
    array, kind = _as_array(img, "hflip")
    return _from_array(np.flip(array, axis=_hw_axes(kind)[1]), kind)


def vflip(img: Any) -> Any:
    """Mirror top-bottom: out[..., h, :] = img[..., H - 1 - h, :]."""
    array, kind = _as_array(img, "vflip")
    return _from_array(np.flip(array, axis=_hw_axes(kind)[0]), kind)


def pad(img: Any, padding: int | Sequence[int], fill: float = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders: ``padding`` p, (left/right, top/bottom) or (left, top, right, bottom), as torchvision.

    ``padding_mode``: constant (``fill``), edge, reflect (without repeating the border) or symmetric.
    """
    array, kind = _as_array(img, "pad")
    return _from_array(pad_array(array, padding, fill, padding_mode, _hw_axes(kind)), kind)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The window of ``height`` x ``width`` at (``top``, ``left``); parts outside the image are zero."""
    array, kind = _as_array(img, "crop")
    rows, cols = _hw_axes(kind)
    image_h, image_w = array.shape[rows], array.shape[cols]
    right, bottom = left + width, top + height
    if top < 0 or left < 0 or bottom > image_h or right > image_w:
        # As torchvision: pad with zeros so that the window exists, then cut it.
        widths = (max(-left, 0), max(-top, 0), max(right - image_w, 0), max(bottom - image_h, 0))
        array = pad_array(array, widths, 0, "constant", (rows, cols))
        top, left = max(top, 0), max(left, 0)
    index = [slice(None)] * array.ndim
    index[rows], index[cols] = slice(top, top + height), slice(left, left + width)
    return _from_array(array[tuple(index)], kind)


def center_crop(img: Any, output_size: int | Sequence[int]) -> Any:
    """The central ``output_size`` window (torchvision's rounding of the offsets)."""
    height, width = _size_pair(output_size, "center_crop")
    _, image_h, image_w = get_dimensions(img)
    if height > image_h or width > image_w:
        extra_w, extra_h = max(width - image_w, 0), max(height - image_h, 0)
        img = pad(img, [extra_w // 2, extra_h // 2, (extra_w + 1) // 2, (extra_h + 1) // 2])
        _, image_h, image_w = get_dimensions(img)
        if height == image_h and width == image_w:
            return img
    top = int(round((image_h - height) / 2.0))
    left = int(round((image_w - width) / 2.0))
    return crop(img, top, left, height, width)


def _size_pair(size: int | Sequence[int], caller: str) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return int(size), int(size)
    values = tuple(size)
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
        raise ValueError(f"{caller}: size must be a positive int or a pair (height, width), got {size!r}")
    return int(values[0]), int(values[1])


def resized_output_size(height: int, width: int, size: int | Sequence[int], max_size: int | None = None) -> list[int]:
    """``[new_height, new_width]``: a pair as given; one number sets the shorter edge, keeping the aspect ratio."""
    values = [size] if isinstance(size, (int, np.integer)) else list(size)
    if len(values) == 2:
        return [int(values[0]), int(values[1])]
    if len(values) != 1 or int(values[0]) <= 0:
        raise ValueError(f"resize: size must be a positive int or a pair (height, width), got {size!r}")
    short, long = (width, height) if width <= height else (height, width)
    new_short, new_long = int(values[0]), int(int(values[0]) * long / short)
    if max_size is not None:
        if max_size <= new_short:
            raise ValueError(f"resize: max_size {max_size} must be larger than the requested size {new_short}")
        if new_long > max_size:
            new_short, new_long = int(max_size * new_short / new_long), max_size
    return [new_long, new_short] if width <= height else [new_short, new_long]


def _linear_weights(in_size: int, out_size: int, antialias: bool) -> np.ndarray:
    """The (out_size, in_size) matrix of (anti-aliased) bilinear resampling along one axis.

    Output pixel i samples the input at centre c = (i + 1/2) in / out, with the triangle filter
    max(0, 1 - |j + 1/2 - c| / s); s = in / out when shrinking with antialias (the filter widens to
    cover every input pixel), else 1 (plain bilinear, half-pixel centres); each row sums to one.
    """
    scale = in_size / out_size
    support = scale if antialias and scale > 1 else 1.0
    centre = scale * (np.arange(out_size) + 0.5)
    distance = np.arange(in_size)[None, :] + 0.5 - centre[:, None]
    weights = np.clip(1.0 - np.abs(distance) / support, 0.0, None)
    return weights / weights.sum(axis=1, keepdims=True)


def _nearest_index(in_size: int, out_size: int) -> np.ndarray:
    """PyTorch's ``nearest``: source index floor(i * in / out)."""
    scale = np.float32(in_size / out_size)
    return np.minimum(np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64), in_size - 1)


def resize(
    img: Any,
    size: int | Sequence[int],
    interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
    max_size: int | None = None,
    antialias: bool | None = True,
) -> Any:
    """Resample to ``size`` (pair: exact; one number: the shorter edge, keeping the aspect ratio).

    Bilinear as two matrix products, out = W_h @ img @ W_w^T (anti-aliased when shrinking, as
    torchvision's default), or nearest neighbour. Integer images are rounded and clipped back.
    """
    mode = InterpolationMode(interpolation)
    array, kind = _as_array(img, "resize")
    rows, cols = _hw_axes(kind)
    height, width = array.shape[rows], array.shape[cols]
    new_h, new_w = resized_output_size(height, width, size, max_size)
    if (new_h, new_w) == (height, width):
        return img
    channels_last = kind != "tensor" and array.ndim == 3
    work = np.moveaxis(array, -1, 0) if channels_last else array  # (..., H, W)
    if mode is InterpolationMode.NEAREST:
        out = work[..., _nearest_index(height, new_h)[:, None], _nearest_index(width, new_w)[None, :]]
    else:
        compute = work.dtype if work.dtype.kind == "f" else backend.DEFAULT_FLOAT
        weights_h = _linear_weights(height, new_h, bool(antialias)).astype(compute)
        weights_w = _linear_weights(width, new_w, bool(antialias)).astype(compute)
        out = weights_h @ work.astype(compute, copy=False) @ weights_w.T
        if work.dtype.kind in "iub":
            info = np.iinfo(work.dtype) if work.dtype.kind != "b" else np.iinfo(np.uint8)
            out = np.clip(np.rint(out), info.min, info.max).astype(work.dtype)
    if channels_last:
        out = np.moveaxis(out, 0, -1)
    return _from_array(out, kind)


__all__ = [
    "InterpolationMode",
    "center_crop",
    "convert_image_dtype",
    "crop",
    "get_dimensions",
    "get_image_size",
    "hflip",
    "normalize",
    "pad",
    "resize",
    "resized_output_size",
    "to_tensor",
    "vflip",
]
