"""deepgrad.distributed: the process group, DistributedDataParallel, SyncBatchNorm, DistributedSampler.

Multi-rank behaviour runs ``mpiexec -n 2`` / ``-n 3`` on tests/distributed_worker.py (each scenario
checks its ranks' results and prints one JSON line); the API is also tested here in a world of one.
Skipped without the ``distributed`` extra (mpi4py and mpiexec).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from mpi_helpers import mpiexec, needs_mpi

import deepgrad
from deepgrad import nn
from deepgrad.data import DataLoader, DistributedSampler, TensorDataset
from deepgrad.nn import functional as F

WORKER = Path(__file__).with_name("distributed_worker.py")


def _run(ranks: int, scenario: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    src = str(Path(__file__).resolve().parents[1] / "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    command = [mpiexec(), "-n", str(ranks), sys.executable, str(WORKER), scenario]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    return done, time.monotonic() - started


# One mpiexec per world size runs all the scenarios that should succeed (a launch costs ~2 s on 2 cores).
_SCENARIOS = {2: "mlp,cnn,overlap,no_sync,unused", 3: "mlp,cnn,sampler,fit"}
_RESULTS: dict[int, dict] = {}


def _result(ranks: int, scenario: str) -> dict:
    if ranks not in _RESULTS:
        done, _ = _run(ranks, _SCENARIOS[ranks])
        assert done.returncode == 0, done.stdout + done.stderr
        lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
        _RESULTS[ranks] = {line["scenario"]: line for line in lines}
    return _RESULTS[ranks][scenario]


# ------------------------------------------------------------------ several ranks


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_ranks_take_the_steps_of_one_process(model, ranks):
    # global batch 12 over 2 or 3 ranks, 6 steps of SGD with momentum and weight decay, float64; the cnn
    # has SyncBatchNorm (2-d and 1-d) and the check includes its running statistics
    result = _result(ranks, model)
    assert result["worst"] <= 1e-10
    assert result["buckets"] > 1
    assert result["keys"] == ["module.0.weight", "module.0.bias"]


@needs_mpi
def test_bucket_all_reduces_start_during_backward():
    result = _result(2, "overlap")
    launches, params = result["launches"], result["params"]
    assert [bucket for bucket, _ in launches] == list(range(6))  # one bucket per layer, in order
    fired = [count for _, count in launches]
    assert fired == sorted(fired) and fired[0] == 2 and fired[-1] == params  # the first bucket waited for 2 of 12
    assert sum(count < params for count in fired) == 5  # five of six all-reduces started before backward ended


@needs_mpi
def test_no_sync_accumulation_equals_the_larger_batch():
    assert _result(2, "no_sync")["worst"] <= 1e-10


@needs_mpi
def test_unused_parameters():
    result = _result(2, "unused")
    assert result["unused_grad"] and result["used_grad"]
    assert "['unused.weight', 'unused.bias'] received no gradient" in result["error"]
    assert "find_unused_parameters=True" in result["error"]


@needs_mpi
def test_sampler_shards_disjoint_covering_reshuffled_same_everywhere():
    result = _result(3, "sampler")
    n, epochs = result["n"], result["shards"]
    orders = []
    for shards in epochs:
        assert [len(s) for s in shards] == [8, 8, 8]
        flat = [i for position in range(8) for s in shards for i in [s[position]]]  # rank-interleaved order
        assert sorted(flat[:n]) == list(range(n))  # disjoint and covering; the last one pads
        assert flat[n:] == flat[: 24 - n]
        orders.append(flat[:n])
    assert orders[0] != orders[1] != orders[2]
    expected = np.random.default_rng(3 + 1).permutation(n).tolist()  # every rank used seed + epoch
    assert orders[1] == expected


@needs_mpi
def test_fit_with_uneven_shards_does_not_deadlock():
    result = _result(3, "fit")
    assert result["count"] == 39 and result["confusion_total"] == 39  # 37 samples padded to 3 x 13


@needs_mpi
def test_mismatched_models_are_a_clear_error():
    done, _ = _run(2, "mismatch")
    assert done.returncode != 0
    assert "the ranks built different models: parameter '0.weight' has shape (9, 4) on rank 1 but (8, 4) on rank 0" in (
        done.stderr
    )


@needs_mpi
def test_an_exception_on_one_rank_ends_the_job():
    done, seconds = _run(2, "exception", timeout=40)
    assert done.returncode != 0 and seconds < 30
    assert "deepgrad.distributed: rank 1 of 2 failed: ValueError: a failure on purpose" in done.stderr


@needs_mpi
def test_a_killed_rank_ends_the_job():
    done, seconds = _run(2, "kill", timeout=40)
    assert done.returncode != 0 and seconds < 30


# ------------------------------------------------------------------ a world of one


@pytest.fixture
def world():
    pytest.importorskip("mpi4py")
    import deepgrad.distributed as dist

    dist.init_process_group("mpi")
    yield dist
    dist.destroy_process_group()


def test_import_needs_no_mpi():
    code = "import sys, deepgrad.distributed, deepgrad.nn, deepgrad.train; assert 'mpi4py' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))


def test_missing_extra_says_what_to_install(monkeypatch):
    from deepgrad.distributed import process_group

    monkeypatch.setitem(sys.modules, "mpi4py", None)
    with pytest.raises(ImportError, match=r'pip install "deepgrad\[distributed\]"'):
        process_group.init_process_group()
    assert not process_group.is_initialized()


def test_not_initialised_is_an_error():
    import deepgrad.distributed as dist

    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_collectives_in_a_world_of_one(world):
    dist = world
    assert dist.is_initialized() and dist.get_rank() == 0 and dist.get_world_size() == 1
    dist.barrier()
    for dtype in (deepgrad.float32, deepgrad.float64, deepgrad.int64):
        t = deepgrad.tensor([1, 5, 3], dtype=dtype)
        for op in (dist.ReduceOp.SUM, dist.ReduceOp.MAX, dist.ReduceOp.MIN):
            dist.all_reduce(t, op)
            assert t.tolist() == [1, 5, 3]
        dist.broadcast(t, 0)
        dist.reduce(t, 0)
        out = [deepgrad.zeros(3, dtype=dtype)]
        dist.all_gather(out, t)
        assert out[0].tolist() == [1, 5, 3]
    t = deepgrad.tensor([2.0, 4.0])
    work = dist.all_reduce(t, dist.ReduceOp.AVG, async_op=True)
    assert work.wait() and work.is_completed() and t.tolist() == [2.0, 4.0]
    with pytest.raises(TypeError, match="int32"):
        dist.all_reduce(deepgrad.tensor([1], dtype=deepgrad.int32))
    with pytest.raises(TypeError, match="AVG needs a floating-point"):
        dist.all_reduce(deepgrad.tensor([1]), dist.ReduceOp.AVG)
    with pytest.raises(ValueError, match="contiguous"):
        dist.all_reduce(deepgrad.ones(4, 4).T)
    with pytest.raises(ValueError, match="src must be a rank in 0..0"):
        dist.broadcast(t, 1)
    with pytest.raises(ValueError, match="2 tensors, the world has 1"):
        dist.all_gather([t, t], t)
    with pytest.raises(ValueError, match="backend must be 'mpi'"):
        dist.init_process_group("nccl")


def test_ddp_in_a_world_of_one_is_the_model(world):
    deepgrad.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    plain = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2)).double()
    plain.load_state_dict(model.state_dict())
    ddp = world.DistributedDataParallel(model, bucket_cap_mb=1e-4)
    assert ddp.module is model and world.DistributedDataParallel is nn.parallel.DistributedDataParallel
    assert list(ddp.state_dict()) == ["module.0.weight", "module.0.bias", "module.2.weight", "module.2.bias"]
    x = deepgrad.randn(4, 3, dtype=deepgrad.float64)
    for _ in range(2):  # gradients accumulate across backward calls, as without DDP
        ddp(x).sin().sum().backward()
        plain(x).sin().sum().backward()
    for p, q in zip(model.parameters(), plain.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-12)
    # a gradient that reaches a parameter directly (a penalty) is kept on top of the average
    model.zero_grad()
    plain.zero_grad()
    (ddp(x).sum() + (model[0].weight ** 2).sum()).backward()
    (plain(x).sum() + (plain[0].weight ** 2).sum()).backward()
    np.testing.assert_allclose(model[0].weight.grad.numpy(), plain[0].weight.grad.numpy(), rtol=1e-12)
    assert isinstance(model[0].weight, nn.Parameter)  # the taps are gone after forward
    model.zero_grad()
    ddp(x)  # a forward without backward (evaluation with grad on) is forgotten by the next one
    ddp(x).sum().backward()
    assert model[0].weight.grad is not None
    with deepgrad.no_grad():
        assert ddp(x).shape == (4, 2)


def test_sync_batchnorm_in_a_world_of_one_is_batchnorm(world):
    deepgrad.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4))
    weight = model[1].weight
    converted = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert converted is model and type(model[1]) is nn.SyncBatchNorm and type(model[4]) is nn.SyncBatchNorm
    assert model[1].weight is weight
    reference = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(12, 4), nn.BatchNorm1d(4))
    reference.load_state_dict(model.state_dict())
    x = deepgrad.randn(5, 2, 4, 4)
    np.testing.assert_allclose(model(x).array, reference(x).array, rtol=1e-6)
    np.testing.assert_allclose(model[1].running_var.numpy(), reference[1].running_var.numpy(), rtol=1e-6)


def test_sync_batchnorm_statistics_path_gradcheck_and_torch():
    # the path that sums over ranks (here a world of one: the all-reduce is the identity), checked directly
    from deepgrad.autograd import gradcheck

    bn = nn.SyncBatchNorm(3, dtype=deepgrad.float64)
    bn.weight.array[...] = [0.5, 2.0, -1.0]
    x = deepgrad.randn(4, 3, 2, 2, dtype=deepgrad.float64, requires_grad=True)
    assert gradcheck(lambda t: bn._synchronised(t, 0.1), [x])
    torch = pytest.importorskip("torch")
    reference = torch.nn.BatchNorm2d(3, dtype=torch.float64)
    with torch.no_grad():
        reference.weight.copy_(torch.tensor([0.5, 2.0, -1.0]))
    tx = torch.tensor(x.array, requires_grad=True)
    upstream = np.random.default_rng(0).normal(size=(4, 3, 2, 2))
    bn.running_mean.array[...] = 0
    bn.running_var.array[...] = 1
    out = bn._synchronised(x, 0.1)
    out.backward(deepgrad.from_numpy(upstream))
    expected = reference(tx)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.array, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), reference.running_var.numpy(), rtol=1e-12)


# ------------------------------------------------------------------ DistributedSampler and DataLoader(sampler=)


@pytest.mark.parametrize("n", [0, 1, 2, 7, 10, 12])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sampler_matches_torch_without_shuffle(n, replicas, drop_last):
    torch = pytest.importorskip("torch")
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = torch.utils.data.DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        if n == 0 and not drop_last:
            assert len(ours) == len(theirs) == 0
            continue
        assert list(ours) == list(theirs) and len(ours) == len(theirs)


def test_sampler_shuffles_per_epoch_with_padding():
    shards = []
    for epoch in (0, 1):
        per_rank = []
        for rank in range(4):
            sampler = DistributedSampler(range(10), num_replicas=4, rank=rank, seed=5)
            sampler.set_epoch(epoch)
            per_rank.append(list(sampler))
        shards.append(per_rank)
        assert all(len(s) == 3 for s in per_rank)
        flat = sorted(i for s in per_rank for i in s)
        assert set(flat) == set(range(10)) and len(flat) == 12  # two padding samples
    assert shards[0] != shards[1]
    again = DistributedSampler(range(10), num_replicas=4, rank=2, seed=5)
    again.set_epoch(1)
    assert list(again) == shards[1][2]


def test_sampler_bad_arguments():
    with pytest.raises(ValueError, match=r"rank must be in 0..1"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be at least 1"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(TypeError, match="needs __len__"):
        DistributedSampler(iter(range(4)), num_replicas=1, rank=0)
    assert len(DistributedSampler(range(5))) == 5  # outside a process group: a world of one


def test_dataloader_with_a_sampler():
    data = TensorDataset(np.arange(20.0).reshape(10, 2), np.arange(10))
    sampler = DistributedSampler(data, num_replicas=3, rank=1, shuffle=False)
    loader = DataLoader(data, batch_size=3, sampler=sampler)
    assert len(loader) == 2
    assert [y.tolist() for _, y in loader] == [[1, 4, 7], [0]]
    rows = DataLoader(data, batch_size=3, sampler=sampler, collate_fn=lambda samples: [int(s[1]) for s in samples])
    assert list(rows) == [[1, 4, 7], [0]]  # the per-sample path too
    with pytest.raises(ValueError, match="sampler and shuffle=True"):
        DataLoader(data, sampler=sampler, shuffle=True)


def test_fit_sets_the_sampler_epoch():
    data = TensorDataset(np.random.default_rng(0).normal(size=(12, 2)), np.arange(12) % 2)
    sampler = DistributedSampler(data, num_replicas=1, rank=0, seed=0)
    seen = []
    original = sampler.set_epoch
    sampler.set_epoch = lambda epoch: (seen.append(epoch), original(epoch))
    model = nn.Linear(2, 2)
    from deepgrad import optim
    from deepgrad.train import fit

    fit(model, F.cross_entropy, optim.SGD(model.parameters(), lr=0.1), DataLoader(data, 4, sampler=sampler), epochs=3)
    assert seen == [0, 1, 2]
