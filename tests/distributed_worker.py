"""Scenarios for tests/test_distributed.py, run under ``mpiexec -n N python distributed_worker.py SCENARIO``.

Every rank checks its own results and raises on a mismatch (which aborts the job); each returns what the test
asserts on, and rank 0 prints it as one JSON line. SCENARIO may be several, comma-separated.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np

import deepgrad
import deepgrad.distributed as dist
from deepgrad import nn, optim
from deepgrad.data import DataLoader, DistributedSampler, TensorDataset
from deepgrad.nn import functional as F


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).double()


def _cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 8),
        nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3),
    ).double()  # fmt: skip


def _data(kind: str, n: int) -> TensorDataset:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, 6)) if kind == "mlp" else rng.normal(size=(n, 1, 6, 6))
    return TensorDataset(deepgrad.from_numpy(x), rng.integers(0, 3, size=n))


def _relative_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def same_as_one_process(kind: str) -> dict:
    """N ranks with global batch B take the same steps as one process with batch B and the same order."""
    rank, size = dist.get_rank(), dist.get_world_size()
    batch, steps, epochs = 12, 3, 2
    dataset = _data(kind, batch * steps)
    build = _mlp if kind == "mlp" else _cnn

    deepgrad.manual_seed(0)
    reference = build()
    opt = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    for epoch in range(epochs):
        order = np.random.default_rng(7 + epoch).permutation(len(dataset))  # the sampler's permutation
        for step in range(steps):
            x, y = dataset.gather(order[step * batch : (step + 1) * batch])
            loss = F.cross_entropy(reference(deepgrad.from_numpy(x)), deepgrad.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()

    deepgrad.manual_seed(100 + rank)  # different on every rank: DDP must broadcast rank 0's parameters
    deepgrad.manual_seed(0) if rank == 0 else None
    model = build()
    if kind == "cnn":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=0.001)
    opt = optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    sampler = DistributedSampler(dataset, seed=7)
    loader = DataLoader(dataset, batch_size=batch // size, sampler=sampler)
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        for x, y in loader:
            loss = F.cross_entropy(ddp(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
    worst = 0.0
    expected = reference.state_dict()
    for key, value in model.state_dict().items():
        if value.dtype.kind == "f":
            worst = max(worst, _relative_difference(value.numpy(), expected[key].numpy()))
    if worst > 1e-10:
        raise AssertionError(f"rank {rank}: parameters differ from one process by {worst:.3g} (relative)")
    return {"worst": worst, "buckets": len(ddp.bucket_sizes), "keys": list(ddp.state_dict())[:2]}


def overlap() -> dict:
    """Record, for each bucket, how many parameter gradients were ready when its all-reduce started."""
    deepgrad.manual_seed(0)
    model = nn.Sequential(*[nn.Linear(64, 64) for _ in range(6)])
    ddp = nn.parallel.DistributedDataParallel(model, bucket_cap_mb=64 * 65 * 4 / 2**20)
    x = deepgrad.randn(8, 64)
    ddp(x).sum().backward()
    return {"launches": ddp.bucket_launches, "params": len(list(model.parameters()))}


def no_sync() -> dict:
    """Two micro-batches (one under no_sync) accumulate to the gradient of the larger batch."""
    rank, size = dist.get_rank(), dist.get_world_size()
    dataset = _data("mlp", 8 * size)
    deepgrad.manual_seed(0)
    reference = _mlp()
    x, y = dataset.gather(np.arange(len(dataset)))
    F.cross_entropy(reference(deepgrad.from_numpy(x)), deepgrad.tensor(y)).backward()

    deepgrad.manual_seed(0)
    ddp = nn.parallel.DistributedDataParallel(_mlp())
    shard = np.arange(len(dataset))[rank::size]  # rank's 8 samples, in two micro-batches of 4
    for part, context in ((shard[:4], ddp.no_sync()), (shard[4:], None)):
        xb, yb = dataset.gather(part)
        if context is None:
            (F.cross_entropy(ddp(deepgrad.from_numpy(xb)), deepgrad.tensor(yb)) / 2).backward()
        else:
            with context:
                (F.cross_entropy(ddp(deepgrad.from_numpy(xb)), deepgrad.tensor(yb)) / 2).backward()
    worst = max(
        _relative_difference(p.grad.numpy(), q.grad.numpy())
        for p, q in zip(ddp.module.parameters(), reference.parameters())
    )
    if worst > 1e-10:
        raise AssertionError(f"rank {rank}: no_sync accumulation differs by {worst:.3g}")
    return {"worst": worst}


class _Branches(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(4, 2)
        self.unused = nn.Linear(4, 2)

    def forward(self, x: deepgrad.Tensor) -> deepgrad.Tensor:
        return self.used(x)


def unused() -> dict:
    """find_unused_parameters: a parameter no rank used keeps grad None; without the flag, a clear error."""
    deepgrad.manual_seed(0)
    ddp = nn.parallel.DistributedDataParallel(_Branches(), find_unused_parameters=True)
    ddp(deepgrad.randn(3, 4)).sum().backward()
    report = {
        "unused_grad": ddp.module.unused.weight.grad is None,
        "used_grad": ddp.module.used.weight.grad is not None,
    }
    strict = nn.parallel.DistributedDataParallel(_Branches())
    try:
        strict(deepgrad.randn(3, 4)).sum().backward()
    except RuntimeError as error:
        report["error"] = str(error)
    return report


def sampler() -> dict:
    """Every rank's shards, per epoch, gathered on every rank."""
    size = dist.get_world_size()
    n = 23
    shards = []
    for epoch in range(3):
        s = DistributedSampler(range(n), seed=3)
        s.set_epoch(epoch)
        mine = deepgrad.tensor(s.indices())
        gathered = [deepgrad.zeros(len(s), dtype=deepgrad.int64) for _ in range(size)]
        dist.all_gather(gathered, mine)
        shards.append([g.tolist() for g in gathered])
    return {"n": n, "shards": shards}


def fit_uneven() -> dict:
    """fit() with DDP and DistributedSampler on a data set that does not split evenly: no deadlock, the
    same (reduced) history on every rank."""
    from deepgrad.train import evaluate, fit

    dataset = _data("mlp", 37)
    deepgrad.manual_seed(0)
    ddp = nn.parallel.DistributedDataParallel(_mlp())
    loader = DataLoader(dataset, batch_size=5, sampler=DistributedSampler(dataset, seed=1))
    val = DataLoader(dataset, batch_size=7, sampler=DistributedSampler(dataset, shuffle=False))
    opt = optim.SGD(ddp.parameters(), lr=0.05)
    history = fit(ddp, nn.CrossEntropyLoss(), opt, loader, epochs=3, val_loader=val, quiet=True)
    result = evaluate(ddp, val, nn.CrossEntropyLoss())
    values = np.array(history["loss"] + history["val_loss"] + [result.loss, result.count], dtype=np.float64)
    low, high = deepgrad.tensor(values.copy()), deepgrad.tensor(values.copy())
    dist.all_reduce(low, dist.ReduceOp.MIN)
    dist.all_reduce(high, dist.ReduceOp.MAX)
    if not np.array_equal(low.numpy(), high.numpy()):
        raise AssertionError(f"rank {dist.get_rank()}: histories differ between ranks")
    return {"count": result.count, "confusion_total": int(result.confusion.sum()), "epochs": 3}


def mismatch() -> None:
    hidden = 8 if dist.get_rank() == 0 else 9
    nn.parallel.DistributedDataParallel(nn.Sequential(nn.Linear(4, hidden), nn.Linear(hidden, 2)))


def exception() -> None:
    t = deepgrad.ones(3)
    for step in range(1000):
        if step == 3 and dist.get_rank() == 1:
            raise ValueError("a failure on purpose")
        dist.all_reduce(t)
        t.array[...] = 1


def kill() -> None:
    t = deepgrad.ones(1000)
    for step in range(10**7):
        if step == 20 and dist.get_rank() == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        dist.all_reduce(t)
        t.array[...] = 1
        time.sleep(0.001)


if __name__ == "__main__":
    dist.init_process_group("mpi")
    scenario = sys.argv[1]
    scenarios = {
        "mlp": lambda: same_as_one_process("mlp"),
        "cnn": lambda: same_as_one_process("cnn"),
        "overlap": overlap,
        "no_sync": no_sync,
        "unused": unused,
        "sampler": sampler,
        "fit": fit_uneven,
        "mismatch": mismatch,
        "exception": exception,
        "kill": kill,
    }
    for name in scenario.split(","):
        result = scenarios[name]()
        if result is not None and dist.get_rank() == 0:
            print(json.dumps({"scenario": name, **result}), flush=True)
    dist.destroy_process_group()
