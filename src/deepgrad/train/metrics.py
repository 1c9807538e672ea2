"""Metrics computed on arrays (no graph): accuracy and the confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.array if hasattr(x, "array") and not isinstance(x, np.ndarray) else x)


def is_classification(outputs: Any, targets: Any) -> bool:
    """Class-index targets with one score per class: what accuracy and the confusion matrix need."""
    out, target = _array(outputs), _array(targets)
    return target.dtype.kind in "iu" and out.ndim == target.ndim + 1


def count_correct(outputs: Any, targets: Any) -> int:
    """Number of samples whose highest score is at the target class."""
    return int((_array(outputs).argmax(axis=1) == _array(targets)).sum())


def accuracy(outputs: Any, targets: Any) -> float:
    """Fraction of samples whose highest score is at the target class.

    >>> accuracy([[0.1, 0.9], [0.8, 0.2]], [1, 1])
    0.5
    """
    target = _array(targets)
    return count_correct(outputs, target) / max(len(target), 1)


def confusion_matrix(predictions: Any, targets: Any, num_classes: int | None = None) -> np.ndarray:
    """C[i, j] = number of samples of true class i predicted as class j.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1]).tolist()
    [[1, 1], [0, 1]]
    """
    predicted, target = _array(predictions).reshape(-1), _array(targets).reshape(-1)
    if predicted.shape != target.shape:
        raise ValueError(f"confusion_matrix: {predicted.shape[0]} predictions but {target.shape[0]} targets")
    if num_classes is None:
        num_classes = int(max(predicted.max(initial=-1), target.max(initial=-1))) + 1
    counts = np.bincount(target * num_classes + predicted, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)
