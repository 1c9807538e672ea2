"""Reference architectures built from ``deepgrad.nn``."""

from __future__ import annotations

from deepgrad.models.lenet import LeNet5
from deepgrad.models.mlp import MLP

__all__ = ["MLP", "LeNet5"]
