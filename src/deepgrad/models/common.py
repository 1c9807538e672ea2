"""What the torchvision-style model builders share: the ``weights`` argument and the argument checks."""

from __future__ import annotations

from typing import Any


def no_pretrained_weights(weights: Any, name: str) -> None:
    """torchvision's builders take ``weights`` (a pretrained set to download); deepgrad downloads none.
    ``weights=None`` (the default) builds a freshly initialised network; anything else is an error that
    says how to load weights instead."""
    if weights is not None:
        raise ValueError(
            f"{name}: weights={weights!r} asks for pretrained weights, which deepgrad does not download; build the "
            f"model with weights=None and load a state dict: model.load_state_dict(deepgrad.load('{name}.safetensors'))"
            " (a torchvision state dict saved with safetensors.torch.save_file loads as it is)"
        )


def positive_int(value: Any, what: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{name}: {what} must be a positive integer, got {value!r}")
    return value


def probability(value: Any, what: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ValueError(f"{name}: {what} must be a probability in [0, 1], got {value!r}")
    return float(value)
