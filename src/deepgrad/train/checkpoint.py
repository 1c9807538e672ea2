"""Checkpoints: everything needed to resume training exactly, in one safetensors file.

The arrays (model weights, optimizer buffers) are the file's tensors; everything else (epoch, history,
optimizer hyper-parameters, scheduler state, random generator states) is JSON in the file's metadata.
The file is written atomically (`deepgrad.io.save`), so an interruption (a crash, Ctrl-C) leaves the
previous complete checkpoint in place, and reading never unpickles anything.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from deepgrad import backend, io
from deepgrad.errors import CheckpointError, NotACheckpointError, OutputError
from deepgrad.tensor import Tensor
from deepgrad.train.callbacks import Callback, unwrapped

_META_KEY = io.CHECKPOINT_KEY
FORMAT_VERSION = 1


def _encode(value: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """JSON-able skeleton of ``value``; arrays go into ``arrays`` and are referenced by name."""
    if isinstance(value, Tensor):
        value = value.array
    if isinstance(value, np.ndarray):
        arrays[prefix] = value
        return {"__array__": prefix}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {"__items__": [[k, _encode(v, f"{prefix}/{k}", arrays)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_encode(v, f"{prefix}/{i}", arrays) for i, v in enumerate(value)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"checkpoint: cannot store a {type(value).__name__} at {prefix!r}")


def _decode(value: Any, arrays: dict[str, Tensor]) -> Any:
    if isinstance(value, dict):
        if "__array__" in value:
            return arrays[value["__array__"]]
        if "__tuple__" in value:
            return tuple(_decode(v, arrays) for v in value["__tuple__"])
        return {k: _decode(v, arrays) for k, v in value["__items__"]}
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    return value


def _stateful(callbacks: Any) -> list[tuple[str, Any]]:
    """``(key, callback)`` for the callbacks with a ``state_dict``: keyed by class name, numbered when repeated."""
    pairs: list[tuple[str, Any]] = []
    for callback in callbacks or ():
        if hasattr(callback, "state_dict") and hasattr(callback, "load_state_dict"):
            name = type(callback).__name__
            count = sum(1 for key, _ in pairs if key.split("#")[0] == name)
            pairs.append((f"{name}#{count + 1}" if count else name, callback))
    return pairs


def save_checkpoint(
    path: str | os.PathLike,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    history: Any = None,
    train_loader: Any = None,
    extra: dict | None = None,
    callbacks: Any = (),
) -> None:
    """Write model, optimizer, scheduler, epoch count, history, RNG states and the states of stateful
    ``callbacks`` (e.g. `EarlyStopping`) to ``path`` atomically."""
    state = {
        "format": FORMAT_VERSION,
        "epoch": int(epoch),
        "model": unwrapped(model).state_dict(),
        "optimizer_type": type(optimizer).__name__ if optimizer is not None else None,
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "history": getattr(history, "history", history),
        "rng": backend.get_rng_state(),
        "loader": train_loader.state_dict() if hasattr(train_loader, "state_dict") else None,
        "extra": extra or {},
        "callbacks": {key: callback.state_dict() for key, callback in _stateful(callbacks)},
    }
    arrays: dict[str, np.ndarray] = {}
    skeleton = _encode(state, "ckpt", arrays)
    io.save(arrays, path, metadata={_META_KEY: json.dumps(skeleton)})


# What a load of a saved state into an object raises when the state is malformed.
_MALFORMED = (KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError)


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """The checkpoint's state (``epoch``, ``model``, ``optimizer``, ``history``, ``rng``, ...) with every field
    checked for its type; CheckpointError naming the file and the field otherwise. Nothing is restored."""
    path = os.fspath(path)
    metadata = io.load_metadata(path)
    if _META_KEY not in metadata:
        raise NotACheckpointError(path)
    skeleton = io.parse_json(metadata[_META_KEY], f"{path}: the checkpoint's metadata", CheckpointError)
    try:
        state = _decode(skeleton, dict(io.read_tensors(path)))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise CheckpointError(f"{path}: the checkpoint is damaged: {error}") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the checkpoint is damaged: its metadata is not a dict")
    if state.get("format") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format {state.get('format')} is not supported (expected {FORMAT_VERSION})"
        )
    _check_fields(path, state)
    return state


def _check_fields(path: str, state: dict[str, Any]) -> None:
    def bad(field: str, expected: str) -> CheckpointError:
        return CheckpointError(
            f"{path}: field {field!r} of the checkpoint must be {expected}, got {state.get(field)!r}"
        )

    epoch = state.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
        raise bad("epoch", "a non-negative integer")
    if not isinstance(state.get("model"), dict) or not all(isinstance(v, Tensor) for v in state["model"].values()):
        raise bad("model", "a dict of tensors")
    for field in ("optimizer", "scheduler", "loader"):
        if state.get(field) is not None and not isinstance(state[field], dict):
            raise bad(field, "a dict or null")
    if state.get("optimizer_type") is not None and not isinstance(state["optimizer_type"], str):
        raise bad("optimizer_type", "a string or null")
    history = state.get("history")
    if history is not None and not (
        isinstance(history, dict)
        and all(isinstance(k, str) and isinstance(v, list) for k, v in history.items())
        and all(isinstance(x, (int, float)) or x is None for v in history.values() for x in v)
    ):
        raise bad("history", "a dict of lists of numbers")
    if not isinstance(state.get("rng"), dict):
        raise bad("rng", "a random generator state (a dict)")
    for field in ("extra", "callbacks"):
        if not isinstance(state.get(field, {}), dict):
            raise bad(field, "a dict")


def checkpoint_settings(path: str | os.PathLike) -> dict[str, Any]:
    """What a training run recorded in its checkpoint beside the state (``extra``: the model's config, the seed)."""
    return read_checkpoint(path).get("extra") or {}


def load_checkpoint(
    path: str | os.PathLike,
    model: Any,
    optimizer: Any = None,
    scheduler: Any = None,
    train_loader: Any = None,
    callbacks: Any = (),
) -> dict[str, Any]:
    """Restore what `save_checkpoint` wrote into the given objects; returns epoch, history and extra.

    Raises `CheckpointError` (a ValueError) naming the file when it is damaged or does not fit the model,
    the optimizer or the data loader (another data split or batch size); `NotACheckpointError` when it
    holds weights only.
    """
    path = os.fspath(path)
    state = read_checkpoint(path)
    _restore(path, "model", lambda: unwrapped(model).load_state_dict(state["model"]))
    if optimizer is not None:
        _restore_optimizer(path, state, optimizer)
    if scheduler is not None and state.get("scheduler") is not None:
        _restore(path, "scheduler", lambda: scheduler.load_state_dict(state["scheduler"]))
    if train_loader is not None and state.get("loader") is not None and hasattr(train_loader, "load_state_dict"):
        _restore(
            path,
            "data loader (another data set, split or batch size?)",
            lambda: train_loader.load_state_dict(state["loader"]),
        )
    saved_callbacks = state.get("callbacks") or {}
    for key, callback in _stateful(callbacks):
        if key in saved_callbacks:
            _restore(path, f"callback {key}", lambda c=callback, k=key: c.load_state_dict(saved_callbacks[k]))
    _restore(path, "random generator", lambda: backend.set_rng_state(state["rng"]), "its state is malformed")
    return {"epoch": state["epoch"], "history": state.get("history") or {}, "extra": state.get("extra") or {}}


def _restore(path: str, what: str, load: Any, problem: str = "") -> None:
    try:
        load()
    except _MALFORMED as error:
        raise CheckpointError(
            f"{path}: the checkpoint does not fit this {what}: {problem or _one_line(error)}"
        ) from None


def _restore_optimizer(path: str, state: dict[str, Any], optimizer: Any) -> None:
    if state.get("optimizer") is None:
        raise CheckpointError(f"{path}: the checkpoint holds no optimizer state (field 'optimizer' is null)")
    saved_type = state.get("optimizer_type")
    # An optimizer's state of another kind loads without complaint and fails at the next step().
    if saved_type is not None and saved_type != type(optimizer).__name__:
        raise CheckpointError(
            f"{path}: the checkpoint holds the state of optimizer {saved_type}, "
            f"this run uses {type(optimizer).__name__}"
        )
    _restore(path, "optimizer", lambda: optimizer.load_state_dict(state["optimizer"]))


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


class Checkpoint(Callback):
    """Save a resumable checkpoint to ``path`` at the end of every ``every``-th epoch (atomically)."""

    def __init__(self, path: str | os.PathLike, every: int = 1, extra: dict | None = None) -> None:
        if every <= 0:
            raise ValueError(f"Checkpoint: every must be positive, got {every}")
        self.path, self.every, self.extra = path, every, extra

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        if (state.epoch + 1) % self.every == 0:
            try:
                self._save(state)
            except OSError as error:
                kept = f"the file there holds an earlier epoch; continue from it with `resume` {self.path}"
                if not os.path.exists(self.path):
                    kept = "no checkpoint was written"
                reason = error.strerror or _one_line(error)
                raise OutputError(
                    f"training stopped after epoch {state.epoch + 1}: cannot write `checkpoint` {self.path}: "
                    f"{reason}; {kept}"
                ) from None

    def _save(self, state: Any) -> None:
        save_checkpoint(
            self.path,
            state.model,
            state.optimizer,
            state.scheduler,
            state.epoch + 1,
            state.history,
            state.train_loader,
            self.extra,
            # Put Checkpoint after EarlyStopping in ``callbacks`` so the saved state includes this epoch.
            [c for c in getattr(state, "callbacks", ()) if c is not self],
        )
