"""``mpiexec -n N python distributed_cli_worker.py FAULT deepgrad-arguments...``: the ``deepgrad`` command on
every rank, for tests/test_distributed_cli.py, with a fault injected on rank 1 (or none) and a log of
which rank wrote which output file.

FAULT: ``none``; ``setup`` (rank 1 cannot read its data); ``raise`` (rank 1 fails in its 40th training
step); ``kill`` (rank 1 is SIGKILLed in its 40th step). Every rank appends ``rank name`` to ``writes.log``
in the working directory for each weights/checkpoint file, metrics file and plot it writes.
"""

from __future__ import annotations

import os
import signal
import sys

import deepgrad.train.plots
import deepgrad.train.runner as runner
from deepgrad import io, nn
from deepgrad.cli import main
from deepgrad.errors import ConfigError


def _rank() -> int:
    return int(os.environ.get("PMI_RANK", os.environ.get("OMPI_COMM_WORLD_RANK", "0")))


def _logged(write, describe):
    def wrapper(*args, **kwargs):
        with open("writes.log", "a") as log:
            log.write(f"{_rank()} {describe(*args, **kwargs)}\n")
        return write(*args, **kwargs)

    return wrapper


def _inject(fault: str) -> None:
    if fault == "setup":

        def no_data(*args, **kwargs):
            raise ConfigError("`data_dir` /data/on/host/2: no such directory")

        runner.load_data = no_data
        return
    forward, calls = nn.CrossEntropyLoss.forward, [0]

    def failing(self, *args):
        calls[0] += 1
        if calls[0] == 40:
            if fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("a failure on purpose")
        return forward(self, *args)

    nn.CrossEntropyLoss.forward = failing


if __name__ == "__main__":
    fault = sys.argv[1]
    io.save = _logged(io.save, lambda state, path, **kwargs: os.path.basename(str(path)))
    runner._write_json = _logged(runner._write_json, lambda path, payload: os.path.basename(str(path)))
    for name in ("plot_history", "plot_decision_boundary", "plot_confusion_matrix"):
        plot = getattr(deepgrad.train.plots, name)
        setattr(deepgrad.train.plots, name, _logged(plot, lambda *args, _name=name, **kwargs: _name))
    if fault != "none" and _rank() == 1:
        _inject(fault)
    sys.exit(main(sys.argv[2:]))
