"""ResNet-18 (small-image variant: 3x3 stride-1 stem, no max-pool) on MNIST for what a 2-core machine affords:
one epoch over the first N training images through `deepgrad.train.fit`, then the full 10,000-image test set.

The settings are those of `deepgrad train --dataset mnist --model resnet18` (SGD lr 0.05 with momentum 0.9,
batch 128; the cosine schedule is left out, as its per-epoch steps do not move within one epoch); the full
epoch is `python benchmarks/mnist_accuracy.py --resnet`.
Prints the training time, samples/s and the test accuracy.

Run: python benchmarks/resnet_mnist.py [--data-dir DIR] [--samples N]
"""

from __future__ import annotations

import argparse
import time

from _common import blas_description, machine_description, mnist_dir

import deepgrad as dg
from deepgrad import models, nn, optim
from deepgrad.data import MNIST, DataLoader, Subset
from deepgrad.train import evaluate, fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--samples", type=int, default=10000, help="training images in the epoch")
    args = parser.parse_args()
    data_dir = mnist_dir(args.data_dir)
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}; deepgrad threads: {dg.get_num_threads()}")
    dg.manual_seed(0)
    train = Subset(MNIST(data_dir, train=True), list(range(args.samples)))
    test = MNIST(data_dir, train=False)
    model = models.resnet18(num_classes=10, in_channels=1, small_input=True)
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    loader = DataLoader(train, batch_size=128, shuffle=True, seed=0)
    start = time.perf_counter()
    fit(model, nn.CrossEntropyLoss(), optimizer, loader, epochs=1, quiet=True)
    seconds = time.perf_counter() - start
    accuracy = evaluate(model, DataLoader(test, batch_size=256), quiet=True).accuracy
    print(
        f"ResNet-18 small, 1 epoch over {args.samples} training images: {seconds:.0f} s "
        f"({args.samples / seconds:.1f} samples/s), test accuracy {100 * accuracy:.2f}%"
    )


if __name__ == "__main__":
    main()
