"""The ``deepgrad`` command: parsing, option checks and reporting; the work is done by ``deepgrad.train``
(`run`, `evaluate_weights`, `model_summary`) and ``deepgrad.viz``.

deepgrad train    train a model (default: an MLP on a 2-D toy set, no download)
deepgrad eval     evaluate saved weights: loss, accuracy, confusion matrix
deepgrad summary  the layer / output shape / parameter table of a model
deepgrad explain  forward values, backward trace and gradient of an expression

Library errors (`deepgrad.errors`, all built-in exception types) become one line and exit status 2 here,
with the command line's flags in place of the library's setting names.
"""

from deepgrad.cli.app import main
from deepgrad.cli.errors import UsageError
from deepgrad.cli.parser import build_parser

__all__ = ["UsageError", "build_parser", "main"]
