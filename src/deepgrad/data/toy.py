"""Small synthetic datasets, generated on the fly from a seed: the lectures' non-linearly-separable examples.

Every ``make_*`` function returns NumPy arrays ``(X, y)``, like scikit-learn's generators:
- classification (spirals, circles, moons, xor): ``X`` float32 of shape (n_samples, 2), ``y`` int64 of
  shape (n_samples,) with labels 0..n_classes-1, classes as balanced as n_samples allows (counts differ
  by at most one), samples in random order unless ``shuffle=False`` (then grouped by class);
- regression (sine): ``x`` float32 (n_samples, 1), ``y`` float32 (n_samples, 1), for MSE or L1 loss.

Wrap them for training with ``TensorDataset(X, y)``; plot them straight from the arrays. Randomness comes
from ``numpy.random.default_rng(seed)``, or from `deepgrad.backend.generator()` when ``seed`` is None.
`TOY_DATASETS` maps the command-line names to the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from deepgrad import backend


def _rng(seed: int | None) -> np.random.Generator:
    return backend.generator() if seed is None else np.random.default_rng(seed)


def _check(name: str, n_samples: int, noise: float, n_classes: int = 2) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < n_classes:
        raise ValueError(f"{name}: n_samples must be an int >= {n_classes}, got {n_samples!r}")
    if not noise >= 0:  # also rejects NaN
        raise ValueError(f"{name}: noise must be >= 0, got {noise!r}")


def _class_sizes(n_samples: int, n_classes: int) -> np.ndarray:
    """Balanced class sizes: the first ``n_samples % n_classes`` classes get one sample more."""
    return np.full(n_classes, n_samples // n_classes) + (np.arange(n_classes) < n_samples % n_classes)


def _finish(X: np.ndarray, y: np.ndarray, shuffle: bool, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return np.ascontiguousarray(X, dtype=np.float32), y.astype(np.int64)


def make_spirals(
    n_samples: int = 300,
    noise: float = 0.2,
    n_classes: int = 3,
    seed: int | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class: radius r in [0, 1], angle 2*pi*k/K + 4r + noise*N(0, 1).

    Noise perturbs the angle only, so every point keeps its radius r <= 1.

    >>> X, y = make_spirals(300, n_classes=3, seed=0)
    >>> X.shape, X.dtype, np.bincount(y).tolist()
    ((300, 2), dtype('float32'), [100, 100, 100])
    """
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
        raise ValueError(f"make_spirals: n_classes must be an int >= 2, got {n_classes!r}")
    _check("make_spirals", n_samples, noise, n_classes)
    rng = _rng(seed)
    parts, labels = [], []
    for k, m in enumerate(_class_sizes(n_samples, n_classes)):
        r = np.linspace(0.0, 1.0, m)
        theta = 2 * math.pi * k / n_classes + 4.0 * r + noise * rng.standard_normal(m)
        parts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        labels.append(np.full(m, k))
    return _finish(np.concatenate(parts), np.concatenate(labels), shuffle, rng)


def make_circles(
    n_samples: int = 200,
    noise: float = 0.05,
    factor: float = 0.5,
    seed: int | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor``; then x += noise*N(0, I).

    A circle of radius between ``factor`` and 1 separates them; no straight line does.

    >>> X, y = make_circles(100, noise=0.0, seed=0)
    >>> np.allclose(np.linalg.norm(X[y == 0], axis=1), 1.0), np.allclose(np.linalg.norm(X[y == 1], axis=1), 0.5)
    (True, True)
    """
    _check("make_circles", n_samples, noise)
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor (inner radius / outer radius) must be in (0, 1), got {factor!r}")
    rng = _rng(seed)
    n_outer, n_inner = _class_sizes(n_samples, 2)
    radius = np.concatenate([np.ones(n_outer), np.full(n_inner, factor)])
    angle = rng.uniform(0.0, 2 * math.pi, n_samples)
    X = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    X = X + noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return _finish(X, y, shuffle, rng)


def make_moons(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half moons: class 0 (cos t, sin t), class 1 (1 - cos t, 0.5 - sin t), t in [0, pi].

    Gaussian noise of standard deviation ``noise`` is added to both coordinates.

    >>> X, y = make_moons(200, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((200, 2), [100, 100])
    """
    _check("make_moons", n_samples, noise)
    rng = _rng(seed)
    n_upper, n_lower = _class_sizes(n_samples, 2)
    t_upper = rng.uniform(0.0, math.pi, n_upper)
    t_lower = rng.uniform(0.0, math.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    X = np.concatenate([upper, lower]) + noise * rng.standard_normal((n_samples, 2))
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _finish(X, y, shuffle, rng)


def make_xor(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | None = None,
    shuffle: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """XOR of the coordinate signs: label 1 iff x1 * x2 < 0, points uniform in the four quadrants.

    Each coordinate's magnitude is uniform in [0.1, 1] (a gap along the axes), the quadrants equally
    filled; labels come from the clean points, then noise*N(0, I) is added.

    >>> X, y = make_xor(200, noise=0.0, seed=0)
    >>> bool(np.all((X[:, 0] * X[:, 1] < 0) == (y == 1)))
    True
    """
    _check("make_xor", n_samples, noise)
    rng = _rng(seed)
    # Quadrants (+,+) (-,-) are class 0 and (+,-) (-,+) class 1; interleaving them keeps classes balanced.
    quadrant = np.arange(n_samples) % 4
    signs = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], dtype=np.float64)[quadrant]
    X = signs * rng.uniform(0.1, 1.0, (n_samples, 2))
    y = (quadrant % 2 == 1).astype(np.int64)
    X = X + noise * rng.standard_normal(X.shape)
    if not shuffle:
        order = np.argsort(y, kind="stable")
        X, y = X[order], y[order]
    return _finish(X, y, shuffle, rng)


def make_sine(
    n_samples: int = 200,
    noise: float = 0.1,
    seed: int | None = None,
    x_range: tuple[float, float] = (-math.pi, math.pi),
) -> tuple[np.ndarray, np.ndarray]:
    """1-D regression: x uniform in ``x_range``, y = sin(x) + noise*N(0, 1); both float32 of shape (n, 1).

    >>> x, y = make_sine(50, noise=0.0, seed=0)
    >>> x.shape, bool(np.allclose(y, np.sin(x), atol=1e-6))
    ((50, 1), True)
    """
    _check("make_sine", n_samples, noise, n_classes=1)
    low, high = x_range
    if not low < high:
        raise ValueError(f"make_sine: x_range must be (low, high) with low < high, got {x_range!r}")
    rng = _rng(seed)
    x = rng.uniform(low, high, (n_samples, 1))
    y = np.sin(x) + noise * rng.standard_normal((n_samples, 1))
    return x.astype(np.float32), y.astype(np.float32)


#: Command-line names -> generators (all take n_samples, noise and seed).
TOY_DATASETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "spirals": make_spirals,
    "circles": make_circles,
    "moons": make_moons,
    "xor": make_xor,
    "sine": make_sine,
}
