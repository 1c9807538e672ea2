"""Devices (``deepgrad.device``), PyTorch's way and truthful on this machine: tensors live on the CPU.

``deepgrad.device("cpu")`` is a device object as ``torch.device``; ``device("cuda")`` can be made (code like
``torch.device("cuda" if torch.cuda.is_available() else "cpu")`` runs), but placing a tensor there raises one
clear error. Which array module serves a device is decided in one place, ``deepgrad.backend.array_module``.

>>> import deepgrad
>>> d = deepgrad.device("cpu")
>>> d, d.type, d == "cpu", deepgrad.zeros(2, device=d).device
(device(type='cpu'), 'cpu', True, device(type='cpu'))
"""

from __future__ import annotations

from typing import Any

from deepgrad import backend

__all__ = ["check_device", "device", "get_default_device", "set_default_device"]


class device:  # noqa: N801  (torch.device's name)
    """A device type and optional index: ``device("cpu")``, ``device("cuda:1")``, ``device("cuda", 1)``."""

    __slots__ = ("_previous", "index", "type")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002  (torch's argument name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a device name such as 'cpu', got {type!r}")
        name, _, suffix = type.partition(":")
        if name not in backend.DEVICE_TYPES:
            raise ValueError(f"device: unknown device type {name!r}; expected one of {', '.join(backend.DEVICE_TYPES)}")
        if suffix:
            if index is not None or not suffix.isdigit():
                raise ValueError(f"device: invalid device string {type!r} (expected e.g. 'cuda:0')")
            index = int(suffix)
        if index is not None and (isinstance(index, bool) or not isinstance(index, int) or index < 0):
            raise ValueError(f"device: the index must be a non-negative int, got {index!r}")
        self.type = name
        self.index = index

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type={self.type!r}{index})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __enter__(self) -> device:
        """``with deepgrad.device("cpu"):`` sets the default device of the factories inside the block."""
        self._previous = get_default_device()  # type: ignore[attr-defined]
        set_default_device(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        set_default_device(self._previous)  # type: ignore[attr-defined]


CPU = device("cpu")


def check_device(value: Any) -> None:
    """Accept ``None``, ``"cpu"`` (or ``device("cpu")``, ``"cpu:0"``); any other device raises one ValueError."""
    if value is not None:
        backend.array_module(value)


def set_default_device(value: Any) -> None:
    """The device the factories use when no ``device=`` is given; only the CPU exists here.

    >>> import deepgrad
    >>> deepgrad.set_default_device("cpu")
    >>> deepgrad.get_default_device()
    device(type='cpu')
    """
    if value is None:
        value = "cpu"
    backend.array_module(value)
    backend.DEFAULT_DEVICE = str(device(value) if isinstance(value, str) else value)


def get_default_device() -> device:
    """The device factories put tensors on (``device(type='cpu')``)."""
    return device(backend.DEFAULT_DEVICE)
