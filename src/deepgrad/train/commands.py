"""What `deepgrad train`, `deepgrad eval` and `deepgrad summary` do (the parsing is in ``deepgrad.cli``).

Every user mistake raises `UsageError` (one line, exit status 2).
"""

from __future__ import annotations

import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import backend, io
from deepgrad.errors import UsageError
from deepgrad.train.callbacks import Callback

MODELS = ("linear", "mlp", "lenet")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "elu", "gelu", "silu")
TOY_NAMES = ("spirals", "circles", "moons", "xor", "sine")
IMAGE_NAMES = ("mnist", "fashion-mnist")
DATASETS = TOY_NAMES + IMAGE_NAMES
LOSSES = ("cross-entropy", "mse", "l1")
OPTIMIZERS = ("sgd", "adam", "adamw")

# Per-dataset defaults: what a user gets without options (chosen to train well in seconds to minutes).
DEFAULTS: dict[str, dict[str, Any]] = {
    "spirals": {"hidden": [64, 64], "epochs": 60, "batch_size": 32, "lr_sgd": 0.1, "lr_adam": 0.01, "n_train": 1500},
    "circles": {"hidden": [16, 16], "epochs": 40, "batch_size": 32, "lr_sgd": 0.1, "lr_adam": 0.01, "n_train": 1000},
    "moons": {"hidden": [16, 16], "epochs": 40, "batch_size": 32, "lr_sgd": 0.1, "lr_adam": 0.01, "n_train": 1000},
    "xor": {"hidden": [16, 16], "epochs": 40, "batch_size": 32, "lr_sgd": 0.1, "lr_adam": 0.01, "n_train": 1000},
    "sine": {"hidden": [64], "epochs": 200, "batch_size": 32, "lr_sgd": 0.05, "lr_adam": 0.01, "n_train": 1000},
    "mnist": {"hidden": [512, 256], "epochs": 15, "batch_size": 128, "lr_sgd": 0.05, "lr_adam": 0.001},
    "fashion-mnist": {"hidden": [512, 256], "epochs": 15, "batch_size": 128, "lr_sgd": 0.05, "lr_adam": 0.001},
}


@dataclass
class ModelConfig:
    """What is needed to rebuild a model; saved in the weights file so `deepgrad eval` can rebuild it."""

    model: str
    dataset: str
    in_features: int
    out_features: int
    hidden: list[int] = field(default_factory=list)
    activation: str = "relu"
    dropout: float = 0.0

    def describe(self) -> str:
        if self.model == "lenet":
            return f"lenet5 ({self.activation})"
        sizes = "-".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{self.model} {sizes}" + (f" ({self.activation})" if self.hidden else "")


@dataclass
class DataBundle:
    train: Any
    test: Any
    task: str  # "classification" or "regression" (model sizes per dataset: `_features`)
    class_names: list[str] | None = None


# ---------------------------------------------------------------------------------------------- parsing


def _choice(value: str, choices: tuple[str, ...], what: str) -> str:
    value = value.lower()
    if value not in choices:
        raise UsageError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}")
    return value


def parse_hidden(text: str | None, default: list[int]) -> list[int]:
    """'512,256' -> [512, 256]; '' or 'none' -> [] (no hidden layer)."""
    if text is None:
        return list(default)
    text = text.strip().lower()
    if text in ("", "none", "0"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--hidden expects sizes separated by commas, e.g. 512,256; got {text!r}") from None
    if any(s <= 0 for s in sizes):
        raise UsageError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def parse_batch_size(text: str | None, default: int) -> int | None:
    """A positive integer, or 'full' (returned as None: the whole training set in one batch)."""
    if text is None:
        return default
    if str(text).lower() == "full":
        return None
    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"--batch-size must be a positive integer or 'full', got {text!r}") from None
    if value <= 0:
        raise UsageError(f"--batch-size must be positive, got {value}")
    return value


def _positive(value: float | None, name: str, allow_zero: bool = False) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise UsageError(f"{name} must be {'non-negative' if allow_zero else 'positive'}, got {value}")


# ---------------------------------------------------------------------------------------------- data


def load_data(
    name: str,
    data_dir: str | None,
    seed: int,
    n_train: int | None = None,
    download: bool = False,
    images: bool = False,
) -> DataBundle:
    """The training and test sets of a dataset (toy sets are generated: the test set with another seed).
    MNIST-like sets come as flat 784-vectors, or as (1, 28, 28) images with ``images=True`` (for LeNet)."""
    from deepgrad.data import MNIST, TOY_DATASETS, FashionMNIST, TensorDataset

    if name in TOY_NAMES:
        make = TOY_DATASETS[name]
        count = n_train or DEFAULTS[name]["n_train"]
        x_train, y_train = make(count, seed=seed)
        x_test, y_test = make(max(count // 2, 100), seed=seed + 10_000)
        if name == "sine":
            return DataBundle(TensorDataset(x_train, y_train), TensorDataset(x_test, y_test), "regression")
        classes = _features(name)[1]
        return DataBundle(
            TensorDataset(x_train, y_train),
            TensorDataset(x_test, y_test),
            "classification",
            [str(c) for c in range(classes)],
        )
    if data_dir is not None and not Path(data_dir).is_dir() and not download:
        raise UsageError(f"--data-dir {data_dir}: no such directory")
    reader = MNIST if name == "mnist" else FashionMNIST
    train = reader(root=data_dir, train=True, flatten=not images, download=download)
    test = reader(root=data_dir, train=False, flatten=not images, download=download)
    names = getattr(reader, "classes", None) or [str(c) for c in range(10)]
    return DataBundle(train, test, "classification", list(names))


# ---------------------------------------------------------------------------------------------- model


def build_model(config: ModelConfig) -> Any:
    from deepgrad.models import MLP, LeNet5

    if config.model == "lenet":
        try:
            return LeNet5(config.out_features, activation=config.activation)
        except ValueError as error:
            raise UsageError(str(error)) from None
    hidden = [] if config.model == "linear" else config.hidden
    return MLP(config.in_features, hidden, config.out_features, activation=config.activation, dropout=config.dropout)


def _model_config(
    args: Any, bundle_in: int, bundle_out: int, dataset: str, fallback: dict | None = None
) -> ModelConfig:
    fallback = fallback or {}
    model = _choice(args.model or fallback.get("model", "mlp"), MODELS, "model")
    activation = _choice(args.activation or fallback.get("activation", "relu"), ACTIVATIONS, "activation")
    if model in ("linear", "lenet"):
        if args.hidden not in (None, "", "none", "0"):
            raise UsageError(f"--hidden does not apply to --model {model} (its layers are fixed)")
        hidden: list[int] = []
    else:
        hidden = parse_hidden(args.hidden, fallback.get("hidden", DEFAULTS[dataset]["hidden"]))
    dropout = args.dropout if args.dropout is not None else fallback.get("dropout", 0.0)
    if not 0 <= dropout < 1:
        raise UsageError(f"--dropout must be in [0, 1), got {dropout}")
    return ModelConfig(model, dataset, bundle_in, bundle_out, hidden, activation, float(dropout))


def _features(dataset: str) -> tuple[int, int]:
    """(inputs, outputs) of a model for the dataset: 784 pixels and 10 classes for the image sets, the 2-D
    toy sets' coordinates and classes (3 spiral arms), one input and output for the sine regression."""
    if dataset in IMAGE_NAMES:
        return 28 * 28, 10
    if dataset == "sine":
        return 1, 1
    return 2, 3 if dataset == "spirals" else 2


def _images_for(model: str, dataset: str) -> bool:
    """LeNet reads (1, 28, 28) images; the other models flat vectors."""
    if model != "lenet":
        return False
    if dataset not in IMAGE_NAMES:
        raise UsageError(f"--model lenet needs an image dataset ({', '.join(IMAGE_NAMES)}), not {dataset}")
    return True


def _loss(name: str | None, task: str) -> tuple[str, Any]:
    from deepgrad import nn

    if name is None:
        name = "cross-entropy" if task == "classification" else "mse"
    name = _choice(name, LOSSES, "loss")
    if task == "classification" and name != "cross-entropy":
        raise UsageError(f"--loss {name} is for regression (the sine dataset); classification uses cross-entropy")
    if task == "regression" and name == "cross-entropy":
        raise UsageError("--loss cross-entropy needs class labels; the sine dataset is regression: use mse or l1")
    return name, {"cross-entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss, "l1": nn.L1Loss}[name]()


def _optimizer(args: Any, params: list, dataset: str) -> Any:
    from deepgrad import optim

    name = _choice(args.optimizer, OPTIMIZERS, "optimizer")
    defaults = DEFAULTS[dataset]
    lr = args.lr if args.lr is not None else defaults["lr_sgd" if name == "sgd" else "lr_adam"]
    _positive(lr, "--lr")
    _positive(args.weight_decay, "--weight-decay", allow_zero=True)
    if name == "sgd":
        momentum = 0.9 if args.momentum is None else args.momentum
        if not 0 <= momentum < 1:
            raise UsageError(f"--momentum must be in [0, 1), got {momentum}")
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=args.weight_decay)
    if args.momentum is not None:
        raise UsageError(f"--momentum applies to --optimizer sgd, not {name}")
    cls = optim.Adam if name == "adam" else optim.AdamW
    return cls(params, lr=lr, weight_decay=args.weight_decay)


# ---------------------------------------------------------------------------------------------- output


class EpochPrinter(Callback):
    """One line per epoch when progress bars are off (logs, CI), so a run still shows it is learning."""

    def __init__(self, epochs: int, every: int = 1) -> None:
        self.epochs, self.every = epochs, every
        self.start = time.perf_counter()

    def on_train_begin(self, state: Any) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, state: Any, logs: dict[str, float]) -> None:
        epoch = state.epoch + 1
        if epoch % self.every and epoch != self.epochs:
            return
        parts = [f"epoch {epoch:>{len(str(self.epochs))}}/{self.epochs}", f"loss {logs['loss']:.4f}"]
        if "accuracy" in logs:
            parts.append(f"acc {100 * logs['accuracy']:.2f}%")
        if "val_loss" in logs:
            parts.append(f"val_loss {logs['val_loss']:.4f}")
        if "val_accuracy" in logs:
            parts.append(f"val_acc {100 * logs['val_accuracy']:.2f}%")
        parts.append(f"{time.perf_counter() - self.start:.1f}s")
        print("  ".join(parts), flush=True)


def _check_output(path: str | None, option: str, directory: bool = False) -> None:
    """Fail before training, not after it, when an output cannot be written where the user asked."""
    if path is None:
        return
    target = Path(path)
    if directory:
        if target.exists() and not target.is_dir():
            raise UsageError(f"{option} {path}: exists and is not a directory")
        return
    if target.is_dir():
        raise UsageError(f"{option} {path}: is a directory; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"{option} {path}: the directory {target.parent} does not exist")


def _write_json(path: str, payload: dict) -> None:
    target = Path(path)
    _check_output(path, "--metrics-json")
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        io._set_default_mode(temp)  # mkstemp makes the file private (0600); a metrics file is not secret
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def _print_confusion(matrix: np.ndarray) -> None:
    width = max(5, len(str(int(matrix.max()))) + 1)
    print("confusion matrix (rows: true class, columns: predicted class):")
    print(" " * 6 + "".join(f"{j:>{width}}" for j in range(matrix.shape[1])))
    for i, row in enumerate(matrix):
        print(f"{i:>5} " + "".join(f"{v:>{width}}" for v in row))


def _plots(
    plots_dir: Path, model: Any, config: ModelConfig, bundle: DataBundle, history: Any, confusion: np.ndarray | None
) -> list[Path]:
    from deepgrad.train import plots

    written = []
    if history is not None and getattr(history, "epochs", 0):
        written.append(plots.plot_history(history, plots_dir / "history.png"))
    x_test, y_test = bundle.test.tensors if hasattr(bundle.test, "tensors") else (None, None)
    if config.dataset in TOY_NAMES and config.dataset != "sine" and x_test is not None:
        written.append(
            plots.plot_decision_boundary(
                model,
                x_test,
                y_test,
                plots_dir / "decision_boundary.png",
                title=f"{config.describe()} on {config.dataset}",
            )
        )
    if config.dataset == "sine" and x_test is not None:
        written.append(
            plots.plot_regression(model, x_test, y_test, plots_dir / "fit.png", title=f"{config.describe()} on sine")
        )
    if confusion is not None:
        written.append(plots.plot_confusion_matrix(confusion, plots_dir / "confusion_matrix.png", bundle.class_names))
    if config.model == "linear" and config.in_features == 28 * 28:
        weight = next(iter(model.state_dict().values()))
        written.append(plots.plot_weight_templates(weight, plots_dir / "weight_templates.png"))
    return written


def _loader(dataset: Any, batch_size: int | None, shuffle: bool, seed: int) -> Any:
    from deepgrad.data import DataLoader

    size = len(dataset) if batch_size is None else batch_size
    return DataLoader(dataset, batch_size=size, shuffle=shuffle and batch_size is not None, seed=seed)


# ---------------------------------------------------------------------------------------------- commands


def run_train(args: Any) -> int:
    """Train a model as the options say, report test performance, write weights, plots and metrics."""
    from deepgrad import nn
    from deepgrad.data import random_split
    from deepgrad.train import Checkpoint, ConvergenceStop, EarlyStopping, evaluate, fit, load_checkpoint
    from deepgrad.train.loop import History

    dataset = _choice(args.dataset or "spirals", DATASETS, "dataset")
    defaults = DEFAULTS[dataset]
    epochs = args.epochs if args.epochs is not None else defaults["epochs"]
    if epochs <= 0:
        raise UsageError(f"--epochs must be positive, got {epochs}")
    batch_size = parse_batch_size(args.batch_size, defaults["batch_size"])
    if args.tol is not None:
        _positive(args.tol, "--tol")
        if batch_size is not None:
            raise UsageError("--tol is the stopping rule of full-batch gradient descent: use it with --batch-size full")
    _positive(args.l1, "--l1", allow_zero=True)
    val_split = args.val_split
    if args.early_stopping is not None:
        if args.early_stopping <= 0:
            raise UsageError(f"--early-stopping PATIENCE must be positive, got {args.early_stopping}")
        val_split = 0.1 if val_split is None else val_split
    if val_split is not None and not 0 < val_split < 1:
        raise UsageError(f"--val-split must be between 0 and 1, got {val_split}")

    plots_dir = (
        args.plots if args.plots is not None else os.path.join("runs", f"{dataset}-{(args.model or 'mlp').lower()}")
    )
    for path, option in (
        (args.save, "--save"),
        (args.checkpoint, "--checkpoint"),
        (args.metrics_json, "--metrics-json"),
    ):
        _check_output(path, option)
    if plots_dir.lower() != "none":
        _check_output(plots_dir, "--plots", directory=True)

    backend.manual_seed(args.seed)
    config = _model_config(args, *_features(dataset), dataset)  # options checked before any data is read
    bundle = load_data(
        dataset, args.data_dir, args.seed, download=args.download, images=_images_for(config.model, dataset)
    )
    loss_name, loss_fn = _loss(args.loss, bundle.task)
    model = build_model(config)
    optimizer = _optimizer(args, list(model.parameters()), dataset)

    train_set, val_set = bundle.train, None
    if val_split:
        n_val = max(1, int(round(len(bundle.train) * val_split)))
        train_set, val_set = random_split(bundle.train, [len(bundle.train) - n_val, n_val], seed=args.seed)
    train_loader = _loader(train_set, batch_size, shuffle=True, seed=args.seed)
    val_loader = _loader(val_set, 1000, shuffle=False, seed=args.seed) if val_set is not None else None
    test_loader = _loader(bundle.test, 1000, shuffle=False, seed=args.seed)

    regularizer = None
    if args.l1:
        strength = float(args.l1)
        weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        regularizer = lambda: strength * nn.utils.l1_penalty(weights)  # noqa: E731

    callbacks: list[Any] = []
    from deepgrad.train.progress import want_progress

    if not args.quiet and not want_progress(None):
        callbacks.append(EpochPrinter(epochs, every=max(1, epochs // 20)))
    stopper = EarlyStopping("val_loss", patience=args.early_stopping) if args.early_stopping else None
    if stopper:
        callbacks.append(stopper)
    convergence = ConvergenceStop(args.tol) if args.tol is not None else None
    if convergence:
        callbacks.append(convergence)
    if args.checkpoint:
        callbacks.append(Checkpoint(args.checkpoint, extra={"config": asdict(config)}))

    start_epoch, history = 0, History()
    if args.resume:
        restored = load_checkpoint(args.resume, model, optimizer, None, train_loader, callbacks=callbacks)
        start_epoch, history = restored["epoch"], History(dict(restored["history"]))
        if stopper and stopper.stopped_epoch is not None:
            raise UsageError(
                f"--resume {args.resume}: that run already stopped early after epoch {stopper.stopped_epoch + 1}; "
                "nothing to resume (drop --early-stopping to train on)"
            )
        if convergence and convergence.converged:
            raise UsageError(f"--resume {args.resume}: that run already {convergence.report()}; nothing to resume")
        if start_epoch >= epochs:
            raise UsageError(
                f"--resume {args.resume}: the checkpoint is at epoch {start_epoch}, nothing left of --epochs {epochs}"
            )

    print(
        f"training {config.describe()} on {dataset} ({len(train_set)} samples"
        + (f", {len(val_set)} for validation" if val_set is not None else "")
        + f"), {loss_name} loss, {args.optimizer} lr {optimizer.param_groups[0]['lr']:g}, "
        + ("full batch" if batch_size is None else f"batch {batch_size}")
        + f", {epochs} {'iterations' if batch_size is None else 'epochs'}",
        flush=True,
    )
    started = time.perf_counter()
    # NumPy's overflow warnings would bury the message below: fit checks every loss and stops on inf/nan.
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            history = fit(
                model,
                loss_fn,
                optimizer,
                train_loader,
                epochs,
                val_loader=val_loader,
                callbacks=callbacks,
                regularizer=regularizer,
                quiet=True if args.quiet else None,
                start_epoch=start_epoch,
                history=history,
            )
    except FloatingPointError as error:  # the loss became inf/nan: a setting to change, not a crash
        raise UsageError(str(error)) from None
    seconds = time.perf_counter() - started
    if convergence:
        print(convergence.report())
    if stopper and stopper.stopped_epoch is not None:
        best = stopper.best_epoch + 1
        print(f"early stopping after epoch {stopper.stopped_epoch + 1}; restored the weights of epoch {best}")

    result = evaluate(model, test_loader, loss_fn)
    if bundle.task == "classification":
        accuracy = 100 * result.accuracy
        print(
            f"test accuracy: {accuracy:.2f}% (loss {result.loss:.4f}, {result.count} samples, "
            f"trained in {seconds:.1f}s)"
        )
    else:
        print(f"test {loss_name}: {result.loss:.5f} ({result.count} samples, trained in {seconds:.1f}s)")

    if args.save:
        metadata = {"deepgrad.model": json.dumps(asdict(config)), "deepgrad.seed": str(args.seed)}
        io.save(model.state_dict(), args.save, metadata=metadata)
        print(f"weights written to {args.save}")
    if plots_dir.lower() != "none":
        try:
            written = _plots(Path(plots_dir), model, config, bundle, history, result.confusion)
            print("plots: " + ", ".join(str(p) for p in written))
        except ImportError as error:
            print(f"no plots: {error}", file=sys.stderr)
    if args.metrics_json:
        _write_json(
            args.metrics_json,
            {
                "config": asdict(config),
                "epochs_run": history.epochs,
                "seconds": seconds,
                "history": history.history,
                "test": result.as_dict(),
            },
        )
    return 0


def _weights_config(path: str) -> tuple[dict, int]:
    """The model configuration and data seed that `deepgrad train --save` recorded in the file (or defaults)."""
    metadata = io.load_metadata(path)
    if "deepgrad.checkpoint" in metadata:
        raise UsageError(
            f"--weights {path} is a training checkpoint (--checkpoint), not a weights file; finish the run "
            "with --resume and --save, and evaluate the saved weights"
        )
    try:
        config = json.loads(metadata.get("deepgrad.model", "{}"))
        seed = int(metadata.get("deepgrad.seed", "0"))
    except ValueError:
        return {}, 0
    return (config if isinstance(config, dict) else {}), seed


def run_eval(args: Any) -> int:
    """Evaluate saved weights on a dataset's test set: loss, accuracy, confusion matrix."""
    saved, saved_seed = _weights_config(args.weights)
    dataset = _choice(args.dataset or saved.get("dataset", "spirals"), DATASETS, "dataset")
    seed = saved_seed if args.seed is None else args.seed
    config = _model_config(args, *_features(dataset), dataset, fallback=saved)
    bundle = load_data(dataset, args.data_dir, seed, download=args.download, images=_images_for(config.model, dataset))
    model = build_model(config)
    state = io.load(args.weights)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as error:
        message = " ".join(str(error).split())
        raise UsageError(f"--weights {args.weights} does not fit {config.describe()}: {message}") from None
    batch_size = parse_batch_size(args.batch_size, 1000)
    loss_name, loss_fn = _loss(None, bundle.task)
    from deepgrad.train import evaluate

    result = evaluate(
        model, _loader(bundle.test, batch_size, shuffle=False, seed=0), loss_fn, quiet=True if args.quiet else None
    )
    print(f"{config.describe()} on the {dataset} test set ({result.count} samples)")
    print(f"loss ({loss_name}): {result.loss:.4f}")
    if result.accuracy is not None:
        print(f"accuracy: {100 * result.accuracy:.2f}%")
        _print_confusion(result.confusion)
        if args.plots:
            from deepgrad.train import plots

            target = Path(args.plots) / "confusion_matrix.png"
            print(f"plot: {plots.plot_confusion_matrix(result.confusion, target, bundle.class_names)}")
    return 0


def run_summary(args: Any) -> int:
    """Print the layer / output shape / parameter table of the model the options describe."""
    from deepgrad import nn

    dataset = _choice(args.dataset or "spirals", DATASETS, "dataset")
    in_features, out_features = _features(dataset)
    config = _model_config(args, in_features, out_features, dataset)
    model = build_model(config)
    print(f"{config.describe()} for {dataset}")
    print(nn.summary(model, (1, 1, 28, 28) if _images_for(config.model, dataset) else (1, in_features)))
    return 0
