"""Per-sample transform objects with torchvision's names, arguments and semantics.

A Dataset applies them to one image at a time (``MNIST(root, transform=Compose([...]))``); images are
Tensors (..., C, H, W), H x W (x C) NumPy arrays or PIL images, as in `functional`. Random transforms
draw from `deepgrad.backend.generator()`, so `deepgrad.manual_seed` makes them reproducible. For
whole-batch augmentation with per-sample draws, see `deepgrad.data.transforms`.

>>> import numpy as np
>>> import deepgrad.vision.transforms as T
>>> pipeline = T.Compose([T.RandomCrop(28, padding=2), T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
>>> pipeline(np.zeros((28, 28), np.uint8)).shape
(1, 28, 28)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from deepgrad import backend
from deepgrad.data.transforms import PADDING_MODES, padding_widths
from deepgrad.tensor import Tensor
from deepgrad.vision.transforms import functional
from deepgrad.vision.transforms.functional import InterpolationMode


def _check_probability(p: float, caller: str) -> float:
    if math.isnan(float(p)) or not 0.0 <= float(p) <= 1.0:
        raise ValueError(f"{caller}: p must be a probability in [0, 1], got {p}")
    return float(p)


class Compose:
    """Apply ``transforms`` in order: Compose([f, g])(x) = g(f(x))."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]) -> None:
        self.transforms = list(transforms)
        for i, t in enumerate(self.transforms):
            if not callable(t):
                raise TypeError(f"Compose: transform {i} ({type(t).__name__}) is not callable")

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class Lambda:
    """A user function as a transform: Lambda(f)(x) = f(x)."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ToTensor:
    """PIL image or H x W (x C) array -> Tensor C x H x W; uint8 values become float32 in [0, 1] (x / 255)."""

    def __call__(self, pic: Any) -> Tensor:
        return functional.to_tensor(pic)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class ConvertImageDtype:
    """Convert a tensor image to ``dtype``, rescaling values (uint8 [0, 255] <-> float [0, 1])."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = backend.to_dtype(dtype)

    def __call__(self, image: Tensor) -> Tensor:
        return functional.convert_image_dtype(image, self.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dtype={self.dtype})"


class ToDtype:
    """torchvision.transforms.v2's ToDtype: cast a tensor image, rescaling the value range when ``scale``."""

    def __init__(self, dtype: Any, scale: bool = False) -> None:
        self.dtype = backend.to_dtype(dtype)
        self.scale = bool(scale)

    def __call__(self, image: Tensor) -> Tensor:
        if not isinstance(image, Tensor):
            raise TypeError(f"ToDtype: expected a Tensor image, got {type(image).__name__}")
        if self.scale and image.dtype.kind in "iu" and self.dtype.kind == "f":
            # v2 multiplies by the reciprocal where ConvertImageDtype divides (differs in the last bit)
            scale = 1.0 / np.iinfo(image.dtype).max
            return Tensor._make(image.array.astype(self.dtype) * scale, False, None)
        if self.scale:
            return functional.convert_image_dtype(image, self.dtype)
        return Tensor._make(image.array.astype(self.dtype), False, None)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(dtype={self.dtype}, scale={self.scale})"


class Normalize:
    """Per-channel standardisation of a float tensor image: out[c] = (x[c] - mean[c]) / std[c]."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = mean, std, inplace

    def __call__(self, tensor: Tensor) -> Tensor:
        return functional.normalize(tensor, self.mean, self.std, self.inplace)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Pad:
    """Pad the borders (``padding`` p, (left/right, top/bottom) or (left, top, right, bottom))."""

    def __init__(self, padding: int | Sequence[int], fill: float = 0, padding_mode: str = "constant") -> None:
        padding_widths(padding, "Pad")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Pad: padding_mode must be one of {', '.join(PADDING_MODES)}, got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img: Any) -> Any:
        return functional.pad(img, self.padding, self.fill, self.padding_mode)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode})"


class CenterCrop:
    """The central ``size`` window (padded with zeros when the image is smaller)."""

    def __init__(self, size: int | Sequence[int]) -> None:
        self.size = functional._size_pair(size, "CenterCrop")

    def __call__(self, img: Any) -> Any:
        return functional.center_crop(img, self.size)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size})"


class RandomCrop:
    """A ``size`` window at a uniformly random position, after optional padding (torchvision's arguments).

    ``pad_if_needed`` pads an image smaller than ``size`` so that the crop fits.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        padding: int | Sequence[int] | None = None,
        pad_if_needed: bool = False,
        fill: float = 0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = functional._size_pair(size, "RandomCrop")
        if padding is not None:
            padding_widths(padding, "RandomCrop")
        if padding_mode not in PADDING_MODES:
            modes = ", ".join(PADDING_MODES)
            raise ValueError(f"RandomCrop: padding_mode must be one of {modes}, got {padding_mode!r}")
        self.padding, self.pad_if_needed, self.fill, self.padding_mode = padding, pad_if_needed, fill, padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of a random crop of ``output_size`` inside ``img``."""
        _, height, width = functional.get_dimensions(img)
        crop_h, crop_w = output_size
        if height < crop_h or width < crop_w:
            raise ValueError(
                f"RandomCrop: crop size {(crop_h, crop_w)} is larger than the image size {(height, width)}; "
                "give padding or pad_if_needed=True"
            )
        if (height, width) == (crop_h, crop_w):
            return 0, 0, height, width
        rng = backend.generator()
        top = int(rng.integers(0, height - crop_h + 1))
        left = int(rng.integers(0, width - crop_w + 1))
        return top, left, crop_h, crop_w

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = functional.pad(img, self.padding, self.fill, self.padding_mode)
        _, height, width = functional.get_dimensions(img)
        if self.pad_if_needed and width < self.size[1]:
            img = functional.pad(img, [self.size[1] - width, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and height < self.size[0]:
            img = functional.pad(img, [0, self.size[0] - height], self.fill, self.padding_mode)
        return functional.crop(img, *self.get_params(img, self.size))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(size={self.size}, padding={self.padding})"


class RandomHorizontalFlip:
    """Mirror left-right with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_probability(p, "RandomHorizontalFlip")

    def __call__(self, img: Any) -> Any:
        return functional.hflip(img) if backend.generator().random() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class RandomVerticalFlip:
    """Mirror top-bottom with probability ``p``."""

    def __init__(self, p: float = 0.5) -> None:
        self.p = _check_probability(p, "RandomVerticalFlip")

    def __call__(self, img: Any) -> Any:
        return functional.vflip(img) if backend.generator().random() < self.p else img

    def __repr__(self) -> str:
        return f"{type(self).__name__}(p={self.p})"


class Resize:
    """Resample to ``size``: a pair (height, width) exactly, one number the shorter edge (aspect kept).

    Bilinear (anti-aliased when shrinking, torchvision's default) or ``InterpolationMode.NEAREST``.
    """

    def __init__(
        self,
        size: int | Sequence[int],
        interpolation: InterpolationMode | str = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        values = [size] if isinstance(size, (int, np.integer)) else list(size)
        if len(values) not in (1, 2) or not all(isinstance(v, (int, np.integer)) and v > 0 for v in values):
            raise ValueError(f"Resize: size must be a positive int or a pair (height, width), got {size!r}")
        self.size = size
        self.interpolation = InterpolationMode(interpolation)
        self.max_size, self.antialias = max_size, antialias

    def __call__(self, img: Any) -> Any:
        return functional.resize(img, self.size, self.interpolation, self.max_size, self.antialias)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(size={self.size}, interpolation={self.interpolation.value}, "
            f"max_size={self.max_size}, antialias={self.antialias})"
        )


__all__ = [
    "CenterCrop",
    "Compose",
    "ConvertImageDtype",
    "InterpolationMode",
    "Lambda",
    "Normalize",
    "Pad",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomVerticalFlip",
    "Resize",
    "ToDtype",
    "ToTensor",
    "functional",
]
