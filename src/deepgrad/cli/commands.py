"""``deepgrad train``, ``deepgrad eval`` and ``deepgrad summary``: options -> config -> `deepgrad.train` -> lines."""

from __future__ import annotations

import argparse
import sys

from deepgrad import train
from deepgrad.cli import options, report
from deepgrad.distributed import PeerFailure
from deepgrad.errors import OutputError
from deepgrad.train.progress import want_progress


def run_train(args: argparse.Namespace) -> int:
    """Train a model as the options say, report test performance, write weights, plots and metrics.

    With ``--distributed`` every rank runs this and rank 0 alone prints."""
    config = options.train_config(args)
    try:
        plan = train.prepare(config)  # every option checked, data read, a checkpoint restored
    except PeerFailure:
        # --distributed: another rank failed to set up and reports it with its status; every rank stops.
        # mpiexec's status is that of the failing ranks (MPICH: their bitwise or) when this one says 0.
        return 0
    lead = plan.rank == 0
    callbacks = []
    if lead and not args.quiet and not want_progress(None):  # no progress bars: one line per epoch instead
        callbacks.append(report.EpochPrinter(plan.epochs, every=max(1, plan.epochs // 20)))
    if lead:
        print(report.plan_line(plan), flush=True)
    try:
        result = train.run(plan, callbacks, progress=False if args.quiet or not lead else None)
    except OutputError as error:
        if lead and error.result is not None:  # trained, but an output could not be written: show what was trained
            print("\n".join(report.train_lines(error.result, plots=False)), flush=True)
        raise
    if not lead:
        return 0
    if result.plots_error is not None:
        print(f"no plots: {result.plots_error}", file=sys.stderr)
    print("\n".join(report.train_lines(result, plots=config.outputs.plots is not None)))
    return 0


def run_eval(args: argparse.Namespace) -> int:
    """Evaluate saved weights on a dataset's test set: loss, accuracy, confusion matrix."""
    result = train.evaluate_weights(options.eval_config(args), progress=False if args.quiet else None)
    for warning in result.warnings:
        print(f"deepgrad eval: warning: {warning}", file=sys.stderr)
    print("\n".join(report.eval_lines(result)))
    return 0


def run_summary(args: argparse.Namespace) -> int:
    """Print the layer / output shape / parameter table of the model the options describe."""
    summary = train.model_summary(options.model_config(args), args.dataset)
    print(f"{summary.spec.describe()} for {summary.spec.dataset}")
    print(summary.table)
    return 0
