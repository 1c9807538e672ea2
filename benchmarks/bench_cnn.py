"""CNN training speed against PyTorch in the same process: training steps of ResNet-18 (small-image variant,
3x32x32, batch 32) and VGG-11-BN (small-image variant, 3x32x32, batch 32) against the same networks built
from torchvision's modules, and one MNIST epoch of LeNet-5 and of the compact `cnn` through deepgrad's
training loop (`deepgrad.train.fit`, as `deepgrad train` runs it) against the same loop written in PyTorch.

Targets (issue 12): <= 1.5x PyTorch's time for the steps, <= 1.0x for the MNIST epochs.
Run: python benchmarks/bench_cnn.py [--data-dir DIR] [--samples N] [--rounds R] [--skip-epochs]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from _common import blas_description, machine_description, mnist_dir, paired_times, print_table, torch_lenet5

import deepgrad as dg
from deepgrad import models, nn, optim
from deepgrad.train import fit
from deepgrad.train.registry import CNN_BATCH_NORM, CNN_DROPOUT

try:
    import torch
except ImportError:  # pragma: no cover
    raise SystemExit("this benchmark compares against PyTorch: pip install torch==2.13.0") from None


def import_torchvision():
    """torchvision 0.28 with the CPU torch: define its two C++ ops' schemas first (see tests/test_models.py)."""
    try:
        import torchvision
    except RuntimeError:
        library = torch.library.Library("torchvision", "FRAGMENT")
        for op in ("nms", "qnms"):
            library.define(f"{op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        import_torchvision.library = library  # keep the definitions alive
        import torchvision
    return torchvision


def torch_twin(ours: nn.Module, theirs: torch.nn.Module) -> torch.nn.Module:
    """``theirs`` with ``ours``' weights (the same network, the same starting point)."""
    theirs.load_state_dict({key: torch.from_numpy(value.array.copy()) for key, value in ours.state_dict().items()})
    return theirs


def training_step(ours: nn.Module, theirs: torch.nn.Module, shape: tuple[int, ...], classes: int = 10) -> tuple:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(np.float32)
    y = rng.integers(0, classes, shape[0])
    opt_dg = optim.SGD(ours.parameters(), lr=0.01, momentum=0.9)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.01, momentum=0.9)
    x_dg, y_dg, x_t, y_t = dg.tensor(x), dg.tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    ours.train()
    theirs.train()

    def step_ours() -> None:
        loss = nn.functional.cross_entropy(ours(x_dg), y_dg)
        opt_dg.zero_grad()
        loss.backward()
        opt_dg.step()

    def step_theirs() -> None:
        loss = torch.nn.functional.cross_entropy(theirs(x_t), y_t)
        opt_t.zero_grad()
        loss.backward()
        opt_t.step()

    return step_ours, step_theirs


def resnet18_small(tv) -> tuple:
    ours = models.resnet18(num_classes=10, small_input=True)
    theirs = tv.models.resnet18(num_classes=10)
    theirs.conv1 = torch.nn.Conv2d(3, 64, 3, 1, 1, bias=False)
    theirs.maxpool = torch.nn.Identity()
    return training_step(ours, torch_twin(ours, theirs), (32, 3, 32, 32))


def vgg11_bn_small(tv) -> tuple:
    ours = models.vgg11_bn(num_classes=10, small_input=True)
    theirs = tv.models.vgg11_bn(num_classes=10, init_weights=False)
    theirs.features = tv.models.vgg.make_layers(tv.models.vgg.cfgs["A"], batch_norm=True)
    for index in range(len(theirs.features)):  # deepgrad's small variant pools with ceil_mode (28x28 input too)
        if isinstance(theirs.features[index], torch.nn.MaxPool2d):
            theirs.features[index] = torch.nn.MaxPool2d(2, 2, ceil_mode=True)
    theirs.avgpool = torch.nn.AdaptiveAvgPool2d((1, 1))
    theirs.classifier = torch.nn.Sequential(
        torch.nn.Linear(512, 512), torch.nn.ReLU(True), torch.nn.Dropout(0.5),
        torch.nn.Linear(512, 512), torch.nn.ReLU(True), torch.nn.Dropout(0.5),
        torch.nn.Linear(512, 10),
    )  # fmt: skip
    return training_step(ours, torch_twin(ours, theirs), (32, 3, 32, 32))


def command_cnn() -> nn.Module:
    """The cnn `deepgrad train --model cnn` builds (its dropout rates and batch norm)."""
    return models.SmallCNN(dropout=CNN_DROPOUT, batch_norm=CNN_BATCH_NORM)


def torch_cnn() -> torch.nn.Module:
    """The same network in PyTorch."""
    first, second = CNN_DROPOUT
    if CNN_BATCH_NORM:
        convolutions = [
            torch.nn.Conv2d(1, 32, 3, bias=False), torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
            torch.nn.Conv2d(32, 64, 3, bias=False), torch.nn.BatchNorm2d(64), torch.nn.ReLU(),
        ]  # fmt: skip
    else:
        convolutions = [torch.nn.Conv2d(1, 32, 3), torch.nn.ReLU(), torch.nn.Conv2d(32, 64, 3), torch.nn.ReLU()]
    return torch.nn.Sequential(
        *convolutions, torch.nn.MaxPool2d(2), torch.nn.Dropout(first), torch.nn.Flatten(),
        torch.nn.Linear(9216, 128), torch.nn.ReLU(), torch.nn.Dropout(second), torch.nn.Linear(128, 10),
    )  # fmt: skip


def warm_up(name: str, batch: int) -> None:
    """One training step of a throwaway copy of the net in each framework, before the clock starts: the
    one-off costs of a process (numba loading deepgrad's compiled kernels from its disk cache, about 1 s;
    PyTorch's lazy initialisation) are paid there, as the imports are."""
    x, y = np.zeros((batch, 1, 28, 28), np.float32), np.zeros(batch, np.int64)
    ours = models.LeNet5() if name == "lenet" else command_cnn()
    theirs = torch_lenet5() if name == "lenet" else torch_cnn()
    nn.CrossEntropyLoss()(ours(dg.tensor(x)), dg.tensor(y)).backward()
    torch.nn.CrossEntropyLoss()(theirs(torch.from_numpy(x)), torch.from_numpy(y)).backward()


def mnist_epoch(name: str, data_dir: str, samples: int, batch: int, lr: float, rounds: int) -> tuple[float, float]:
    """Best seconds for one epoch of Adam training over ``rounds`` alternating epochs of each side (the VM's
    speed drifts, and a single pair of epochs, ours and then theirs, caught it on one side only): deepgrad's
    `fit` over its DataLoader, and the same loop in PyTorch (a shuffled index per epoch, slices of one
    in-memory tensor, as deepgrad's loader does). Training goes on from round to round."""
    from deepgrad.data import MNIST, DataLoader, Subset

    train = MNIST(root=data_dir, train=True, flatten=False)
    subset = Subset(train, list(range(samples))) if samples < len(train) else train
    ours = models.LeNet5() if name == "lenet" else command_cnn()
    theirs = torch_twin(ours, torch_lenet5() if name == "lenet" else torch_cnn())
    loader = DataLoader(subset, batch_size=batch, shuffle=True, seed=0)
    optimizer, loss_fn = optim.Adam(ours.parameters(), lr=lr), nn.CrossEntropyLoss()

    images = np.stack([np.asarray(subset[i][0].array) for i in range(len(subset))]) if samples < len(train) else None
    if images is None:
        x_all, y_all = next(iter(DataLoader(train, batch_size=len(train))))
        images, labels = x_all.array, y_all.array
    else:
        labels = np.array([int(subset[i][1]) for i in range(len(subset))])
    x_t, y_t = torch.from_numpy(images), torch.from_numpy(labels)
    opt_t = torch.optim.Adam(theirs.parameters(), lr=lr)
    loss_t = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)

    def our_epoch() -> None:
        fit(ours, loss_fn, optimizer, loader, 1, quiet=True)

    def their_epoch() -> None:
        theirs.train()
        order = torch.randperm(len(x_t), generator=generator)
        for begin in range(0, len(x_t), batch):
            index = order[begin : begin + batch]
            loss = loss_t(theirs(x_t[index]), y_t[index])
            opt_t.zero_grad()
            loss.backward()
            opt_t.step()

    warm_up(name, batch)
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for side, epoch in enumerate((our_epoch, their_epoch)):
            time.sleep(0.3)  # the other side's worker threads go to sleep
            start = time.perf_counter()
            epoch()
            best[side] = min(best[side], time.perf_counter() - start)
    return best[0], best[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="MNIST directory (default: $DEEPGRAD_MNIST or shared/data)")
    parser.add_argument("--samples", type=int, default=60000, help="training samples in the MNIST epoch")
    parser.add_argument("--skip-epochs", action="store_true", help="only the ResNet-18 / VGG-11-BN steps")
    parser.add_argument("--rounds", type=int, default=2, help="alternating epochs of each side (the best counts)")
    args = parser.parse_args()
    tv = import_torchvision()
    print(f"machine: {machine_description()}")
    print(f"numpy BLAS: {blas_description()}")
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}; numpy {np.__version__}")
    rows = []
    for label, build in [
        ("ResNet-18 (small-image), batch 32, 3x32x32", resnet18_small),
        ("VGG-11-BN (small-image), batch 32, 3x32x32", vgg11_bn_small),
    ]:
        ours, theirs = build(tv)
        rows.append((label, *paired_times(ours, theirs, number=1, blocks=2, repeat=3), "1.5"))
    print_table("training step: forward + cross-entropy + backward + SGD momentum", rows)
    if args.skip_epochs:
        return
    data_dir = mnist_dir(args.data_dir)
    rows = []
    for name, batch, lr in [("lenet", 128, 0.002), ("cnn", 64, 0.001)]:
        ours_s, theirs_s = mnist_epoch(name, data_dir, args.samples, batch, lr, args.rounds)
        rows.append((f"{name}, MNIST epoch ({args.samples} samples), batch {batch}, Adam", ours_s, theirs_s, "1.0"))
    print_table("one MNIST training epoch through the training loop", rows)


if __name__ == "__main__":
    sys.exit(main())
