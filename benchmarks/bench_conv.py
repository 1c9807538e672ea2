"""Convolution, pooling and batch norm against PyTorch, forward + backward, float32, same process: every layer
shape of issue 11 with its BLAS floor, pooling and BatchNorm2d (train mode), a LeNet-5 training step and a
ResNet-18 training step, and the ResNet-18 step's peak memory.

The BLAS floor of a convolution is the time NumPy's matmul takes, in the same run, on the layer's three matrix
products (forward W @ cols, input gradient W^T @ grad, weight gradient grad @ cols^T, per group, over the whole
batch): what an im2col + GEMM convolution cannot beat. The ResNet-18 (3x3 stem, no max-pool, 4 stages of 2
basic blocks, average pool, linear) is built here from layers, the same way in both frameworks.
Run: python benchmarks/bench_conv.py [--quick] [--only TEXT] [--threads N]
(--quick: fewer rounds; --only: the cases whose name contains TEXT; --threads: both frameworks on N threads)
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from _common import blas_description, machine_description, paired_times, print_table, torch_lenet5

import deepgrad as dg
import deepgrad.nn.functional as F
from deepgrad import nn, optim
from deepgrad.models import LeNet5

try:
    import torch
except ImportError:  # pragma: no cover
    raise SystemExit("this benchmark compares against PyTorch: pip install torch==2.13.0") from None

# (name, input shape, weight shape, conv2d keyword arguments, calls per block, target ratio to PyTorch)
CONV_CASES = [
    ("3x3 p1 64->64, 32x64x32x32", (32, 64, 32, 32), (64, 64, 3, 3), dict(padding=1), 2, 1.5),
    ("3x3 p1 128->128, 32x128x16x16", (32, 128, 16, 16), (128, 128, 3, 3), dict(padding=1), 2, 1.5),
    ("3x3 p1 256->256, 32x256x8x8", (32, 256, 8, 8), (256, 256, 3, 3), dict(padding=1), 2, 1.5),
    ("3x3 s2 p1 64->128, 32x64x32x32", (32, 64, 32, 32), (128, 64, 3, 3), dict(stride=2, padding=1), 3, 1.5),
    ("1x1 256->64, 32x256x16x16", (32, 256, 16, 16), (64, 256, 1, 1), {}, 5, 1.2),
    ("1x1 64->256, 32x64x16x16", (32, 64, 16, 16), (256, 64, 1, 1), {}, 5, 1.2),
    ("5x5 p2 1->6, 64x1x28x28", (64, 1, 28, 28), (6, 1, 5, 5), dict(padding=2), 10, 1.5),
    ("5x5 6->16, 64x6x14x14", (64, 6, 14, 14), (16, 6, 5, 5), {}, 10, 1.5),
    ("11x11 s4 p2 3->64, 8x3x224x224", (8, 3, 224, 224), (64, 3, 11, 11), dict(stride=4, padding=2), 3, 1.5),
    ("depthwise 3x3 p1 g64, 32x64x32x32", (32, 64, 32, 32), (64, 1, 3, 3), dict(padding=1, groups=64), 3, 2.0),
]


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

    return ours, theirs, tuple(upstream.shape)


def blas_floor(x_shape, w_shape, out_shape, groups: int, number: int) -> float:
    """Seconds NumPy's matmul takes on the layer's three products (same shapes, float32, per group)."""
    rng = np.random.default_rng(1)
    out_g, in_g = w_shape[0] // groups, w_shape[1] * w_shape[2] * w_shape[3]
    columns = out_shape[0] * out_shape[2] * out_shape[3]
    weight = rng.standard_normal((groups, out_g, in_g)).astype(np.float32)
    cols = rng.standard_normal((groups, in_g, columns)).astype(np.float32)
    grad = rng.standard_normal((groups, out_g, columns)).astype(np.float32)
    weight_t, cols_t = np.swapaxes(weight, 1, 2), np.swapaxes(cols, 1, 2)

    def products() -> None:
        weight @ cols  # forward
        weight_t @ grad  # input gradient (before col2im)
        grad @ cols_t  # weight gradient

    best, _ = paired_times(products, lambda: None, number, blocks=2, repeat=3)
    return best


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


def batch_norm_case(x_shape) -> tuple:
    channels = x_shape[1]
    ours_layer, theirs_layer = nn.BatchNorm2d(channels), torch.nn.BatchNorm2d(channels)
    return pool_case(x_shape, ours_layer, theirs_layer)


def training_step(model_dg, model_t, x: np.ndarray, y: np.ndarray) -> tuple:
    """forward, cross-entropy, backward and SGD momentum, the same weights in both frameworks."""
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


def lenet_step(batch: int) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, batch)
    return training_step(LeNet5(), torch_lenet5(), x, y)


def resnet18(lib) -> object:
    """ResNet-18 for 3x32x32 images from ``lib``'s layers (deepgrad.nn or torch.nn: the same names, so the
    state dicts match): 3x3 stem, no max-pool, 4 stages of 2 basic blocks, 4x4 average pool, linear."""

    class BasicBlock(lib.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = lib.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = lib.BatchNorm2d(cout)
            self.conv2 = lib.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = lib.BatchNorm2d(cout)
            self.relu = lib.ReLU()
            self.shortcut = lib.Identity()
            if stride != 1 or cin != cout:
                self.shortcut = lib.Sequential(lib.Conv2d(cin, cout, 1, stride, bias=False), lib.BatchNorm2d(cout))

        def forward(self, x):
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + self.shortcut(x))

    widths, layers, cin = (64, 128, 256, 512), [], 64
    for stage, width in enumerate(widths):
        for block in range(2):
            layers.append(BasicBlock(cin, width, 2 if stage and not block else 1))
            cin = width
    return lib.Sequential(
        lib.Conv2d(3, 64, 3, 1, 1, bias=False), lib.BatchNorm2d(64), lib.ReLU(),
        *layers,
        lib.AvgPool2d(4), lib.Flatten(), lib.Linear(512, 10),
    )  # fmt: skip


def resnet_data(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.standard_normal((batch, 3, 32, 32)).astype(np.float32), rng.integers(0, 10, batch)


def resnet_step(batch: int) -> tuple:
    return training_step(resnet18(nn), resnet18(torch.nn), *resnet_data(batch))


def _peak_rss_worker(framework: str, batch: int) -> None:
    """In a fresh process: the peak resident memory a ResNet-18 training step adds, in bytes (printed)."""
    x, y = resnet_data(batch)
    if framework == "torch":
        model, loss_fn = resnet18(torch.nn), torch.nn.CrossEntropyLoss()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        inputs, targets = torch.from_numpy(x), torch.from_numpy(y)
    else:
        model, loss_fn = resnet18(nn), nn.CrossEntropyLoss()
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        inputs, targets = dg.tensor(x), dg.tensor(y)

    def step() -> None:
        loss = loss_fn(model(inputs), targets)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()  # gradients and momentum buffers exist from here on, in both frameworks
    time.sleep(0.2)
    with open("/proc/self/clear_refs", "w") as f:  # reset the high-water mark (Linux)
        f.write("5")
    base = _status_kib("VmRSS")
    for _ in range(2):
        step()
    print((_status_kib("VmHWM") - base) * 1024)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


# glibc raises its mmap threshold each time a large mmapped block is freed, so after the first step part of
# PyTorch's large blocks come from the heap, stay resident between steps and drop out of the "extra" figure,
# a different part in each process (75-129 MiB at batch 32 in identical fresh processes, 2026-12-08; NumPy's
# arrays showed 110-112). A fixed threshold sends every large block of both frameworks back to the OS when
# freed, so both peaks count the same memory (PyTorch 106-120 MiB, deepgrad 110-112); each side is the median
# of a few processes.
MEMORY_PROCESSES = 3
FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": str(128 * 2**10)}


def peak_memory(batch: int, processes: int = MEMORY_PROCESSES) -> tuple[list[int], list[int]]:
    """(deepgrad, PyTorch) peak RSS a ResNet-18 step adds above the memory held between steps (weights,
    gradients, momentum), each measured the same way in fresh processes of its own, alternating."""
    results: dict[str, list[int]] = {"deepgrad": [], "torch": []}
    for _ in range(processes):
        for framework in results:
            out = subprocess.run(
                [sys.executable, __file__, "--memory-worker", framework, str(batch)],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **FIXED_MMAP_THRESHOLD},
            )
            results[framework].append(int(out.stdout.split()[-1]))
    return results["deepgrad"], results["torch"]


def print_conv_table(rows: list) -> None:
    print("\nconvolution, forward + backward (input, weight and bias gradients), best of alternating blocks")
    print(f"{'case':<36} {'deepgrad':>10} {'pytorch':>10} {'ratio':>6} {'target':>6} {'floor':>10} {'/floor':>6}")
    for name, ours, theirs, target, floor in rows:
        print(
            f"{name:<36} {ours * 1e3:>8.2f}ms {theirs * 1e3:>8.2f}ms {ours / theirs:>6.2f} {target:>6} "
            f"{floor * 1e3:>8.2f}ms {ours / floor:>6.2f}"
        )


def main(quick: bool, only: str | None) -> None:
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; numpy {np.__version__}")
    repeat = 3 if quick else 5

    def wanted(name: str) -> bool:
        return only is None or only in name

    rows = []
    for name, x_shape, w_shape, kwargs, number, target in CONV_CASES:
        if not wanted(name):
            continue
        ours, theirs, out_shape = conv_case(x_shape, w_shape, **kwargs)
        ours_time, theirs_time = paired_times(ours, theirs, number, repeat=repeat)
        floor = blas_floor(x_shape, w_shape, out_shape, kwargs.get("groups", 1), number)
        rows.append((name, ours_time, theirs_time, f"<={target}", floor))
    if rows:
        print_conv_table(rows)
    TF = torch.nn.functional
    others = [
        ("max_pool2d 2x2, 64x6x28x28", (64, 6, 28, 28), lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2)),
        (
            "max_pool2d 3x3 s2 p1, 32x64x32x32",
            (32, 64, 32, 32),
            lambda t: F.max_pool2d(t, 3, 2, 1),
            lambda t: TF.max_pool2d(t, 3, 2, 1),
        ),
        ("avg_pool2d 2x2, 64x6x28x28", (64, 6, 28, 28), lambda t: F.avg_pool2d(t, 2), lambda t: TF.avg_pool2d(t, 2)),
    ]
    table = []
    for name, shape, ours_fn, theirs_fn in others:
        if wanted(name):
            table.append((name, *paired_times(*pool_case(shape, ours_fn, theirs_fn), 10, repeat=repeat), "<=1.0"))
    name = "BatchNorm2d train, 32x64x32x32"
    if wanted(name):
        table.append((name, *paired_times(*batch_norm_case((32, 64, 32, 32)), 10, repeat=repeat), "<=1.0"))
    if table:
        print_table("pooling and batch norm, forward + backward", table)
    steps = []
    if wanted("LeNet-5 step, batch 64"):
        steps.append(("LeNet-5 step, batch 64", *paired_times(*lenet_step(64), 10, repeat=repeat), "<=1.0"))
    if wanted("ResNet-18 step, 32x3x32x32"):
        times = paired_times(*resnet_step(32), 1, blocks=2, repeat=repeat - 1)
        steps.append(("ResNet-18 step, 32x3x32x32", *times, "<=1.5"))
    if steps:
        print_table("training steps: forward + cross-entropy + backward + SGD momentum", steps)
    if wanted("ResNet-18 peak memory"):
        ours, theirs = peak_memory(32)
        mib = [[round(b / 2**20) for b in sorted(side)] for side in (ours, theirs)]
        print(
            f"\nResNet-18 peak memory, step at batch 32 (extra RSS, median of {len(ours)} fresh processes each): "
            f"deepgrad {statistics.median(ours) / 2**20:.0f} MiB {mib[0]}, PyTorch "
            f"{statistics.median(theirs) / 2**20:.0f} MiB {mib[1]}, ratio "
            f"{statistics.median(ours) / statistics.median(theirs):.2f} (target <= 1.5)"
        )


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--only", metavar="TEXT", help="only the cases whose name contains TEXT")
    parser.add_argument("--threads", type=int, help="run both frameworks (BLAS, PyTorch) on this many threads")
    return parser.parse_args()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-worker":
        _peak_rss_worker(sys.argv[2], int(sys.argv[3]))
    else:
        args = parse_args()
        if args.threads:
            torch.set_num_threads(args.threads)
            dg.set_num_threads(args.threads)  # deepgrad's kernels and, through threadpoolctl, NumPy's BLAS
        main(args.quick, args.only)
