"""Data-parallel training on this machine: 1 process x 2 BLAS threads against 2 ranks x 1 thread.

Workloads (synthetic data, SGD momentum 0.9, global batch as in the MNIST runs):
- MLP 784-512-256-10, global batch 128;
- LeNet-5, global batch 64.
For each: samples/s of deepgrad in one process with 2 BLAS threads, of deepgrad DDP over 2 MPI ranks
(``mpiexec -n 2``) with 1 thread each, and of PyTorch the same two ways (DistributedDataParallel on gloo,
2 processes); all-reduce bytes and time per step; the share of the all-reduce time hidden behind
backward (1 - time waited at the end of backward / time of the same all-reduces run on their own).
Then the ring all-reduce model for many hosts: 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency.

Run: python benchmarks/bench_distributed.py   (needs the distributed extra and torch; a few minutes)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
WORKLOADS = {"mlp": 128, "lenet": 64}
WARMUP, BLOCKS = 5, 3
STEPS = {"mlp": 30, "lenet": 10}


# ------------------------------------------------------------------ workers (one per process)


def _batch(model: str, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (batch, 784) if model == "mlp" else (batch, 1, 28, 28)
    return rng.standard_normal(shape).astype(np.float32), rng.integers(0, 10, batch)


def _timed(step, steps: int, barrier) -> float:
    """Best mean seconds per step over BLOCKS blocks (every rank starts each block together)."""
    for _ in range(WARMUP):
        step()
    best = float("inf")
    for _ in range(BLOCKS):
        barrier()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        barrier()
        best = min(best, (time.perf_counter() - start) / steps)
    return best


def deepgrad_worker(model_name: str, distributed: bool) -> dict:
    import deepgrad
    import deepgrad.distributed as dist
    from deepgrad import nn, optim
    from deepgrad.models import MLP, LeNet5

    rank, size = 0, 1
    if distributed:
        dist.init_process_group("mpi")
        rank, size = dist.get_rank(), dist.get_world_size()
    deepgrad.manual_seed(0)
    model = MLP(784, [512, 256], 10) if model_name == "mlp" else LeNet5()
    net = nn.parallel.DistributedDataParallel(model) if distributed else model
    opt = optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch(model_name, WORKLOADS[model_name] // size, seed=rank)
    x, y = deepgrad.from_numpy(x), deepgrad.from_numpy(y)
    loss_fn = nn.CrossEntropyLoss()
    waits: list[float] = []

    def step() -> None:
        loss = loss_fn(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if distributed:
            waits.append(net.last_wait_seconds)

    seconds = _timed(step, STEPS[model_name], dist.barrier if distributed else lambda: None)
    out = {"seconds": seconds}
    if distributed:
        out.update(_deepgrad_comm(net, waits, dist))
        worst = deepgrad.tensor([seconds], dtype=deepgrad.float64)
        dist.all_reduce(worst, dist.ReduceOp.MAX)  # the job is as fast as its slowest rank
        out["seconds"] = float(worst.item())
    return out if rank == 0 else {}


def _deepgrad_comm(net, waits: list[float], dist) -> dict:
    """Bytes per step, and the time of the same all-reduces run back to back with nothing to hide them."""
    from deepgrad.distributed import process_group as pg

    comm, mpi = pg._GROUP.comm, pg._GROUP.mpi
    buffers = [np.zeros(size // 4, dtype=np.float32) for size in net.bucket_sizes]
    rounds = 20
    for _ in range(3):
        for b in buffers:
            comm.Allreduce(mpi.IN_PLACE, b, op=mpi.SUM)
    dist.barrier()
    start = time.perf_counter()
    for _ in range(rounds):
        for b in buffers:
            comm.Allreduce(mpi.IN_PLACE, b, op=mpi.SUM)
    alone = (time.perf_counter() - start) / rounds
    wait = float(np.median(waits[-STEPS["mlp"] :]))
    return {"bytes": sum(net.bucket_sizes), "buckets": len(net.bucket_sizes), "allreduce": alone, "wait": wait}


def _torch_model(name: str):
    import torch.nn as tnn

    if name == "mlp":
        return tnn.Sequential(tnn.Linear(784, 512), tnn.ReLU(), tnn.Linear(512, 256), tnn.ReLU(), tnn.Linear(256, 10))
    from _common import torch_lenet5

    return torch_lenet5()


def torch_worker(model_name: str, rank: int, size: int, threads: int) -> dict:
    import torch
    import torch.distributed as tdist

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = _torch_model(model_name)
    if size > 1:
        tdist.init_process_group("gloo", rank=rank, world_size=size)
        model = torch.nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = _batch(model_name, WORKLOADS[model_name] // size, seed=rank)
    x, y = torch.from_numpy(x), torch.from_numpy(y)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    seconds = _timed(step, STEPS[model_name], tdist.barrier if size > 1 else lambda: None)
    if size > 1:
        worst = torch.tensor([seconds], dtype=torch.float64)
        tdist.all_reduce(worst, tdist.ReduceOp.MAX)
        seconds = float(worst.item())
        tdist.destroy_process_group()
    return {"seconds": seconds} if rank == 0 else {}


# ------------------------------------------------------------------ driver


def _env(threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads))
    src = str(HERE.parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    return env


def _last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


def _run(command: list[str], threads: int) -> dict:
    done = subprocess.run(command, capture_output=True, text=True, env=_env(threads), timeout=900, check=True)
    return _last_json(done.stdout)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torch_ddp(model: str) -> dict:
    env = _env(1)
    env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(_free_port()))
    procs = [
        subprocess.Popen(
            [sys.executable, str(HERE), "worker", "torch", model, str(rank), "2", "1"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        for rank in range(2)
    ]
    outputs = [p.communicate(timeout=900)[0] for p in procs]
    return _last_json(outputs[0])


def _mpiexec() -> str:
    beside = Path(sys.executable).with_name("mpiexec")
    return str(beside) if beside.exists() else "mpiexec"


def measure(model: str) -> dict:
    me = [sys.executable, str(HERE), "worker"]
    return {
        "deepgrad 1x2": _run([*me, "deepgrad", model, "0"], threads=2),
        "deepgrad 2x1": _run([_mpiexec(), "-n", "2", *me, "deepgrad", model, "1"], threads=1),
        "torch 1x2": _run([*me, "torch", model, "0", "1", "2"], threads=2),
        "torch 2x1": _torch_ddp(model),
    }


def ring_seconds(nbytes: float, hosts: int, gbit_per_s: float, latency: float) -> float:
    """Ring all-reduce: 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency."""
    return 2 * (hosts - 1) / hosts * nbytes / (gbit_per_s * 1e9 / 8) + 2 * (hosts - 1) * latency


def report(results: dict, latency: float, step_ms: dict[str, float]) -> None:
    from _common import blas_description, machine_description

    print(f"{machine_description()}; {blas_description()}")
    print("samples/s (global batch; 2 ranks: the slower rank's step time); noisy on a shared machine\n")
    columns = [
        "workload", "deepgrad 1 proc x 2 threads", "deepgrad DDP 2 ranks x 1 thread", "PyTorch 1 x 2",
        "PyTorch DDP gloo 2 x 1", "deepgrad DDP / PyTorch DDP step time", "all-reduce per step",
        "hidden behind backward",
    ]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|---|---|---|---|---|---|---|---|")
    for model, r in results.items():
        batch = WORKLOADS[model]
        rate = {k: batch / v["seconds"] for k, v in r.items()}
        ddp = r["deepgrad 2x1"]
        hidden = max(0.0, 1.0 - ddp["wait"] / ddp["allreduce"])
        print(
            f"| {model} (batch {batch}) | {rate['deepgrad 1x2']:.0f} | {rate['deepgrad 2x1']:.0f} | "
            f"{rate['torch 1x2']:.0f} | {rate['torch 2x1']:.0f} | "
            f"{ddp['seconds'] / r['torch 2x1']['seconds']:.2f} | {ddp['bytes'] / 1e6:.2f} MB in {ddp['buckets']} "
            f"bucket(s), {ddp['allreduce'] * 1e3:.2f} ms alone | {hidden:.0%} (waited {ddp['wait'] * 1e3:.2f} ms) |"
        )
    print(f"\nring all-reduce model (latency {latency * 1e6:.0f} us per message), expected scaling efficiency")
    print("= step time of one host / (step time + all-reduce time), communication not hidden; each host runs")
    print("one step on its own batch, taking the measured 1-process step time or --step-ms\n")
    print("| workload | hosts | link | all-reduce | efficiency |")
    print("|---|---|---|---|---|")
    for model, r in results.items():
        nbytes = r["deepgrad 2x1"]["bytes"]
        step = step_ms[model] / 1e3 if model in step_ms else r["deepgrad 1x2"]["seconds"]
        for hosts in (8, 64):
            for link in (10, 100):
                t = ring_seconds(nbytes, hosts, link, latency)
                print(f"| {model} | {hosts} | {link} Gb/s | {t * 1e3:.2f} ms | {step / (step + t):.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-us", type=float, default=5.0, help="per-message latency of the model")
    parser.add_argument("--models", default="mlp,lenet")
    parser.add_argument("--step-ms", default="", help="one host's step time for the model, e.g. mlp=2.3,lenet=10")
    args = parser.parse_args()
    step_ms = {k: float(v) for k, v in (item.split("=") for item in args.step_ms.split(",") if item)}
    results = {model: measure(model) for model in args.models.split(",")}
    report(results, args.latency_us * 1e-6, step_ms)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "worker":
        kind, model = sys.argv[2], sys.argv[3]
        if kind == "deepgrad":
            result = deepgrad_worker(model, distributed=sys.argv[4] == "1")
        else:
            result = torch_worker(model, int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6]))
        if result:
            print(json.dumps(result), flush=True)
    else:
        sys.path.insert(0, str(HERE.parent))
        main()
