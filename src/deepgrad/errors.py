"""Exceptions shared across deepgrad's tools."""

from __future__ import annotations


class UsageError(Exception):
    """A user's mistake in a command or a file (unknown name, missing file, bad value).

    The ``deepgrad`` command prints the message on one line and exits with status 2.
    """
