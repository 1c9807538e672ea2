"""torchvision.io's image readers: ``read_image`` and ``decode_image`` give a uint8 (C, H, W) Tensor.

Decoding uses Pillow (``pip install pillow``), imported on first use; PNG, JPEG, GIF, BMP, ... as Pillow reads.
"""

from __future__ import annotations

import enum
import io
import os
from typing import Any

import numpy as np

from deepgrad.tensor import Tensor


class ImageReadMode(enum.Enum):
    """What ``read_image`` turns the image into: as stored, gray, gray + alpha, RGB or RGB + alpha."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


_PIL_MODES = {
    ImageReadMode.GRAY: "L",
    ImageReadMode.GRAY_ALPHA: "LA",
    ImageReadMode.RGB: "RGB",
    ImageReadMode.RGB_ALPHA: "RGBA",
}


def _pil_image() -> Any:
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("reading images needs Pillow: pip install pillow") from None
    return Image


def _decode(source: Any, what: str, mode: ImageReadMode) -> Tensor:
    image_module = _pil_image()
    try:
        with image_module.open(source) as image:
            image.load()
            if mode is not ImageReadMode.UNCHANGED:
                image = image.convert(_PIL_MODES[mode])
            elif image.mode not in ("L", "LA", "RGB", "RGBA"):
                image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            pixels = np.asarray(image, dtype=np.uint8)
    except (OSError, ValueError, SyntaxError) as error:  # Pillow's UnidentifiedImageError is an OSError
        raise ValueError(f"{what}: not an image Pillow can decode ({error})") from None
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    return Tensor(np.ascontiguousarray(pixels.transpose(2, 0, 1)))


def read_image(path: str | os.PathLike, mode: ImageReadMode = ImageReadMode.UNCHANGED) -> Tensor:
    """The image file at ``path`` as a uint8 Tensor of shape (C, H, W), C = 1, 2, 3 or 4 (torchvision's)."""
    if not isinstance(mode, ImageReadMode):
        raise TypeError(f"read_image: mode must be an ImageReadMode, got {mode!r}")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path}: no such image file" if not os.path.exists(path) else f"{path}: is not a regular file"
        )
    return _decode(os.fspath(path), os.fspath(path), mode)


def decode_image(data: Any, mode: ImageReadMode = ImageReadMode.UNCHANGED) -> Tensor:
    """Encoded image bytes (a uint8 Tensor or array, or ``bytes``) as a uint8 (C, H, W) Tensor."""
    if isinstance(data, (str, os.PathLike)):
        return read_image(data, mode)
    if isinstance(data, Tensor):
        data = data.array
    raw = bytes(data) if isinstance(data, (bytes, bytearray)) else np.asarray(data, dtype=np.uint8).tobytes()
    return _decode(io.BytesIO(raw), "decode_image", mode)


__all__ = ["ImageReadMode", "decode_image", "read_image"]
