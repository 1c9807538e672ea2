"""Composites: functions written from primitive ops, whose gradients come for free (no backward code).

This is their one home. ``Tensor`` methods (``x.var()``, ``x.clamp()``, ``x.logsumexp()``, ...) and
``nn.functional`` (``F.gelu``, ``F.silu``, ``F.batch_norm``, ...) both call them, so each formula is written
once and the functions that carry derivative code stay the primitives in ``deepgrad.ops``. They use only
Tensor methods, so this module needs no import of ``deepgrad.tensor`` and sits below it and ``nn``.
A composite becomes a fused primitive only for stability or measured speed (``log_softmax``, ``softplus``).
"""

from __future__ import annotations

import builtins
import math
from typing import Any

from deepgrad._tensor_args import _axes, _count, _reduced_shape
from deepgrad.autograd.function import Function


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Any:
    """x where x > 0, else negative_slope * x"""
    return x.where(x.array > 0, x * negative_slope)


def elu(x: Any, alpha: float = 1.0) -> Any:
    """x where x > 0, else alpha * (exp(x) - 1)  (exp of the clamped value: no overflow, no NaN gradient)"""
    return x.where(x.array > 0, alpha * (clamp(x, max=0).exp() - 1))


def _value(bound: Any) -> Any:
    return bound.array if isinstance(bound, Function.tensor_class) else bound


def clamp(x: Any, min: Any = None, max: Any = None) -> Any:
    """Limit to [min, max]; the gradient passes where min <= x <= max (as in PyTorch)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    out = x
    if min is not None:
        below = out.array < _value(min)
        out = out.where(~below, min)
    if max is not None:
        above = out.array > _value(max)
        out = out.where(~above, max)
    return out


def var(x: Any, dim: Any = None, correction: int = 1, keepdim: bool = False) -> Any:
    """sum((x - mean)^2) / (n - correction)"""
    axes = _axes(dim, x.ndim)
    centered = x - x.mean(axes, keepdim=True)
    count = _count(x.shape, axes)
    scale = 1.0 / builtins.max(count - correction, 0) if count > correction else float("nan")
    return (centered * centered).sum(axes, keepdim) * scale


def logsumexp(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """log(sum(exp(x))) computed as m + log(sum(exp(x - m))) with m = max(x), so nothing overflows."""
    axes = _axes(dim, x.ndim)
    peak = x.detach().amax(axes, keepdim=True)
    peak = peak.where(peak.isfinite().array, 0.0)
    out = (x - peak).exp().sum(axes, keepdim=True).log() + peak
    return out if keepdim else out.reshape(_reduced_shape(x.shape, axes))


def norm(x: Any, p: float = 2, dim: Any = None, keepdim: bool = False) -> Any:
    """(sum |x|^p)^(1/p) over dim; p=0 counts the non-zero elements. The gradient at x = 0 is 0, as in PyTorch."""
    if p == 1:
        return x.abs().sum(dim, keepdim)
    if p == float("inf"):
        return x.abs().amax(dim, keepdim)
    if p == 0:
        return (x != 0).sum(dim, keepdim).to(x.dtype)
    total = (x * x).sum(dim, keepdim) if p == 2 else (x.abs() ** p).sum(dim, keepdim)
    nonzero = total.array != 0
    if nonzero.all():
        return total.sqrt() if p == 2 else total ** (1.0 / p)
    # the root's slope is infinite at 0 (0 * inf = nan): take the root of 1 there instead, then put back 0
    safe = total.where(nonzero, 1.0)
    root = safe.sqrt() if p == 2 else safe ** (1.0 / p)
    return root.where(nonzero, 0.0)


def gelu(x: Any, approximate: str = "none") -> Any:
    """x * Phi(x) = x/2 (1 + erf(x / sqrt(2))); approximate='tanh': x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"""
    if approximate == "none":
        return 0.5 * x * (1 + (x * (1 / math.sqrt(2))).erf())
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Any) -> Any:
    """x * sigmoid(x) (also called swish)"""
    return x * x.sigmoid()


def batch_normalize(x: Any, axes: tuple[int, ...], eps: float) -> tuple[Any, Any, Any]:
    """(x - mean) / sqrt(var + eps) over ``axes`` with the biased variance; returns it, the mean and the variance
    (both with the reduced axes kept, for the running statistics)."""
    mean = x.mean(axes, keepdim=True)
    centered = x - mean
    variance = (centered * centered).mean(axes, keepdim=True)
    return centered / (variance + eps).sqrt(), mean, variance
