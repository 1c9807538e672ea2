"""Typed settings of a training run (`TrainConfig`), an evaluation (`EvalConfig`), and their checks.

``None`` means "the default": the data set's (hidden sizes, epochs, batch size, learning rate) or, when
evaluating, the one recorded in the weights file. Every check raises `ConfigError` (a ValueError) naming
the setting, before any data is read or any training starts.

>>> config = TrainConfig(ModelConfig("mlp", hidden=[8]), DataConfig("moons"), OptimConfig(epochs=2))
>>> config.optim.lr is None   # SGD's default for the data set, 0.1 for moons
True
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from deepgrad.errors import ConfigError

ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu", "silu")
LOSSES = ("cross-entropy", "mse", "l1")
OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("none", "cosine", "onecycle")


@dataclass
class ModelConfig:
    """Which network: ``name`` (see `deepgrad.train.registry.MODELS`), hidden sizes, activation, dropout."""

    name: str | None = None  # default "mlp"
    hidden: list[int] | None = None  # default: by data set; [] for no hidden layer
    activation: str | None = None  # default "relu"
    dropout: float | None = None  # default 0


@dataclass
class DataConfig:
    """Which data: a name from `deepgrad.train.registry.DATASETS`, where its files are, a validation split."""

    dataset: str | None = None  # default "spirals"
    data_dir: str | os.PathLike | None = None  # image sets: default $DEEPGRAD_DATA or ~/.cache/deepgrad
    download: bool = False
    val_split: float | None = None  # fraction of the training data held out (0.1 with early stopping)
    augment: bool = False  # image sets: random shifts (crop of the padded image) and, for CIFAR-10, flips


@dataclass
class OptimConfig:
    """How to train: loss, optimizer and its settings, epochs, batch size ('full': full-batch gradient
    descent, with ``tol`` its stopping rule), L1 penalty, early-stopping patience."""

    optimizer: str | None = None  # default: the model's (adam for lenet and cnn on images), else sgd
    lr: float | None = None
    momentum: float | None = None  # SGD only; default 0.9
    weight_decay: float = 0.0
    l1: float = 0.0
    loss: str | None = None  # default: cross-entropy for classification, mse for regression
    epochs: int | None = None
    batch_size: int | str | None = None
    tol: float | None = None
    early_stopping: int | None = None
    # 'none'; 'cosine': per epoch, from lr to 0; 'onecycle': per batch, up from lr/25 to lr in the first 30% of
    # the steps and down to lr/25e4 (with SGD momentum, or Adam's beta1, cycling 0.95-0.85-0.95 unless
    # `momentum` is given). Default: the model's
    schedule: str | None = None


@dataclass
class OutputConfig:
    """What to write: weights (``save``), a checkpoint every epoch, plots into a directory, metrics as JSON;
    ``resume`` is a checkpoint to continue from."""

    save: str | os.PathLike | None = None
    checkpoint: str | os.PathLike | None = None
    resume: str | os.PathLike | None = None
    plots: str | os.PathLike | None = None
    metrics_json: str | os.PathLike | None = None


@dataclass
class TrainConfig:
    """Everything `deepgrad.train.run` needs; ``seed`` fixes the initialisation, data order and toy data.

    ``distributed``: train data-parallel on the process group (`deepgrad.distributed`, started by
    ``mpiexec -n N``; without it a world of one); ``optim.batch_size`` is then the global batch, split
    equally over the ranks, and only rank 0 writes the outputs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    outputs: OutputConfig = field(default_factory=OutputConfig)
    seed: int = 0
    distributed: bool = False


@dataclass
class EvalConfig:
    """Everything `deepgrad.train.evaluate_weights` needs; unset model and data settings come from the file."""

    weights: str | os.PathLike
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    batch_size: int | str = 1000
    seed: int | None = None  # the toy test set's seed; default: the training seed recorded in the file
    plots: str | os.PathLike | None = None


# ---------------------------------------------------------------------------------------------- checks


def choice(value: str, choices: Sequence[str], what: str) -> str:
    """``value`` in lower case if it is one of ``choices``; otherwise ConfigError listing them."""
    lowered = str(value).lower()
    if lowered not in choices:
        raise ConfigError(f"unknown {what} {lowered!r}; choose one of: {', '.join(choices)}")
    return lowered


def check_positive(value: float | None, name: str, allow_zero: bool = False) -> None:
    """``value`` (when set) is finite and > 0 (>= 0 with ``allow_zero``)."""
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ConfigError(f"`{name}` must be {'non-negative' if allow_zero else 'positive'}, got {value}")


def check_fraction(value: float, name: str) -> None:
    """0 <= ``value`` < 1 (dropout, momentum)."""
    if not 0 <= value < 1:
        raise ConfigError(f"`{name}` must be in [0, 1), got {value}")


def check_hidden(hidden: Sequence[int]) -> list[int]:
    sizes = list(hidden)
    if any(isinstance(s, bool) or not isinstance(s, int) or s <= 0 for s in sizes):
        raise ConfigError(f"`hidden` sizes must be positive integers, got {sizes}")
    return sizes


def check_schedule(optim: OptimConfig, epochs: int) -> None:
    """Epochs, batch size, tolerance, L1 strength and patience."""
    if epochs <= 0:
        raise ConfigError(f"`epochs` must be positive, got {epochs}")
    batch = optim.batch_size
    if isinstance(batch, str) and batch.lower() != "full":
        raise ConfigError(f"`batch_size` must be a positive integer or 'full', got {batch!r}")
    if not isinstance(batch, str) and batch is not None:
        check_positive(batch, "batch_size")
    if optim.tol is not None:
        check_positive(optim.tol, "tol")
        if not is_full_batch(batch):
            raise ConfigError(
                "`tol` is the stopping rule of full-batch gradient descent: use it with `batch_size='full'`"
            )
    check_positive(optim.l1, "l1", allow_zero=True)
    if optim.early_stopping is not None and optim.early_stopping <= 0:
        raise ConfigError(f"`early_stopping` patience must be positive, got {optim.early_stopping}")
    if optim.schedule is not None:
        choice(optim.schedule, SCHEDULES, "schedule")


def check_optimizer(optim: OptimConfig, lr: float) -> str:
    """The optimizer's name, once its settings are checked."""
    name = choice(optim.optimizer or "sgd", OPTIMIZERS, "optimizer")
    check_positive(lr, "lr")
    check_positive(optim.weight_decay, "weight_decay", allow_zero=True)
    if name == "sgd" and optim.momentum is not None:
        check_fraction(optim.momentum, "momentum")
    if name != "sgd" and optim.momentum is not None:
        raise ConfigError(f"`momentum` applies to `optimizer=sgd`, not {name}")
    return name


def check_loss(name: str | None, task: str) -> str:
    """The loss for a task ("classification" or "regression"): cross-entropy, or mse / l1."""
    if name is None:
        return "cross-entropy" if task == "classification" else "mse"
    name = choice(name, LOSSES, "loss")
    if task == "classification" and name != "cross-entropy":
        raise ConfigError(f"`loss={name}` is for regression (the sine dataset); classification uses cross-entropy")
    if task == "regression" and name == "cross-entropy":
        raise ConfigError("`loss=cross-entropy` needs class labels; the sine dataset is regression: use mse or l1")
    return name


def check_val_split(value: float | None) -> None:
    """0 <= ``value`` < 1; 0 (like None) holds nothing out."""
    if value is not None and not 0 <= value < 1:
        raise ConfigError(f"`val_split` must be between 0 and 1, got {value}")


def check_output(path: str | os.PathLike | None, name: str, directory: bool = False) -> None:
    """Fail before training, not after it, when an output cannot be written where asked: a file (or a
    directory, for plots) is created and removed where the output will go."""
    if path is None:
        return
    target = Path(path)
    try:
        if directory:
            if target.exists() and not target.is_dir():
                raise ConfigError(f"`{name}` {path}: exists and is not a directory")
            existing = next(p for p in (target, *target.parents) if p.exists())
            if not existing.is_dir():
                raise ConfigError(f"`{name}` {path}: {existing} is not a directory")
            _probe(existing, name, path)
            return
        if target.is_dir():
            raise ConfigError(f"`{name}` {path}: is a directory; give a file name")
        if target.exists() and not target.is_file():
            raise ConfigError(f"`{name}` {path}: exists and is not a regular file")
        if not target.parent.is_dir():
            raise ConfigError(f"`{name}` {path}: the directory {target.parent} does not exist")
    except OSError as error:  # e.g. a parent directory this user may not look into
        raise ConfigError(f"`{name}` {path}: {error.strerror or error}") from None
    _probe(target.parent, name, path)


def _probe(directory: Path, name: str, path: str | os.PathLike) -> None:
    """Create and remove a file in ``directory``: catches no permission, a read-only disk, ``/proc``, ``/sys``."""
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".deepgrad-probe-")
    except OSError as error:
        raise ConfigError(f"`{name}` {path}: cannot write in {directory}: {error.strerror or error}") from None
    os.close(fd)
    os.unlink(probe)


def check_outputs(outputs: OutputConfig) -> None:
    """Each output writable, and no two of them the same file (the weights would overwrite the checkpoint)."""
    seen: dict[str, str] = {}
    for name in ("save", "checkpoint", "metrics_json"):
        path = getattr(outputs, name)
        check_output(path, name)
        if path is None:
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise ConfigError(f"`{seen[key]}` and `{name}` are the same file, {path}: give each its own file")
        seen[key] = name
    check_output(outputs.plots, "plots", directory=True)


def is_full_batch(batch_size: int | str | None) -> bool:
    return isinstance(batch_size, str) and batch_size.lower() == "full"
