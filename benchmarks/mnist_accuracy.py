"""The README's full MNIST runs, from the `deepgrad train` command: softmax regression, the MLP, LeNet-5,
the compact CNN, and (with ``--resnet``) one epoch of ResNet-18's small-image variant.

Targets (MNIST test set, as in the lectures' and LeCun's table): softmax regression >= 92%,
MLP 784-512-256-10 >= 98.0%; LeNet-5 with its own defaults (Adam, cosine schedule, 10 epochs) >= 99.0%;
the compact CNN with its defaults (3 epochs) >= 99.2% (issue 12). Prints each command, its test accuracy
and wall time.

Run: python benchmarks/mnist_accuracy.py [--data-dir DIR] [--only NAME,...] [--resnet]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import blas_description, machine_description, mnist_dir

RUNS = [
    ("softmax regression", ["--model", "linear", "--epochs", "10", "--lr", "0.1"], 92.0),
    ("MLP 784-512-256-10", ["--model", "mlp", "--hidden", "512,256", "--epochs", "15"], 98.0),
    ("LeNet-5", ["--model", "lenet"], 99.0),
    ("cnn", ["--model", "cnn"], 99.2),
]
RESNET_RUN = ("ResNet-18 small, 1 epoch", ["--model", "resnet18", "--epochs", "1"], 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--only", default=None, help="comma-separated run names (e.g. LeNet-5,cnn)")
    parser.add_argument("--resnet", action="store_true", help="also one epoch of ResNet-18 (small-image)")
    args = parser.parse_args()
    runs = RUNS + ([RESNET_RUN] if args.resnet else [])
    if args.only:
        wanted = {name.strip() for name in args.only.split(",")}
        runs = [run for run in runs if run[0] in wanted]
    data_dir = mnist_dir(args.data_dir)
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}\n")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, options, target in runs:
            metrics = Path(tmp) / "metrics.json"
            command = [
                "deepgrad",
                "train",
                "--dataset",
                "mnist",
                "--data-dir",
                data_dir,
                *options,
                "--quiet",
                "--plots",
                "none",
            ]
            print("$ " + " ".join(command))
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "deepgrad.cli", *command[1:], "--metrics-json", str(metrics)], check=True
            )
            seconds = time.perf_counter() - start
            accuracy = 100 * json.loads(metrics.read_text())["test"]["accuracy"]
            rows.append((name, accuracy, target, seconds))
    print(f"\n{'model':<22} {'test accuracy':>14} {'target':>8} {'wall time':>10}")
    for name, accuracy, target, seconds in rows:
        status = "ok" if accuracy >= target else "BELOW TARGET"
        print(f"{name:<22} {accuracy:>13.2f}% {target:>7.1f}% {seconds:>9.0f}s  {status}")


if __name__ == "__main__":
    main()
