"""``make_grid`` and ``save_image``: torchvision's picture of a batch of images.

>>> import deepgrad
>>> make_grid(deepgrad.zeros(10, 1, 28, 28), nrow=5).shape   # 2 rows of 5, 2-pixel borders, grey -> RGB
(3, 62, 152)
"""

from __future__ import annotations

import math
import os
from typing import IO, Any

import numpy as np

from deepgrad import backend
from deepgrad.tensor import Tensor


def _as_batch(tensor: Any) -> np.ndarray:
    """A (B, C, H, W) array from a Tensor/array of 2, 3 or 4 dims or a list of (C, H, W) images."""
    if isinstance(tensor, (list, tuple)):
        if not tensor:
            raise ValueError("make_grid: the list of images is empty")
        arrays = [t.array if isinstance(t, Tensor) else np.asarray(t) for t in tensor]
        shapes = {a.shape for a in arrays}
        if len(shapes) != 1:
            raise ValueError(f"make_grid: the images have different shapes {sorted(shapes)}")
        array = np.stack(arrays)
    elif isinstance(tensor, Tensor):
        array = tensor.array
    elif backend.is_array(tensor):
        array = tensor
    else:
        raise TypeError(f"make_grid: expected a Tensor, an array or a list of them, got {type(tensor).__name__}")
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4:
        raise ValueError(f"make_grid: expected images of shape (B, C, H, W), (C, H, W) or (H, W), got {array.shape}")
    if array.shape[1] == 1:
        array = np.repeat(array, 3, axis=1)  # grey -> RGB, as torchvision
    return array


def _normalized(array: np.ndarray, value_range: tuple[float, float] | None, scale_each: bool) -> np.ndarray:
    """Map [low, high] (given, or each image's / the batch's min and max) to [0, 1], clamping outside."""
    if value_range is not None and not isinstance(value_range, tuple):
        raise TypeError("make_grid: value_range has to be a tuple (min, max) if specified")
    out = array.astype(array.dtype if array.dtype.kind == "f" else backend.DEFAULT_FLOAT)
    if value_range is not None:
        low = np.asarray(value_range[0], out.dtype)
        high = np.asarray(value_range[1], out.dtype)
    elif scale_each:
        low = out.min(axis=(1, 2, 3), keepdims=True)
        high = out.max(axis=(1, 2, 3), keepdims=True)
    else:
        low, high = out.min(), out.max()
    out = np.clip(out, low, high)
    return (out - low) / np.maximum(high - low, 1e-5).astype(out.dtype)


def make_grid(
    tensor: Any,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> Tensor:
    """Tile a batch (B, C, H, W) into one image: ``nrow`` images per row, ``padding`` pixels between them.

    Result (C, rows * (H + padding) + padding, cols * (W + padding) + padding), cols = min(nrow, B),
    rows = ceil(B / cols); one-channel images become three-channel; ``normalize`` maps
    ``value_range`` (default: min..max, per image with ``scale_each``) to [0, 1]. A single image comes
    back alone, without borders, as torchvision's does.
    """
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow <= 0:
        raise ValueError(f"make_grid: nrow must be a positive int, got {nrow!r}")
    if isinstance(padding, bool) or not isinstance(padding, (int, np.integer)) or padding < 0:
        raise ValueError(f"make_grid: padding must be a non-negative int, got {padding!r}")
    array = _as_batch(tensor)
    if normalize:
        array = _normalized(array, value_range, scale_each)
    if array.shape[0] == 1:
        return Tensor._make(np.array(array[0]), False, None)
    count, channels, height, width = array.shape
    cols = min(int(nrow), count)
    rows = math.ceil(count / cols)
    # Each image with its top/left border, blank cells to fill the last row, then one reshape to the grid.
    cells = np.full((rows * cols, channels, height + padding, width + padding), pad_value, dtype=array.dtype)
    cells[:count, :, padding:, padding:] = array
    grid = cells.reshape(rows, cols, channels, height + padding, width + padding).transpose(2, 0, 3, 1, 4)
    grid = grid.reshape(channels, rows * (height + padding), cols * (width + padding))
    out = np.full((channels, grid.shape[1] + padding, grid.shape[2] + padding), pad_value, dtype=array.dtype)
    out[:, : grid.shape[1], : grid.shape[2]] = grid
    return Tensor._make(out, False, None)


def save_image(tensor: Any, fp: str | os.PathLike | IO[bytes], format: str | None = None, **kwargs: Any) -> None:  # noqa: A002
    """Write `make_grid(tensor, **kwargs)` as an image file (values in [0, 1] -> bytes, rounded).

    Uses Pillow when installed, else matplotlib; ``format`` (e.g. "png") is needed for a file object.
    """
    grid = make_grid(tensor, **kwargs).array
    if grid.ndim == 2:
        grid = grid[None]
    pixels = np.clip(grid.astype(np.float64) * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    if pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    try:
        from PIL import Image
    except ImportError:
        Image = None  # noqa: N806
    if Image is not None:
        Image.fromarray(np.ascontiguousarray(pixels)).save(fp, format=format)
        return
    try:
        import matplotlib.image
    except ImportError:
        raise ImportError("save_image needs Pillow or matplotlib: pip install pillow") from None
    matplotlib.image.imsave(fp, pixels, format=format, cmap="gray" if pixels.ndim == 2 else None)


__all__ = ["make_grid", "save_image"]
