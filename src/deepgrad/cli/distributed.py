"""``deepgrad train --distributed`` under ``mpiexec -n N``: how the command speaks and fails on N ranks.

Every rank runs the whole command. Rank 0 prints the progress and results; an error is one line that
names the rank (``deepgrad train: rank 1 of 2: error: ...``). A failure during set-up is agreed on by
all ranks (`deepgrad.distributed.agree`): the failing rank reports it, every rank exits. A failure later,
while the others may be waiting for this rank in a collective, ends the whole job (MPI_Abort).
"""

from __future__ import annotations

import sys
from typing import Any


def _group() -> Any:
    """The process-group module when a job of several ranks is running, else None (never imports MPI)."""
    pg = sys.modules.get("deepgrad.distributed.process_group")
    if pg is None or not pg.is_initialized() or pg.get_world_size() == 1:
        return None
    return pg


def rank_prefix() -> str:
    """``"rank 1 of 2: "`` in a job of several ranks, else ``""``."""
    pg = _group()
    return "" if pg is None else f"rank {pg.get_rank()} of {pg.get_world_size()}: "


def end_job(status: int) -> int:
    """Exit status ``status`` for this rank; in a job of several ranks that are not all stopping (an
    agreed set-up failure), the other ranks are ended too: they would wait for this one forever."""
    pg = _group()
    if pg is not None and status != 0 and not pg.is_stopping():
        pg.abort(status)
    return status
