"""Convolution and pooling against PyTorch: conv2d forward + backward for a few layer shapes, max pooling,
and one LeNet-5 training step (forward, cross-entropy, backward, SGD momentum) at batch 64.

Both frameworks see the same arrays and weights (float32) and are measured in the same process. No target
is set: the table reports where the im2col + BLAS route stands.
Run: python benchmarks/bench_conv.py
"""

from __future__ import annotations

import numpy as np
from _common import blas_description, machine_description, paired_times, print_table

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.models import LeNet5

try:
    import torch
except ImportError:  # pragma: no cover
    raise SystemExit("this benchmark compares against PyTorch: pip install torch==2.13.0") from None


def conv_case(x_shape, w_shape, **kwargs) -> tuple:
    """forward + backward (input, weight and bias gradients) of one conv2d call."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(x_shape).astype(np.float32)
    w = rng.standard_normal(w_shape).astype(np.float32)
    b = rng.standard_normal(w_shape[0]).astype(np.float32)
    x_dg, w_dg, b_dg = (dg.tensor(a, requires_grad=True) for a in (x, w, b))
    x_t, w_t, b_t = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with torch.no_grad():
        upstream = torch.nn.functional.conv2d(x_t, w_t, b_t, **kwargs)
    up_dg, up_t = dg.tensor(upstream.numpy()), torch.randn_like(upstream)

    def ours() -> None:
        x_dg.grad = w_dg.grad = b_dg.grad = None
        F.conv2d(x_dg, w_dg, b_dg, **kwargs).backward(up_dg)

    def theirs() -> None:
        x_t.grad = w_t.grad = b_t.grad = None
        torch.nn.functional.conv2d(x_t, w_t, b_t, **kwargs).backward(up_t)

    return ours, theirs


def pool_case(x_shape, ours_fn, theirs_fn) -> tuple:
    x = np.random.default_rng(0).standard_normal(x_shape).astype(np.float32)
    x_dg, x_t = dg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_shape = theirs_fn(torch.from_numpy(x)).shape
    up = np.random.default_rng(1).standard_normal(out_shape).astype(np.float32)
    up_dg, up_t = dg.tensor(up), torch.from_numpy(up)

    def ours() -> None:
        x_dg.grad = None
        ours_fn(x_dg).backward(up_dg)

    def theirs() -> None:
        x_t.grad = None
        theirs_fn(x_t).backward(up_t)

    return ours, theirs


def lenet_step(batch: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    model_dg = LeNet5()
    model_t = torch.nn.Sequential(
        torch.nn.Conv2d(1, 6, 5, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(),
        torch.nn.Linear(120, 84), torch.nn.ReLU(),
        torch.nn.Linear(84, 10),
    )  # fmt: skip
    model_t.load_state_dict({k: torch.from_numpy(v.array.copy()) for k, v in model_dg.state_dict().items()})
    opt_dg = optim.SGD(model_dg.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(model_t.parameters(), lr=0.01, momentum=0.9)
    loss_dg, loss_t = nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    x_dg, y_dg, x_t, y_t = dg.tensor(x), dg.tensor(y), torch.from_numpy(x), torch.from_numpy(y)

    def ours() -> None:
        loss = loss_dg(model_dg(x_dg), y_dg)
        opt_dg.zero_grad()
        loss.backward()
        opt_dg.step()

    def theirs() -> None:
        loss = loss_t(model_t(x_t), y_t)
        opt_t.zero_grad()
        loss.backward()
        opt_t.step()

    return ours, theirs


def main() -> None:
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; numpy {np.__version__}")
    conv_cases = [
        ("conv 1->6 5x5 pad 2, 64x1x28x28", (64, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), 30),
        ("conv 6->16 5x5, 64x6x14x14", (64, 6, 14, 14), (16, 6, 5, 5), {}, 30),
        ("conv 64->64 3x3 pad 1, 32x64x32x32", (32, 64, 32, 32), (64, 64, 3, 3), dict(padding=1), 3),
        ("conv 32->64 3x3 stride 2, 32x32x32x32", (32, 32, 32, 32), (64, 32, 3, 3), dict(stride=2, padding=1), 10),
        ("depthwise 64 3x3 pad 1, 32x64x32x32", (32, 64, 32, 32), (64, 1, 3, 3), dict(padding=1, groups=64), 5),
    ]
    rows = []
    for name, x_shape, w_shape, kwargs, number in conv_cases:
        ours, theirs = conv_case(x_shape, w_shape, **kwargs)
        rows.append((name, *paired_times(ours, theirs, number), "-"))
    TF = torch.nn.functional
    pools = [
        ("max_pool2d 2x2, 64x6x28x28", (64, 6, 28, 28), lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2)),
        (
            "max_pool2d 3x3 s2 p1, 32x64x32x32",
            (32, 64, 32, 32),
            lambda t: F.max_pool2d(t, 3, 2, 1),
            lambda t: TF.max_pool2d(t, 3, 2, 1),
        ),
        ("avg_pool2d 2x2, 64x6x28x28", (64, 6, 28, 28), lambda t: F.avg_pool2d(t, 2), lambda t: TF.avg_pool2d(t, 2)),
    ]
    for name, shape, ours_fn, theirs_fn in pools:
        ours, theirs = pool_case(shape, ours_fn, theirs_fn)
        rows.append((name, *paired_times(ours, theirs, 20), "-"))
    print_table("forward + backward (best of 15 rounds in alternating blocks)", rows)
    ours, theirs = lenet_step(64)
    print_table(
        "LeNet-5 training step: forward + cross-entropy + backward + SGD momentum",
        [("LeNet-5, batch 64, 1x28x28", *paired_times(ours, theirs, 20), "-")],
    )


if __name__ == "__main__":
    main()
