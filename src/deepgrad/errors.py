"""The exceptions deepgrad raises for bad settings, files and expressions.

Each derives from a built-in type (catch ``ValueError``, ``FileNotFoundError``, ``OSError`` as usual), and
its message names the file or the setting at fault, never a command-line flag: the ``deepgrad`` command
(`deepgrad.cli`) turns these into one line and exit status 2, and adds its own hints.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "DownloadError",
    "ExpressionError",
    "NotACheckpointError",
    "OutputError",
    "WeightFileError",
    "WeightFileNotFoundError",
]

# A setting named in a message: `epochs`, or with a value, `batch_size='full'`.
_SETTING = re.compile(r"`([a-z_]+)(?:=([^`]*))?`")


class ConfigError(ValueError):
    """A training setting that cannot work (``epochs=0``, an unknown model, an output nobody can write).

    The message marks settings in backquotes (```epochs` must be positive``); ``str(error)`` shows them as
    Python names (``epochs must be positive``), `render` lets the command line show its flags instead.

    >>> str(ConfigError("`tol` needs `batch_size='full'`"))
    "tol needs batch_size='full'"
    """

    def __init__(self, marked: str) -> None:
        self.marked = marked
        super().__init__(self.render(lambda name, value: name if value is None else f"{name}={value}"))

    def render(self, setting: Callable[[str, str | None], str]) -> str:
        """The message with each marked setting replaced by ``setting(name, value or None)``."""
        return _SETTING.sub(lambda match: setting(match.group(1), match.group(2)), self.marked)


class WeightFileError(ValueError):
    """A weight file that is missing, truncated, corrupted or not in the safetensors format."""


class WeightFileNotFoundError(WeightFileError, FileNotFoundError):
    """The weight file does not exist (also a FileNotFoundError)."""


class CheckpointError(ValueError):
    """A checkpoint that is damaged or does not fit the model, optimizer or data loader it is loaded into."""


class NotACheckpointError(CheckpointError):
    """A file that holds weights only, where a training checkpoint was expected (``path`` is the file)."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"{path} is not a deepgrad checkpoint (it holds weights only: read it with deepgrad.load)")


class DatasetNotFoundError(FileNotFoundError):
    """Dataset files are missing; the message lists every place searched.

    ``what`` says which files (``"MNIST test files"``), ``wanted`` their names, ``searched`` the directories
    looked in and ``download_dir`` where ``download=True`` puts them. Given only ``what``, it is the whole
    message (a file that is there but is not the one wanted, e.g. CIFAR-10's pickled version).
    """

    def __init__(
        self,
        what: str,
        wanted: list[str] | None = None,
        searched: list[Path] | None = None,
        download_dir: Path | None = None,
    ) -> None:
        self.what, self.wanted, self.searched, self.download_dir = (
            what,
            list(wanted or []),
            list(searched or []),
            download_dir,
        )
        if not self.searched:
            super().__init__(what)
            return
        super().__init__(
            f"{self.where()}. Pass the directory holding them as root or in the DEEPGRAD_DATA environment "
            f"variable, or download them into {download_dir} with download=True."
        )

    def where(self) -> str:
        """What is missing and where it was looked for, without advice."""
        if not self.searched:
            return self.what
        looked = "; ".join(str(d) for d in self.searched)
        return f"{self.what} not found: looked for {' and '.join(self.wanted)} in {looked}"


class DatasetFormatError(ValueError):
    """A dataset file is truncated, corrupt or not the expected IDX file; the message names the file."""


class DownloadError(OSError):
    """Every mirror failed (unreachable, HTTP error, or a checksum mismatch); the message lists each attempt."""


class ExpressionError(ValueError):
    """An expression for `deepgrad.viz.explain` that is not allowed or cannot be parsed (the message points at it)."""


class OutputError(OSError):
    """A file a run was asked to write could not be written (no permission, a full disk, ``/proc``).

    The message names the file and the OS's reason and says where the trained weights were kept instead;
    ``result`` is what the run produced (a `TrainResult`), when it got that far. Settings are marked in
    backquotes as in `ConfigError`, which `render` replaces.
    """

    def __init__(self, marked: str, result: object = None) -> None:
        self.marked, self.result = marked, result
        super().__init__(self.render(lambda name, value: name if value is None else f"{name}={value}"))

    render = ConfigError.render
