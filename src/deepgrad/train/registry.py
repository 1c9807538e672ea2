"""The models and data sets a `TrainConfig` can name: ``MODELS`` and ``DATASETS``, name -> entry.

A new architecture is one `ModelEntry` (a builder from `ModelSpec` and what input it reads); a new data
set is one `DatasetEntry` (a loader, sizes, task and per-data-set defaults). The command line's
``--model`` and ``--dataset`` choices are these tables' keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepgrad.errors import ConfigError
from deepgrad.train.config import DataConfig


@dataclass
class ModelSpec:
    """A resolved model: what rebuilds it. Saved as JSON in weight files, so `evaluate_weights` rebuilds it."""

    model: str
    dataset: str
    in_features: int
    out_features: int
    hidden: list[int] = field(default_factory=list)
    activation: str = "relu"
    dropout: float = 0.0

    def describe(self) -> str:
        """``mlp 2-64-64-3 (relu)``, ``linear 784-10``, ``lenet5 (relu)``."""
        label = MODELS[self.model].label if self.model in MODELS else None
        if label is not None:
            return f"{label} ({self.activation})"
        sizes = "-".join(str(s) for s in [self.in_features, *self.hidden, self.out_features])
        return f"{self.model} {sizes}" + (f" ({self.activation})" if self.hidden else "")


@dataclass(frozen=True)
class ModelEntry:
    """How to build one architecture. ``images``: it reads (C, H, W) images rather than flat vectors;
    ``hidden``: it takes hidden-layer sizes; ``label``: its name in descriptions when its layers are fixed."""

    build: Callable[[ModelSpec], Any]
    images: bool = False
    hidden: bool = True
    label: str | None = None
    # training defaults of this architecture on image data sets (epochs, optimizer, lr_sgd / lr_adam,
    # schedule, batch_size), over the data set's own; chosen so the plain command reaches the README's figures
    defaults: dict[str, Any] = field(default_factory=dict)


@dataclass
class DataBundle:
    """A data set's training and test parts, its task ("classification" or "regression") and class names."""

    train: Any
    test: Any
    task: str
    class_names: list[str] | None = None


@dataclass(frozen=True)
class DatasetEntry:
    """How to load one data set: ``load(data, seed, images, entry)``, the sizes a model for it has, and the
    defaults a user gets without options (chosen to train well in seconds to minutes)."""

    load: Callable[[DataConfig, int, bool, DatasetEntry], DataBundle]
    in_features: int
    out_features: int
    task: str = "classification"
    image_shape: tuple[int, int, int] | None = None  # (C, H, W) for image models; None: no images
    defaults: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- models


def _linear(spec: ModelSpec) -> Any:
    from deepgrad.models import MLP

    return MLP(spec.in_features, [], spec.out_features, activation=spec.activation, dropout=spec.dropout)


def _mlp(spec: ModelSpec) -> Any:
    from deepgrad.models import MLP

    return MLP(spec.in_features, spec.hidden, spec.out_features, activation=spec.activation, dropout=spec.dropout)


def _lenet(spec: ModelSpec) -> Any:
    from deepgrad.models import LeNet5

    channels, height, width = _image_shape(spec)
    if height != width or height not in (28, 32):
        raise ConfigError(f"`model=lenet` needs 28x28 or 32x32 images, {spec.dataset} has {height}x{width}")
    try:
        return LeNet5(spec.out_features, activation=spec.activation, in_channels=channels, image_size=height)
    except ValueError as error:  # an activation LeNet-5 does not offer
        raise ConfigError(str(error)) from None


def _image_shape(spec: ModelSpec) -> tuple[int, int, int]:
    shape = DATASETS[spec.dataset].image_shape
    if shape is None:  # resolve_model refuses image models on vectors first; this is a safety net
        raise ConfigError(f"`model={spec.model}` needs an image dataset, not {spec.dataset}")
    return shape


# below this image side the torchvision architectures use their small-image variants (3x3 stride-1 stems,
# no early max-pool, small classifiers): on 28x28 or 32x32 the ImageNet stems leave 1x1 maps or nothing
SMALL_IMAGE_SIDE = 64


def _torchvision_style(name: str) -> Callable[[ModelSpec], Any]:
    def build(spec: ModelSpec) -> Any:
        import deepgrad.models

        channels, height, width = _image_shape(spec)
        kwargs: dict[str, Any] = {"num_classes": spec.out_features, "in_channels": channels}
        kwargs["small_input"] = min(height, width) < SMALL_IMAGE_SIDE
        if name == "googlenet":
            kwargs["aux_logits"] = False  # the training loop wants one output; the heads are for ImageNet depth
        return getattr(deepgrad.models, name)(**kwargs)

    return build


# the command's cnn drops less than PyTorch's example (0.25, 0.5): in 3 epochs the net underfits more than it
# overfits (issue 12: 99.10% with the example's rates, 99.22% with these, same net and loop in PyTorch)
CNN_DROPOUT = (0.1, 0.25)
# and normalises after each convolution: without it, 3 epochs gave 99.12-99.27% over seeds and sessions (3 of 9
# runs under the 99.2% target); with it, 99.24-99.25% on seeds 0, 1, 2 and at a doubled peak lr, and 99.16% once the
# first layer's weight gradient was summed per thread block (eighth session): a higher mean, the same spread
CNN_BATCH_NORM = True


def _cnn(spec: ModelSpec) -> Any:
    from deepgrad.models.cnn import SmallCNN

    channels, height, width = _image_shape(spec)
    if height != width:
        raise ConfigError(f"`model=cnn` needs square images, {spec.dataset} has {height}x{width}")
    return SmallCNN(spec.out_features, channels, height, dropout=CNN_DROPOUT, batch_norm=CNN_BATCH_NORM)


_LENET_DEFAULTS = {"epochs": 10, "optimizer": "adam", "lr_adam": 0.002, "lr_sgd": 0.05, "schedule": "cosine"}
# cnn: a per-batch one-cycle schedule (lr_adam is its peak); issue 12 asks for >= 99.2% on MNIST in 3 epochs
_CNN_DEFAULTS = {"epochs": 3, "optimizer": "adam", "lr_adam": 0.003, "lr_sgd": 0.05, "schedule": "onecycle"}
_DEEP_DEFAULTS = {"epochs": 10, "optimizer": "sgd", "lr_sgd": 0.05, "lr_adam": 0.001, "schedule": "cosine"}

MODELS: dict[str, ModelEntry] = {
    "linear": ModelEntry(_linear, hidden=False),
    "mlp": ModelEntry(_mlp),
    "lenet": ModelEntry(_lenet, images=True, hidden=False, label="lenet5", defaults=_LENET_DEFAULTS),
    "cnn": ModelEntry(_cnn, images=True, hidden=False, label="cnn", defaults={**_CNN_DEFAULTS, "batch_size": 64}),
    **{
        name: ModelEntry(_torchvision_style(name), images=True, hidden=False, label=name, defaults=_DEEP_DEFAULTS)
        for name in ("alexnet", "vgg11", "vgg16", "resnet18", "resnet34", "resnet50", "googlenet")
    },
}


# ---------------------------------------------------------------------------------------------- data sets


def _toy(name: str) -> Callable[[DataConfig, int, bool, DatasetEntry], DataBundle]:
    def load(data: DataConfig, seed: int, images: bool, entry: DatasetEntry) -> DataBundle:
        from deepgrad.data import TOY_DATASETS, TensorDataset

        make = TOY_DATASETS[name]
        count = entry.defaults["n_train"]
        x_train, y_train = make(count, seed=seed)
        x_test, y_test = make(max(count // 2, 100), seed=seed + 10_000)  # the test set: another seed
        classes = None if entry.task == "regression" else [str(c) for c in range(entry.out_features)]
        return DataBundle(TensorDataset(x_train, y_train), TensorDataset(x_test, y_test), entry.task, classes)

    return load


def _idx_images(reader_name: str) -> Callable[[DataConfig, int, bool, DatasetEntry], DataBundle]:
    """MNIST-like sets: flat 784-vectors, or (1, 28, 28) images for image models."""

    def load(data: DataConfig, seed: int, images: bool, entry: DatasetEntry) -> DataBundle:
        import deepgrad.data

        if data.data_dir is not None and not Path(data.data_dir).is_dir() and not data.download:
            problem = "is not a directory" if Path(data.data_dir).exists() else "no such directory"
            raise ConfigError(f"`data_dir` {data.data_dir}: {problem}")
        reader = getattr(deepgrad.data, reader_name)
        train = reader(root=data.data_dir, train=True, flatten=not images, download=data.download)
        test = reader(root=data.data_dir, train=False, flatten=not images, download=data.download)
        names = getattr(reader, "classes", None) or [str(c) for c in range(entry.out_features)]
        return DataBundle(train, test, entry.task, list(names))

    return load


def _toy_defaults(hidden: list[int], epochs: int = 40, lr_sgd: float = 0.1, n_train: int = 1000) -> dict[str, Any]:
    return {"hidden": hidden, "epochs": epochs, "batch_size": 32, "lr_sgd": lr_sgd, "lr_adam": 0.01, "n_train": n_train}


_IMAGE_DEFAULTS = {
    "hidden": [512, 256],
    "epochs": 15,
    "batch_size": 128,
    "lr_sgd": 0.05,
    "lr_adam": 0.001,
    "augment": {"crop": 28, "padding": 2, "flip": 0.0},  # --augment: shifts of up to 2 pixels; digits don't flip
}
_CIFAR_DEFAULTS = {**_IMAGE_DEFAULTS, "epochs": 30, "augment": {"crop": 32, "padding": 4, "flip": 0.5}}


# CIFAR-10's per-channel mean and standard deviation over its 50,000 training images (of x / 255), as the usual
# CIFAR recipes standardise them: the image models see (x - mean[c]) / std[c], in training (after --augment's crop
# and flip, whose padding is then the mean colour) and in evaluation alike.
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class _Standardised:
    """``dataset``'s (image, label) pairs with each image standardised per channel, (x - mean[c]) / std[c]; one
    vectorised pass per batch when ``dataset`` gathers (see `deepgrad.data.DataLoader`)."""

    def __init__(self, dataset: Any, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.dataset, self.mean, self.std = dataset, mean, std

    @property
    def supports_gather(self) -> bool:
        return bool(getattr(self.dataset, "supports_gather", False))

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from deepgrad.data.transforms import normalize

        image, label = self.dataset[index]
        return normalize(image, self.mean, self.std), label

    def gather(self, indices: Any) -> tuple[Any, ...]:
        from deepgrad.data.transforms import normalize

        images, *rest = self.dataset.gather(indices)
        return (normalize(images, self.mean, self.std), *rest)

    def __repr__(self) -> str:
        return f"{self.dataset!r}, standardised per channel (mean {self.mean}, std {self.std})"


def _cifar10(data: DataConfig, seed: int, images: bool, entry: DatasetEntry) -> DataBundle:
    """CIFAR-10 from its binary files: (3, 32, 32) images standardised per channel for image models, flat
    3072-vectors of x / 255 otherwise."""
    from deepgrad.data import CIFAR10, TensorDataset

    if data.data_dir is not None and not Path(data.data_dir).is_dir() and not data.download:
        raise ConfigError(f"`data_dir` {data.data_dir}: no such directory")
    train = CIFAR10(root=data.data_dir, train=True, download=data.download)
    test = CIFAR10(root=data.data_dir, train=False, download=data.download)
    if not images:  # an MLP on CIFAR-10: the same pixels as vectors (x / 255, as the image path)
        train, test = (
            TensorDataset((part.images.reshape(len(part.images), -1) / 255.0).astype("float32"), part.labels)
            for part in (train, test)
        )
    else:
        train, test = (_Standardised(part, CIFAR10_MEAN, CIFAR10_STD) for part in (train, test))
    return DataBundle(train, test, entry.task, list(CIFAR10.classes))


DATASETS: dict[str, DatasetEntry] = {
    "spirals": DatasetEntry(_toy("spirals"), 2, 3, defaults=_toy_defaults([64, 64], epochs=60, n_train=1500)),
    "circles": DatasetEntry(_toy("circles"), 2, 2, defaults=_toy_defaults([16, 16])),
    "moons": DatasetEntry(_toy("moons"), 2, 2, defaults=_toy_defaults([16, 16])),
    "xor": DatasetEntry(_toy("xor"), 2, 2, defaults=_toy_defaults([16, 16])),
    "sine": DatasetEntry(_toy("sine"), 1, 1, "regression", defaults=_toy_defaults([64], epochs=200, lr_sgd=0.05)),
    "mnist": DatasetEntry(_idx_images("MNIST"), 28 * 28, 10, image_shape=(1, 28, 28), defaults=_IMAGE_DEFAULTS),
    "fashion-mnist": DatasetEntry(
        _idx_images("FashionMNIST"), 28 * 28, 10, image_shape=(1, 28, 28), defaults=_IMAGE_DEFAULTS
    ),
    "cifar10": DatasetEntry(_cifar10, 3 * 32 * 32, 10, image_shape=(3, 32, 32), defaults=_CIFAR_DEFAULTS),
}


def training_defaults(model: str | None, dataset: str) -> dict[str, Any]:
    """The defaults of a run: the data set's, with the model's own (`ModelEntry.defaults`) over them on
    image data sets."""
    entry = DATASETS[dataset]
    defaults = dict(entry.defaults)
    name = str(model or "mlp").lower()
    if entry.image_shape is not None and name in MODELS:
        defaults.update(MODELS[name].defaults)
    return defaults
