"""The command line's error: `UsageError`, and how library errors read on the command line.

A user's mistake (an option, a file, an expression) prints one line and exits with status 2. The library
raises built-in exception types that name settings and files (`deepgrad.errors`); `user_message` words
them for the command line: settings become flags, and missing data gets the flags that fix it.
"""

from __future__ import annotations

from deepgrad.errors import (
    CheckpointError,
    ConfigError,
    DatasetFormatError,
    DatasetNotFoundError,
    DownloadError,
    ExpressionError,
    NotACheckpointError,
    OutputError,
    WeightFileError,
)

# Library errors whose own message is already what a user of the command should read.
_AS_THEY_ARE = (
    CheckpointError,
    DatasetFormatError,
    DownloadError,
    ExpressionError,
    WeightFileError,
    FloatingPointError,  # fit: the loss became inf or nan, with the advice to lower the learning rate
)


class UsageError(Exception):
    """A mistake in a command's options (unknown name, bad value): the command prints it and exits with 2.

    Only the command line raises it; the library raises built-in types (see `deepgrad.errors`).
    """


QUOTE = "'"  # `batch_size='full'` in a message reads --batch-size full on the command line


def flag(name: str, value: str | None = None) -> str:
    """The option for a setting: ``batch_size`` -> ``--batch-size``; with a value, ``--batch-size full``."""
    option = "--" + name.replace("_", "-")
    if value is None:
        return option
    return f"{option} {value.strip(QUOTE)}"


def user_message(error: BaseException) -> str | None:
    """The one line to print for a user's mistake, or None when ``error`` is not one (a bug)."""
    if isinstance(error, UsageError):
        message = str(error)
    elif isinstance(error, (ConfigError, OutputError)):
        message = error.render(flag)
    elif isinstance(error, DatasetNotFoundError) and not error.searched:
        message = str(error)
    elif isinstance(error, DatasetNotFoundError):
        message = (
            f"{error.where()}. Point at the directory holding them with --data-dir DIR or the DEEPGRAD_DATA "
            f"environment variable, or download them into {error.download_dir} with deepgrad train --download."
        )
    elif isinstance(error, NotACheckpointError):
        message = f"{error.path} is not a deepgrad checkpoint (it holds weights only: use it with --weights)"
    elif isinstance(error, _AS_THEY_ARE):
        message = str(error)
    elif isinstance(error, ImportError) and "pip install" in str(error):
        message = str(error)  # an optional extra that is not installed, and how to install it
    else:
        return None
    return " ".join(message.split()) if "\n" in message else message
