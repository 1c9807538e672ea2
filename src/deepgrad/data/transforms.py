"""Augmentation as vectorised batch transforms: a whole N x C x H x W batch at once, one NumPy call each.

Each sample of the batch gets its own random crop offset or flip, drawn from a NumPy generator
(``generator=None``: `deepgrad.backend.generator()`, so `deepgrad.manual_seed` fixes the draws), and no
Python loop runs over samples or pixels. Inputs are NumPy arrays or Tensors and the result is of the
same kind (a Tensor outside the graph: augmentation is data preparation, not part of the model).

For per-sample transform objects that a Dataset applies, PyTorch-style, see `deepgrad.vision.transforms`.

>>> import numpy as np
>>> batch = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
>>> augment = Augment(crop=4, padding=1, flip=0.5, mean=[15.5], std=[9.2], seed=0)
>>> augment(batch).shape
(2, 1, 4, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.tensor import Tensor

PADDING_MODES = ("constant", "edge", "reflect", "symmetric")


def _unwrap(images: Any, caller: str) -> tuple[np.ndarray, bool]:
    """The batch as an array, and whether it came as a Tensor; checks for N x C x H x W."""
    is_tensor = isinstance(images, Tensor)
    array = images.array if is_tensor else images
    if not backend.is_array(array):
        raise TypeError(f"{caller}: expected a batch as an array or Tensor, got {type(images).__name__}")
    if array.ndim != 4:
        raise ValueError(f"{caller}: expected a batch of shape (N, C, H, W), got shape {tuple(array.shape)}")
    return array, is_tensor


def _wrap(array: np.ndarray, is_tensor: bool) -> Any:
    return Tensor._make(array, False, None) if is_tensor else array


def _pair(value: int | Sequence[int], name: str, caller: str) -> tuple[int, int]:
    """An int or a pair of ints as (height, width)."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{caller}: {name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def padding_widths(padding: int | Sequence[int], caller: str = "pad") -> tuple[int, int, int, int]:
    """torchvision's padding argument as (left, top, right, bottom): p, (left/right, top/bottom) or 4 values."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        values: tuple[int, ...] = (int(padding),) * 4
    else:
        values = tuple(padding)
        if len(values) == 1:
            values = values * 4
        elif len(values) == 2:
            values = (values[0], values[1], values[0], values[1])
        if len(values) != 4 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in values):
            raise TypeError(f"{caller}: padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")
    if any(v < 0 for v in values):
        raise ValueError(f"{caller}: padding must be non-negative, got {padding!r}")
    return tuple(int(v) for v in values)  # type: ignore[return-value]


def pad_array(
    array: np.ndarray,
    padding: int | Sequence[int],
    fill: float = 0,
    padding_mode: str = "constant",
    axes: tuple[int, int] = (-2, -1),
) -> np.ndarray:
    """Pad the two image axes (height, width) of ``array`` with torchvision's padding and modes."""
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"pad: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
    left, top, right, bottom = padding_widths(padding)
    if not (left or top or right or bottom):
        return array
    widths = [(0, 0)] * array.ndim
    widths[axes[0]], widths[axes[1]] = (top, bottom), (left, right)
    if padding_mode == "reflect":
        height, width = array.shape[axes[0]], array.shape[axes[1]]
        if max(top, bottom) >= height or max(left, right) >= width:
            raise ValueError(
                f"pad: reflect padding {padding!r} must be smaller than the image ({height}x{width}) in each direction"
            )
    if padding_mode == "constant":
        return np.pad(array, widths, mode="constant", constant_values=fill)
    return np.pad(array, widths, mode=padding_mode)


def random_crop(
    images: Any,
    size: int | Sequence[int],
    padding: int | Sequence[int] = 0,
    fill: float = 0,
    padding_mode: str = "constant",
    generator: np.random.Generator | None = None,
) -> Any:
    """Pad every image, then cut a ``size`` window at an offset drawn per sample (uniform over all offsets).

    out[n] = padded[n, :, i_n : i_n + h, j_n : j_n + w], with one gather for the whole batch.

    >>> import numpy as np
    >>> random_crop(np.zeros((8, 3, 32, 32), np.uint8), 32, padding=4).shape
    (8, 3, 32, 32)
    """
    array, is_tensor = _unwrap(images, "random_crop")
    height, width = _pair(size, "size", "random_crop")
    padded = pad_array(array, padding, fill, padding_mode)
    n, _, padded_h, padded_w = padded.shape
    if height > padded_h or width > padded_w or height <= 0 or width <= 0:
        raise ValueError(
            f"random_crop: crop size ({height}, {width}) does not fit images of {padded_h}x{padded_w} "
            f"(after padding {padding!r})"
        )
    rng = backend.generator() if generator is None else generator
    top = rng.integers(0, padded_h - height + 1, size=n)
    left = rng.integers(0, padded_w - width + 1, size=n)
    # windows[n, c, i, j] is the h x w window at (i, j): a view, then one fancy index picks each sample's own.
    windows = np.lib.stride_tricks.sliding_window_view(padded, (height, width), axis=(2, 3))
    out = windows[np.arange(n), :, top, left]  # (N, C, h, w): the advanced axes go first
    return _wrap(np.ascontiguousarray(out), is_tensor)


def random_horizontal_flip(images: Any, p: float = 0.5, generator: np.random.Generator | None = None) -> Any:
    """Mirror each image left-right with probability ``p``, drawn per sample: out[n] = images[n, :, :, ::-1].

    >>> import numpy as np
    >>> random_horizontal_flip(np.arange(3.0).reshape(1, 1, 1, 3), p=1.0).tolist()
    [[[[2.0, 1.0, 0.0]]]]
    """
    array, is_tensor = _unwrap(images, "random_horizontal_flip")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_horizontal_flip: p must be in [0, 1], got {p}")
    rng = backend.generator() if generator is None else generator
    flip = rng.random(array.shape[0]) < p
    out = np.where(flip[:, None, None, None], array[..., ::-1], array)
    return _wrap(out, is_tensor)


def _channel_values(values: Sequence[float] | float, channels: int, dtype: np.dtype, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=dtype).reshape(-1)
    if array.size not in (1, channels):
        raise ValueError(f"normalize: {name} has {array.size} values, the images have {channels} channels")
    return array.reshape(-1, 1, 1)


def normalize(images: Any, mean: Sequence[float] | float, std: Sequence[float] | float) -> Any:
    """Per-channel standardisation of floating images (N, C, H, W) or (C, H, W): (x - mean[c]) / std[c].

    >>> import numpy as np
    >>> normalize(np.ones((1, 2, 1, 1), np.float32), [0.5, 1.0], [0.5, 2.0]).ravel().tolist()
    [1.0, 0.0]
    """
    is_tensor = isinstance(images, Tensor)
    array = images.array if is_tensor else images
    if not backend.is_array(array) or array.ndim < 3:
        shape = getattr(array, "shape", None)
        raise ValueError(f"normalize: expected images of shape (..., C, H, W), got {type(images).__name__} {shape}")
    if array.dtype.kind != "f":
        raise TypeError(f"normalize: expected floating images, got dtype {array.dtype}; convert them first (x / 255)")
    mean_c = _channel_values(mean, array.shape[-3], array.dtype, "mean")
    std_c = _channel_values(std, array.shape[-3], array.dtype, "std")
    if np.any(std_c == 0):
        raise ValueError(f"normalize: std {list(np.ravel(std))} contains a zero, which would divide by zero")
    return _wrap((array - mean_c) / std_c, is_tensor)


class Augment:
    """Batch augmentation: random crop with padding, horizontal flip, then per-channel normalisation.

    ``crop`` None skips the crop, ``flip`` is the flip probability (0 skips it), ``mean``/``std`` None
    skip normalisation. The generator is this object's own (``seed``), or `deepgrad.backend.generator()`
    when ``seed`` is None; `state_dict`/`load_state_dict` save and restore it for resumed runs.

    >>> import numpy as np
    >>> Augment(crop=2, padding=0, flip=1.0, seed=0)(np.zeros((3, 1, 2, 2), np.float32)).shape
    (3, 1, 2, 2)
    """

    def __init__(
        self,
        crop: int | Sequence[int] | None = None,
        padding: int | Sequence[int] = 0,
        flip: float = 0.0,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        padding_mode: str = "constant",
        seed: int | None = None,
    ) -> None:
        if (mean is None) != (std is None):
            raise ValueError("Augment: give both mean and std, or neither")
        if not 0.0 <= flip <= 1.0:
            raise ValueError(f"Augment: flip must be a probability in [0, 1], got {flip}")
        self.crop, self.padding, self.flip = crop, padding, float(flip)
        self.mean, self.std, self.padding_mode = mean, std, padding_mode
        padding_widths(padding, "Augment")
        self._rng = None if seed is None else np.random.default_rng(seed)

    def __call__(self, images: Any) -> Any:
        rng = backend.generator() if self._rng is None else self._rng
        if self.crop is not None:
            images = random_crop(images, self.crop, self.padding, padding_mode=self.padding_mode, generator=rng)
        if self.flip:
            images = random_horizontal_flip(images, self.flip, generator=rng)
        if self.mean is not None and self.std is not None:
            images = normalize(images, self.mean, self.std)
        return images

    def state_dict(self) -> dict[str, Any]:
        """The own generator's state (JSON-serialisable), or None when drawing from the global generator."""
        return {"rng_state": None if self._rng is None else self._rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("rng_state") is not None:
            if self._rng is None:
                self._rng = np.random.default_rng()
            self._rng.bit_generator.state = dict(state["rng_state"])

    def __repr__(self) -> str:
        return f"Augment(crop={self.crop}, padding={self.padding}, flip={self.flip}, mean={self.mean}, std={self.std})"
