"""deepgrad.threads: PyTorch's set_num_threads / get_num_threads and the kernels' parallel block loop."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import deepgrad as dg
from deepgrad import threads


@pytest.fixture
def two_threads():
    previous = dg.get_num_threads()
    dg.set_num_threads(2)
    yield
    dg.set_num_threads(previous)


def test_set_and_get_num_threads():
    previous = dg.get_num_threads()
    try:
        dg.set_num_threads(3)
        assert dg.get_num_threads() == 3
    finally:
        dg.set_num_threads(previous)
    assert dg.get_num_threads() == previous


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_set_num_threads_rejects_non_positive_integers(bad):
    with pytest.raises(ValueError, match="set_num_threads: expected a positive integer"):
        dg.set_num_threads(bad)


def test_default_follows_omp_num_threads(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert threads._default_threads() == 5
    monkeypatch.setenv("OMP_NUM_THREADS", "x")
    assert threads._default_threads() >= 1


def test_parallel_for_runs_every_block_once_on_several_threads(two_threads):
    seen, names, barrier = [], set(), threading.Barrier(2, timeout=10)
    out = np.zeros(8)

    def work(block):
        if block in (0, 4):  # the first block of each share: both threads must be running at once
            barrier.wait()
        names.add(threading.current_thread().name)
        seen.append(block)
        out[block] = block * 10

    threads.parallel_for(work, list(range(8)))
    assert sorted(seen) == list(range(8))
    assert out.tolist() == [0, 10, 20, 30, 40, 50, 60, 70]
    assert len(names) == 2


def test_parallel_for_raises_a_blocks_exception_and_nests_serially(two_threads):
    def failing(block):
        if block == 3:
            raise ValueError("block 3 failed")

    with pytest.raises(ValueError, match="block 3 failed"):
        threads.parallel_for(failing, list(range(4)))
    inner_names = []

    def outer(block):
        threads.parallel_for(lambda _: inner_names.append((block, threading.current_thread().name)), [0, 1])

    threads.parallel_for(outer, [0, 1])
    by_block = {}
    for block, name in inner_names:
        by_block.setdefault(block, set()).add(name)
    assert all(len(names) == 1 for names in by_block.values())  # each nested loop ran on its caller's thread


def test_batch_blocks_cover_the_batch(two_threads, monkeypatch):
    assert threads.batch_blocks(10, item_bytes=1000, block_bytes=300) == [slice(0, 10)]  # small: one block
    monkeypatch.setattr(threads, "PARALLEL_MIN_BYTES", 0)
    blocks = threads.batch_blocks(10, item_bytes=100, block_bytes=300)
    assert [(b.start, b.stop) for b in blocks] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    # a batch that fits one block is still split so that each thread gets a share
    assert [(b.start, b.stop) for b in threads.batch_blocks(4, item_bytes=1, block_bytes=10**6)] == [(0, 2), (2, 4)]
    assert [(b.start, b.stop) for b in threads.batch_blocks(1, item_bytes=10**9)] == [(0, 1)]
