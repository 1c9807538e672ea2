"""One epoch of MNIST training, deepgrad against PyTorch, in the same run.

784-512-256-10 ReLU MLP, batch 128, SGD momentum 0.9, lr 0.05, shuffled; deepgrad uses its DataLoader and
`fit` loop, PyTorch its DataLoader over in-memory tensors and the usual loop. Prints epoch seconds, the
ratio (target <= 1.0) and test accuracy after one epoch.

Run: python benchmarks/bench_mnist.py [--data-dir DIR] [--epochs N]
MNIST is read from --data-dir, $DEEPGRAD_MNIST, or ../shared/data/mnist beside the project.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
from _common import blas_description, machine_description

import deepgrad as dg
from deepgrad import nn, optim
from deepgrad.data import MNIST, DataLoader
from deepgrad.models import MLP
from deepgrad.train import evaluate, fit

try:
    import torch
except ImportError:  # pragma: no cover
    raise SystemExit("this benchmark compares against PyTorch: pip install torch==2.13.0") from None


def find_mnist(given: str | None) -> Path:
    candidates = [
        given,
        os.environ.get("DEEPGRAD_MNIST"),
        Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / "train-images-idx3-ubyte.gz").exists():
            return Path(candidate)
    raise SystemExit("MNIST not found: pass --data-dir or set DEEPGRAD_MNIST")


def run_deepgrad(train: MNIST, test: MNIST, epochs: int) -> tuple[list[float], float]:
    dg.manual_seed(0)
    model = MLP(784, [512, 256], 10)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=0)
    seconds = []
    for epoch in range(epochs):
        start = time.perf_counter()
        fit(model, nn.CrossEntropyLoss(), optimizer, loader, epoch + 1, start_epoch=epoch, quiet=True)
        seconds.append(time.perf_counter() - start)
    return seconds, evaluate(model, DataLoader(test, batch_size=1000)).accuracy


def run_torch(train: MNIST, test: MNIST, epochs: int) -> tuple[list[float], float]:
    torch.manual_seed(0)
    x, y = torch.from_numpy(train.images.reshape(len(train), -1)), torch.from_numpy(train.labels)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=128, shuffle=True)
    model = torch.nn.Sequential(
        torch.nn.Linear(784, 512), torch.nn.ReLU(), torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    seconds = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        xt, yt = torch.from_numpy(test.images.reshape(len(test), -1)), torch.from_numpy(test.labels)
        accuracy = (model(xt).argmax(1) == yt).float().mean().item()
    return seconds, accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    root = find_mnist(args.data_dir)
    train, test = MNIST(root, train=True, flatten=True), MNIST(root, train=False, flatten=True)
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; numpy {np.__version__}")
    ours, ours_acc = run_deepgrad(train, test, args.epochs)
    theirs, theirs_acc = run_torch(train, test, args.epochs)
    print(f"\n{'framework':<10} {'epoch seconds':>30} {'test accuracy':>14}")
    print(f"{'deepgrad':<10} {', '.join(f'{s:.2f}' for s in ours):>30} {100 * ours_acc:>13.2f}%")
    print(f"{'pytorch':<10} {', '.join(f'{s:.2f}' for s in theirs):>30} {100 * theirs_acc:>13.2f}%")
    print(f"ratio (deepgrad / pytorch, best epoch): {min(ours) / min(theirs):.2f}   target <= 1.0")


if __name__ == "__main__":
    main()
