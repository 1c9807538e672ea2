"""``deepgrad COMMAND ...``: parse, run the command's handler, and turn every error into one line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from deepgrad.cli.distributed import end_job, rank_prefix
from deepgrad.cli.errors import user_message
from deepgrad.cli.parser import build_parser, protect_expression

# subcommand -> (module, function); imported only when that subcommand runs, so `deepgrad explain`
# never loads the training stack and a missing optional extra only matters where it is used.
HANDLERS = {
    "train": ("deepgrad.cli.commands", "run_train"),
    "eval": ("deepgrad.cli.commands", "run_eval"),
    "summary": ("deepgrad.cli.commands", "run_summary"),
    "explain": ("deepgrad.cli.explain", "run_explain"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``deepgrad`` command; returns its exit status (2: a user's mistake, 130: interrupted)."""
    try:
        args = build_parser().parse_args(protect_expression(list(sys.argv[1:] if argv is None else argv)))
    except KeyboardInterrupt:
        print("deepgrad: interrupted", file=sys.stderr)
        return 130
    module_name, function_name = HANDLERS[args.command]
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        _say(args, _interrupted(args))
        return end_job(130)
    except Exception as error:  # the one place where any error becomes one line, never a traceback
        return _report(args, error)


def _report(args: argparse.Namespace, error: Exception) -> int:
    message = user_message(error)
    if message is not None:
        _say(args, f"error: {message}")
        return end_job(2)
    if os.environ.get("DEEPGRAD_TRACEBACK"):
        raise error
    if isinstance(error, MemoryError):
        _say(args, f"error: out of memory ({type(error).__name__}: {' '.join(str(error).split())[:200]})")
        return end_job(2)
    _say(
        args,
        f"internal error: {type(error).__name__}: {' '.join(str(error).split())[:500]}; this is a bug, please report "
        "it with the command you ran (DEEPGRAD_TRACEBACK=1 shows where it happened)",
    )
    return end_job(1)


def _interrupted(args: argparse.Namespace) -> str:
    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint and os.path.exists(checkpoint):
        # The checkpoint is written atomically, so the file holds the last complete epoch.
        return f"interrupted; continue with --resume {checkpoint}"
    return "interrupted"


def _say(args: argparse.Namespace, line: str) -> None:
    print(f"deepgrad {args.command}: {rank_prefix()}{line}", file=sys.stderr, flush=True)
