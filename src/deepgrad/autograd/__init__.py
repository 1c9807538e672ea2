"""Reverse-mode automatic differentiation: the Function base, the engine, grad mode, gradcheck."""

from __future__ import annotations

from deepgrad.autograd.anomaly import detect_anomaly
from deepgrad.autograd.engine import backward, grad
from deepgrad.autograd.function import Function, FunctionCtx
from deepgrad.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from deepgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from deepgrad.autograd.variable import Variable

__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "Variable",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]
