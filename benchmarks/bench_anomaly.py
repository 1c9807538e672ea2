"""Anomaly detection costs nothing when it is off.

Times graph build + backward for two small, overhead-bound workloads (where any per-op cost would show):
the lectures' sigmoid neuron from 0-d tensors, and a 2-32-32-2 MLP step at batch 16. Each is measured

1. with ``detect_anomaly`` never enabled in this process,
2. after one ``with detect_anomaly():`` block has been entered and left (the state must be exactly as
   before: ``Function.apply`` tests one class attribute, the engine one class attribute),
3. while enabled (for reference: every op checks its output and records where it was created).

Columns 1 and 2 should agree within timing noise (ratio ~1.00). Each condition runs in fresh processes,
alternating, best of 4. Run: python benchmarks/bench_anomaly.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import numpy as np
from _common import best_time, machine_description

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad.autograd import detect_anomaly
from deepgrad.autograd.function import _ANOMALY

VALUES = (2.0, -1.0, -3.0, -2.0, -3.0)


def sigmoid_neuron() -> None:
    w0, x0, w1, x1, w2 = (dg.tensor(v, requires_grad=True) for v in VALUES)
    f = 1 / (1 + dg.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()


def small_mlp() -> Callable[[], None]:
    rng = np.random.default_rng(0)
    x = dg.tensor(rng.standard_normal((16, 2)).astype(np.float32))
    y = dg.tensor(rng.integers(0, 2, 16))
    params = [
        (
            dg.tensor(rng.standard_normal((o, i)).astype(np.float32) * 0.3, requires_grad=True),
            dg.zeros(o, requires_grad=True),
        )
        for i, o in [(2, 32), (32, 32), (32, 2)]
    ]

    def step() -> None:
        h = x
        for i, (w, b) in enumerate(params):
            h = F.linear(h, w, b)
            if i < 2:
                h = F.relu(h)
        loss = F.cross_entropy(h, y)
        for w, b in params:
            w.grad = b.grad = None
        loss.backward()

    return step


def measure(condition: str) -> dict[str, float]:
    """Seconds per call of each case, in this (fresh) process, under one condition."""
    cases = [("sigmoid neuron, 0-d tensors", sigmoid_neuron, 1000), ("2-32-32-2 MLP step, batch 16", small_mlp(), 300)]
    assert vars(_ANOMALY) == {} and not _ANOMALY.enabled, "anomaly detection must start off"
    if condition == "after":
        with detect_anomaly():
            for _name, fn, _number in cases:
                fn()  # the hooks really ran
        assert vars(_ANOMALY) == {} and not _ANOMALY.enabled, "leaving detect_anomaly must restore the state"
    if condition == "on":
        with detect_anomaly():
            return {name: best_time(fn, number, repeat=5) for name, fn, number in cases}
    return {name: best_time(fn, number, repeat=5) for name, fn, number in cases}


def main(rounds: int = 4) -> None:
    # Each condition runs in fresh processes, alternating, so "never enabled" really means never enabled
    # in that process and slow drift of the (shared) machine hits all conditions alike; best of the rounds.
    best: dict[str, dict[str, float]] = {}
    for _ in range(rounds):
        for condition in ("never", "after", "on"):
            done = subprocess.run(
                [sys.executable, __file__, "--child", condition], capture_output=True, text=True, check=True
            )
            for name, seconds in json.loads(done.stdout).items():
                row = best.setdefault(name, {})
                row[condition] = min(seconds, row.get(condition, float("inf")))

    print(f"machine: {machine_description()}")
    print(f"best mean time per graph build + backward (microseconds), best of {rounds} fresh processes each\n")
    header = f"{'case':<30} {'never enabled':>14} {'enabled, then off':>18} {'ratio':>6} {'while on':>10} {'ratio':>6}"
    print(header)
    print("-" * len(header))
    for name, row in best.items():
        a, b, c = row["never"] * 1e6, row["after"] * 1e6, row["on"] * 1e6
        print(f"{name:<30} {a:>14.1f} {b:>18.1f} {b / a:>6.2f} {c:>10.1f} {c / a:>6.2f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        print(json.dumps(measure(sys.argv[2])))
    else:
        main()
