"""``torchvision.models``' counterpart: the architectures of `deepgrad.models`, re-exported."""

from __future__ import annotations

from deepgrad.models import *  # noqa: F403
from deepgrad.models import __all__ as __all__
