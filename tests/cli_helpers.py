"""Running the `deepgrad` command as an unprivileged user, for the tests of files it may not write or read.

Tests run as root here and in CI, and root ignores file permissions. The interpreter lives under /root,
which other users may not enter, so the child imports what the command needs first and then drops to
``nobody``; as any other user it runs as is.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

_CHILD = """
import os, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot
import deepgrad.cli.app, deepgrad.cli.commands, deepgrad.cli.explain, deepgrad.train, deepgrad.train.plots
import deepgrad.data, deepgrad.viz, deepgrad.viz.html, safetensors.numpy, gzip, zlib, http.client, urllib.request
if os.geteuid() == 0:
    import pwd
    nobody = pwd.getpwnam("nobody")
    os.setgroups([])
    os.setgid(nobody.pw_gid)
    os.setuid(nobody.pw_uid)
sys.exit(deepgrad.cli.app.main(sys.argv[1:]))
"""


def shared_tmp() -> Path:
    """A new temporary directory that ``nobody`` may enter and write (pytest's own are private to their owner)."""
    import tempfile

    directory = Path(tempfile.mkdtemp(prefix="deepgrad-unprivileged-"))
    directory.chmod(0o777)
    return directory


def remove(directory: Path) -> None:
    """Remove a `shared_tmp` directory, whatever modes the test left in it."""
    import shutil

    for path in [directory, *directory.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o700)
    shutil.rmtree(directory, ignore_errors=True)


def run_unprivileged(argv: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """``deepgrad ARGV`` in ``cwd`` as an unprivileged user; stdout and stderr as text."""
    env = {**os.environ, "PYTHONPATH": str(SRC), "MPLCONFIGDIR": str(cwd / ".mpl"), "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-c", _CHILD, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
