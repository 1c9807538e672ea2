"""What the ``deepgrad`` command prints: per-epoch lines, the plan of a run, results, confusion matrices."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from deepgrad.train.callbacks import Callback
from deepgrad.train.runner import EvalResult, TrainingPlan, TrainResult


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


def plan_line(plan: TrainingPlan) -> str:
    """``training mlp 2-64-64-3 (relu) on spirals (1500 samples), cross-entropy loss, sgd lr 0.1, ...``."""
    if plan.finished:
        return (
            f"{plan.config.outputs.resume}: the checkpoint holds all {plan.epochs} epochs of {plan.spec.describe()} "
            f"on {plan.spec.dataset}; nothing left to train: evaluating and writing the outputs"
        )
    validation = f", {len(plan.val_set)} for validation" if plan.val_set is not None else ""
    batches = "full batch" if plan.batch_size is None else f"batch {plan.batch_size}"
    if plan.ddp is not None:  # --distributed
        each = "a shard each" if plan.batch_size is None else f"{plan.local_batch_size} each"
        batches += f" over {plan.world_size} rank{'s' if plan.world_size > 1 else ''} ({each})"
    steps = "iterations" if plan.batch_size is None else "epochs"
    return (
        f"training {plan.spec.describe()} on {plan.spec.dataset} ({len(plan.train_set)} samples{validation}), "
        f"{plan.loss_name} loss, {plan.optimizer_name} lr {plan.lr:g}, {batches}, {plan.epochs} {steps}"
    )


def train_lines(result: TrainResult, plots: bool) -> list[str]:
    """After training: how it stopped, the test metrics, and the files written."""
    lines = []
    if result.convergence is not None:
        lines.append(result.convergence)
    if result.stopped_early is not None:
        stopped, best = result.stopped_early
        lines.append(f"early stopping after epoch {stopped}; restored the weights of epoch {best}")
    test, seconds = result.test, result.seconds
    if result.task == "classification":
        lines.append(
            f"test accuracy: {100 * test.accuracy:.2f}% (loss {test.loss:.4f}, {test.count} samples, "
            f"trained in {seconds:.1f}s)"
        )
    else:
        lines.append(f"test {result.loss_name}: {test.loss:.5f} ({test.count} samples, trained in {seconds:.1f}s)")
    if result.saved is not None:
        lines.append(f"weights written to {result.saved}")
    if plots and result.plots_error is None:
        lines.append("plots: " + ", ".join(str(p) for p in result.plots))
    return lines


def eval_lines(result: EvalResult) -> list[str]:
    """The model, the test loss, and for classification the accuracy and confusion matrix."""
    test = result.test
    lines = [
        f"{result.spec.describe()} on the {result.spec.dataset} test set ({test.count} samples)",
        f"loss ({result.loss_name}): {test.loss:.4f}",
    ]
    if test.accuracy is not None:
        lines.append(f"accuracy: {100 * test.accuracy:.2f}%")
        lines.extend(confusion_lines(test.confusion))
    if result.plot is not None:
        lines.append(f"plot: {result.plot}")
    return lines


def confusion_lines(matrix: np.ndarray) -> list[str]:
    width = max(5, len(str(int(matrix.max()))) + 1)
    lines = ["confusion matrix (rows: true class, columns: predicted class):"]
    lines.append(" " * 6 + "".join(f"{j:>{width}}" for j in range(matrix.shape[1])))
    lines.extend(f"{i:>5} " + "".join(f"{v:>{width}}" for v in row) for i, row in enumerate(matrix))
    return lines
