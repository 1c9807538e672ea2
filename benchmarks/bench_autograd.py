"""Autograd speed against PyTorch, measured in the same process.

1. The lectures' sigmoid neuron 1/(1+exp(-(w0*x0+w1*x1+w2))) built from 0-d tensors: forward + backward.
   Target: within 2x of PyTorch (ratio <= 2.0).
2. One training step of a 784-512-256-10 ReLU MLP at batch 128 without the optimizer: linear layers,
   relu, log_softmax, NLL, backward. Target: no slower than PyTorch (ratio <= 1.0).

Run: python benchmarks/bench_autograd.py
"""

from __future__ import annotations

import numpy as np
from _common import blas_description, machine_description, paired_times, print_table

import deepgrad as dg
import deepgrad.nn.functional as F

try:
    import torch
except ImportError:  # pragma: no cover
    raise SystemExit("this benchmark compares against PyTorch: pip install torch==2.13.0") from None

VALUES = (2.0, -1.0, -3.0, -2.0, -3.0)


def scalar_deepgrad() -> None:
    w0, x0, w1, x1, w2 = (dg.tensor(v, requires_grad=True) for v in VALUES)
    f = 1 / (1 + dg.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()


def scalar_torch() -> None:
    w0, x0, w1, x1, w2 = (torch.tensor(v, requires_grad=True) for v in VALUES)
    f = 1 / (1 + torch.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()


def mlp_cases(batch: int = 128) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    layers = [
        (rng.standard_normal((o, i)).astype(np.float32) * 0.05, np.zeros(o, np.float32))
        for i, o in [(784, 512), (512, 256), (256, 10)]
    ]

    params_dg = [(dg.tensor(w, requires_grad=True), dg.tensor(b, requires_grad=True)) for w, b in layers]
    x_dg, y_dg = dg.tensor(x), dg.tensor(y)

    def step_deepgrad() -> None:
        h = x_dg
        for i, (w, b) in enumerate(params_dg):
            h = F.linear(h, w, b)
            if i < 2:
                h = F.relu(h)
        loss = F.nll_loss(F.log_softmax(h, dim=1), y_dg)
        for w, b in params_dg:
            w.grad = b.grad = None
        loss.backward()

    params_t = [(torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)) for w, b in layers]
    x_t, y_t = torch.tensor(x), torch.tensor(y)

    def step_torch() -> None:
        h = x_t
        for i, (w, b) in enumerate(params_t):
            h = torch.nn.functional.linear(h, w, b)
            if i < 2:
                h = torch.relu(h)
        loss = torch.nn.functional.nll_loss(torch.log_softmax(h, dim=1), y_t)
        for w, b in params_t:
            w.grad = b.grad = None
        loss.backward()

    return step_deepgrad, step_torch


def main() -> None:
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; numpy {np.__version__}")
    scalar_ours, scalar_theirs = paired_times(scalar_deepgrad, scalar_torch, 2000)
    step_ours, step_theirs = mlp_cases()
    mlp_ours, mlp_theirs = paired_times(step_ours, step_theirs, 50)
    print_table(
        "forward + backward (best of 15 rounds in alternating blocks)",
        [
            ("sigmoid neuron, 0-d tensors", scalar_ours, scalar_theirs, "<= 2.0"),
            ("MLP 784-512-256-10 step, batch 128 (no optim)", mlp_ours, mlp_theirs, "<= 1.0"),
        ],
    )


if __name__ == "__main__":
    main()
