"""Command-line options -> typed configs (`deepgrad.train.TrainConfig`, `EvalConfig`, `ModelConfig`).

Only the parsing of option text happens here ('512,256', 'full', 'none'); every check of the values is
the library's (`deepgrad.train.config`), whose messages `deepgrad.cli.errors` words with these flags.
"""

from __future__ import annotations

import argparse
import os

from deepgrad.cli.errors import UsageError
from deepgrad.train.config import DataConfig, EvalConfig, ModelConfig, OptimConfig, OutputConfig, TrainConfig


def parse_hidden(text: str | None) -> list[int] | None:
    """'512,256' -> [512, 256]; '', 'none' or '0' -> [] (no hidden layer); None -> None (the default)."""
    if text is None:
        return None
    text = text.strip().lower()
    if text in ("", "none", "0"):
        return []
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise UsageError(f"--hidden expects sizes separated by commas, e.g. 512,256; got {text!r}") from None


def parse_batch_size(text: str | None) -> int | str | None:
    """An integer, 'full' (full-batch gradient descent), or the text as given (the library says what is wrong)."""
    if text is None or str(text).lower() == "full":
        return text
    try:
        return int(text)
    except ValueError:
        return text


def model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(args.model, parse_hidden(args.hidden), args.activation, args.dropout)


def data_config(args: argparse.Namespace) -> DataConfig:
    return DataConfig(
        args.dataset, args.data_dir, args.download, getattr(args, "val_split", None), getattr(args, "augment", False)
    )


def plots_dir(args: argparse.Namespace) -> str | None:
    """``--plots DIR``; by default ``runs/<dataset>-<model>``; ``--plots none``: no plots."""
    if args.plots is None:
        return os.path.join("runs", f"{(args.dataset or 'spirals').lower()}-{(args.model or 'mlp').lower()}")
    return None if args.plots.lower() == "none" else args.plots


def train_config(args: argparse.Namespace) -> TrainConfig:
    optim = OptimConfig(
        optimizer=args.optimizer,
        lr=args.lr,
        momentum=args.momentum,
        weight_decay=args.weight_decay,
        l1=args.l1,
        loss=args.loss,
        epochs=args.epochs,
        batch_size=parse_batch_size(args.batch_size),
        tol=args.tol,
        early_stopping=args.early_stopping,
        schedule=args.schedule,
    )
    outputs = OutputConfig(args.save, args.checkpoint, args.resume, plots_dir(args), args.metrics_json)
    distributed = bool(getattr(args, "distributed", False))
    return TrainConfig(model_config(args), data_config(args), optim, outputs, seed=args.seed, distributed=distributed)


def eval_config(args: argparse.Namespace) -> EvalConfig:
    return EvalConfig(
        args.weights, model_config(args), data_config(args), parse_batch_size(args.batch_size), args.seed, args.plots
    )
