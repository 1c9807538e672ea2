"""Anomaly detection: find the op, and the line of your code, where a NaN or an infinity first appears.

Inside ``with deepgrad.autograd.detect_anomaly():`` every op checks its output for NaN/inf as soon as it
runs, and every recorded node remembers where it was created (the first frame outside deepgrad, plus the
deepgrad frames in between such as ``nn.functional``). The backward engine then checks each node's
gradients and, on a NaN or an infinity, raises naming the op and showing the line that created it.

Off by default, and then free: ``Function.apply`` tests one class attribute, ``_ANOMALY.enabled``, and
the engine tests ``fn.creation_site``, a class attribute that stays None. Leaving the context restores
exactly the state before it (``benchmarks/bench_anomaly.py`` measures this).
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from deepgrad.autograd.function import _ANOMALY, Function
from deepgrad.backend import is_array

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# Frames in these files are deepgrad's machinery (ops, Tensor methods, the engine): never shown.
_CORE = tuple(
    os.path.join(_PACKAGE, part)
    for part in ("autograd" + os.sep, "ops" + os.sep, "tensor.py", "functions.py", "creation.py")
)
_MAX_FRAMES = 8
_ENGINE_FILE = os.path.join(_PACKAGE, "autograd", "engine.py")
# The engine's functions that work for one node ``fn``: its backward, and fitting what it returned to the inputs.
_ENGINE_NODE_STEPS = ("_run_node", "_deliver")


class AnomalyError(RuntimeError):
    """A forward value or a gradient became NaN or infinite under ``detect_anomaly``."""


def _op_name(fn: Any) -> str:
    cls = fn if isinstance(fn, type) else type(fn)
    return cls.name() if hasattr(cls, "name") else cls.__name__.lower()


def _creation_frames() -> tuple[tuple[str, int, str], ...]:
    """(file, line, function) from the first frame outside deepgrad's core up to the first user frame."""
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(_CORE):
        frame = frame.f_back
    frames = []
    while frame is not None and len(frames) < _MAX_FRAMES:
        filename = frame.f_code.co_filename
        frames.append((filename, frame.f_lineno, frame.f_code.co_name))
        if not filename.startswith(_PACKAGE):
            break  # the user's line: the rest of the stack is the user's own business
        frame = frame.f_back
    return tuple(frames)


def _format_frames(frames: tuple[tuple[str, int, str], ...]) -> str:
    if not frames:
        return "  (no Python frame outside deepgrad)"
    lines = []
    for filename, lineno, name in reversed(frames):  # outermost (the user's line) first, as in a traceback
        lines.append(f'  File "{filename}", line {lineno}, in {name}')
        source = linecache.getline(filename, lineno).strip()
        if source:
            lines.append(f"    {source}")
    return "\n".join(lines)


def _bad_values(array: Any) -> str | None:
    """None when all finite, else e.g. ``2 of 6 values are nan, inf`` (``array``: any registered array type,
    or a NumPy scalar as a 0-d op may return)."""
    if not is_array(array):
        array = np.asarray(array)
    if array.dtype.kind not in "fc":
        return None
    finite = np.isfinite(array)
    if bool(np.all(finite)):
        return None
    bad = array[~finite]
    kinds = [word for word, test in (("nan", np.isnan), ("inf", np.isinf)) if bool(np.any(test(bad)))]
    return f"{bad.size} of {array.size} values are {', '.join(kinds)}"


class CreationSite:
    """Where a node was created in the forward pass; checks the node's gradients in backward."""

    __slots__ = ("op", "frames", "check_nan")

    def __init__(self, op: str, frames: tuple[tuple[str, int, str], ...], check_nan: bool) -> None:
        self.op = op
        self.frames = frames
        self.check_nan = check_nan

    def check_backward(self, fn: Any, input_grads: tuple) -> None:
        """Called by the engine after ``fn.backward``: raise if a gradient it returned is NaN or infinite."""
        if not self.check_nan:
            return
        for position, grad in enumerate(input_grads):
            if grad is None:
                continue
            data = grad.array if isinstance(grad, Function.tensor_class) else grad
            problem = _bad_values(data)
            if problem is not None:
                raise AnomalyError(
                    f"detect_anomaly: the backward of {self.op} returned a non-finite gradient for its input "
                    f"{position} (shape {tuple(np.shape(data))}: {problem}). The {self.op} was created at:\n"
                    f"{self.format()}"
                )

    def format(self) -> str:
        return _format_frames(self.frames)

    def __repr__(self) -> str:
        where = f"{self.frames[-1][0]}:{self.frames[-1][1]}" if self.frames else "?"
        return f"<CreationSite {self.op} at {where}>"


class detect_anomaly:  # noqa: N801  (a context manager used like a function, as in PyTorch)
    """Raise at the first NaN/inf in a forward value or a gradient, naming the op and the line that created it.

    Use as a context manager around forward and backward, or as a decorator. ``check_nan=False`` only
    records where nodes were created.

    >>> import deepgrad
    >>> x = deepgrad.tensor(0.0, requires_grad=True)
    >>> with deepgrad.autograd.detect_anomaly():
    ...     y = x.log()          # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    deepgrad.autograd.anomaly.AnomalyError: detect_anomaly: the output of log is not finite ...
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        self._saved: list[dict[str, Any]] = []

    def __enter__(self) -> detect_anomaly:
        # Save the hook object's own attributes so leaving restores exactly the state before (outside any
        # detect_anomaly: none, so `enabled` and `on_forward` fall back to the class's False and no-op).
        self._saved.append(dict(vars(_ANOMALY)))
        _ANOMALY.on_forward = self._on_forward
        _ANOMALY.enabled = True
        return self

    def __exit__(self, *exc_info: object) -> None:
        saved = self._saved.pop()
        state = vars(_ANOMALY)
        state.clear()
        state.update(saved)

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self:
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _on_forward(self, fn: Any, out: Any) -> None:
        op = _op_name(fn)
        recorded = not isinstance(fn, type)
        site = None
        if recorded:
            site = CreationSite(op, _creation_frames(), self.check_nan)
            fn.creation_site = site
        if not self.check_nan:
            return
        problem = _bad_values(out.array)
        if problem is None:
            return
        inputs = ""
        if recorded and fn.inputs is not None:
            already = [i for i, t in enumerate(fn.inputs) if _bad_values(t.array) is not None]
            inputs = (
                f"; input {already[0]} was already not finite, so look further back"
                if already
                else "; its inputs were finite"
            )
        node = _node_in_backward()
        if node is not None and node.creation_site is not None:
            # A backward formula running on Tensors (create_graph=True): blame the node whose backward it is.
            owner = node.creation_site
            raise AnomalyError(
                f"detect_anomaly: the backward of {owner.op} returned a non-finite gradient (its {op} gave "
                f"shape {tuple(out.shape)}: {problem}). The {owner.op} was created at:\n{owner.format()}"
            )
        frames = site.frames if site is not None else _creation_frames()
        raise AnomalyError(
            f"detect_anomaly: the output of {op} is not finite (shape {tuple(out.shape)}: {problem}{inputs}). "
            f"The {op} was called at:\n{_format_frames(frames)}"
        )


def _node_in_backward() -> Any:
    """The node whose backward is running, when called from inside the engine's walk, else None."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_name in _ENGINE_NODE_STEPS and code.co_filename == _ENGINE_FILE:
            return frame.f_locals.get("fn")
        frame = frame.f_back
    return None


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()``."""
    return bool(_ANOMALY.enabled)
