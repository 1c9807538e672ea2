"""Training plots as PNG files (matplotlib, optional extra `plots`, Agg backend: no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from deepgrad.autograd.grad_mode import no_grad


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "deepgrad[plots]"') from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return path


def plot_history(history: Any, path: str | Path) -> Path:
    """Loss (and accuracy, when present) per epoch, training and validation side by side."""
    plt = _pyplot()
    logs = history.history if hasattr(history, "history") else history
    panels = [("loss", "loss")] + ([("accuracy", "accuracy")] if "accuracy" in logs else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    for ax, (key, label) in zip(axes[0], panels):
        epochs = np.arange(1, len(logs[key]) + 1)
        ax.plot(epochs, logs[key], marker="o", markersize=3, label="train")
        if f"val_{key}" in logs:
            ax.plot(epochs, logs[f"val_{key}"], marker="o", markersize=3, label="validation")
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        ax.set_title(f"{label} per epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    return _save(fig, path)


def predict_grid(model: Any, x: np.ndarray, resolution: int = 200, margin: float = 0.5) -> tuple:
    """Class predicted by ``model`` on a grid covering the 2-D points ``x``: (xx, yy, classes)."""
    from deepgrad.tensor import Tensor

    low, high = x.min(axis=0) - margin, x.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(np.float32)
    was_training = getattr(model, "training", False)
    model.eval()
    with no_grad():
        scores = model(Tensor(grid)).array
    model.train(was_training)
    classes = (
        scores.argmax(axis=1) if scores.ndim == 2 and scores.shape[1] > 1 else (scores.reshape(-1) > 0).astype(int)
    )
    return xx, yy, classes.reshape(xx.shape)


def plot_decision_boundary(model: Any, x: Any, y: Any, path: str | Path, title: str = "decision boundary") -> Path:
    """The regions each class is predicted in, with the data points on top (2-D inputs only)."""
    plt = _pyplot()
    x, y = np.asarray(getattr(x, "array", x)), np.asarray(getattr(y, "array", y))
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D inputs of shape (N, 2), got {x.shape}")
    xx, yy, classes = predict_grid(model, x)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    n_classes = int(max(classes.max(), y.max())) + 1
    ax.contourf(xx, yy, classes, levels=np.arange(n_classes + 1) - 0.5, cmap="tab10", alpha=0.25, vmin=0, vmax=9)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="tab10", vmin=0, vmax=9, s=10, edgecolors="k", linewidths=0.2)
    ax.set_title(title)
    ax.set_aspect("equal")
    return _save(fig, path)


def plot_confusion_matrix(matrix: np.ndarray, path: str | Path, class_names: Sequence[str] | None = None) -> Path:
    """Counts of true class (rows) against predicted class (columns)."""
    plt = _pyplot()
    matrix = np.asarray(matrix)
    n = matrix.shape[0]
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.55 * n))
    ax.imshow(matrix, cmap="Blues")
    names = list(class_names) if class_names is not None else [str(i) for i in range(n)]
    ax.set_xticks(range(n), names)
    ax.set_yticks(range(n), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    threshold = matrix.max() / 2 if matrix.size else 0
    for i in range(n):
        for j in range(n):
            ax.text(
                j,
                i,
                str(matrix[i, j]),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if matrix[i, j] > threshold else "black",
            )
    ax.set_title("confusion matrix")
    return _save(fig, path)


def plot_weight_templates(weight: Any, path: str | Path, image_shape: tuple[int, int] = (28, 28)) -> Path:
    """The rows of a linear classifier's W as images: what each class's score 'looks for'."""
    plt = _pyplot()
    w = np.asarray(getattr(weight, "array", weight))
    if w.ndim != 2 or w.shape[1] != image_shape[0] * image_shape[1]:
        raise ValueError(f"plot_weight_templates: weight of shape {w.shape} does not hold {image_shape} images per row")
    n = w.shape[0]
    cols = min(n, 5)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(2 * cols, 2.1 * rows), squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k < n:
            limit = np.abs(w[k]).max() or 1.0
            ax.imshow(w[k].reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"class {k}", fontsize=9)
    fig.suptitle("rows of W as templates (red: positive weight, blue: negative)")
    return _save(fig, path)


def plot_regression(model: Any, x: Any, y: Any, path: str | Path, title: str = "fit") -> Path:
    """A 1-D regression: the data and the model's curve."""
    plt = _pyplot()
    from deepgrad.tensor import Tensor

    x, y = np.asarray(getattr(x, "array", x)).reshape(-1), np.asarray(getattr(y, "array", y)).reshape(-1)
    grid = np.linspace(x.min(), x.max(), 400, dtype=np.float32).reshape(-1, 1)
    was_training = getattr(model, "training", False)
    model.eval()
    with no_grad():
        curve = model(Tensor(grid)).array.reshape(-1)
    model.train(was_training)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, s=6, alpha=0.5, label="data")
    ax.plot(grid[:, 0], curve, color="C3", linewidth=2, label="model")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return _save(fig, path)
