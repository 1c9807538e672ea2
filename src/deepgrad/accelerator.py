"""``deepgrad.accelerator``: ``torch.accelerator``'s questions, answered for a CPU-only framework.

>>> import deepgrad
>>> deepgrad.accelerator.is_available(), deepgrad.accelerator.current_accelerator()
(False, None)
"""

from __future__ import annotations

from typing import Any

__all__ = ["current_accelerator", "device_count", "is_available"]


def is_available() -> bool:
    """False: no accelerator (GPU, MPS, XPU) is used by deepgrad."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """None: there is no accelerator; tutorials then fall back to ``"cpu"``."""
    return None


def device_count() -> int:
    return 0
