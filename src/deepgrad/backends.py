"""``deepgrad.backends``: ``torch.backends``' availability flags, all off on this CPU-only framework.

``backends.mps.is_available()`` and ``backends.cudnn.is_available()`` are False; the cuDNN switches
(``cudnn.deterministic = True``, ``cudnn.benchmark = False``) can be set and change nothing: the CPU
kernels are deterministic.

>>> import deepgrad
>>> deepgrad.backends.mps.is_available(), deepgrad.backends.cudnn.is_available()
(False, False)
"""

from __future__ import annotations

__all__ = ["cudnn", "mps"]


class _Unavailable:
    """A backend that is neither built nor available here."""

    def __init__(self, name: str) -> None:
        self.name = name

    def is_available(self) -> bool:
        return False

    def is_built(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<deepgrad.backends.{self.name}: not available (CPU only)>"


class _Cudnn(_Unavailable):
    def __init__(self) -> None:
        super().__init__("cudnn")
        self.enabled = True
        self.deterministic = False
        self.benchmark = False
        self.allow_tf32 = False


mps = _Unavailable("mps")
cudnn = _Cudnn()
