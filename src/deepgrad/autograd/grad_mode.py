"""Whether operations are recorded for backward: `no_grad`, `enable_grad`, `set_grad_enabled`.

The flag is process-wide (not per thread): deepgrad runs its ops on one thread.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _GradMode:
    enabled = True


GRAD_MODE = _GradMode()


def is_grad_enabled() -> bool:
    """True when new operations are recorded in the graph."""
    return GRAD_MODE.enabled


class _GradModeContext:
    """Base of the context managers below; each instance also works as a decorator."""

    mode: bool

    def __enter__(self) -> None:
        self._previous = GRAD_MODE.enabled
        GRAD_MODE.enabled = self.mode

    def __exit__(self, *exc_info: object) -> None:
        GRAD_MODE.enabled = self._previous

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self.__class__():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


class no_grad(_GradModeContext):
    """Context manager and decorator: operations inside are not recorded (inference, updates).

    >>> import deepgrad
    >>> w = deepgrad.ones(2, requires_grad=True)
    >>> with deepgrad.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    mode = False


class enable_grad(_GradModeContext):
    """Context manager and decorator: turn recording back on inside a `no_grad` block."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """`set_grad_enabled(False)` works like `no_grad()`, `set_grad_enabled(True)` like `enable_grad()`."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __call__(self, func: F) -> F:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with set_grad_enabled(mode):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
