"""The ``DEEPGRAD_*`` environment switches that turn a process-wide setting off (``DEEPGRAD_COMPILED=0``,
``DEEPGRAD_DIRECT_BLAS=0``, ``DEEPGRAD_MALLOC_TUNING=0``, ``DEEPGRAD_BLAS_SPIN_TUNING=0``): one reading for all."""

from __future__ import annotations

import os

_OFF = ("0", "false", "no", "off")


def switched_off(variable: str) -> bool:
    """Whether the environment variable ``variable`` says off (0, false, no or off, any case); unset is on."""
    return os.environ.get(variable, "1").strip().lower() in _OFF
