"""``deepgrad train``, ``deepgrad eval`` and ``deepgrad summary``: options -> config -> `deepgrad.train` -> lines."""

from __future__ import annotations

import argparse
import sys

from deepgrad import train
from deepgrad.cli import options, report
from deepgrad.errors import OutputError
from deepgrad.train.progress import want_progress


def run_train(args: argparse.Namespace) -> int:
    """Train a model as the options say, report test performance, write weights, plots and metrics."""
    config = options.train_config(args)
    plan = train.prepare(config)  # every option checked, data read, a checkpoint restored
    callbacks = []
    if not args.quiet and not want_progress(None):  # no progress bars: one line per epoch instead
        callbacks.append(report.EpochPrinter(plan.epochs, every=max(1, plan.epochs // 20)))
    print(report.plan_line(plan), flush=True)
    try:
        result = train.run(plan, callbacks, progress=False if args.quiet else None)
    except OutputError as error:
        if error.result is not None:  # trained, but an output could not be written: show what was trained
            print("\n".join(report.train_lines(error.result, plots=False)), flush=True)
        raise
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
