"""Shared helpers for the benchmarks: timing, machine and BLAS description, table printing."""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from pathlib import Path


def mnist_dir(given: str | None) -> str:
    """The MNIST directory: ``given`` (--data-dir), else $DEEPGRAD_MNIST, else ../shared/data/mnist beside the
    project."""
    return (
        given
        or os.environ.get("DEEPGRAD_MNIST")
        or str(Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
    )


def best_time(fn: Callable[[], object], number: int, repeat: int = 7, warmup: int = 3) -> float:
    """Best mean seconds per call over ``repeat`` rounds of ``number`` calls (after ``warmup`` calls)."""
    for _ in range(warmup):
        fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best


def paired_times(
    ours: Callable[[], object], theirs: Callable[[], object], number: int, blocks: int = 3, repeat: int = 5
) -> tuple[float, float]:
    """Best mean seconds per call of each side, measured in alternating blocks (ours, theirs, ours, ...).

    Blocks rather than single calls: the BLAS and OpenMP worker threads of the side that just ran keep
    spinning for a moment and would slow the other side down; a pause between blocks lets them sleep.
    Alternating blocks spreads the drift of a shared machine's speed over both sides.
    """
    best = [float("inf"), float("inf")]
    for _ in range(blocks):
        for side, fn in enumerate((ours, theirs)):
            time.sleep(0.3)
            best[side] = min(best[side], best_time(fn, number, repeat=repeat, warmup=2))
    return best[0], best[1]


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def blas_description() -> str:
    """Which BLAS NumPy runs (threadpoolctl), with the OPENBLAS_* variables in force."""
    import numpy  # noqa: F401  (threadpoolctl sees only libraries already loaded)

    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    parts = []
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            parts.append(
                f"{pool.get('internal_api')} {pool.get('version')} kernel={pool.get('architecture')} "
                f"threads={pool.get('num_threads')} ({os.path.basename(pool.get('filepath', ''))})"
            )
    env = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if k in os.environ)
    return "; ".join(parts) + (f" [{env}]" if env else " [OPENBLAS_CORETYPE unset]")


def print_table(title: str, rows: list[tuple[str, float, float, str]]) -> None:
    """rows: (case, deepgrad seconds, pytorch seconds, target)."""
    print(f"\n{title}")
    print(f"{'case':<44} {'deepgrad':>12} {'pytorch':>12} {'ratio':>7}  target")
    for case, ours, theirs, target in rows:
        print(f"{case:<44} {ours * 1e6:>10.1f}us {theirs * 1e6:>10.1f}us {ours / theirs:>7.2f}  {target}")


def torch_lenet5():
    """PyTorch's twin of ``deepgrad.models.LeNet5()`` (the same layers and ``state_dict`` keys); torch is
    imported here, so the scripts that do not compare against it need not have it."""
    import torch.nn as tnn

    return tnn.Sequential(
        tnn.Conv2d(1, 6, 5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(),
        tnn.Linear(120, 84), tnn.ReLU(),
        tnn.Linear(84, 10),
    )  # fmt: skip
