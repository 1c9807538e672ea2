"""``deepgrad train --distributed`` under ``mpiexec -n N``, and the library pieces it stands on
(`ShardedLoader`, `agree`, per-rank random streams).

The multi-rank tests launch tests/distributed_cli_worker.py (the ``deepgrad`` command on every rank, with
an optional fault on rank 1 and a log of who wrote what); they skip without the ``distributed`` extra.
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

import deepgrad as dg
from deepgrad.cli import build_parser, main
from deepgrad.data import DataLoader, TensorDataset
from deepgrad.distributed.sharding import ShardedLoader
from deepgrad.train.distributed import rank_seed

WORKER = Path(__file__).with_name("distributed_cli_worker.py")
SRC = Path(__file__).resolve().parents[1] / "src"


def _launch(ranks: int, args: list[str], cwd: Path, fault: str = "none", timeout: float = 90):
    """``mpiexec -n ranks`` of the worker in ``cwd``: (completed process, seconds)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SRC), env.get("PYTHONPATH")) if p)
    command = [mpiexec(), "-n", str(ranks), sys.executable, str(WORKER), fault, "train", "--distributed", *args]
    started = time.monotonic()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    return done, time.monotonic() - started


def _largest_difference(a: str | Path, b: str | Path) -> float:
    """max over tensors of max |a - b| / max |a| between two weight files."""
    first, second = dg.io.load(a), dg.io.load(b)
    assert list(first) == list(second)  # the same keys: no 'module.' prefix from DistributedDataParallel
    return max(float(np.abs(first[k].array - second[k].array).max() / np.abs(first[k].array).max()) for k in first)


# ------------------------------------------------------------------ N ranks take one process's steps

# (ranks, options): the data sets split evenly over the ranks (moons: 1000 samples, spirals: 1500) and the
# global batch over the ranks, so the ranks' shards of every step together are the one process's batch.
_RUNS = {
    2: ["--dataset", "moons", "--epochs", "5", "--batch-size", "32"],
    3: ["--dataset", "spirals", "--hidden", "16", "--epochs", "4", "--batch-size", "30"],
}
# Both commands train in float32 (the command has no dtype option). The ranks average two means of 16
# gradients where one process takes the mean of 32, so sums run in another order: about 1e-7 relative per
# step, which stays near 1e-6 over these 150-200 steps (measured: 5e-7 and 9e-7). Any real difference
# (another sample order, a missing or doubled gradient, padding) is 1e-2 or more. The float64 equality to
# 1e-10 of the same mechanism is tested on the library in test_distributed.py.
_FLOAT32_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def distributed_runs(tmp_path_factory):
    """For 2 and 3 ranks: the directory of the distributed run (weights, metrics, checkpoint, plots) and
    its process, and the one-process run of the same options in the same directory."""
    runs = {}
    for ranks, options in _RUNS.items():
        where = tmp_path_factory.mktemp(f"ranks{ranks}")
        outputs = ["--save", "ranks.safetensors", "--metrics-json", "ranks.json", "--checkpoint", "ranks.ckpt"]
        outputs += ["--plots", "plots"] if ranks == 2 else ["--plots", "none"]
        done, _ = _launch(ranks, [*options, *outputs], where)
        assert done.returncode == 0, done.stdout + done.stderr
        previous = os.getcwd()
        os.chdir(where)
        try:
            one = ["train", *options, "--quiet", "--plots", "none", "--save", "one.safetensors"]
            assert main([*one, "--metrics-json", "one.json"]) == 0
        finally:
            os.chdir(previous)
        runs[ranks] = (where, done)
    return runs


@needs_mpi
@pytest.mark.parametrize("ranks", [2, 3])
def test_ranks_end_with_the_weights_and_metrics_of_one_process(distributed_runs, ranks):
    where, _ = distributed_runs[ranks]
    assert _largest_difference(where / "one.safetensors", where / "ranks.safetensors") < _FLOAT32_TOLERANCE
    one, distributed = (json.loads((where / name).read_text()) for name in ("one.json", "ranks.json"))
    # the test metrics are reduced over all ranks' shards, and no test sample is counted twice
    assert distributed["test"]["count"] == one["test"]["count"] == {2: 500, 3: 750}[ranks]
    assert distributed["test"]["confusion_matrix"] == one["test"]["confusion_matrix"]
    assert distributed["test"]["accuracy"] == one["test"]["accuracy"]
    np.testing.assert_allclose(distributed["test"]["loss"], one["test"]["loss"], rtol=1e-4)
    np.testing.assert_allclose(distributed["history"]["loss"], one["history"]["loss"], rtol=1e-4)
    np.testing.assert_allclose(distributed["history"]["accuracy"], one["history"]["accuracy"], atol=1e-12)


@needs_mpi
def test_only_rank_zero_prints_and_writes(distributed_runs):
    where, done = distributed_runs[2]
    out = done.stdout
    assert out.count("training mlp 2-16-16-2 (relu) on moons") == 1
    assert "batch 32 over 2 ranks (16 each)" in out
    assert out.count("test accuracy:") == 1 and out.count("weights written to ranks.safetensors") == 1
    assert out.count("epoch 5/5") == 1  # the per-epoch lines (no terminal: no progress bars)
    assert done.stderr == ""
    writes = sorted((where / "writes.log").read_text().split("\n")[:-1])
    assert {line.split()[0] for line in writes} == {"0"}
    assert sorted(line.split()[1] for line in writes) == sorted(
        ["ranks.safetensors", "ranks.json", "plot_history", "plot_decision_boundary", "plot_confusion_matrix"]
        + ["ranks.ckpt"] * 5
    )
    assert (where / "plots" / "history.png").exists() and (where / "ranks.ckpt").exists()


@needs_mpi
def test_resume_continues_exactly_and_dropout_masks_are_reproducible(tmp_path, monkeypatch):
    # dropout draws from a stream per rank and epoch derived from the seed: two ranks, 4 epochs in one go
    # or 2 + 2 with a checkpoint in between, end with the same weights, bit for bit
    common = ["--dataset", "circles", "--seed", "3", "--dropout", "0.2", "--plots", "none", "--quiet"]
    for args in (
        ["--epochs", "4", "--save", "full.safetensors"],
        ["--epochs", "2", "--checkpoint", "c.ckpt"],
        ["--epochs", "4", "--resume", "c.ckpt", "--save", "resumed.safetensors"],
    ):
        done, _ = _launch(2, [*common, *args], tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _largest_difference(tmp_path / "full.safetensors", tmp_path / "resumed.safetensors") == 0.0
    # the checkpoint is a one-process checkpoint: plain keys, the global loader state; and the
    # masks differed from one process's (the ranks' streams are their own)
    state = dg.io.load_metadata(tmp_path / "c.ckpt")["deepgrad.checkpoint"]
    assert '"batch_size", 32' in state and "module." not in state
    monkeypatch.chdir(tmp_path)
    assert main(["train", *common, "--epochs", "4", "--save", "one.safetensors"]) == 0
    assert _largest_difference(tmp_path / "one.safetensors", tmp_path / "full.safetensors") > 1e-3


@needs_mpi
def test_a_one_process_checkpoint_resumes_on_two_ranks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    common = ["train", "--dataset", "circles", "--seed", "3", "--plots", "none", "--quiet"]
    assert main([*common, "--epochs", "4", "--save", "one.safetensors"]) == 0
    assert main([*common, "--epochs", "2", "--checkpoint", "c.ckpt"]) == 0
    done, _ = _launch(2, [*common[1:], "--epochs", "4", "--resume", "c.ckpt", "--save", "two.safetensors"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _largest_difference(tmp_path / "one.safetensors", tmp_path / "two.safetensors") < _FLOAT32_TOLERANCE


# ------------------------------------------------------------------ faults


@needs_mpi
def test_a_global_batch_that_does_not_split_is_one_line(tmp_path):
    done, _ = _launch(3, ["--dataset", "moons", "--batch-size", "32", "--plots", "none"], tmp_path)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "deepgrad train: rank 0 of 3: error: --batch-size 32 is the global batch and must split equally over "
        "the 3 ranks: give a multiple of 3"
    ]


@needs_mpi
def test_a_set_up_failure_on_one_rank_stops_every_rank_with_one_line(tmp_path):
    done, seconds = _launch(2, ["--dataset", "moons", "--plots", "none"], tmp_path, fault="setup", timeout=40)
    assert done.returncode == 2 and seconds < 30 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "deepgrad train: rank 1 of 2: error: --data-dir /data/on/host/2: no such directory"
    ]


@needs_mpi
def test_an_exception_on_one_rank_while_training_ends_the_job(tmp_path):
    done, seconds = _launch(
        2, ["--dataset", "moons", "--plots", "none", "--quiet"], tmp_path, fault="raise", timeout=40
    )
    assert done.returncode == 1 and seconds < 30
    ours = [line for line in done.stderr.splitlines() if line.startswith("deepgrad train:")]
    assert len(ours) == 1 and ours[0].startswith(
        "deepgrad train: rank 1 of 2: internal error: RuntimeError: a failure on purpose; this is a bug"
    )
    assert "test accuracy" not in done.stdout


@needs_mpi
def test_a_killed_rank_ends_the_job(tmp_path):
    done, seconds = _launch(2, ["--dataset", "moons", "--plots", "none", "--quiet"], tmp_path, fault="kill", timeout=40)
    assert done.returncode != 0 and seconds < 30
    assert "test accuracy" not in done.stdout


# ------------------------------------------------------------------ in one process


def test_help_says_the_batch_is_global():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    text = " ".join(train.format_help().split())
    assert "--distributed" in text and "with --distributed the global batch, split equally over the ranks" in text


def test_distributed_in_a_world_of_one_is_the_one_process_run(tmp_path, monkeypatch):
    pytest.importorskip("mpi4py")
    import deepgrad.distributed as dist

    monkeypatch.chdir(tmp_path)
    common = ["train", "--dataset", "moons", "--epochs", "3", "--plots", "none", "--quiet"]
    try:
        assert main([*common, "--distributed", "--save", "dist.safetensors"]) == 0
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    assert main([*common, "--save", "one.safetensors"]) == 0
    assert _largest_difference("one.safetensors", "dist.safetensors") == 0.0


def _dataset(n: int) -> TensorDataset:
    return TensorDataset(np.arange(2.0 * n).reshape(n, 2), np.arange(n))


@pytest.mark.parametrize(("n", "batch", "replicas"), [(24, 6, 2), (30, 9, 3), (20, 8, 4), (12, 12, 3)])
def test_the_ranks_shards_of_each_step_are_the_one_process_batch(n, batch, replicas):
    data = _dataset(n)
    single = DataLoader(data, batch, shuffle=True, seed=5)
    shards = [ShardedLoader(data, batch, shuffle=True, seed=5, num_replicas=replicas, rank=r) for r in range(replicas)]
    assert len({len(s) for s in shards}) == 1 and len(shards[0]) == len(single)
    for _epoch in range(3):
        expected = [y.tolist() for _, y in single]
        per_rank = [[y.tolist() for _, y in shard] for shard in shards]
        for step, batch_labels in enumerate(expected):
            together = sorted(label for rank in range(replicas) for label in per_rank[rank][step])
            assert together == sorted(batch_labels)
            assert all(len(per_rank[rank][step]) == len(batch_labels) // replicas for rank in range(replicas))
        assert shards[0].state_dict() == single.state_dict()  # checkpoints move between the two


def test_sharded_loader_resumes_from_its_state_and_from_a_data_loader():
    data = _dataset(16)
    single = DataLoader(data, 4, shuffle=True, seed=1)
    for _ in range(2):
        list(single)
    resumed = ShardedLoader(data, 4, shuffle=True, seed=1, num_replicas=2, rank=1)
    resumed.load_state_dict(single.state_dict())
    fresh = ShardedLoader(data, 4, shuffle=True, seed=1, num_replicas=2, rank=1)
    for _ in range(2):
        list(fresh)
    assert [y.tolist() for _, y in resumed] == [y.tolist() for _, y in fresh] and resumed.epoch == 3
    again = ShardedLoader(data, 4, shuffle=True, seed=1, num_replicas=2, rank=1)
    again.load_state_dict(fresh.state_dict())
    assert again.state_dict() == fresh.state_dict()


def test_sharded_loader_padding_and_evaluation_shards():
    data = _dataset(10)
    padded = [[y.tolist() for _, y in ShardedLoader(data, 3, num_replicas=3, rank=r)] for r in range(3)]
    assert padded == [[[0], [3], [6], [9]], [[1], [4], [7], [0]], [[2], [5], [8], [1]]]  # 10 padded to 12
    shards = [[y.tolist() for _, y in ShardedLoader(data, 6, pad=False, num_replicas=3, rank=r)] for r in range(3)]
    assert shards == [[[0, 3], [6, 9]], [[1, 4], [7]], [[2, 5], [8]]]  # disjoint, covering, uneven


def test_sharded_loader_bad_arguments():
    data = _dataset(10)
    with pytest.raises(ValueError, match="the global batch_size 32 does not split over 3 ranks"):
        ShardedLoader(data, 32, num_replicas=3, rank=0)
    with pytest.raises(ValueError, match=r"rank must be in 0..1, got 2"):
        ShardedLoader(data, 4, num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="positive int"):
        ShardedLoader(data, 0)
    loader = ShardedLoader(data, 2, shuffle=True)
    with pytest.raises(ValueError, match="saved num_samples=11"):
        loader.load_state_dict({**loader.state_dict(), "num_samples": 11})
    with pytest.raises(ValueError, match="middle of an epoch"):
        loader.load_state_dict({**loader.state_dict(), "batch": 2})
    iterator = iter(loader)
    next(iterator)
    with pytest.raises(RuntimeError, match="between epochs"):
        loader.state_dict()


def test_rank_streams_differ_by_rank_and_epoch_and_repeat():
    seeds = {rank_seed(0, rank, epoch) for rank in range(4) for epoch in range(5)}
    assert len(seeds) == 20 and rank_seed(0, 1, 2) == rank_seed(0, 1, 2) != rank_seed(1, 1, 2)


def test_agree_in_a_world_of_one():
    pytest.importorskip("mpi4py")
    import deepgrad.distributed as dist

    dist.init_process_group("mpi")
    try:
        dist.agree(None)
        assert not dist.is_stopping()
        with pytest.raises(KeyError, match="mine"):
            dist.agree(KeyError("mine"))
        assert dist.is_stopping()
    finally:
        dist.destroy_process_group()
    assert not dist.is_stopping()


def test_distributed_without_the_extra_says_what_to_install(tmp_path, monkeypatch, capsys):
    import deepgrad.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "mpi4py", None)
    assert main(["train", "--distributed", "--epochs", "1", "--plots", "none", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "deepgrad train: error: deepgrad.distributed needs mpi4py and an MPI library: "
        'pip install "deepgrad[distributed]"'
    ]
