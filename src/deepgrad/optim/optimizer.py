"""`Optimizer`: parameter groups, per-parameter state, `step`, `zero_grad` and PyTorch-layout state dicts.

An optimizer holds ``param_groups`` (a list of dicts: ``"params"`` plus the hyper-parameters, every
default filled in) and ``state`` (a dict keyed by the parameter Tensor itself, holding buffers such as
the momentum). Subclasses write one method, ``_update_group(group)``, which changes ``p.array`` in place.

Updates run on the raw NumPy arrays with ``out=`` arguments into state buffers and into a few scratch
arrays the optimizer keeps (``_scratch``), so after the first step a step allocates no new arrays, and
float32 parameters stay float32: hyper-parameters are used as Python floats, which NumPy treats as
"weak" scalars that take the array's dtype (a NumPy float64 scalar would silently compute in float64).
"""

from __future__ import annotations

import copy
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from deepgrad import backend, compiled
from deepgrad.autograd.grad_mode import enable_grad, no_grad
from deepgrad.tensor import Tensor

# Below this many elements an update stays on NumPy's separate passes: a compiled call costs a few
# microseconds more than one NumPy operation.
ONE_PASS_MIN_SIZE = 4096

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: ``param_groups``, ``state``, ``zero_grad``, ``step`` and ``state_dict``/``load_state_dict``.

    >>> import deepgrad
    >>> from deepgrad.optim import SGD
    >>> w = deepgrad.ones(2, requires_grad=True)
    >>> opt = SGD([w], lr=0.5)
    >>> (w * w).sum().backward()
    >>> opt.step(); w
    tensor([0., 0.], requires_grad=True)
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        self._scratch_buffers: dict[tuple[int, np.dtype], np.ndarray] = {}
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a single Tensor of shape "
                f"{params.shape}; wrap it in a list: {name}([w], ...)"
            )
        if isinstance(params, Mapping):
            raise TypeError(
                f"{name}: params must be an iterable of Tensors or of dicts, got a {type(params).__name__} "
                "(a state_dict?); pass model.parameters()"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: params is a set, whose order changes between runs; pass a list "
                "(e.g. list(model.parameters()))"
            )
        groups = list(params)
        if not groups:
            raise ValueError(f"{name} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own hyper-parameters (missing ones take the defaults).

        >>> import deepgrad
        >>> from deepgrad.optim import SGD
        >>> a, b = deepgrad.ones(2, requires_grad=True), deepgrad.ones(3, requires_grad=True)
        >>> opt = SGD([a], lr=0.1)
        >>> opt.add_param_group({"params": [b], "lr": 0.01})
        >>> [g["lr"] for g in opt.param_groups]
        [0.1, 0.01]
        """
        index = len(self.param_groups)
        params = self._group_params(param_group, index)
        group = {"params": params}
        for key, value in param_group.items():
            if key != "params":
                group[key] = value
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self._check_group(group, index)
        self.param_groups.append(group)
        self._init_group_state(group)

    def _group_params(self, param_group: Any, index: int) -> list[Tensor]:
        """The checked parameter list of a new group: a dict with 'params', leaves of floating-point dtype,
        each listed once and in no other group."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(
                f"{name}: param group {index} must be a dict with a 'params' entry, got {type(param_group).__name__}"
            )
        if "params" not in param_group:
            raise ValueError(f"{name}: param group {index} has no 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(
                f"{name}: the parameters of group {index} are in a set, whose order changes between runs; "
                "pass a list (e.g. list(model.parameters()))"
            )
        params = list(params)
        if not params:
            raise ValueError(f"{name} got an empty parameter list (param group {index})")
        seen: dict[int, int] = {}
        for position, p in enumerate(params):
            self._check_param(p, position, index)
            if id(p) in seen:
                raise ValueError(
                    f"{name}: param group {index} lists the same parameter (shape {p.shape}) twice, at positions "
                    f"{seen[id(p)]} and {position}"
                )
            seen[id(p)] = position
        for other_index, other in enumerate(self.param_groups):
            for p in other["params"]:
                if id(p) in seen:
                    raise ValueError(
                        f"{name}: a parameter (shape {p.shape}) appears in more than one parameter group "
                        f"(groups {other_index} and {index})"
                    )
        return params

    def _check_param(self, p: Any, position: int, index: int) -> None:
        name = type(self).__name__
        if not isinstance(p, Tensor):
            raise TypeError(
                f"{name}: parameter {position} of group {index} is a {type(p).__name__}, not a deepgrad Tensor"
            )
        if p.grad_fn is not None:
            raise ValueError(
                f"{name}: parameter {position} of group {index} (shape {p.shape}) is not a leaf tensor "
                "(it was computed by an op); optimize the leaf it comes from, or detach() it"
            )
        if p.dtype.kind != "f":
            raise TypeError(
                f"{name}: parameter {position} of group {index} has dtype {p.dtype}; only floating-point "
                "tensors can be optimized"
            )

    def _check_group(self, group: dict[str, Any], index: int) -> None:
        """Raise a clear error for invalid hyper-parameters (subclasses extend this)."""
        _check_number(self, group, index, "lr", low=0.0)

    def _init_group_state(self, group: dict[str, Any]) -> None:
        """Create state eagerly when the optimizer needs it before the first step (Adagrad does)."""

    # ------------------------------------------------------------------ stepping

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    if p.grad.grad_fn is not None:  # a gradient recorded with create_graph
                        p.grad = p.grad.detach()
                    p.grad.array[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns ``closure()`` if given.

        ``closure`` re-evaluates the model and returns the loss (it runs with gradients enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} does not implement _update_group (or step)")

    def _params_with_grad(self, group: dict[str, Any]) -> list[tuple[Tensor, np.ndarray]]:
        """(parameter, gradient array) for the parameters of ``group`` whose ``grad`` is set."""
        pairs = []
        for p in group["params"]:
            grad = p.grad
            if grad is None:
                continue
            if grad.shape != p.shape:
                raise RuntimeError(
                    f"{type(self).__name__}: a parameter of shape {p.shape} has a gradient of shape {grad.shape}"
                )
            pairs.append((p, grad.array))
        return pairs

    def _state_for(self, p: Tensor, buffers: tuple[str, ...]) -> dict[str, Any]:
        """``p``'s state for this step: the step count, one up (from 0 on first use), and a buffer of zeros shaped
        like ``p`` for each name in ``buffers`` (also for a buffer first asked for later, when an option is
        switched on after some steps, so it starts at zero as it would have at step one)."""
        state = self.state[p]
        state["step"] = state.get("step", 0) + 1
        for name in buffers:
            if name not in state:
                state[name] = Tensor._make(np.zeros_like(p.array), False, None)
        return state

    @staticmethod
    def _hyper(group: dict[str, Any], *names: str) -> tuple[float, ...]:
        """The group's hyper-parameters as Python floats (NumPy treats them as "weak" scalars: float32 stays)."""
        return tuple(float(group[name]) for name in names)

    def _scratch(self, slot: int, like: np.ndarray) -> np.ndarray:
        """A temporary array shaped like ``like``: a view into a buffer reused by every parameter and step."""
        key = (slot, like.dtype)
        buffer = self._scratch_buffers.get(key)
        if buffer is None or buffer.size < like.size:
            buffer = np.empty(like.size, dtype=like.dtype, like=like)
            self._scratch_buffers[key] = buffer
        return buffer[: like.size].reshape(like.shape)

    @staticmethod
    def _one_pass(*arrays: Any) -> bool:
        """Whether an update may run as one compiled pass (``ops/kernels.py``): numba is on and the arrays are
        contiguous NumPy arrays of one float dtype and at least ``ONE_PASS_MIN_SIZE`` elements."""
        kind = arrays[0].dtype
        return (
            compiled.usable_flat(*arrays, min_size=ONE_PASS_MIN_SIZE)
            and kind.kind == "f"
            and all(array.dtype == kind for array in arrays)
        )

    def _effective_grad(self, param: np.ndarray, grad: np.ndarray, maximize: bool, weight_decay: float) -> np.ndarray:
        """d = (-grad if maximize else grad) + weight_decay * param, in scratch slot 0 (``grad`` itself if neither)."""
        if weight_decay != 0:
            out = self._scratch(0, param)
            np.multiply(param, weight_decay, out=out)
            if maximize:
                np.subtract(out, grad, out=out)
            else:
                np.add(grad, out, out=out)
            return out
        if maximize:
            return np.negative(grad, out=self._scratch(0, param))
        return grad

    @staticmethod
    def _bump_version(p: Tensor) -> None:
        # The update writes p.array in place behind the Tensor methods' back; bumping the version lets the
        # engine refuse a backward through a graph that saved the old values (as PyTorch does).
        p._bump_version()

    # ------------------------------------------------------------------ state dicts

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout.

        ``{"state": {index: {name: Tensor or number}}, "param_groups": [{..., "params": [index, ...]}]}``
        where parameters are numbered 0, 1, ... across the groups in order. Unlike PyTorch the tensors are
        copies, so the dict is a snapshot that later steps do not change.

        >>> import deepgrad
        >>> from deepgrad.optim import SGD
        >>> w = deepgrad.ones(2, requires_grad=True)
        >>> SGD([w], lr=0.1, momentum=0.9).state_dict()["param_groups"][0]["params"]
        [0]
        """
        index_of: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {key: copy.deepcopy(value) for key, value in group.items() if key != "params"}
            packed["params"] = []
            for p in group["params"]:
                index_of[id(p)] = len(index_of)
                packed["params"].append(index_of[id(p)])
            groups.append(packed)
        state = {}
        for p, values in self.state.items():
            if id(p) in index_of and values:
                state[index_of[id(p)]] = {key: _snapshot(value) for key, value in values.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a dict from ``state_dict()`` (same groups, same parameter counts, same shapes).

        Floating-point buffers are copied and cast to their parameter's dtype; ``step`` may be a number or
        a one-element tensor; lists where the defaults hold tuples (``betas`` read back from JSON) become tuples.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{name}.load_state_dict: expected a dict with 'state' and 'param_groups' entries")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{name}.load_state_dict: the saved state has {len(saved_groups)} parameter groups, "
                f"this optimizer has {len(self.param_groups)}"
            )
        params_by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            saved_params = list(saved["params"])
            if len(saved_params) != len(group["params"]):
                raise ValueError(
                    f"{name}.load_state_dict: saved parameter group {i} has {len(saved_params)} parameters, "
                    f"this optimizer's group {i} has {len(group['params'])}"
                )
            for index, p in zip(saved_params, group["params"]):
                params_by_index[int(index)] = p

        new_state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for raw_index, values in state_dict["state"].items():
            index = int(raw_index)  # JSON turns the integer keys into strings
            if index not in params_by_index:
                raise ValueError(
                    f"{name}.load_state_dict: the saved state refers to parameter {index}, which no saved "
                    f"parameter group lists"
                )
            p = params_by_index[index]
            new_state[p] = {key: _restore(name, key, value, p) for key, value in values.items()}

        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            new_group = dict(group)
            for key, value in saved.items():
                if key == "params":
                    continue
                if isinstance(value, list) and isinstance(self.defaults.get(key), tuple):
                    value = tuple(value)
                new_group[key] = copy.deepcopy(value)
            self._check_group(new_group, i)
            new_groups.append(new_group)
        self.param_groups = new_groups
        self.state = new_state

    # ------------------------------------------------------------------ display

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# ---------------------------------------------------------------------- helpers


def _check_number(
    optimizer: Any,
    group: dict[str, Any],
    index: int,
    key: str,
    low: float | None = None,
    high: float | None = None,
    high_inclusive: bool = False,
    value: Any = None,
    label: str | None = None,
) -> None:
    """Raise ValueError/TypeError unless group[key] (or ``value``) is a real number in [low, high) / [low, high]."""
    value = group[key] if value is None else value
    label = label or key
    where = f"{type(optimizer).__name__}: {label}={value!r} in param group {index}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: must be a real number")
    if math.isnan(value):
        raise ValueError(f"{where}: must not be NaN")
    if low is not None and value < low:
        bound = f"in [{low}, {high}{']' if high_inclusive else ')'}" if high is not None else f">= {low}"
        raise ValueError(f"{where}: must be {bound}")
    if high is not None and (value > high or (value == high and not high_inclusive)):
        raise ValueError(f"{where}: must be in [{low}, {high}{']' if high_inclusive else ')'}")


def _snapshot(value: Any) -> Any:
    """A copy of a state value that later in-place updates cannot change."""
    if isinstance(value, Tensor):
        return Tensor(value.array, dtype=value.dtype)
    if backend.is_array(value):
        return Tensor(value, dtype=value.dtype)
    return copy.deepcopy(value)


def _restore(name: str, key: str, value: Any, param: Tensor) -> Any:
    """A loaded state value as the optimizer keeps it: a fresh Tensor (cast to the parameter's dtype) or a number."""
    if isinstance(value, Tensor) or backend.is_array(value):
        array = value.array if isinstance(value, Tensor) else value
        if key == "step":
            if array.size != 1:
                raise ValueError(
                    f"{name}.load_state_dict: 'step' must be a number, got an array of shape {array.shape}"
                )
            step = float(array.reshape(()))
            return int(step) if step.is_integer() else step
        if array.ndim and array.shape != param.shape:
            raise ValueError(
                f"{name}.load_state_dict: state '{key}' has shape {array.shape} but its parameter has shape "
                f"{param.shape}"
            )
        dtype = param.dtype if array.dtype.kind == "f" else array.dtype
        return Tensor(array, dtype=dtype)  # a copy
    return copy.deepcopy(value)
