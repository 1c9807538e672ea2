"""``deepgrad.cuda``: PyTorch's ``torch.cuda`` answers, truthful on a CPU-only framework.

``is_available()`` is False and ``device_count()`` 0, so ``"cuda" if torch.cuda.is_available() else "cpu"``
picks the CPU; seeding is silently ignored (as PyTorch does without a GPU); asking for a GPU raises.

>>> import deepgrad
>>> deepgrad.cuda.is_available(), deepgrad.cuda.device_count()
(False, 0)
"""

from __future__ import annotations

from typing import Any, NoReturn

from deepgrad import backend

__all__ = [
    "current_device",
    "device_count",
    "empty_cache",
    "get_device_name",
    "is_available",
    "is_initialized",
    "manual_seed",
    "manual_seed_all",
    "synchronize",
]


def is_available() -> bool:
    """False: deepgrad computes on the CPU."""
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed: int) -> None:
    """Ignored, as in PyTorch without a GPU (``deepgrad.manual_seed`` seeds everything)."""


def manual_seed_all(seed: int) -> None:
    """Ignored, as in PyTorch without a GPU."""


def empty_cache() -> None:
    """Nothing to free."""


def _no_cuda(name: str) -> NoReturn:
    backend.array_module("cuda")  # raises the one error message for CUDA
    raise AssertionError(name)  # pragma: no cover


def current_device() -> int:
    _no_cuda("current_device")


def synchronize(device: Any = None) -> None:
    _no_cuda("synchronize")


def get_device_name(device: Any = None) -> str:
    _no_cuda("get_device_name")
