"""Callbacks: hooks into `fit` for early stopping, convergence checks and checkpoints."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def unwrapped(model: Any) -> Any:
    """The model itself, also when it is trained wrapped (`DistributedDataParallel`'s ``module``): weights
    and checkpoints of a distributed run are then those of a one-process run."""
    from deepgrad.nn.parallel import DistributedDataParallel

    return model.module if isinstance(model, DistributedDataParallel) else model


class Callback:
    """Base class. ``state`` is the running `TrainingState` (model, optimizer, history, ...)."""

    def on_train_begin(self, state: Any) -> None:
        pass

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        pass

    def on_train_end(self, state: Any) -> None:
        pass


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs
    (the lectures' early stopping on a validation split); ``restore_best`` puts back the weights of the
    best epoch when training ends.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 5,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ) -> None:
        if patience < 0:
            raise ValueError(f"EarlyStopping: patience must be >= 0, got {patience}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min', 'max' or 'auto', got {mode!r}")
        self.monitor, self.patience, self.min_delta, self.mode, self.restore_best = (
            monitor,
            patience,
            min_delta,
            mode,
            restore_best,
        )
        self.best = math.inf if mode == "min" else -math.inf
        self.best_epoch: int | None = None
        self.wait = 0
        self.best_state: dict | None = None
        self.stopped_epoch: int | None = None

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        if self.monitor not in logs:
            raise KeyError(
                f"EarlyStopping monitors {self.monitor!r}, but the epoch's metrics are {sorted(logs)}; "
                "pass a validation loader (val_loader) or monitor a training metric"
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, state.epoch, 0
            if self.restore_best:
                weights = unwrapped(state.model).state_dict()
                self.best_state = {k: np.array(v.array, copy=True) for k, v in weights.items()}
        else:
            self.wait += 1
            if self.wait >= self.patience:
                state.stop_training = True
                self.stopped_epoch = state.epoch

    def on_train_end(self, state: Any) -> None:
        if self.restore_best and self.best_state is not None and self.stopped_epoch is not None:
            unwrapped(state.model).load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        """Best value, its epoch and weights, epochs waited: saved in checkpoints so a resumed run stops
        where an uninterrupted one would."""
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_epoch, self.wait = float(state["best"]), state["best_epoch"], int(state["wait"])
        self.stopped_epoch = state["stopped_epoch"]
        best = state["best_state"]
        self.best_state = None if best is None else {k: np.array(getattr(v, "array", v)) for k, v in best.items()}


class ConvergenceStop(Callback):
    """Full-batch gradient descent as the lectures state it: stop once the training loss decreases by
    less than ``tol`` from one iteration to the next (`converged`). A loss that goes *up* also stops the
    run, reported as divergence (`diverged`: the learning rate is too large), not as convergence."""

    def __init__(self, tol: float, monitor: str = "loss") -> None:
        if tol <= 0:
            raise ValueError(f"ConvergenceStop: tol must be positive, got {tol}")
        self.tol, self.monitor = tol, monitor
        self.previous: float | None = None
        self.converged = False
        self.diverged = False
        self.rise: tuple[float, float] | None = None  # (loss before, loss after) when it went up
        self.iterations = 0

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        value = logs[self.monitor]
        self.iterations = state.epoch + 1
        if self.previous is not None:
            decrease = self.previous - value
            if decrease < 0:
                self.diverged = True
                self.rise = (self.previous, value)
                state.stop_training = True
            elif decrease < self.tol:
                self.converged = True
                state.stop_training = True
        self.previous = value

    def state_dict(self) -> dict[str, Any]:
        # not `diverged`: a run resumed after diverging (with a smaller learning rate, say) starts afresh
        return {"previous": self.previous, "converged": self.converged, "iterations": self.iterations}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.previous, self.converged, self.iterations = state["previous"], state["converged"], state["iterations"]

    def report(self) -> str:
        if self.converged:
            return f"converged after {self.iterations} iterations (loss decrease < {self.tol:g})"
        if self.diverged:
            before, after = self.rise
            return (
                f"diverging: the loss went up from {before:.6g} to {after:.6g} at iteration {self.iterations}; "
                "stopped (lower the learning rate)"
            )
        return f"not converged in {self.iterations} iterations (loss still decreasing by >= {self.tol:g})"
