"""A whole training run from a typed config: ``run(config) -> TrainResult`` (and `evaluate_weights`,
`model_summary`). Nothing here parses command lines or prints; progress goes to the callbacks the caller
passes, and every mistake in the settings is a `ConfigError` raised before data is read.

>>> from deepgrad.train import DataConfig, ModelConfig, OptimConfig, TrainConfig, run
>>> result = run(TrainConfig(ModelConfig("mlp", [8]), DataConfig("moons"), OptimConfig(epochs=2)))
>>> result.epochs_run, 0.5 < result.test.accuracy <= 1.0
(2, True)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad import backend, io
from deepgrad.distributed import process_group as pg
from deepgrad.errors import ConfigError, OutputError, WeightFileError
from deepgrad.train import distributed
from deepgrad.train.callbacks import Callback, ConvergenceStop, EarlyStopping
from deepgrad.train.checkpoint import Checkpoint, checkpoint_settings, load_checkpoint
from deepgrad.train.config import (
    ACTIVATIONS,
    EvalConfig,
    ModelConfig,
    TrainConfig,
    check_fraction,
    check_hidden,
    check_loss,
    check_optimizer,
    check_output,
    check_outputs,
    check_positive,
    check_schedule,
    check_val_split,
    choice,
    is_full_batch,
)
from deepgrad.train.loop import EvaluationResult, History, evaluate, fit
from deepgrad.train.registry import DATASETS, MODELS, DataBundle, ModelSpec, training_defaults

_WEIGHTS_MODEL_KEY, _WEIGHTS_SEED_KEY = "deepgrad.model", "deepgrad.seed"


# ---------------------------------------------------------------------------------------------- models


def resolve_model(model: ModelConfig, dataset: str, saved: dict | None = None, source: str | None = None) -> ModelSpec:
    """The model ``model`` describes for ``dataset``; unset settings from ``saved`` (a weights file's, named
    ``source``), then the defaults. Raises ConfigError for an unknown name, hidden sizes a fixed architecture
    does not take, a dropout outside [0, 1), an image model on vectors or a model too large for this machine's
    memory (WeightFileError naming ``source`` when the setting came from the file)."""
    saved = saved or {}
    entry = DATASETS[dataset]
    name = _setting(model.name, saved, "model", "mlp", tuple(MODELS), source)
    activation = _setting(model.activation, saved, "activation", "relu", ACTIVATIONS, source)
    if MODELS[name].images and entry.image_shape is None:
        images = ", ".join(n for n, e in DATASETS.items() if e.image_shape is not None)
        raise ConfigError(f"`model={name}` needs an image dataset ({images}), not {dataset}")
    if not MODELS[name].hidden:
        if model.hidden:
            raise ConfigError(f"`hidden` does not apply to `model={name}` (its layers are fixed)")
        hidden: list[int] = []
    else:
        hidden = check_hidden(
            model.hidden if model.hidden is not None else saved.get("hidden", entry.defaults["hidden"])
        )
    dropout = model.dropout if model.dropout is not None else saved.get("dropout", 0.0)
    check_fraction(dropout, "dropout")
    spec = ModelSpec(name, dataset, entry.in_features, entry.out_features, hidden, activation, float(dropout))
    _check_size(spec, source if model.hidden is None and "hidden" in saved else None)
    return spec


def _setting(given: str | None, saved: dict, key: str, default: str, choices: Sequence[str], source: str | None) -> str:
    if given is None and key in saved and str(saved[key]).lower() not in choices:
        raise WeightFileError(
            f"{source}: field {key!r} of the model settings names an unknown {key} {_short(saved[key])}; "
            f"deepgrad knows: {', '.join(choices)}"
        )
    return choice(given or saved.get(key, default), choices, key)


# float32 weights, their gradients and up to two optimizer buffers (Adam): four numbers per parameter.
_BYTES_PER_PARAMETER = 16


def _check_size(spec: ModelSpec, source: str | None = None) -> None:
    """Refuse, before allocating anything, a model whose training would not fit in this machine's memory."""
    sizes = [spec.in_features, *spec.hidden, spec.out_features]
    count = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(sizes, sizes[1:]))
    memory = _memory_bytes()
    if count * _BYTES_PER_PARAMETER <= memory:
        return
    sizes_text = ",".join(str(h) for h in spec.hidden)
    what = (
        f"{source}: field 'hidden' of the model settings, {_short(spec.hidden)},"
        if source
        else f"`hidden={sizes_text}`"
    )
    message = (
        f"{what} makes a model of {count:,} parameters, which needs about "
        f"{count * _BYTES_PER_PARAMETER / 2**30:,.1f} GiB to train; this machine has {memory / 2**30:,.1f} GiB"
    )
    raise WeightFileError(message) if source else ConfigError(message)


def _memory_bytes() -> int:
    """This machine's physical memory (1 TiB where the system does not say)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 2**40


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 12]}...{text[-8:]}"


def build_model(spec: ModelSpec) -> Any:
    """A freshly initialised network for ``spec`` (uses the global random generator)."""
    return MODELS[spec.model].build(spec)


def input_shape(spec: ModelSpec) -> tuple[int, ...]:
    """The shape of a batch of one for the model: (1, C, H, W) for image models, else (1, in_features)."""
    image_shape = DATASETS[spec.dataset].image_shape
    return (1, *image_shape) if MODELS[spec.model].images and image_shape else (1, spec.in_features)


def load_data(spec: ModelSpec, data: Any, seed: int) -> DataBundle:
    """The training and test sets of ``spec.dataset``, shaped for the model (images or flat vectors)."""
    entry = DATASETS[spec.dataset]
    return entry.load(data, seed, MODELS[spec.model].images, entry)


@dataclass
class ModelSummary:
    """What `model_summary` returns: the resolved model and its layer / output shape / parameter table."""

    spec: ModelSpec
    table: str


def model_summary(model: ModelConfig, dataset: str | None = None) -> ModelSummary:
    """The layer table (`deepgrad.nn.summary`) of the model ``model`` describes, built for ``dataset``."""
    from deepgrad import nn

    dataset = choice(dataset or "spirals", tuple(DATASETS), "dataset")
    spec = resolve_model(model, dataset)
    return ModelSummary(spec, str(nn.summary(build_model(spec), input_shape(spec))))


# ---------------------------------------------------------------------------------------------- training


@dataclass
class TrainingPlan:
    """A run set up and ready to train (`prepare`): what `run` trains, and what a caller reports before."""

    config: TrainConfig
    spec: ModelSpec
    bundle: DataBundle
    model: Any
    loss_name: str
    loss_fn: Any
    optimizer_name: str
    optimizer: Any
    epochs: int
    batch_size: int | None  # None: full batch
    train_set: Any
    val_set: Any
    train_loader: Any
    val_loader: Any
    test_loader: Any
    regularizer: Any = None
    scheduler: Any = None
    scheduler_interval: str = "epoch"  # "step": the scheduler steps after every batch (onecycle)
    stopper: EarlyStopping | None = None
    convergence: ConvergenceStop | None = None
    checkpoint: Checkpoint | None = None
    start_epoch: int = 0
    history: History = field(default_factory=History)
    rank: int = 0  # distributed: this process's rank; only rank 0 writes outputs
    world_size: int = 1
    ddp: Any = None  # distributed: ``model`` in DistributedDataParallel, which `run` trains

    @property
    def lr(self) -> float:
        """The learning rate the run was given: the first group's, or its peak with a one-cycle schedule."""
        group = self.optimizer.param_groups[0]
        return float(group.get("max_lr", group["lr"]))

    @property
    def local_batch_size(self) -> int | None:
        """The samples of one step on this rank: the global batch divided by the world size."""
        return None if self.batch_size is None else self.batch_size // self.world_size

    @property
    def finished(self) -> bool:
        """Resumed from a checkpoint that has every epoch already: nothing to train, only the outputs to write."""
        return self.start_epoch >= self.epochs


@dataclass
class TrainResult:
    """What `run` returns: the trained model, its history, test metrics and the files written."""

    spec: ModelSpec
    model: Any
    task: str
    loss_name: str
    history: History
    test: EvaluationResult
    seconds: float
    convergence: str | None = None  # ConvergenceStop's report with ``tol``
    stopped_early: tuple[int, int] | None = None  # (epoch stopped after, epoch whose weights were restored)
    saved: str | None = None
    plots: list[Path] = field(default_factory=list)
    plots_error: str | None = None  # why no plots were written (matplotlib missing)

    @property
    def epochs_run(self) -> int:
        return self.history.epochs

    def as_dict(self) -> dict[str, Any]:
        """The metrics file's content: config, epochs run, seconds, per-epoch history, test metrics."""
        return {
            "config": asdict(self.spec),
            "epochs_run": self.epochs_run,
            "seconds": self.seconds,
            "history": self.history.history,
            "test": self.test.as_dict(),
        }


def prepare(config: TrainConfig) -> TrainingPlan:
    """Check every setting, then read the data, build model, optimizer, loaders and callbacks, and restore
    ``outputs.resume`` if set. Raises ConfigError (settings) before any data is read.

    With ``config.distributed`` every rank does this (joining the process group first), then they agree:
    when it failed anywhere, the lowest failing rank raises its error and the others
    `deepgrad.distributed.PeerFailure`; otherwise the model is wrapped in `DistributedDataParallel`."""
    if not config.distributed:
        return _prepare(config, None)
    world = distributed.join()
    plan, failure = None, None
    try:
        plan = _prepare(config, world)
    except Exception as error:  # every rank must reach the agreement, whatever went wrong here
        failure = error
    pg.agree(failure)
    plan.ddp = distributed.wrap(plan.model)
    return plan


def _prepare(config: TrainConfig, world: tuple[int, int] | None) -> TrainingPlan:
    dataset = choice(config.data.dataset or "spirals", tuple(DATASETS), "dataset")
    entry = DATASETS[dataset]
    defaults = training_defaults(config.model.name, dataset)
    optim = config.optim
    if optim.optimizer is None or optim.schedule is None:
        optim = replace(
            optim,
            optimizer=optim.optimizer or defaults.get("optimizer", "sgd"),
            schedule=optim.schedule or defaults.get("schedule", "none"),
        )
        config = replace(config, optim=optim)
    epochs = optim.epochs if optim.epochs is not None else defaults["epochs"]
    check_schedule(optim, epochs)
    val_split = config.data.val_split
    check_val_split(val_split)
    if optim.early_stopping is not None and val_split == 0:
        raise ConfigError("`early_stopping` watches the validation loss: it needs a `val_split` above 0")
    if optim.early_stopping is not None and val_split is None:
        val_split = 0.1
    check_seed(config.seed)
    check_outputs(config.outputs)
    loss_name = check_loss(optim.loss, entry.task)
    lr_key = "lr_sgd" if str(optim.optimizer).lower() == "sgd" else "lr_adam"
    lr = optim.lr if optim.lr is not None else defaults[lr_key]
    optimizer_name = check_optimizer(optim, lr)

    backend.manual_seed(config.seed)
    spec = resolve_model(config.model, dataset)  # every setting is checked before any data is read
    bundle = load_data(spec, config.data, config.seed)
    _check_not_empty(bundle, spec)
    model = build_model(spec)
    plan = _assemble(config, spec, bundle, model, epochs, val_split, loss_name, optimizer_name, lr, world)
    if config.data.augment:
        plan.train_loader = _augmented(plan.train_loader, spec, defaults)
    if config.outputs.resume:
        _resume(plan, str(config.outputs.resume))
    return plan


def check_seed(seed: Any) -> None:
    """A seed is an integer in [0, 2**63) (NumPy's generators take no negative seeds)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ConfigError(f"`seed` must be an integer from 0 to 2**63 - 1, got {seed}")


def _check_not_empty(bundle: DataBundle, spec: ModelSpec, parts: Sequence[str] = ("training", "test")) -> None:
    for part in parts:
        data = bundle.train if part == "training" else bundle.test
        if len(data) == 0:
            files = getattr(data, "images_file", None)
            where = f" ({files} holds 0 images)" if files is not None else ""
            raise ConfigError(f"the {part} set of `dataset={spec.dataset}` has no samples{where}")


def _augmented(loader: Any, spec: ModelSpec, defaults: dict[str, Any]) -> Any:
    from deepgrad.train.augment import AugmentedLoader

    settings = defaults.get("augment")
    if settings is None or not MODELS[spec.model].images:
        raise ConfigError(
            f"`augment` is for image models on image data sets, not `model={spec.model}` on {spec.dataset}"
        )
    return AugmentedLoader(loader, **settings)


def _assemble(
    config: TrainConfig,
    spec: ModelSpec,
    bundle: DataBundle,
    model: Any,
    epochs: int,
    val_split: float | None,
    loss_name: str,
    optimizer_name: str,
    lr: float,
    world: tuple[int, int] | None = None,
) -> TrainingPlan:
    from deepgrad import nn
    from deepgrad.data import random_split

    optim, seed = config.optim, config.seed
    default_batch = training_defaults(spec.model, spec.dataset)["batch_size"]
    batch_size = None if is_full_batch(optim.batch_size) else optim.batch_size or default_batch
    rank, world_size = world or (0, 1)
    if world is not None:
        distributed.check_global_batch(batch_size, world_size)
    train_set, val_set = bundle.train, None
    if val_split:
        n_val = max(1, int(round(len(bundle.train) * val_split)))
        if n_val >= len(bundle.train):
            raise ConfigError(
                f"`val_split={val_split}` holds out {n_val} of the {len(bundle.train)} training samples, "
                "leaving none to train on"
            )
        train_set, val_set = random_split(bundle.train, [len(bundle.train) - n_val, n_val], seed=seed)
    plan = TrainingPlan(
        config,
        spec,
        bundle,
        model,
        loss_name,
        _loss_fn(loss_name),
        optimizer_name,
        _optimizer(optimizer_name, list(model.parameters()), lr, optim.momentum, optim.weight_decay),
        epochs,
        batch_size,
        train_set,
        val_set,
        _loader(train_set, batch_size, shuffle=True, seed=seed, world=world),
        _loader(val_set, 1000, shuffle=False, seed=seed, world=world) if val_set is not None else None,
        _loader(bundle.test, 1000, shuffle=False, seed=seed, world=world),
        rank=rank,
        world_size=world_size,
    )
    if optim.l1:
        strength = float(optim.l1)
        weights = [p for name, p in model.named_parameters() if name.endswith("weight")]
        plan.regularizer = lambda: strength * nn.utils.l1_penalty(weights)
    _add_schedule(plan, optim.schedule, lr, optim.momentum)
    if optim.early_stopping:
        plan.stopper = EarlyStopping("val_loss", patience=optim.early_stopping)
    if optim.tol is not None:
        plan.convergence = ConvergenceStop(optim.tol)
    if config.outputs.checkpoint and rank == 0:
        plan.checkpoint = Checkpoint(config.outputs.checkpoint, extra={"config": asdict(spec), "seed": seed})
    return plan


def _add_schedule(plan: TrainingPlan, schedule: str | None, lr: float, momentum: float | None) -> None:
    """'cosine': `CosineAnnealingLR` over the epochs; 'onecycle': `OneCycleLR` peaking at ``lr``, stepped after
    every batch, with PyTorch's momentum (beta1) cycle unless SGD's ``momentum`` was given."""
    from deepgrad.optim import lr_scheduler

    if schedule == "cosine":
        plan.scheduler = lr_scheduler.CosineAnnealingLR(plan.optimizer, T_max=plan.epochs)
    elif schedule == "onecycle":
        plan.scheduler = lr_scheduler.OneCycleLR(
            plan.optimizer,
            max_lr=lr,
            epochs=plan.epochs,
            steps_per_epoch=len(plan.train_loader),
            cycle_momentum=momentum is None,
        )
        plan.scheduler_interval = "step"


def _optimizer(name: str, params: list, lr: float, momentum: float | None, weight_decay: float) -> Any:
    from deepgrad import optim

    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=0.9 if momentum is None else momentum, weight_decay=weight_decay)
    return (optim.Adam if name == "adam" else optim.AdamW)(params, lr=lr, weight_decay=weight_decay)


def _loader(
    dataset: Any, batch_size: int | None, shuffle: bool, seed: int, world: tuple[int, int] | None = None
) -> Any:
    """A DataLoader (``shuffle``: the training loader). Distributed (``world`` = (rank, size)), this rank's
    share of its batches: training shards are padded to equal length (every rank takes every step),
    evaluation shards are not (no sample counted twice), with an evaluation batch of ``batch_size`` per rank."""
    from deepgrad.data import DataLoader

    size = len(dataset) if batch_size is None else batch_size
    training, shuffle = shuffle, shuffle and batch_size is not None
    if world is None:
        return DataLoader(dataset, batch_size=size, shuffle=shuffle, seed=seed)
    from deepgrad.distributed.sharding import ShardedLoader

    rank, replicas = world
    if batch_size is None:  # full batch: every rank its whole shard
        size = -(-len(dataset) // replicas) * replicas
    elif not training:
        size = batch_size * replicas
    return ShardedLoader(dataset, size, shuffle=shuffle, seed=seed, pad=training, num_replicas=replicas, rank=rank)


def _stateful_callbacks(plan: TrainingPlan) -> list[Callback]:
    """The plan's own callbacks, the checkpoint last so it saves the others' state of the same epoch."""
    return [c for c in (plan.stopper, plan.convergence, plan.checkpoint) if c is not None]


def _resume(plan: TrainingPlan, path: str) -> None:
    restored = load_checkpoint(
        path, plan.model, plan.optimizer, plan.scheduler, plan.train_loader, _stateful_callbacks(plan)
    )
    plan.start_epoch, plan.history = restored["epoch"], History(dict(restored["history"]))
    if plan.stopper and plan.stopper.stopped_epoch is not None:
        raise ConfigError(
            f"`resume` {path}: that run already stopped early after epoch {plan.stopper.stopped_epoch + 1}; "
            "nothing to resume (drop `early_stopping` to train on)"
        )
    if plan.convergence and plan.convergence.converged:
        raise ConfigError(f"`resume` {path}: that run already {plan.convergence.report()}; nothing to resume")
    if plan.start_epoch > plan.epochs:
        raise ConfigError(
            f"`resume` {path}: the checkpoint is at epoch {plan.start_epoch}, past `epochs={plan.epochs}`; "
            f"give `epochs` of at least {plan.start_epoch}"
        )
    _check_resumed_cycle(plan, path)


def _check_resumed_cycle(plan: TrainingPlan, path: str) -> None:
    """A one-cycle schedule spans the run's steps: resuming it with other epochs or batches would step past its end."""
    total = getattr(plan.scheduler, "total_steps", None)
    steps = len(plan.train_loader)
    if total is not None and total != plan.epochs * steps and not plan.finished:
        raise ConfigError(
            f"`resume` {path}: the checkpoint's onecycle schedule spans {total} steps, but `epochs={plan.epochs}` "
            f"of {steps} batches are {plan.epochs * steps}; resume with the `epochs` and `batch_size` it was "
            "started with"
        )


def run(
    config: TrainConfig | TrainingPlan, callbacks: Sequence[Callback] = (), progress: bool | None = False
) -> TrainResult:
    """Train as ``config`` says, evaluate on the test set, write the outputs it names; return the results.

    ``config`` may be a `TrainingPlan` from `prepare` (to report on it before training). ``callbacks``
    see every epoch (before the plan's own); ``progress``: tqdm bars (None: only on a terminal). A loss
    that becomes inf or nan raises FloatingPointError.
    """
    plan = config if isinstance(config, TrainingPlan) else prepare(config)
    started = time.perf_counter()
    streams = [] if plan.ddp is None else [distributed.RankStreams(plan.config.seed, plan.rank)]
    # NumPy's overflow warnings would bury the message: fit checks every loss and stops on inf/nan.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        history = fit(
            plan.model if plan.ddp is None else plan.ddp,
            plan.loss_fn,
            plan.optimizer,
            plan.train_loader,
            plan.epochs,
            val_loader=plan.val_loader,
            scheduler=plan.scheduler,
            callbacks=[*streams, *callbacks, *_stateful_callbacks(plan)],
            regularizer=plan.regularizer,
            quiet=None if progress is None else not progress,
            start_epoch=plan.start_epoch,
            history=plan.history,
            scheduler_interval=plan.scheduler_interval,
        )
    seconds = time.perf_counter() - started
    result = TrainResult(
        plan.spec,
        plan.model,
        plan.bundle.task,
        plan.loss_name,
        history,
        evaluate(plan.model, plan.test_loader, plan.loss_fn),
        seconds,
    )
    if plan.convergence:
        result.convergence = plan.convergence.report()
    if plan.stopper and plan.stopper.stopped_epoch is not None:
        result.stopped_early = (plan.stopper.stopped_epoch + 1, plan.stopper.best_epoch + 1)
    if plan.rank == 0:  # distributed: every rank holds the same model and metrics; one writes them
        _write_outputs(plan, result)
    return result


def _write_outputs(plan: TrainingPlan, result: TrainResult) -> None:
    """Write weights, plots and metrics. A write that fails (no permission, a full disk) does not stop the
    others; at the end one OutputError names each file and reason, and where the weights were kept."""
    outputs = plan.config.outputs
    failures = []
    if outputs.save:
        try:
            _save_weights(plan, outputs.save)
            result.saved = str(outputs.save)
        except OSError as error:
            failures.append(f"cannot write `save` {outputs.save}: {_reason(error)}; {_rescue(plan, result)}")
    if outputs.plots is not None:
        try:
            result.plots = _plots(Path(outputs.plots), plan.model, plan.spec, plan.bundle, result)
        except ImportError as error:
            result.plots_error = str(error)
        except OSError as error:
            result.plots_error = f"cannot write `plots` into {outputs.plots}: {_reason(error)}"
            failures.append(result.plots_error)
    if outputs.metrics_json:
        try:
            _write_json(outputs.metrics_json, result.as_dict())
        except OSError as error:
            failures.append(f"cannot write `metrics_json` {outputs.metrics_json}: {_reason(error)}")
    if failures:
        raise OutputError("; ".join(failures), result)


def _save_weights(plan: TrainingPlan, path: str | os.PathLike) -> None:
    metadata = {_WEIGHTS_MODEL_KEY: json.dumps(asdict(plan.spec)), _WEIGHTS_SEED_KEY: str(plan.config.seed)}
    io.save(plan.model.state_dict(), path, metadata=metadata)


def _reason(error: OSError) -> str:
    return error.strerror or " ".join(str(error).split())


def _rescue(plan: TrainingPlan, result: TrainResult) -> str:
    """Where the trained weights are, now that `save` failed: the last checkpoint when it holds exactly them,
    else a file of their own in the working directory or the temporary directory."""
    checkpoint = plan.config.outputs.checkpoint
    if checkpoint and result.stopped_early is None and os.path.isfile(checkpoint):
        return f"the trained weights are in the checkpoint {checkpoint}: write them with `resume` {checkpoint}"
    name = f"deepgrad-weights-{os.getpid()}.safetensors"
    for directory in (os.getcwd(), tempfile.gettempdir()):
        try:
            _save_weights(plan, os.path.join(directory, name))
        except OSError:
            continue
        return f"the trained weights were written to {os.path.join(directory, name)} instead"
    return "the trained weights could not be written anywhere else either"


def _plots(directory: Path, model: Any, spec: ModelSpec, bundle: DataBundle, result: TrainResult) -> list[Path]:
    from deepgrad.train import plots

    written = []
    if result.history.epochs:
        written.append(plots.plot_history(result.history, directory / "history.png"))
    x_test, y_test = bundle.test.tensors if hasattr(bundle.test, "tensors") else (None, None)
    title = f"{spec.describe()} on {spec.dataset}"
    if x_test is not None and bundle.task == "classification" and spec.in_features == 2:
        written.append(plots.plot_decision_boundary(model, x_test, y_test, directory / "decision_boundary.png", title))
    if x_test is not None and bundle.task == "regression" and spec.in_features == 1:
        written.append(plots.plot_regression(model, x_test, y_test, directory / "fit.png", title=title))
    if result.test.confusion is not None:
        written.append(
            plots.plot_confusion_matrix(result.test.confusion, directory / "confusion_matrix.png", bundle.class_names)
        )
    if spec.model == "linear" and spec.in_features == 28 * 28:
        weight = next(iter(model.state_dict().values()))
        written.append(plots.plot_weight_templates(weight, directory / "weight_templates.png"))
    return written


def _write_json(path: str | os.PathLike, payload: dict) -> None:
    """Write ``payload`` as JSON atomically (a temporary file renamed over the target)."""
    target = Path(path)
    fd, temp = io.temporary_file(target)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(payload, handle, indent=2)
        io._set_default_mode(temp)  # mkstemp makes the file private (0600); a metrics file is not secret
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


# ---------------------------------------------------------------------------------------------- evaluation


@dataclass
class EvalResult:
    """What `evaluate_weights` returns: the model rebuilt from the file, the test metrics, a plot if asked."""

    spec: ModelSpec
    model: Any
    loss_name: str
    test: EvaluationResult
    class_names: list[str] | None = None
    plot: Path | None = None
    warnings: list[str] = field(default_factory=list)  # e.g. weights that are nan


def weights_config(path: str | os.PathLike) -> tuple[dict, int]:
    """The model settings and data seed that a training run recorded in a weights file or a checkpoint (or
    defaults). WeightFileError naming the file and the field when one is malformed."""
    metadata = io.load_metadata(path)
    if io.CHECKPOINT_KEY in metadata:
        extra = checkpoint_settings(path)
        where = f"{path}: the checkpoint's model settings"
        saved, seed = extra.get("config", {}), extra.get("seed", 0)
    else:
        where = f"{path}: the model settings ({_WEIGHTS_MODEL_KEY})"
        saved = io.parse_json(metadata.get(_WEIGHTS_MODEL_KEY, "{}"), where)
        try:
            seed = int(metadata.get(_WEIGHTS_SEED_KEY, "0"))
        except ValueError:
            seed = None
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise WeightFileError(f"{path}: the recorded seed ({_WEIGHTS_SEED_KEY}) is not a non-negative integer")
    return check_saved_model(saved, where), seed


def check_saved_model(saved: Any, where: str) -> dict:
    """The model settings read from a file, each field checked for its type before use."""
    if not isinstance(saved, dict):
        raise WeightFileError(f"{where} must be a JSON object, got {_short(saved)}")

    def bad(key: str, expected: str) -> WeightFileError:
        return WeightFileError(f"{where}: field {key!r} must be {expected}, got {_short(saved[key])}")

    for key in ("model", "dataset", "activation"):
        if key in saved and not isinstance(saved[key], str):
            raise bad(key, "a string")
    hidden = saved.get("hidden", [])
    if not isinstance(hidden, list) or any(isinstance(h, bool) or not isinstance(h, int) or h <= 0 for h in hidden):
        raise bad("hidden", "a list of positive integers")
    dropout = saved.get("dropout", 0.0)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise bad("dropout", "a number in [0, 1)")
    return saved


def evaluate_weights(config: EvalConfig, progress: bool | None = False) -> EvalResult:
    """Rebuild the model saved in ``config.weights`` (a weights file, or a checkpoint's model) and evaluate it
    on its data set's test set."""
    saved, saved_seed = weights_config(config.weights)
    source = os.fspath(config.weights)
    if config.data.dataset is None and "dataset" in saved and saved["dataset"].lower() not in DATASETS:
        raise WeightFileError(f"{source}: field 'dataset' names an unknown dataset {_short(saved['dataset'])}")
    dataset = choice(config.data.dataset or saved.get("dataset", "spirals"), tuple(DATASETS), "dataset")
    seed = saved_seed if config.seed is None else config.seed
    check_seed(seed)
    check_output(config.plots, "plots", directory=True)
    spec = resolve_model(config.model, dataset, saved, source)
    if not is_full_batch(config.batch_size):
        check_positive(config.batch_size, "batch_size")
    bundle = load_data(spec, config.data, seed)
    _check_not_empty(bundle, spec, ("test",))
    model = build_model(spec)
    state = io.load(config.weights)
    try:
        model.load_state_dict(state)
    except (KeyError, ValueError, RuntimeError) as error:
        message = " ".join(str(error).split())
        raise ConfigError(f"`weights` {config.weights} does not fit {spec.describe()}: {message}") from None
    loss_name = check_loss(None, bundle.task)
    batch_size = None if is_full_batch(config.batch_size) else int(config.batch_size)
    loss_fn = _loss_fn(loss_name)
    quiet = None if progress is None else not progress
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        test = evaluate(model, _loader(bundle.test, batch_size, shuffle=False, seed=0), loss_fn, quiet=quiet)
    result = EvalResult(spec, model, loss_name, test, bundle.class_names, warnings=_weight_warnings(source, state))
    if not result.warnings and not np.isfinite(test.loss):
        result.warnings.append(f"the test loss is {test.loss}: the model's outputs overflow, its results mean little")
    if config.plots and test.confusion is not None:
        from deepgrad.train import plots

        try:
            result.plot = plots.plot_confusion_matrix(
                test.confusion, Path(config.plots) / "confusion_matrix.png", bundle.class_names
            )
        except OSError as error:
            raise OutputError(f"cannot write `plots` into {config.plots}: {_reason(error)}", result) from None
    return result


def _weight_warnings(source: str, state: dict) -> list[str]:
    """A warning when weights are nan or infinite: evaluating them gives numbers that mean nothing."""
    arrays = [t.array for t in state.values() if t.array.dtype.kind == "f"]
    bad = sum(int(np.count_nonzero(~np.isfinite(a))) for a in arrays)
    if not bad:
        return []
    total = sum(a.size for a in arrays)
    return [f"{source}: {bad:,} of its {total:,} weights are nan or infinite; the loss and accuracy mean nothing"]


def _loss_fn(name: str) -> Any:
    from deepgrad import nn

    return {"cross-entropy": nn.CrossEntropyLoss, "mse": nn.MSELoss, "l1": nn.L1Loss}[name]()
