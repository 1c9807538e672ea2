"""One full training step (forward, cross-entropy, backward, SGD momentum step) against PyTorch.

1. MLP 784-512-256-10 at batch 128 (BLAS-bound). Target: ratio <= 1.0.
2. MLP 2-32-32-2 at batch 32 (per-op overhead dominates). Target: within 3x of PyTorch (ratio <= 3.0).

Both frameworks start from the same weights and see the same batch; measured in the same process.
Run: python benchmarks/bench_train_step.py
"""

from __future__ import annotations

import numpy as np
from _common import blas_description, machine_description, paired_times, print_table

import deepgrad as dg
from deepgrad import nn, optim

try:
    import torch
except ImportError:  # pragma: no cover
    raise SystemExit("this benchmark compares against PyTorch: pip install torch==2.13.0") from None


def make_steps(sizes: list[int], batch: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)

    layers_dg: list[nn.Module] = []
    layers_t: list[torch.nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        linear_dg, linear_t = nn.Linear(n_in, n_out), torch.nn.Linear(n_in, n_out)
        with torch.no_grad():
            linear_t.weight.copy_(torch.from_numpy(linear_dg.weight.array))
            linear_t.bias.copy_(torch.from_numpy(linear_dg.bias.array))
        layers_dg.append(linear_dg)
        layers_t.append(linear_t)
        if i < len(sizes) - 2:
            layers_dg.append(nn.ReLU())
            layers_t.append(torch.nn.ReLU())
    model_dg, model_t = nn.Sequential(*layers_dg), torch.nn.Sequential(*layers_t)
    opt_dg = optim.SGD(model_dg.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(model_t.parameters(), lr=0.01, momentum=0.9)
    loss_dg, loss_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    x_dg, y_dg, x_t, y_t = dg.tensor(x), dg.tensor(y), torch.from_numpy(x), torch.from_numpy(y)

    def step_deepgrad() -> None:
        loss = loss_dg(model_dg(x_dg), y_dg)
        opt_dg.zero_grad()
        loss.backward()
        opt_dg.step()

    def step_torch() -> None:
        loss = loss_t(model_t(x_t), y_t)
        opt_t.zero_grad()
        loss.backward()
        opt_t.step()

    return step_deepgrad, step_torch


def main() -> None:
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; numpy {np.__version__}")
    big_dg, big_t = make_steps([784, 512, 256, 10], 128)
    small_dg, small_t = make_steps([2, 32, 32, 2], 32)
    rows = [
        ("MLP 784-512-256-10, batch 128", *paired_times(big_dg, big_t, 50), "<= 1.0"),
        ("MLP 2-32-32-2, batch 32", *paired_times(small_dg, small_t, 1000), "<= 3.0"),
    ]
    print_table(
        "training step: forward + cross-entropy + backward + SGD momentum (best of 15 rounds in alternating blocks)",
        rows,
    )


if __name__ == "__main__":
    main()
