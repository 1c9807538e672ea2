"""The training loop: `fit` and `evaluate`.

One training step is the lectures' mini-batch gradient descent: forward, loss, backward, update.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import no_grad
from deepgrad.distributed.process_group import ReduceOp, all_reduce_array, rank_and_size
from deepgrad.train.callbacks import Callback
from deepgrad.train.metrics import confusion_matrix, count_correct, is_classification
from deepgrad.train.progress import Progress, want_progress


@dataclass
class History:
    """Per-epoch metrics: ``history["loss"]``, ``history["val_accuracy"]``, ... (as Keras' History)."""

    history: dict[str, list[float]] = field(default_factory=dict)

    def append(self, logs: dict[str, float]) -> None:
        for key, value in logs.items():
            self.history.setdefault(key, []).append(float(value))

    def __getitem__(self, key: str) -> list[float]:
        return self.history[key]

    def __contains__(self, key: str) -> bool:
        return key in self.history

    @property
    def epochs(self) -> int:
        return len(next(iter(self.history.values()), []))


@dataclass
class TrainingState:
    """What callbacks see and may change (``stop_training``)."""

    model: Any
    optimizer: Any
    train_loader: Any
    scheduler: Any = None
    epoch: int = 0
    history: History = field(default_factory=History)
    stop_training: bool = False
    callbacks: Sequence[Callback] = ()


@dataclass
class EvaluationResult:
    """Mean loss, accuracy (None for regression) and confusion matrix (None for regression)."""

    loss: float
    accuracy: float | None
    confusion: np.ndarray | None
    count: int

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"loss": self.loss, "count": self.count}
        if self.accuracy is not None:
            out["accuracy"] = self.accuracy
            out["confusion_matrix"] = self.confusion.tolist()
        return out


def _batch_size(x: Any) -> int:
    return int(x.shape[0])


def _step_scheduler(scheduler: Any, logs: dict[str, float]) -> None:
    if scheduler is None:
        return
    if type(scheduler).__name__ == "ReduceLROnPlateau":
        scheduler.step(logs.get("val_loss", logs["loss"]))
    else:
        scheduler.step()


def fit(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any,
    train_loader: Iterable,
    epochs: int,
    val_loader: Iterable | None = None,
    scheduler: Any = None,
    callbacks: Sequence[Callback] = (),
    metrics: Sequence[str] = ("accuracy",),
    regularizer: Callable[[], Any] | None = None,
    quiet: bool | None = None,
    start_epoch: int = 0,
    history: History | None = None,
    scheduler_interval: str = "epoch",
) -> History:
    """Train ``model`` for ``epochs`` epochs and return the per-epoch `History`.

    Each step: ``loss = loss_fn(model(x), y) (+ regularizer())``, ``zero_grad``, ``backward``, ``step``.
    After each epoch: validation (if ``val_loader``), the scheduler, then the callbacks, which may stop
    training. ``scheduler_interval="step"`` steps the scheduler after every optimizer step instead (a
    per-batch schedule such as `OneCycleLR`). The history's ``lr`` is the lr of the epoch's last step.
    ``start_epoch``/``history`` continue an earlier run (see `Checkpoint`).

    >>> # history = fit(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1), loader, epochs=5)
    """
    if not isinstance(epochs, int) or epochs <= 0:
        raise ValueError(f"fit: epochs must be a positive integer, got {epochs!r}")
    if scheduler_interval not in ("epoch", "step"):
        raise ValueError(f"fit: scheduler_interval must be 'epoch' or 'step', got {scheduler_interval!r}")
    per_step = scheduler if scheduler_interval == "step" else None
    unknown = set(metrics) - {"accuracy"}
    if unknown:
        raise ValueError(f"fit: unknown metrics {sorted(unknown)}; available: ['accuracy']")
    state = TrainingState(
        model, optimizer, train_loader, scheduler, start_epoch, history or History(), callbacks=tuple(callbacks)
    )
    show = want_progress(quiet) and rank_and_size()[0] == 0  # distributed: only rank 0 prints
    for callback in callbacks:
        callback.on_train_begin(state)
    epoch_bar = Progress(range(start_epoch, epochs), show and epochs - start_epoch > 1, desc="epochs")
    try:
        for epoch in epoch_bar:
            state.epoch = epoch
            _set_sampler_epoch(train_loader, epoch)
            logs, lr = _train_one_epoch(
                model, loss_fn, optimizer, train_loader, regularizer, metrics, show, (epoch, epochs), per_step
            )
            if val_loader is not None:
                result = evaluate(model, val_loader, loss_fn, quiet=True)
                logs["val_loss"] = result.loss
                if result.accuracy is not None and "accuracy" in metrics:
                    logs["val_accuracy"] = result.accuracy
            logs["lr"] = lr
            state.history.append(logs)
            if per_step is None:
                _step_scheduler(scheduler, logs)
            for callback in callbacks:
                callback.on_epoch_end(state, logs)
            epoch_bar.postfix(force=True, **{k: v for k, v in logs.items() if k != "lr"})
            if state.stop_training:
                break
    finally:
        epoch_bar.close()
    for callback in callbacks:
        callback.on_train_end(state)
    return state.history


def _train_one_epoch(
    model: Any,
    loss_fn: Callable,
    optimizer: Any,
    loader: Iterable,
    regularizer: Callable | None,
    metrics: Sequence[str],
    show: bool,
    position: tuple[int, int],
    scheduler: Any = None,
) -> tuple[dict[str, float], float]:
    """One pass over ``loader``: the epoch's mean loss (and accuracy), and the lr of its last step.
    ``position``: (epoch, epochs) for the progress bar and messages; ``scheduler``: stepped after every step."""
    epoch, epochs = position
    model.train()
    lr = float(optimizer.param_groups[0]["lr"])
    total_loss, correct, seen, classification = 0.0, 0, 0, None
    bar = Progress(loader, show, total=_len_or_none(loader), desc=f"epoch {epoch + 1}/{epochs}", leave=False)
    try:
        for x, y in bar:
            out = model(x)
            loss = loss_fn(out, y)
            if regularizer is not None:
                loss = loss + regularizer()
            optimizer.zero_grad()
            loss.backward()
            lr = optimizer.param_groups[0]["lr"]
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            n = _batch_size(x)
            value = loss.item()
            if not np.isfinite(value):
                raise FloatingPointError(
                    f"the training loss became {value} in epoch {epoch + 1}; lower the learning rate "
                    "(or use deepgrad.autograd.detect_anomaly() to find the op)"
                )
            total_loss += value * n
            seen += n
            if classification is None:
                classification = "accuracy" in metrics and is_classification(out, y)
            if classification:
                correct += count_correct(out, y)
            bar.postfix(loss=total_loss / seen, **({"acc": correct / seen} if classification else {}))
    finally:
        bar.close()
    if _is_sharded(loader):  # every rank logs (and its callbacks decide on) the metrics of all shards
        total_loss, correct, seen = all_reduce_array(np.array([total_loss, correct, seen], dtype=np.float64))
        correct, seen = int(correct), int(seen)
    if seen == 0:
        raise ValueError("fit: the training loader yielded no batches")
    logs = {"loss": total_loss / seen}
    if classification:
        logs["accuracy"] = correct / seen
    return logs, float(lr)


def _set_sampler_epoch(loader: Any, epoch: int) -> None:
    """A `DistributedSampler` draws each epoch's permutation from ``seed + epoch``: tell it the epoch."""
    set_epoch = getattr(getattr(loader, "sampler", None), "set_epoch", None)
    if set_epoch is not None:
        set_epoch(epoch)


def _is_sharded(loader: Any) -> bool:
    """True when this loader reads one rank's shard (a `DistributedSampler`, a `ShardedLoader`) inside a
    process group."""
    replicas = getattr(loader, "num_replicas", None) or getattr(getattr(loader, "sampler", None), "num_replicas", 1)
    return replicas > 1 and rank_and_size()[1] > 1


def _len_or_none(loader: Any) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def evaluate(
    model: Any, loader: Iterable, loss_fn: Callable[[Any, Any], Any] | None = None, quiet: bool | None = True
) -> EvaluationResult:
    """Mean loss, accuracy and confusion matrix of ``model`` over ``loader`` (in eval mode, no graph).

    The loss is averaged over samples (``loss_fn`` is assumed to average over its batch). When the loader
    reads one rank's shard (a `DistributedSampler`), loss, accuracy and confusion matrix are those of all
    shards together, on every rank (the sampler's padding samples included, as PyTorch's).
    """
    was_training = getattr(model, "training", False)
    model.eval()
    total_loss, seen = 0.0, 0
    predictions, targets = [], []
    classification: bool | None = None
    bar = Progress(loader, want_progress(quiet), total=_len_or_none(loader), desc="evaluate", leave=False)
    try:
        with no_grad():
            for x, y in bar:
                out = model(x)
                n = _batch_size(x)
                if loss_fn is not None:
                    total_loss += loss_fn(out, y).item() * n
                seen += n
                if classification is None:
                    classification = is_classification(out, y)
                if classification:
                    predictions.append(out.array.argmax(axis=1))
                    targets.append(np.asarray(y.array))
    finally:
        bar.close()
        model.train(was_training)
    if seen == 0:
        raise ValueError("evaluate: the loader yielded no batches")
    sharded = _is_sharded(loader)
    if sharded:
        total_loss, seen = all_reduce_array(np.array([total_loss, seen], dtype=np.float64))
        seen = int(seen)
    if not classification:
        return EvaluationResult(total_loss / seen, None, None, seen)
    predicted, target = np.concatenate(predictions), np.concatenate(targets)
    confusion = confusion_matrix(predicted, target, int(out.shape[1]))
    accuracy = float((predicted == target).mean())
    if sharded:
        confusion = all_reduce_array(np.ascontiguousarray(confusion, dtype=np.int64), ReduceOp.SUM)
        accuracy = float(np.trace(confusion) / confusion.sum())
    return EvaluationResult(total_loss / seen, accuracy, confusion, seen)
